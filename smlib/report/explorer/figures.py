"""The explorer's figures: a station's whole record and zoomed weeks, with each product's 90 %
band where it carries an uncertainty."""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence

import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.figure import Figure

from smlib.evaluation import diagnostics as dg
from smlib.method.uncertainty import Z90
from smlib.report.explorer.data import _FALLBACK_STYLE, _describe, series_keys
from smlib.report.plots import METHOD_STYLE, SM_UNITS

__all__ = [
    "zoom_start",
    "plot_station",
    "plot_record",
    "plot_zoom",
    "week_choices",
    "station_png",
]


def zoom_start(data: xr.Dataset, station: str, days: int = 7) -> pd.Timestamp | None:
    """00 UTC of the ``days``-day window where the raw diurnal cycle is clearest.

    Windows are ranked first by how many hours have raw SM, then by how regular the raw HF
    anomaly is from day to day: the range of its mean daily cycle over its standard deviation
    (rain steps fall at different hours on different days and count as noise). None when the
    station has no raw SM at all.
    """
    raw = np.asarray(data["raw"].sel(station=station).values, dtype=float)
    hf = dg.hf_anomaly(raw)
    time = pd.DatetimeIndex(data["time"].values)
    hours = 24 * days
    starts = np.flatnonzero(time.hour == 0)
    starts = starts[starts + hours <= len(time)] if len(time) >= hours else starts[:1]
    best, best_key = None, (-1, -np.inf)
    for i in starts:
        n_raw = int(np.isfinite(raw[i : i + hours]).sum())
        if n_raw == 0:
            continue
        seg = hf[i : i + hours]
        seg = seg[: seg.size // 24 * 24].reshape(-1, 24)
        seg = seg[np.isfinite(seg).all(axis=1)]
        key = (n_raw, float(np.ptp(seg.mean(axis=0)) / (seg.std() + 1e-9)) if seg.size else -np.inf)
        if key > best_key:
            best, best_key = i, key
    return None if best is None else time[best]


def _draw(ax, data: xr.Dataset, station: str, sl: slice, series: Sequence[str] | None) -> int:
    """Plot ``series`` (None: all) of ``station`` over the time slice ``sl``; return lines
    drawn."""
    x = data.sel(station=station, time=sl)
    t = pd.DatetimeIndex(x["time"].values)
    drawn = 0
    for key in series_keys(data):
        if series is not None and key not in series:
            continue
        y = np.asarray(x[key].values, dtype=float)
        if not np.isfinite(y).any():
            continue
        style = {"label": key, **_FALLBACK_STYLE, **METHOD_STYLE.get(key, {})}
        label = style["label"]
        if key == "reference":
            label += f" ({x['reference_station'].item()})"
        ax.plot(t, y, color=style["color"], ls=style["linestyle"], lw=1.1, label=label)
        if f"{key}_uncertainty" in x:  # the 90 % interval of the diurnal correction
            half = Z90 * np.asarray(x[f"{key}_uncertainty"].values, dtype=float)
            ax.fill_between(t, y - half, y + half, color=style["color"], alpha=0.18, lw=0,
                            label=f"{label}, 90 % interval")  # fmt: skip
        drawn += 1
    return drawn


def plot_station(
    data: xr.Dataset,
    station: str,
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
    series: Sequence[str] | None = None,
    zoom: str | pd.Timestamp | None = None,
    zoom_days: int = 7,
    figsize: tuple[float, float] = (9.0, 5.2),
) -> Figure:
    """One station: the chosen period above, a zoomed window below, chosen series overlaid.

    Parameters
    ----------
    data : xarray.Dataset
        From :func:`explorer_data`.
    station : str
        Station id.
    start, end : str or Timestamp, optional
        Period of the upper panel (inclusive; default: the whole record).
    series : sequence of str
        Series to draw (absent ones are ignored); default all (:func:`series_keys`).
    zoom : str or Timestamp, optional
        First hour of the lower panel; default :func:`zoom_start` within the period.
    zoom_days : int
        Length of the lower panel.
    figsize : (float, float)
        Inches.

    Returns
    -------
    matplotlib.figure.Figure
        Two axes; the zoomed window is shaded in the upper one.
    """
    if station not in data["station"].values:
        raise KeyError(f"station {station!r} is not in the explorer data")
    period = data.sel(time=slice(start, end))
    fig = Figure(figsize=figsize, layout="constrained")
    ax_all, ax_zoom = fig.subplots(2, 1, height_ratios=[1.0, 1.2])
    fig.suptitle(f"{station} ({_describe(data, station)})", fontsize=11)
    if period.sizes["time"] == 0:
        for ax in (ax_all, ax_zoom):
            ax.text(0.5, 0.5, "no hours in this period", ha="center", transform=ax.transAxes)
        return fig
    t = pd.DatetimeIndex(period["time"].values)
    n_all = _draw(ax_all, period, station, slice(None), series)
    z0 = pd.Timestamp(zoom) if zoom is not None else zoom_start(period, station, zoom_days)
    if z0 is None:
        z0 = t[0]
    z1 = z0 + pd.Timedelta(days=zoom_days) - pd.Timedelta(hours=1)
    n_zoom = _draw(ax_zoom, data, station, slice(z0, z1), series)
    ax_all.axvspan(z0, z1, color="0.85", zorder=0)
    ax_all.set_xlim(t[0], t[-1])
    ax_all.set_title(f"{t[0]:%Y-%m-%d} to {t[-1]:%Y-%m-%d}", fontsize=9, loc="left")
    ax_zoom.set_xlim(z0, z1)
    ax_zoom.set_title(
        f"zoom: {z0:%Y-%m-%d} + {zoom_days} days (shaded above)", fontsize=9, loc="left"
    )
    for ax, n in ((ax_all, n_all), (ax_zoom, n_zoom)):
        ax.set_ylabel(f"SM ({SM_UNITS})")
        if n == 0:
            ax.text(0.5, 0.5, "no data for the chosen series", ha="center", transform=ax.transAxes)
    ax_zoom.set_xlabel("Time (UTC)")
    if n_zoom or n_all:
        handles, labels = (ax_zoom if n_zoom else ax_all).get_legend_handles_labels()
        fig.legend(
            handles,
            labels,
            loc="outside lower center",
            ncols=len(labels),
            fontsize=8,
            frameon=False,
        )
    return fig


def station_png(data: xr.Dataset, station: str, dpi: int = 72, **kwargs: object) -> bytes:
    """PNG bytes of :func:`plot_station` for ``station`` (full record, default zoom)."""
    return _png(plot_station(data, station, **kwargs), dpi)


def _png(fig: Figure, dpi: int, colors: int | None = None) -> bytes:
    """PNG bytes of a figure; with ``colors``, reduced to that many (a third of the size for
    line plots, which the book stores by the hundred in the explorer's widget state)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    if colors is None:
        return buf.getvalue()
    from PIL import Image

    buf.seek(0)
    with Image.open(buf) as image:
        reduced = image.convert("RGB").quantize(colors=colors, method=Image.Quantize.FASTOCTREE)
    out = io.BytesIO()
    reduced.save(out, format="PNG", optimize=True)
    return out.getvalue()


def week_choices(data: xr.Dataset, n: int = 6, days: int = 7) -> list[pd.Timestamp]:
    """``n`` zoom windows spread evenly over the record: their first hours (00 UTC).

    Parameters
    ----------
    data : xarray.Dataset
        From :func:`explorer_data` (hourly ``time``).
    n : int
        Number of windows (fewer when the record is too short to hold ``n`` distinct ones).
    days : int
        Window length, days; every window lies inside the record.

    Returns
    -------
    list of pandas.Timestamp
        Distinct, increasing 00-UTC starts; empty when the record has no 00-UTC hour.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    time = pd.DatetimeIndex(data["time"].values)
    if len(time) == 0:
        return []
    midnights = time[time.hour == 0]
    fits = midnights[midnights + pd.Timedelta(days=days) - pd.Timedelta(hours=1) <= time[-1]]
    if len(fits) == 0:
        fits = midnights[:1]
    picks = np.unique(np.round(np.linspace(0, len(fits) - 1, n)).astype(int)) if len(fits) else []
    return [fits[i] for i in picks]


def plot_record(
    data: xr.Dataset,
    station: str,
    series: Sequence[str] | None = None,
    marks: Sequence[pd.Timestamp] = (),
    zoom_days: int = 7,
    figsize: tuple[float, float] = (9.0, 2.9),
) -> Figure:
    """One station's whole record, with the zoom windows on offer shaded and numbered.

    Parameters
    ----------
    data : xarray.Dataset
        From :func:`explorer_data`.
    station : str
        Station id.
    series : sequence of str
        Series to draw; default all (:func:`series_keys`).
    marks : sequence of Timestamp
        First hours of windows to shade, labelled 1, 2, ... (the week choices of the
        static explorer).
    zoom_days : int
        Length of each shaded window.
    figsize : (float, float)
        Inches.

    Returns
    -------
    matplotlib.figure.Figure
        One axes; the legend of the series below it.
    """
    if station not in data["station"].values:
        raise KeyError(f"station {station!r} is not in the explorer data")
    fig = Figure(figsize=figsize, layout="constrained")
    ax = fig.subplots()
    fig.suptitle(f"{station} ({_describe(data, station)})", fontsize=11)
    t = pd.DatetimeIndex(data["time"].values)
    n = _draw(ax, data, station, slice(None), series)
    width = pd.Timedelta(days=zoom_days) - pd.Timedelta(hours=1)
    for k, z0 in enumerate(marks, start=1):
        ax.axvspan(z0, z0 + width, color="0.88", zorder=0)
        ax.annotate(
            str(k), (z0 + width / 2, 1.0), xycoords=("data", "axes fraction"),
            ha="center", va="bottom", fontsize=7, color="0.35",
        )  # fmt: skip
    if len(t):
        ax.set_xlim(t[0], t[-1])
        ax.set_title(f"{t[0]:%Y-%m-%d} to {t[-1]:%Y-%m-%d}", fontsize=9, loc="left")
    ax.set_ylabel(f"SM ({SM_UNITS})")
    if n == 0:
        ax.text(0.5, 0.5, "no data for the chosen series", ha="center", transform=ax.transAxes)
    else:
        handles, labels = ax.get_legend_handles_labels()
        fig.legend(
            handles, labels, loc="outside lower center", ncols=len(labels), fontsize=8,
            frameon=False,
        )  # fmt: skip
    return fig


def plot_zoom(
    data: xr.Dataset,
    station: str,
    start: str | pd.Timestamp | None = None,
    zoom_days: int = 7,
    series: Sequence[str] | None = None,
    figsize: tuple[float, float] = (9.0, 2.6),
) -> Figure:
    """One station over ``zoom_days`` days from ``start``.

    Parameters
    ----------
    data : xarray.Dataset
        From :func:`explorer_data`.
    station : str
        Station id.
    start : str or Timestamp, optional
        First hour; default :func:`zoom_start` (the week of the clearest raw diurnal cycle).
    zoom_days : int
        Window length, days.
    series : sequence of str
        Series to draw; default all (:func:`series_keys`).
    figsize : (float, float)
        Inches.

    Returns
    -------
    matplotlib.figure.Figure
        One axes, titled with the window's dates.
    """
    return next(_zoom_windows(data, station, [start], zoom_days, series, figsize))


def _zoom_windows(
    data: xr.Dataset,
    station: str,
    starts: Sequence[str | pd.Timestamp | None],
    zoom_days: int,
    series: Sequence[str] | None,
    figsize: tuple[float, float],
) -> Iterator[Figure]:
    """One figure, yielded once per window of ``starts`` (None: :func:`zoom_start`).

    The series are drawn once and each window is a change of the axis limits and title, so
    that pre-rendering many windows costs one drawing, not one per window; the layout the
    first window got when the caller saved it is kept for the others.
    """
    if station not in data["station"].values:
        raise KeyError(f"station {station!r} is not in the explorer data")
    fig = Figure(figsize=figsize, layout="constrained")
    ax = fig.subplots()
    _draw(ax, data, station, slice(None), series)
    x = data.sel(station=station)
    t = pd.DatetimeIndex(x["time"].values)
    shown = [
        np.asarray(x[k].values, dtype=float)
        for k in series_keys(data)
        if series is None or k in series
    ]
    ax.set_ylabel(f"SM ({SM_UNITS})")
    ax.set_xlabel("Time (UTC)")
    title = ax.set_title("", fontsize=9, loc="left")
    note = ax.text(0.5, 0.5, "", ha="center", transform=ax.transAxes)
    for start in starts:
        clearest = start is None
        z0 = zoom_start(data, station, zoom_days) if clearest else pd.Timestamp(start)
        if z0 is None:
            z0 = t[0]
        z1 = z0 + pd.Timedelta(days=zoom_days) - pd.Timedelta(hours=1)
        ax.set_xlim(z0, z1)
        inside = (t >= z0) & (t <= z1)
        values = np.concatenate([y[inside] for y in shown]) if shown else np.empty(0)
        values = values[np.isfinite(values)]
        if values.size:
            low, high = float(values.min()), float(values.max())
            pad = 0.06 * (high - low) or 0.005
            ax.set_ylim(low - pad, high + pad)
        note.set_text("" if values.size else "no data in this window")
        why = ", the clearest raw diurnal cycle" if clearest else ""
        title.set_text(f"{z0:%Y-%m-%d} + {zoom_days} days{why}")
        yield fig
        fig.set_layout_engine("none")  # keep the first window's layout: saves a third
