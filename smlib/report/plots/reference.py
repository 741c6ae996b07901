"""Stations against reference sensors: five days (Fig. 5), composites (6a), hourly R (6b)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from smlib.evaluation.diagnostics import hf_correlation
from smlib.report.plots.style import (
    METHOD_STYLE,
    SM_UNITS,
    _finite,
    _new_figure,
    _strip,
)


def _pick_window(series: list[np.ndarray], time: pd.DatetimeIndex, hours: int) -> int:
    """Start index (at 00 UTC) of the complete window with the largest raw diurnal range."""
    complete = np.logical_and.reduce([np.isfinite(s) for s in series])
    starts = np.flatnonzero(time.hour == 0)
    best, best_score = -1, -np.inf
    for i in starts:
        if i + hours > len(time) or not complete[i : i + hours].all():
            continue
        score = float(np.ptp(series[0][i : i + hours]))
        if score > best_score:
            best, best_score = int(i), score
    return best


def plot_station_pair(
    ds: xr.Dataset,
    station: str,
    reference: str,
    start: str | pd.Timestamp | None = None,
    days: int = 5,
) -> Figure:
    """Hourly SM of a dielectric station, its corrections and a nearby reference (Fig. 5).

    Parameters
    ----------
    ds : xarray.Dataset
        Corrected output (``sm`` and ``sm_fft`` / ``sm_lstm`` where present).
    station, reference : str
        Station ids of the dielectric station and of the reference station.
    start : str or Timestamp, optional
        First hour shown (UTC); default: the complete window with the largest raw diurnal range.
    days : int
        Length of the window.

    Returns
    -------
    matplotlib.figure.Figure
        Left axis: the station's series; right axis: the reference. Each legend entry carries
        the HF correlation with the reference over the full common record.
    """
    from smlib.evaluation.diagnostics import METHOD_VARIABLES

    methods = {m: v for m, v in METHOD_VARIABLES.items() if v in ds}
    x = ds.sel(station=station)
    ref = ds["sm"].sel(station=reference)
    time = pd.DatetimeIndex(ds["time"].values)
    hours = 24 * days
    if start is None:
        i0 = _pick_window(
            [np.asarray(x[v].values) for v in methods.values()] + [np.asarray(ref.values)],
            time,
            hours,
        )
        if i0 < 0:
            raise ValueError(f"no complete {days}-day window for {station} and {reference}")
    else:
        i0 = int(time.get_indexer([pd.Timestamp(start)])[0])
        if i0 < 0:
            raise ValueError(f"start {start} is not on the time axis")
    window = slice(i0, i0 + hours)

    fig = _new_figure((9.0, 3.8))
    ax = fig.add_subplot(1, 1, 1)
    ax_ref = ax.twinx()
    st = METHOD_STYLE["reference"]
    r_ref = ref.isel(time=window)
    ax_ref.plot(
        time[window],
        r_ref.values,
        color=st["color"],
        linewidth=2.2,
        alpha=0.8,
        label=f"{st['label']} ({reference})",
    )
    for m, v in methods.items():
        r = float(hf_correlation(ds[v].sel(station=station), ref).values)
        style = METHOD_STYLE[m]
        ax.plot(
            time[window],
            x[v].isel(time=window).values,
            color=style["color"],
            linestyle=style["linestyle"],
            linewidth=1.5,
            label=f"{style['label']} (R = {r:.2f})",
        )
    ax.set_ylabel(f"SM at {station} ({SM_UNITS})")
    ax_ref.set_ylabel(f"Reference SM ({SM_UNITS})", color=st["color"])
    ax_ref.tick_params(axis="y", colors=st["color"])
    ax.set_xlabel("Time (UTC)")
    ax.set_zorder(ax_ref.get_zorder() + 1)
    ax.patch.set_visible(False)
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax_ref.get_legend_handles_labels()
    fig.legend(
        h1 + h2,
        l1 + l2,
        fontsize=8,
        loc="outside lower center",
        ncols=4,
        title="R: correlation of diurnal (HF) anomalies with the reference, full record",
        title_fontsize=7,
        frameon=False,
    )
    lat, lon = float(x["lat"]), float(x["lon"])
    ax.set_title(f"{station} ({lat:.2f}°, {lon:.2f}°), {time[i0]:%Y-%m-%d} + {days} days")
    fig.autofmt_xdate()
    return fig


def plot_composite_cycles(
    composites: Mapping[str, xr.DataArray], title: str | None = None
) -> Figure:
    """Composite diurnal SM anomaly in local solar time, averaged over stations (Fig. 6a).

    Parameters
    ----------
    composites : mapping of str to xarray.DataArray, dims (station, local_hour)
        Keys of :data:`METHOD_STYLE` (``reference``, ``raw``, ``fft``, ``lstm``, ``truth``);
        values from :func:`smlib.evaluation.diagnostics.diurnal_composite` (m3 m-3).
    title : str, optional
        Axis title; default states the number of stations.

    Returns
    -------
    matplotlib.figure.Figure
        One axis: the station-mean cycle of each series with its interquartile range shaded.
    """
    if not composites:
        raise ValueError("no composite to plot")
    fig = _new_figure((6.0, 4.0))
    ax = fig.add_subplot(1, 1, 1)
    hours = np.arange(24)
    n_station = 0
    for key, comp in composites.items():
        style = METHOD_STYLE.get(key, {"label": key, "color": "k", "linestyle": "-"})
        vals = np.asarray(comp.values, dtype=float).reshape(-1, 24)
        n_station = max(n_station, int(np.isfinite(vals).any(axis=1).sum()))
        with np.errstate(all="ignore"):
            mean = np.nanmean(vals, axis=0) if vals.size else np.full(24, np.nan)
            q1, q3 = (np.nanpercentile(vals, q, axis=0) for q in (25, 75))
        ax.fill_between(hours, q1, q3, color=style["color"], alpha=0.12, linewidth=0)
        ax.plot(
            hours,
            mean,
            color=style["color"],
            linestyle=style["linestyle"],
            linewidth=2.4 if key == "reference" else 1.8,
            label=style["label"],
        )
    ax.axhline(0.0, color="0.6", linewidth=0.7)
    ax.set_xticks(np.arange(0, 24, 3), [f"{h:02d}" for h in range(0, 24, 3)])
    ax.set_xlim(0, 23)
    ax.set_xlabel("Local solar time (h)")
    ax.set_ylabel(f"SM anomaly ({SM_UNITS})")
    ax.set_title(title or f"Composite diurnal cycle, {n_station} stations (mean, IQR shaded)")
    ax.legend(fontsize=8)
    return fig


def plot_hf_r_distribution(
    table: pd.DataFrame,
    methods: Sequence[str] | None = None,
    against: str = "reference",
) -> Figure:
    """Distribution over stations of the hourly (HF) correlation against a benchmark (Fig. 6b).

    Parameters
    ----------
    table : pandas.DataFrame
        One row per station and one column of R per method key
        (:func:`smlib.evaluation.diagnostics.hf_correlation_vs_reference`).
    methods : sequence of str, optional
        Method columns (default ``raw``, ``fft``, ``lstm`` where present).
    against : str
        Name of the benchmark, for the axis label.

    Returns
    -------
    matplotlib.figure.Figure
        One axis, one box per method, medians printed, counts in the legend.
    """
    methods = [m for m in (methods or ("raw", "fft", "lstm")) if m in table]
    if not methods:
        raise ValueError("table holds none of the method columns raw, fft, lstm")
    fig = _new_figure((4.8, 4.0))
    ax = fig.add_subplot(1, 1, 1)
    data = [_finite(table[m]) for m in methods]
    pos = np.arange(len(methods))
    bp = ax.boxplot(
        [d if d.size else [np.nan] for d in data],
        positions=pos,
        widths=0.55,
        patch_artist=True,
        showfliers=False,
        medianprops={"color": "black"},
    )
    _strip(ax, pos, data, 0.55)
    handles = []
    for p, m, d, box in zip(pos, methods, data, bp["boxes"], strict=True):
        style = METHOD_STYLE[m]
        box.set_facecolor(style["color"])
        box.set_alpha(0.8)
        if d.size:
            med = float(np.median(d))
            ax.text(p + 0.3, med, f"{med:.2f}", va="center", fontsize=9)
        handles.append(Patch(facecolor=style["color"], label=f"{style['label']} (n = {d.size})"))
    ax.axhline(0.0, color="0.5", linewidth=0.8)
    ax.set_xticks(pos, [METHOD_STYLE[m]["label"] for m in methods])
    ax.set_ylim(-1.05, 1.05)
    ax.set_ylabel(f"Hourly R against the {against}")
    ax.legend(handles=handles, fontsize=8, loc="lower right")
    return fig
