"""Twin only: is the per-hour uncertainty honest? Reliability and spread-skill of the intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from smlib.report.plots.style import METHOD_STYLE, SM_UNITS, _new_figure, _panel_label


def _style(product: str) -> tuple[str, str]:
    key = product.removeprefix("sm_")
    st = METHOD_STYLE.get(key)
    return (st["color"], st["label"]) if st else ("0.3", product)


def plot_calibration(reliability: pd.DataFrame, spread_skill: pd.DataFrame) -> Figure:
    """Reliability diagram and spread-skill plot of the products' uncertainties.

    Parameters
    ----------
    reliability, spread_skill : pandas.DataFrame
        From :func:`smlib.evaluation.calibration.reliability_table`.

    Returns
    -------
    matplotlib.figure.Figure
        (a) observed against nominal coverage of the central intervals, rain-free hours of
        dielectric stations; (b) RMS error of the HF against the mean sigma, hours binned by
        deciles of sigma (m3 m-3). On the diagonal the uncertainty is honest; below it the
        intervals are too narrow (a), the errors larger than stated (b above the diagonal).
    """
    if reliability.empty:
        raise ValueError("no product with an uncertainty could be scored")
    fig = _new_figure((10.0, 4.2))
    ax_r, ax_s = fig.subplots(1, 2)
    for product, sub in reliability.groupby("product", sort=False):
        color, label = _style(str(product))
        ax_r.plot(sub["nominal"], sub["observed"], "o-", color=color, label=label)
    ax_r.plot([0, 1], [0, 1], color="0.6", lw=0.8, ls="--")
    ax_r.axhspan(0.85, 0.95, xmin=0.0, xmax=1.0, color="0.9", zorder=0)
    ax_r.set(xlim=(0.45, 1.0), ylim=(0.3, 1.0), xlabel="nominal coverage of the interval",
             ylabel="share of true HF values inside")  # fmt: skip
    ax_r.legend(frameon=False, loc="lower right")
    top = 0.0
    for product, sub in spread_skill.groupby("product", sort=False):
        color, label = _style(str(product))
        ax_s.plot(sub["sigma"], sub["rmse"], "o-", color=color, label=label)
        top = max(top, float(np.nanmax(sub[["sigma", "rmse"]].to_numpy())))
    if top > 0:
        ax_s.plot([0, top * 1.05], [0, top * 1.05], color="0.6", lw=0.8, ls="--")
        ax_s.set(xlim=(0, top * 1.05), ylim=(0, top * 1.05))
    ax_s.set(xlabel=f"stated sigma ({SM_UNITS})", ylabel=f"RMS error of HF ({SM_UNITS})")
    _panel_label(ax_r, 0)
    _panel_label(ax_s, 1)
    return fig
