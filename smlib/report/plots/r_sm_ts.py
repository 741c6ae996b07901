"""R(SM, TS) by site and day of year (paper Figs. 1 and 3) and by sensor type (Fig. 4)."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib as mpl
import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.figure import Figure
from matplotlib.gridspec import GridSpec
from matplotlib.patches import Patch

from smlib.evaluation.diagnostics import r_sm_ts_climatology
from smlib.report.plots.style import (
    _MISSING_COLOR,
    METHOD_STYLE,
    SM_UNITS,
    _finite,
    _new_figure,
    _panel_label,
    _sensor_style,
    _sensor_types,
    _strip,
)


def plot_r_sm_ts_heatmap(
    r_clim: xr.DataArray,
    sm_clim: xr.DataArray | np.ndarray,
    title: str | None = None,
    n_bins: int = 20,
) -> Figure:
    """Heatmap of diurnal R(SM, TS) by site (wet to dry) and day-of-year window (Figs. 1, 3).

    Parameters
    ----------
    r_clim : xarray.DataArray, dims (station, doy_window)
        Multi-year mean daily R per 5-day window
        (:func:`smlib.evaluation.diagnostics.r_sm_ts_climatology`).
    sm_clim : array_like, shape (n_station,)
        SM climatology of each site (m3 m-3), used to sort sites and colour the histogram.
    title : str, optional
        Figure title.
    n_bins : int
        Histogram bins over [-1, 1].

    Returns
    -------
    matplotlib.figure.Figure
        Axes: heatmap, histogram, R colour bar (horizontal), SM colour bar (vertical).
    """
    sm = np.asarray(sm_clim, dtype=float)
    if sm.shape != (r_clim.sizes["station"],):
        raise ValueError(f"sm_clim has shape {sm.shape}, expected ({r_clim.sizes['station']},)")
    order = np.argsort(-np.where(np.isfinite(sm), sm, -np.inf), kind="stable")  # wettest first
    r = np.asarray(r_clim.values, dtype=float)[order]
    sm = sm[order]
    start = np.asarray(r_clim["doy_window"].values, dtype=float)
    width = np.diff(start).min() if start.size > 1 else 5.0
    x_edges = np.append(start, start[-1] + width)
    y_edges = np.arange(r.shape[0] + 1)

    fig = _new_figure((8.0, 7.5))
    gs = GridSpec(3, 2, figure=fig, height_ratios=[4.0, 1.2, 0.15], width_ratios=[30, 1])
    ax = fig.add_subplot(gs[0, 0])
    ax_hist = fig.add_subplot(gs[1, 0])
    ax_rcb = fig.add_subplot(gs[2, 0])
    ax_smcb = fig.add_subplot(gs[1, 1])

    cmap_r = mpl.colormaps["RdBu_r"].with_extremes(bad=_MISSING_COLOR)
    norm_r = mpl.colors.Normalize(-1.0, 1.0)
    ax.pcolormesh(x_edges, y_edges, np.ma.masked_invalid(r), cmap=cmap_r, norm=norm_r)
    ax.set_facecolor(_MISSING_COLOR)
    ax.set_ylim(r.shape[0], 0)  # wettest at the top
    ax.set_xlim(x_edges[0], x_edges[-1])
    month_start = pd.date_range("2001-01-01", periods=12, freq="MS")
    ax.set_xticks(month_start.day_of_year, month_start.strftime("%b"))
    ax.set_xlabel("Day of year (5-day windows)")
    ax.set_ylabel(f"Sites, wettest (top) to driest (n = {r.shape[0]})")
    if r.shape[0] > 30:
        ax.set_yticks([])
    else:
        ax.set_yticks(np.arange(r.shape[0]) + 0.5, np.asarray(r_clim["station"].values)[order])
        ax.tick_params(axis="y", labelsize=6)
    ax.legend(
        handles=[Patch(color=_MISSING_COLOR, label="no complete 24-h record")],
        loc="upper right",
        fontsize=7,
        framealpha=0.9,
    )
    if title:
        ax.set_title(title)

    # histogram of the cell values, bars coloured by the mean SM climatology of their cells
    cells = np.isfinite(r)
    values = r[cells]
    cell_sm = np.broadcast_to(sm[:, None], r.shape)[cells]
    edges = np.linspace(-1.0, 1.0, n_bins + 1)
    counts, _ = np.histogram(values, bins=edges)
    which = np.clip(np.digitize(values, edges) - 1, 0, n_bins - 1)
    sm_sum = np.bincount(which, weights=cell_sm, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        sm_mean = sm_sum / counts
    finite_sm = sm[np.isfinite(sm)]
    lo, hi = (finite_sm.min(), finite_sm.max()) if finite_sm.size else (0.0, 0.5)
    norm_sm = mpl.colors.Normalize(lo, hi if hi > lo else lo + 0.01)
    cmap_sm = mpl.colormaps["YlGnBu"]
    colours = [cmap_sm(norm_sm(v)) if np.isfinite(v) else _MISSING_COLOR for v in sm_mean]
    ax_hist.bar(
        edges[:-1],
        counts,
        width=np.diff(edges),
        align="edge",
        color=colours,
        edgecolor="0.3",
        linewidth=0.4,
    )
    ax_hist.set_xlim(-1.0, 1.0)
    ax_hist.set_ylabel("Cells")
    ax_hist.tick_params(axis="x", labelbottom=False)
    if values.size:
        med = float(np.median(values))
        ax_hist.axvline(med, color="k", linewidth=1.0)
        ax_hist.text(
            0.02,
            0.92,
            f"median R = {med:.2f}\nN = {values.size} cells",
            transform=ax_hist.transAxes,
            va="top",
            fontsize=8,
        )

    fig.colorbar(
        mpl.cm.ScalarMappable(norm=norm_r, cmap=cmap_r),
        cax=ax_rcb,
        orientation="horizontal",
        label="R(SM, TS) of 24-h diurnal cycles",
    )
    fig.colorbar(
        mpl.cm.ScalarMappable(norm=norm_sm, cmap=cmap_sm),
        cax=ax_smcb,
        orientation="vertical",
        label=f"SM clim. ({SM_UNITS})",
    )
    return fig


def plot_daily_r_heatmap(
    daily_r: xr.DataArray,
    sm_clim: xr.DataArray | np.ndarray,
    method: str,
    title: str | None = None,
) -> Figure:
    """Fig. 1 (raw) or Fig. 3 (a correction) from the daily R(SM, TS) of one method.

    The one path from daily R to the heatmap, used by the evaluation report and the book.

    Parameters
    ----------
    daily_r : xarray.DataArray, dims (station, day)
        R(SM, TS) per local solar day (:func:`smlib.evaluation.diagnostics.daily_r_sm_ts`).
    sm_clim : array_like, shape (n_station,)
        SM climatology of each site (m3 m-3).
    method : str
        Method key (:mod:`smlib.method.registry`); its label titles the figure.
    title : str, optional
        Title instead of ``"R(SM, TS): <label>"``.
    """
    label = METHOD_STYLE[method]["label"] if method in METHOD_STYLE else method
    return plot_r_sm_ts_heatmap(
        r_sm_ts_climatology(daily_r), sm_clim, title=title or f"R(SM, TS): {label}"
    )


def plot_r_by_sensor_type(
    table: pd.DataFrame, methods: Sequence[str] | None = None, value_label: str = "R(SM, TS)"
) -> Figure:
    """Box plots of per-station R(SM, TS) by sensor type, one panel per method (Fig. 4).

    Parameters
    ----------
    table : pandas.DataFrame
        One row per station: ``sensor_type`` and one column of R per method key.
    methods : sequence of str, optional
        Method columns to show (default: ``raw``, ``fft``, ``lstm`` where present).
    value_label : str
        Y-axis label.

    Returns
    -------
    matplotlib.figure.Figure
        One axis per method; medians printed beside each box, station counts in each legend.
    """
    methods = [m for m in (methods or ("raw", "fft", "lstm")) if m in table]
    if not methods:
        raise ValueError("table holds none of the method columns raw, fft, lstm")
    sensors = _sensor_types(table["sensor_type"])
    fig = _new_figure((4.0 * len(methods), 4.2))
    axes = fig.subplots(1, len(methods), sharey=True, squeeze=False)[0]
    for k, (ax, m) in enumerate(zip(axes, methods, strict=True)):
        data = [_finite(table.loc[table["sensor_type"] == s, m]) for s in sensors]
        keep = [i for i, d in enumerate(data) if d.size]
        pos = np.arange(len(keep))
        if keep:
            bp = ax.boxplot(
                [data[i] for i in keep],
                positions=pos,
                widths=0.6,
                patch_artist=True,
                showfliers=False,
                medianprops={"color": "black"},
            )
            _strip(ax, pos, [data[i] for i in keep], 0.6)
            for patch, i in zip(bp["boxes"], keep, strict=True):
                patch.set_facecolor(_sensor_style(sensors[i])["color"])
                patch.set_alpha(0.85)
            for p, i in zip(pos, keep, strict=True):
                med = float(np.median(data[i]))
                ax.text(p + 0.33, med, f"{med:.2f}", va="center", fontsize=8)
        ax.axhline(0.0, color="0.5", linewidth=0.8)
        ax.set_xticks(pos, [_sensor_style(sensors[i])["label"] for i in keep], rotation=30)
        ax.set_xlim(-0.6, max(len(keep), 1) - 0.2)
        ax.set_ylim(-1.05, 1.05)
        ax.set_title(METHOD_STYLE.get(m, {"label": m})["label"])
        ax.set_xlabel("Sensor type")
        _panel_label(ax, k)
        handles = [
            Patch(
                facecolor=_sensor_style(sensors[i])["color"],
                label=f"{_sensor_style(sensors[i])['label']} ({data[i].size})",
            )
            for i in keep
        ]
        ax.legend(
            handles=handles,
            fontsize=7,
            loc="upper center",
            bbox_to_anchor=(0.5, -0.3),
            ncols=3,
            title="sensor type (stations)",
            title_fontsize=7,
            frameon=False,
        )
    axes[0].set_ylabel(value_label)
    return fig
