"""Figures of the paper (Seo et al., 2026) and of the twin's skill against the truth.

Every function takes tables or arrays from :mod:`smlib.diagnostics` and returns a
:class:`matplotlib.figure.Figure`; nothing is shown or written here except by
:func:`save_figure`. Method colours, labels and sensor-type colours are defined once
(:data:`METHOD_STYLE`, :data:`SENSOR_STYLE`) and used by every figure.

=====================================  =======================================================
function                               paper figure
=====================================  =======================================================
:func:`plot_r_sm_ts_heatmap`           Fig. 1 (raw) and Fig. 3 (LSTM): R(SM, TS) by site and DOY
:func:`plot_r_by_sensor_type`          Fig. 4: R(SM, TS) by sensor type, per method
:func:`plot_station_pair`              Fig. 5: five days at a station and its reference
:func:`plot_composite_cycles`          Fig. 6a: composite diurnal cycles against references
:func:`plot_hf_r_distribution`         Fig. 6b: hourly R against the reference
:func:`plot_lag_sensitivity`           Fig. 7: gradient-based lag sensitivity
:func:`plot_coupling_violins`          Fig. 8: R(SM, LH), sigma(LH) and TCI at towers
:func:`plot_station_map`               station map (sensor type, references, towers)
:func:`plot_skill_vs_truth`            twin only: skill against the true soil moisture
=====================================  =======================================================
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib as mpl
import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.figure import Figure
from matplotlib.gridspec import GridSpec
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from smlib.atomic import atomic_path
from smlib.diagnostics import hf_correlation

__all__ = [
    "METHOD_STYLE",
    "TOWER_LABELS",
    "SENSOR_STYLE",
    "SM_UNITS",
    "save_figure",
    "plot_r_sm_ts_heatmap",
    "plot_r_by_sensor_type",
    "plot_station_pair",
    "plot_composite_cycles",
    "plot_hf_r_distribution",
    "plot_lag_sensitivity",
    "plot_coupling_violins",
    "plot_station_map",
    "plot_skill_vs_truth",
]

from smlib.methods import METHODS, method_style

log = logging.getLogger(__name__)

SM_UNITS = "m$^3$ m$^{-3}$"

#: Label, colour and line style of every series kind (the paper's colours).
METHOD_STYLE: dict[str, dict[str, str]] = {
    **{k: method_style(k) for k in METHODS},
    "reference": {"label": "Reference", "color": "0.45", "linestyle": "-"},
    "truth": {"label": "Truth", "color": "black", "linestyle": ":"},
}

#: Labels of the methods applied to flux-tower SM (paper Fig. 8).
TOWER_LABELS: dict[str, str] = {
    **{k: m.tower_label for k, m in METHODS.items()},
    "truth": "True SM (twin)",
}

#: Sensor types in display order, with label and colour.
SENSOR_STYLE: dict[str, dict[str, str]] = {
    "impedance": {"label": "Impedance", "color": "#d62728"},
    "capacitance": {"label": "Capacitance", "color": "#9467bd"},
    "fdr": {"label": "FDR", "color": "#8c564b"},
    "tdr": {"label": "TDR", "color": "#17becf"},
    "tdt": {"label": "TDT", "color": "#bcbd22"},
    "cosmic-ray": {"label": "Cosmic-ray", "color": "#7f7f7f"},
    "unknown": {"label": "Unknown", "color": "#c7c7c7"},
}

_MISSING_COLOR = "0.78"
_PANEL = "abcdefgh"


def save_figure(
    fig: Figure,
    stem: str | os.PathLike[str],
    formats: Sequence[str] = ("png", "svg"),
    dpi: int = 200,
) -> list[Path]:
    """Write ``fig`` as ``stem.png`` and ``stem.svg`` atomically; return the paths written."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in formats:
        target = stem.with_suffix(f".{fmt}")
        with atomic_path(target) as tmp:
            fig.savefig(tmp, format=fmt, dpi=dpi, bbox_inches="tight")
        written.append(target)
    return written


def _new_figure(figsize: tuple[float, float]) -> Figure:
    # a bare Figure (no pyplot state): safe in scripts, notebooks and tests alike
    return Figure(figsize=figsize, layout="constrained")


def _panel_label(ax: mpl.axes.Axes, i: int) -> None:
    ax.text(0.0, 1.02, f"({_PANEL[i]})", transform=ax.transAxes, fontweight="bold", va="bottom")


def _strip(
    ax: mpl.axes.Axes, positions: Sequence[float], data: Sequence[np.ndarray], width: float
) -> None:
    """Every value as a small jittered point over its box (small samples stay readable)."""
    rng = np.random.default_rng(0)  # fixed jitter: identical figures on every run
    for p, d in zip(positions, data, strict=True):
        jitter = rng.uniform(-width / 4, width / 4, d.size)
        ax.scatter(p + jitter, d, s=6, color="0.15", alpha=0.6, linewidth=0, zorder=3)


def _finite(values: object) -> np.ndarray:
    a = np.asarray(values, dtype=float).ravel()
    return a[np.isfinite(a)]


# --------------------------------------------------------------------------------------------
# Figs. 1 and 3
# --------------------------------------------------------------------------------------------
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
        (:func:`smlib.diagnostics.r_sm_ts_climatology`).
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


# --------------------------------------------------------------------------------------------
# Fig. 4
# --------------------------------------------------------------------------------------------
def _sensor_types(values: Sequence[str]) -> list[str]:
    present = list(dict.fromkeys(str(v) for v in values))
    known = [s for s in SENSOR_STYLE if s in present]
    return known + sorted(s for s in present if s not in SENSOR_STYLE)


def _sensor_style(s: str) -> dict[str, str]:
    return SENSOR_STYLE.get(s, {"label": s, "color": "#c7c7c7"})


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


# --------------------------------------------------------------------------------------------
# Fig. 5
# --------------------------------------------------------------------------------------------
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
    from smlib.diagnostics import METHOD_VARIABLES

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


# --------------------------------------------------------------------------------------------
# Fig. 6
# --------------------------------------------------------------------------------------------
def plot_composite_cycles(
    composites: Mapping[str, xr.DataArray], title: str | None = None
) -> Figure:
    """Composite diurnal SM anomaly in local solar time, averaged over stations (Fig. 6a).

    Parameters
    ----------
    composites : mapping of str to xarray.DataArray, dims (station, local_hour)
        Keys of :data:`METHOD_STYLE` (``reference``, ``raw``, ``fft``, ``lstm``, ``truth``);
        values from :func:`smlib.diagnostics.diurnal_composite` (m3 m-3).
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
        (:func:`smlib.diagnostics.hf_correlation_vs_reference`).
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


# --------------------------------------------------------------------------------------------
# Fig. 7
# --------------------------------------------------------------------------------------------
def plot_lag_sensitivity(sensitivity: xr.DataArray) -> Figure:
    """Heatmap of the gradient-based lag sensitivity S(i, tau) (Fig. 7).

    Parameters
    ----------
    sensitivity : xarray.DataArray, dims (feature, lag)
        From :func:`smlib.sensitivity.lag_sensitivity`.

    Returns
    -------
    matplotlib.figure.Figure
        Heatmap axis (features top to bottom in input order, lag 0-17 h) and its colour bar.
    """
    s = sensitivity.transpose("feature", "lag")
    lags = np.asarray(s["lag"].values)
    names = [str(f) for f in s["feature"].values]
    fig = _new_figure((8.0, 0.32 * len(names) + 1.8))
    ax = fig.add_subplot(1, 1, 1)
    mesh = ax.pcolormesh(
        np.append(lags, lags[-1] + 1) - 0.5,
        np.arange(len(names) + 1),
        np.ma.masked_invalid(np.asarray(s.values, dtype=float)),
        cmap="magma_r",
        vmin=0.0,
    )
    ax.set_ylim(len(names), 0)
    ax.set_yticks(np.arange(len(names)) + 0.5, names)
    ax.set_xticks(lags)
    ax.set_xlabel("Lag $\\tau$ before the predicted hour (h)")
    ax.set_ylabel("Input feature")
    n = s.attrs.get("n_windows")
    ax.set_title("Gradient-based lag sensitivity" + (f" (N = {n} windows)" if n else ""))
    units = {"m3 m-3": SM_UNITS, "1": "normalised"}.get(
        s.attrs.get("units", "1"), s.attrs.get("units")
    )
    fig.colorbar(mesh, ax=ax, label=f"$S_{{i,\\tau}}$ ({units} per $\\sigma_i$)")
    return fig


# --------------------------------------------------------------------------------------------
# Fig. 8
# --------------------------------------------------------------------------------------------
def plot_coupling_violins(coupling: xr.Dataset) -> Figure:
    """Violins of R(SM, LH), sigma(LH) and TCI at flux towers per method (Fig. 8).

    Parameters
    ----------
    coupling : xarray.Dataset, dims (station, product)
        From :func:`smlib.diagnostics.land_coupling`.

    Returns
    -------
    matplotlib.figure.Figure
        Three axes; horizontal violins per method, medians as white lines and printed.
    """
    panels = [
        ("r_sm_lh", "R(SM, LH)", (-1.0, 1.0)),
        ("sigma_lh", "$\\sigma$(LH) (W m$^{-2}$)", None),
        ("tci", "TCI(SM, LH) (W m$^{-2}$)", None),
    ]
    products = [str(p) for p in coupling["product"].values]
    fig = _new_figure((12.0, 1.0 + 0.9 * len(products)))
    axes = fig.subplots(1, 3, sharey=True)
    n_sites = coupling.sizes["station"]
    for k, (ax, (var, label, lims)) in enumerate(zip(axes, panels, strict=True)):
        for j, p in enumerate(products):
            style = METHOD_STYLE.get(p, {"color": "k"})
            vals = _finite(coupling[var].sel({"product": p}).values)
            if vals.size >= 2 and np.ptp(vals) > 0:
                parts = ax.violinplot(
                    vals, positions=[j], orientation="horizontal", showextrema=False, widths=0.8
                )
                for body in parts["bodies"]:
                    body.set_facecolor(style["color"])
                    body.set_edgecolor("0.2")
                    body.set_alpha(0.85)
            elif vals.size:
                ax.plot(vals, np.full(vals.size, j), "o", color=style["color"])
            if vals.size:
                med = float(np.median(vals))
                ax.plot([med, med], [j - 0.3, j + 0.3], color="white", linewidth=2.5)
                ax.text(med, j + 0.38, f"{med:.2f}", ha="center", va="bottom", fontsize=8)
        if lims:
            ax.set_xlim(*lims)
        else:
            ax.margins(x=0.15)
        if var != "sigma_lh":
            ax.axvline(0.0, color="0.5", linewidth=0.8)
        ax.set_xlabel(label)
        _panel_label(ax, k)
    axes[0].set_yticks(np.arange(len(products)), [TOWER_LABELS.get(p, p) for p in products])
    axes[0].set_ylim(-0.6, len(products) - 0.2)
    sites = "site" if n_sites == 1 else "sites"
    fig.suptitle(f"Diurnal land coupling at flux towers, warm season (N = {n_sites} {sites})")
    return fig


# --------------------------------------------------------------------------------------------
# station map
# --------------------------------------------------------------------------------------------
def _add_land(ax: object) -> bool:
    """Draw land and coastlines from the offline Natural Earth data; False if unavailable."""
    try:
        import cartopy.feature as cfeature

        from smlib.naturalearth import configure_cartopy

        configure_cartopy()
    except (ImportError, FileNotFoundError) as err:
        log.warning("station map drawn without coastlines: %s", err)
        return False
    ax.add_feature(cfeature.OCEAN.with_scale("110m"), facecolor="#eaf2fb", edgecolor="none")
    ax.add_feature(cfeature.LAND.with_scale("110m"), facecolor="0.93", edgecolor="none")
    ax.add_feature(cfeature.COASTLINE.with_scale("110m"), linewidth=0.5, edgecolor="0.4")
    ax.add_feature(cfeature.BORDERS.with_scale("110m"), linewidth=0.3, edgecolor="0.6")
    return True


def _map_extent(
    lon: np.ndarray, lat: np.ndarray, margin: float = 3.0, max_aspect: float = 2.2
) -> tuple[float, float, float, float]:
    """Stations plus a margin, widened in latitude so the map is at most ``max_aspect`` wide
    per unit height (a network spread along a parallel would otherwise give a thin strip)."""
    x0, x1 = max(np.nanmin(lon) - margin, -180.0), min(np.nanmax(lon) + margin, 180.0)
    y0, y1 = max(np.nanmin(lat) - margin, -90.0), min(np.nanmax(lat) + margin, 90.0)
    short = (x1 - x0) / max_aspect - (y1 - y0)
    if short > 0:
        y0, y1 = y0 - short / 2, y1 + short / 2
        if y0 < -90.0:
            y0, y1 = -90.0, min(y1 + (-90.0 - y0), 90.0)
        if y1 > 90.0:
            y0, y1 = max(y0 - (y1 - 90.0), -90.0), 90.0
    return (float(x0), float(x1), float(y0), float(y1))


def plot_station_map(ds: xr.Dataset, extent: Sequence[float] | None = None) -> Figure:
    """Map of the stations by sensor type, with references and flux towers marked.

    Land and coastlines come from the offline Natural Earth layers of
    :mod:`smlib.naturalearth`; without them the map shows graticules only. Nothing is
    downloaded.

    Parameters
    ----------
    ds : xarray.Dataset
        Any dataset with ``lat``, ``lon``, ``sensor_type``, ``is_reference`` and ``kind`` on
        ``station``.
    extent : sequence of 4 float, optional
        ``(lon_min, lon_max, lat_min, lat_max)``; default: the stations plus a margin.

    Returns
    -------
    matplotlib.figure.Figure
        One cartopy GeoAxes (PlateCarree).
    """
    import cartopy.crs as ccrs

    lat = np.asarray(ds["lat"].values, dtype=float)
    lon = np.asarray(ds["lon"].values, dtype=float)
    sensor = np.asarray(ds["sensor_type"].values).astype(str)
    is_ref = np.asarray(ds["is_reference"].values).astype(bool)
    kind = (
        np.asarray(ds["kind"].values).astype(str)
        if "kind" in ds.coords or "kind" in ds
        else np.full(lat.size, "ismn")
    )
    tower = kind == "tower"

    fig = _new_figure((9.0, 5.0))
    ax = fig.add_subplot(1, 1, 1, projection=ccrs.PlateCarree())
    if extent is None:
        extent = _map_extent(lon, lat)
    ax.set_extent(extent, crs=ccrs.PlateCarree())
    has_land = _add_land(ax)
    gl = ax.gridlines(draw_labels=True, linewidth=0.3, color="0.6", linestyle=":")
    gl.top_labels = gl.right_labels = False

    handles = []
    for s in _sensor_types(sensor):
        style = _sensor_style(s)
        plain = (sensor == s) & ~is_ref & ~tower
        ref = (sensor == s) & is_ref & ~tower
        ax.scatter(
            lon[plain],
            lat[plain],
            s=22,
            marker="o",
            color=style["color"],
            edgecolor="white",
            linewidth=0.4,
            transform=ccrs.PlateCarree(),
            zorder=3,
        )
        ax.scatter(
            lon[ref],
            lat[ref],
            s=70,
            marker="*",
            color=style["color"],
            edgecolor="black",
            linewidth=0.5,
            transform=ccrs.PlateCarree(),
            zorder=4,
        )
        n = int(((sensor == s) & ~tower).sum())
        if n:
            handles.append(
                Line2D(
                    [],
                    [],
                    marker="o",
                    linestyle="",
                    color=style["color"],
                    label=f"{style['label']} ({n})",
                )
            )
    ax.scatter(
        lon[tower],
        lat[tower],
        s=40,
        marker="^",
        facecolor="none",
        edgecolor="black",
        linewidth=1.0,
        transform=ccrs.PlateCarree(),
        zorder=5,
    )
    handles.append(
        Line2D(
            [],
            [],
            marker="*",
            linestyle="",
            markerfacecolor="white",
            markeredgecolor="black",
            markersize=10,
            label=f"Reference ({int((is_ref & ~tower).sum())})",
        )
    )
    handles.append(
        Line2D(
            [],
            [],
            marker="^",
            linestyle="",
            markerfacecolor="none",
            markeredgecolor="black",
            label=f"Flux tower ({int(tower.sum())})",
        )
    )
    ax.legend(
        handles=handles,
        fontsize=7,
        loc="center left",
        bbox_to_anchor=(1.02, 0.5),
        title="ISMN sensor type (stations)",
        title_fontsize=7,
        frameon=False,
    )
    ax.set_title(f"Stations (N = {lat.size})" + ("" if has_land else " - coastlines unavailable"))
    return fig


# --------------------------------------------------------------------------------------------
# skill against the truth (twin)
# --------------------------------------------------------------------------------------------
def plot_skill_vs_truth(skill: pd.DataFrame, methods: Sequence[str] | None = None) -> Figure:
    """Skill against the true SM by sensor type and method (twin only).

    Parameters
    ----------
    skill : pandas.DataFrame
        Long form from :func:`smlib.diagnostics.skill_vs_truth`.
    methods : sequence of str, optional
        Methods to show (default ``raw``, ``fft``, ``lstm`` where present).

    Returns
    -------
    matplotlib.figure.Figure
        Three axes: HF correlation, RMSE of the diurnal composite (m3 m-3), phase error of the
        diurnal minimum (h); boxes grouped by sensor type, coloured by method; legend gives
        each method's overall median.
    """
    present = set(skill["method"])
    methods = [m for m in (methods or ("raw", "fft", "lstm")) if m in present]
    if not methods:
        raise ValueError("skill table holds none of the methods raw, fft, lstm")
    sensors = _sensor_types(skill["sensor_type"])
    panels = [
        ("hf_r", "HF correlation with truth", (-1.05, 1.05)),
        ("composite_rmse", f"RMSE of diurnal composite ({SM_UNITS})", None),
        ("phase_error_h", "Phase error of diurnal minimum (h)", (-12.5, 12.5)),
    ]
    fig = _new_figure((13.0, 4.3))
    axes = fig.subplots(1, 3)
    width = 0.8 / len(methods)
    for k, (ax, (col, label, lims)) in enumerate(zip(axes, panels, strict=True)):
        for j, m in enumerate(methods):
            style = METHOD_STYLE[m]
            sub = skill[skill["method"] == m]
            data = [_finite(sub.loc[sub["sensor_type"] == s, col]) for s in sensors]
            pos = np.arange(len(sensors)) + (j - (len(methods) - 1) / 2) * width
            keep = [i for i, d in enumerate(data) if d.size]
            if keep:
                bp = ax.boxplot(
                    [data[i] for i in keep],
                    positions=pos[keep],
                    widths=width * 0.9,
                    patch_artist=True,
                    showfliers=False,
                    medianprops={"color": "black"},
                )
                _strip(ax, pos[keep], [data[i] for i in keep], width * 0.9)
                for box in bp["boxes"]:
                    box.set_facecolor(style["color"])
                    box.set_alpha(0.85)
        ax.set_xticks(
            np.arange(len(sensors)), [_sensor_style(s)["label"] for s in sensors], rotation=30
        )
        ax.set_xlim(-0.6, len(sensors) - 0.4)
        if lims:
            ax.set_ylim(*lims)
        if col != "composite_rmse":
            ax.axhline(0.0, color="0.5", linewidth=0.8)
        ax.set_ylabel(label)
        ax.set_xlabel("Sensor type")
        _panel_label(ax, k)
    handles = []
    for m in methods:
        vals = _finite(skill.loc[skill["method"] == m, "hf_r"])
        med = f"{np.median(vals):.2f}" if vals.size else "n/a"
        handles.append(
            Patch(
                facecolor=METHOD_STYLE[m]["color"],
                label=f"{METHOD_STYLE[m]['label']} (median R = {med}, n = {vals.size})",
            )
        )
    fig.legend(
        handles=handles, fontsize=8, loc="outside lower center", ncols=len(handles), frameon=False
    )
    fig.suptitle("Skill against the true soil moisture (synthetic twin)")
    return fig
