"""Section 05, lag sensitivity: which inputs and lags the network's corrections depend on."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.figure import Figure

from smlib.report.study.reports import read_summary, read_table

if TYPE_CHECKING:
    from IPython.display import Markdown


def read_sensitivity(report_dir: str | os.PathLike[str]) -> xr.DataArray:
    """The lag sensitivity S(feature, lag) stored by the evaluation (``lag_sensitivity.csv``)."""
    table = read_table(report_dir, "lag_sensitivity").set_index("feature")
    lags = [int(c.removeprefix("lag_").removesuffix("h")) for c in table.columns]
    summary = read_summary(report_dir)
    return xr.DataArray(
        table.to_numpy(dtype=float),
        dims=("feature", "lag"),
        coords={"feature": table.index.to_numpy(str), "lag": lags},
        name="sensitivity",
        attrs={
            "units": "m3 m-3",
            "long_name": "mean |d SM_HF / d x_i(t - lag)| times the training sigma of x_i",
            "n_windows": summary.get("lag_sensitivity_windows"),
        },
    )


def _feature_parts(feature: str) -> tuple[str, str, str]:
    """(source, variable, part) of a feature name such as ``era5_lh_hf`` or ``tod_sin``."""
    if feature.startswith("tod_"):
        return "time of day", "tod", "clock"
    var, part = feature.rsplit("_", 1)
    source, _, name = var.rpartition("_")
    label = {"": "in situ", "era5": "ERA5-Land", "merra2": "MERRA-2"}.get(source, source)
    return label, name.upper(), part.upper()


def sensitivity_shares(sensitivity: xr.DataArray, recent_hours: int = 6) -> pd.DataFrame:
    """Share of the total lag sensitivity per feature, and how recent it is.

    Parameters
    ----------
    sensitivity : xarray.DataArray, dims (feature, lag)
    recent_hours : int
        Lags ``0 .. recent_hours - 1`` count as recent.

    Returns
    -------
    pandas.DataFrame
        Index ``feature``; ``source``, ``variable``, ``part`` (LF / HF), ``share`` of the sum
        over all features and lags, ``recent_share`` (fraction of the feature's own sensitivity
        at lags < ``recent_hours``) and ``mean_lag_h`` (sensitivity-weighted mean lag);
        sorted by ``share``.
    """
    s = sensitivity.transpose("feature", "lag")
    values = np.nan_to_num(np.asarray(s.values, dtype=float))
    lags = np.asarray(s["lag"].values, dtype=float)
    total = values.sum()
    if not total > 0:
        raise ValueError("the sensitivity is zero or undefined everywhere")
    per_feature = values.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        recent = values[:, lags < recent_hours].sum(1) / per_feature
        mean_lag = (values * lags).sum(1) / per_feature
    names = [str(f) for f in s["feature"].values]
    parts = [_feature_parts(f) for f in names]
    frame = pd.DataFrame(
        {
            "feature": names,
            "source": [p[0] for p in parts],
            "variable": [p[1] for p in parts],
            "part": [p[2] for p in parts],
            "share": per_feature / total,
            "recent_share": recent,
            "mean_lag_h": mean_lag,
        }
    )
    return frame.set_index("feature").sort_values("share", ascending=False)


def describe_sensitivity(shares: pd.DataFrame) -> Markdown:
    """One sentence on the HF/LF balance and the leading input of :func:`sensitivity_shares`."""
    from IPython.display import Markdown

    by_part = shares.groupby("part")["share"].sum()
    top = shares.index[0]
    return Markdown(
        f"In this run the HF features hold **{by_part.get('HF', 0.0):.0%}** of the total "
        f"sensitivity and the LF features **{by_part.get('LF', 0.0):.0%}**; the single most "
        f"influential input is `{top}` ({shares.loc[top, 'share']:.0%} of the total, "
        f"sensitivity-weighted mean lag {shares.loc[top, 'mean_lag_h']:.1f} h)."
    )


def plot_sensitivity_by_part(sensitivity: xr.DataArray) -> Figure:
    """Sensitivity summed over the HF and over the LF features, per lag, each per source.

    Returns
    -------
    matplotlib.figure.Figure
        Left: the sum over HF features and over LF features against lag. Right: the same split
        by source (in situ, ERA5-Land, MERRA-2), as a share of the total.
    """
    s = sensitivity.transpose("feature", "lag")
    values = np.nan_to_num(np.asarray(s.values, dtype=float))
    lags = np.asarray(s["lag"].values)
    parts = [_feature_parts(str(f)) for f in s["feature"].values]
    fig = Figure(figsize=(10.0, 3.8), layout="constrained")
    ax_lag, ax_src = fig.subplots(1, 2)
    colours = {"HF": "#d62728", "LF": "#1f77b4", "CLOCK": "0.5"}
    for part in dict.fromkeys(p[2] for p in parts):
        rows = [i for i, p in enumerate(parts) if p[2] == part]
        ax_lag.plot(lags, values[rows].sum(0), "o-", ms=3, color=colours[part], label=part)
    ax_lag.set_xlabel("Lag $\\tau$ before the predicted hour (h)")
    ax_lag.set_ylabel("Summed $S_{i,\\tau}$")
    ax_lag.set_xticks(lags[::2])
    ax_lag.legend(title="features", fontsize=8)
    ax_lag.set_title("(a) HF against LF inputs by lag", loc="left", fontsize=10)

    total = values.sum()
    sources = list(dict.fromkeys(p[0] for p in parts))
    x = np.arange(len(sources))
    bottom = np.zeros(len(sources))
    for part in dict.fromkeys(p[2] for p in parts):
        heights = np.array(
            [
                sum(values[i].sum() for i, p in enumerate(parts) if p[0] == src and p[2] == part)
                for src in sources
            ]
        ) / (total if total > 0 else 1.0)
        ax_src.bar(x, heights, bottom=bottom, color=colours[part], label=part, width=0.6)
        bottom += heights
    ax_src.set_xticks(x, sources)
    ax_src.set_ylabel("Share of total sensitivity")
    ax_src.legend(fontsize=8)
    ax_src.set_title("(b) Share by source and part", loc="left", fontsize=10)
    return fig
