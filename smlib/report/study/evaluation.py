"""Section 04, evaluation: headline numbers, the pairs with reference stations, the uncertainty's
calibration and what the network adds to the default product (the signal ablation)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.figure import Figure

from smlib.evaluation import diagnostics as dg
from smlib.report import plots
from smlib.report.study.reports import read_table

if TYPE_CHECKING:
    from IPython.display import Markdown

_HEADLINES = (
    ("median_hf_r_vs_reference", "median HF R vs reference (paired stations)"),
    ("median_hf_r_vs_truth", "median HF R vs truth"),
    ("median_composite_rmse_vs_truth", "median RMSE of diurnal composite vs truth (m3 m-3)"),
    ("median_abs_phase_error_h", "median |phase error| of diurnal minimum (h)"),
    ("median_r_sm_lh", "median R(SM, LH) at towers"),
    ("median_tci", "median TCI(SM, LH) at towers (W m-2)"),
)


def headline_table(summary: dict[str, Any]) -> pd.DataFrame:
    """The evaluation's headline medians, one row per metric and one column per method.

    Metrics absent from ``summary`` (parts the evaluation skipped) are left out.
    """
    methods = summary.get("methods", [])
    rows = {
        label: {m: summary[key].get(m) for m in methods}
        for key, label in _HEADLINES
        if isinstance(summary.get(key), dict)
    }
    return pd.DataFrame(rows, columns=None).T.astype(float).rename_axis("metric")


def plot_reference_pair(
    ds: xr.Dataset, station: str | None = None, max_km: float = 50.0, days: int = 5
) -> Figure:
    """Paper Fig. 5 for ``station`` (default: the pair of smallest distance).

    Raises
    ------
    ValueError
        No station-reference pair within ``max_km``, or ``station`` has no reference.
    """
    pairs = dg.reference_pairs(ds, max_km=max_km)
    if pairs.empty:
        raise ValueError(f"no non-reference station within {max_km:g} km of a reference")
    row = pairs.iloc[0] if station is None else pairs.loc[pairs["station"] == station]
    if isinstance(row, pd.DataFrame):
        if row.empty:
            raise ValueError(f"{station} has no reference station within {max_km:g} km")
        row = row.iloc[0]
    return plots.plot_station_pair(ds, row["station"], row["reference"], days=days)


def reference_composites(
    ds: xr.Dataset, truth: xr.Dataset | None = None, max_km: float = 50.0
) -> dict[str, xr.DataArray]:
    """Composite diurnal cycles of the reference-paired stations (paper Fig. 6a).

    Parameters
    ----------
    ds : xarray.Dataset
        Corrected file.
    truth : xarray.Dataset, optional
        ``truth.nc`` of the twin: its composite at the same stations is added as ``truth``.
    max_km : float
        Largest distance of a pair.

    Returns
    -------
    dict of str to xarray.DataArray, dims (station, local_hour)
        Keys ``reference``, the methods present and optionally ``truth`` (m3 m-3); input of
        :func:`smlib.report.plots.plot_composite_cycles`.
    """
    pairs = dg.reference_pairs(ds, max_km=max_km)
    if pairs.empty:
        raise ValueError(f"no non-reference station within {max_km:g} km of a reference")
    stations = pairs["station"].to_numpy()
    lon = ("station", ds["lon"].sel(station=stations).values)
    ref = ds["sm"].sel(station=pairs["reference"].to_numpy())
    ref = ref.assign_coords(station=stations, lon=lon)
    out = {"reference": dg.diurnal_composite(ref)}
    for m, var in dg.METHOD_VARIABLES.items():
        if var in ds:
            out[m] = dg.diurnal_composite(ds[var].sel(station=stations))
    if truth is not None:
        tr = truth["sm"].reset_coords(drop=True).sel(station=stations)
        tr = tr.reindex(time=ds["time"]).assign_coords(lon=lon)
        out["truth"] = dg.diurnal_composite(tr)
    return out


_CALIBRATION_KEYS = {"truth": "calibration", "reference": "calibration_vs_reference"}


def calibration_table(summary: dict[str, Any], against: str = "truth") -> pd.DataFrame:
    """Coverage of the products' 90 % intervals from the evaluation summary, one row per product.

    ``against="truth"`` (twin only) or ``"reference"`` (nearest reference station; real data
    too). Raises ``ValueError`` with the reason when the evaluation recorded none.
    """
    calib = summary.get(_CALIBRATION_KEYS[against])
    if not calib:
        why = summary.get("skipped", {}).get(_CALIBRATION_KEYS[against])
        raise ValueError(
            why
            or f"no calibration against the {against} in this build's report (it needs a "
            "product with an uncertainty"
            + (" and the twin's truth)" if against == "truth" else ")")
        )
    return pd.DataFrame.from_dict(calib, orient="index")


def describe_uncertainty(summary: dict[str, Any], against: str = "truth") -> Markdown:
    """One sentence per product from this build's numbers: where the intervals are honest."""
    from IPython.display import Markdown

    from smlib.evaluation.calibration import describe_calibration

    return Markdown(describe_calibration(calibration_table(summary, against), against=against))


def plot_calibration(report_dir: str | os.PathLike[str]) -> Figure:
    """Reliability and spread-skill of the uncertainty, from the evaluation report's tables."""
    return plots.plot_calibration(
        read_table(report_dir, "calibration_reliability"),
        read_table(report_dir, "calibration_spread_skill"),
    )


def signal_ablation_table(summary: dict[str, Any]) -> pd.DataFrame:
    """The default product refitted with each subset of its signal estimates, scored against
    the truth (:mod:`smlib.evaluation.signal_ablation`), one row per ablation.

    Raises ``ValueError`` with the reason when the evaluation recorded none (no truth, no cube,
    or no guided product in the corrected file).
    """
    sa = summary.get("signal_ablation")
    if not sa:
        why = summary.get("skipped", {}).get("signal_ablation")
        raise ValueError(
            why
            or "no signal ablation in this build's report (it needs the twin's truth, the cube "
            "and the guided product with the network's series)"
        )
    table = pd.DataFrame.from_dict(sa["table"], orient="index").rename_axis("ablation")
    num = [c for c in table.columns if c != "signal_estimates"]
    return table.astype({c: float for c in num})


def _score(table: pd.DataFrame, row: str) -> float | None:
    if row not in table.index:
        return None
    v = table.loc[row, "hf_r"]
    return None if v is None or not np.isfinite(v) else float(v)


def describe_signal_ablation(table: pd.DataFrame) -> str:
    """What the network adds to the default product, in sentences built from ``table``.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`signal_ablation_table` (or :func:`smlib.evaluation.signal_ablation.
        score_signal_ablation`): rows ``all``, ``without_network``, ..., column ``hf_r`` (median
        rain-free HF R against the truth).

    Returns
    -------
    str
        Reads differently when the network helps (gain >= 0.01), does nothing (|gain| < 0.01)
        or hurts (gain <= -0.01).
    """
    from smlib.evaluation.signal_ablation import NEGLIGIBLE_GAIN, network_gain, network_verdict

    gain = network_gain(table)
    a, b = _score(table, "all"), _score(table, "without_network")
    if gain is None or a is None or b is None:
        return (
            "The product could not be scored with and without the network, so what the "
            "network adds is not known here."
        )
    rean = "without_era5" in table.index or "without_merra2" in table.index
    others = "the reanalysis SM" if rean else "no other estimate (the temperature terms alone)"
    parts = [
        "The default product removes a temperature artefact fitted per station with the network's "
        f"series {'and the reanalysis SM ' if rean else ''}as estimates of the true signal. "
        f"Refitted the same way with {others} in place of the network, it scores a median "
        f"rain-free HF R of {b:.2f} against the truth; with the network, {a:.2f}."
    ]
    verdict = network_verdict(gain)
    if verdict == "helps":
        parts.append(f"The network adds {gain:+.2f}: part of the product's skill is the LSTM's.")
    elif verdict == "does nothing":
        parts.append(
            f"The network adds {gain:+.3f}, less than {NEGLIGIBLE_GAIN:.2f}: in this build it "
            "changes the product by nothing measurable, and the product's skill comes from the "
            f"guided fit{' and the reanalysis' if rean else ''}, not from the LSTM."
        )
    else:
        parts.append(
            f"The network costs {-gain:.2f}: in this build the product would be better fitted "
            "without it."
        )
    alone, none = _score(table, "network_alone"), _score(table, "none")
    if alone is not None:
        parts.append(f"With the network as the only estimate it scores {alone:.2f}.")
    if none is not None and rean:
        parts.append(f"With the temperature terms alone, {none:.2f}.")
    return " ".join(parts)


#: Columns of :func:`network_gain_by_world` that hold a gain (printed by :func:`signed_gain`).
GAIN_COLUMNS = ("network's gain", "paired mean gain")


def signed_gain(gain: float) -> str:
    """A gain in HF R, signed, to 3 decimals, or 4 where 3 would print zero: a gain that rounds
    to 0.000 still decides "the network never hurts"; NA where missing.

    >>> signed_gain(0.0123), signed_gain(-0.0002), signed_gain(0.0), signed_gain(float("nan"))
    ('+0.012', '-0.0002', '0.000', 'NA')
    """
    if pd.isna(gain):
        return "NA"
    if gain == 0:
        return "0.000"
    return f"{gain:+.3f}" if round(abs(gain), 3) > 0 else f"{gain:+.4f}"


def network_gain_by_world(bench: dict[str, Any]) -> pd.DataFrame:
    """Per world of the skill benchmark: the recommended product, the same product refitted
    without the network, the network's gain (median rain-free HF R) and its verdict; and,
    where the benchmark stored it (``paired``,
    :func:`smlib.evaluation.signal_ablation.paired_network_gain`), the same gain station by
    station: its mean and the stations the network lifts and lowers by more than
    :data:`~smlib.evaluation.signal_ablation.STATION_CHANGE` (NA before).
    A difference of two medians can say "hurts" where most stations gain.

    Raises ``ValueError`` when the benchmark holds no signal ablation (a result written before
    it was measured: rerun ``python -m benchmarks --only skill``).
    """
    rows = {}
    for world, scen in bench.get("scenarios", {}).items():
        sa = scen.get("_signal_ablation")
        if not sa:
            continue
        table = sa["table"]
        paired = sa.get("paired") or {}  # stored since the run at aaf9145
        rows[world] = {
            "product": table.get("all", {}).get("hf_r"),
            "without the network": table.get("without_network", {}).get("hf_r"),
            "network's gain": sa.get("network_gain_hf_r"),
            "the network": sa.get("network"),
            "paired mean gain": paired.get("mean"),
            "stations lifted": paired.get("stations_up"),
            "stations lowered": paired.get("stations_down"),
        }
    if not rows:
        raise ValueError(
            "the skill benchmark's result holds no signal ablation (written before it was "
            "measured): rerun python -m benchmarks --only skill"
        )
    frame = pd.DataFrame.from_dict(rows, orient="index").rename_axis("world")
    num = ["product", "without the network", "network's gain", "paired mean gain"]
    counts = {c: "Int64" for c in ("stations lifted", "stations lowered")}  # NaN: not stored
    return frame.astype({**{c: float for c in num}, **counts})
