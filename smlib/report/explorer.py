"""Interactive station explorer of the book (notebook 07): live in Jupyter, and kernel-free.

Two views of the same per-station series (raw, Fourier, LSTM, nearby reference, truth):

:func:`live_explorer`
    ipywidgets controls wired to a plotting function with :func:`ipywidgets.interactive_output`:
    a station dropdown, a date-range slider and one checkbox per series. Needs a running kernel.
:func:`static_explorer`
    For the HTML book, where there is no kernel: per station, one PNG of the whole record and
    one zoomed PNG per week choice (the week of the clearest raw diurnal cycle, and weeks
    spread over the record), in nested :class:`ipywidgets.Stack` widgets. A station dropdown
    and a week dropdown are linked to the stacks both in the browser (:func:`ipywidgets.jslink`,
    which lives in the saved widget state) and in the kernel (:func:`ipywidgets.link`); a
    search box finds a station by part of its id, network or sensor type. Every station and
    every week choice is selectable in the published page.

The widget state must be stored in the executed notebook (``nbclient`` does it by default,
``store_widget_state=True``). CSS classes ``smlib-explorer``, ``smlib-explorer-search``,
``smlib-explorer-station``, ``smlib-explorer-week``, ``smlib-explorer-plots`` and
``smlib-explorer-zoom`` mark the static view for browser tests.
"""

from __future__ import annotations

import html
import io
import logging
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.figure import Figure

from smlib.evaluation import diagnostics as dg
from smlib.method.uncertainty import Z90
from smlib.progress import progress_bar
from smlib.report.display import method_label
from smlib.report.plots import METHOD_STYLE, SM_UNITS

__all__ = [
    "series_keys",
    "series_label",
    "explorer_data",
    "zoom_start",
    "plot_station",
    "plot_record",
    "plot_zoom",
    "week_choices",
    "station_png",
    "static_explorer",
    "live_explorer",
]

log = logging.getLogger(__name__)

#: Series besides the correction methods, drawn after them.
_CONTEXT_SERIES = ("reference", "truth")
#: Style of a series the method registry does not know.
_FALLBACK_STYLE = {"color": "0.3", "linestyle": "-."}


def series_keys(data: xr.Dataset) -> list[str]:
    """The series ``data`` holds, in drawing order: the correction methods in the order of
    :data:`smlib.evaluation.diagnostics.METHOD_VARIABLES` (``raw`` first), then ``reference``, ``truth``.
    A series' ``<key>_uncertainty`` is its band, not a series of its own."""
    keys = [k for k in dg.METHOD_VARIABLES if k in data]
    keys += [
        k
        for k in data.data_vars
        if k not in keys and k not in _CONTEXT_SERIES and not str(k).endswith("_uncertainty")
    ]
    return keys + [k for k in _CONTEXT_SERIES if k in data]


def series_label(key: str) -> str:
    """Plain label of a series (checkboxes, attributes): ``Fourier``, ``LSTM``, ``truth``..."""
    return method_label(key)


def explorer_data(
    corrected: xr.Dataset, truth: xr.Dataset | None = None, max_km: float = 50.0
) -> xr.Dataset:
    """Collect the series the explorer shows, one variable per series, on the corrected grid.

    Parameters
    ----------
    corrected : xarray.Dataset
        Corrected output, dims (station, time): ``sm`` and ``sm_fft`` / ``sm_lstm`` where
        present; station coordinates ``lat``, ``lon``, ``sensor_type``, ``is_reference``.
    truth : xarray.Dataset, optional
        ``truth.nc`` of the twin (variable ``sm``); reindexed to the corrected grid.
    max_km : float
        Largest distance to the reference station shown with a non-reference station.

    Returns
    -------
    xarray.Dataset, dims (station, time)
        One variable per method of the corrected file (its key: ``raw``, ``fft``, ``lstm``,
        ...), plus ``reference`` and ``truth`` (m3 m-3); ``reference`` holds the nearest reference
        station's SM for stations that have one within ``max_km`` (NaN elsewhere). Station
        coordinates ``reference_station`` (id or "") and ``reference_km`` are added.
    """
    if "sm" not in corrected:
        raise KeyError("the corrected dataset has no variable 'sm'")
    keep_coords = [c for c in corrected.coords if corrected[c].dims == ("station",)]
    out = xr.Dataset(coords={c: corrected[c] for c in [*keep_coords, "time"]})
    for key, var in dg.METHOD_VARIABLES.items():
        if var in corrected:
            out[key] = corrected[var].reset_coords(drop=True)
            if f"{var}_uncertainty" in corrected:  # drawn as the 90 % band of that series
                out[f"{key}_uncertainty"] = corrected[f"{var}_uncertainty"].reset_coords(drop=True)
    n = corrected.sizes["station"]
    ref_id = np.full(n, "", dtype=object)
    ref_km = np.full(n, np.nan)
    reference = np.full((n, corrected.sizes["time"]), np.nan, dtype=np.float32)
    if corrected["is_reference"].values.astype(bool).any():
        pairs = dg.reference_pairs(corrected, max_km=max_km)
        stations = corrected["station"].values.astype(str)
        where = {s: i for i, s in enumerate(stations)}
        sm = corrected["sm"].transpose("station", "time").values
        for row in pairs.itertuples(index=False):
            i = where[row.station]
            ref_id[i], ref_km[i] = row.reference, row.distance_km
            reference[i] = sm[where[row.reference]]
    if np.isfinite(reference).any():
        out["reference"] = (("station", "time"), reference)
    if truth is not None:
        if "sm" not in truth:
            raise KeyError("the truth dataset has no variable 'sm'")
        t = (
            truth["sm"]
            .reset_coords(drop=True)
            .reindex(station=corrected["station"].values, time=corrected["time"].values)
        )
        out["truth"] = t.astype(np.float32)
    for v in out.data_vars:
        if v.endswith("_uncertainty"):
            out[v].attrs = {
                "units": "m3 m-3",
                "long_name": f"standard uncertainty of {series_label(v.removesuffix('_uncertainty'))}",
            }
            continue
        label = "nearest reference station" if v == "reference" else series_label(v)
        out[v].attrs = {
            "units": "m3 m-3",
            "standard_name": "volume_fraction_of_condensed_water_in_soil",
            "long_name": f"soil moisture, {label}",
        }
    out = out.assign_coords(
        reference_station=("station", ref_id.astype(str)), reference_km=("station", ref_km)
    )
    out["reference_km"].attrs = {"units": "km", "long_name": "distance to the reference station"}
    return out


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


def _describe(data: xr.Dataset, station: str) -> str:
    """``flux tower``, ``reference, tdr`` or the sensor type of a station."""
    x = data.sel(station=station)
    if "kind" in x.coords and str(x["kind"].values) == "tower":
        return "flux tower"
    sensor = str(x["sensor_type"].values)
    return f"reference, {sensor}" if bool(x["is_reference"]) else sensor


def _station_options(data: xr.Dataset) -> list[tuple[str, int]]:
    stations = data["station"].values.astype(str)
    return [(f"{s} ({_describe(data, s)})", i) for i, s in enumerate(stations)]


#: Colours of the explorer's pre-rendered PNGs (reduced: hundreds of them live in the page).
_COLORS = 64

#: Selects the station whose label matches the search box; runs in the browser (no kernel):
#: an exact label on every keystroke or pick from the list, else the first label containing
#: the text on Enter. It sets the station dropdown as a click would, so the widget links follow.
_SEARCH_JS = (
    "(function (input, exact) {"
    " var box = input.closest('.smlib-explorer');"
    " var select = box && box.querySelector('.smlib-explorer-station select');"
    " var q = input.value.trim().toLowerCase();"
    " if (!select || !q) { return; }"
    " var labels = Array.prototype.map.call(select.options,"
    " function (o) { return o.text.toLowerCase(); });"
    " var i = labels.indexOf(q);"
    " if (i < 0 && !exact) { i = labels.findIndex(function (l) { return l.includes(q); }); }"
    " input.style.outline = (i < 0 && !exact) ? '2px solid #d62728' : '';"
    " if (i < 0 || i === select.selectedIndex) { return; }"
    " select.selectedIndex = i;"
    " select.dispatchEvent(new Event('change', {bubbles: true}));"
    "})(this, EXACT)"
)


def _search_html(labels: Sequence[str]) -> str:
    """A search box with the station labels as suggestions (HTML with inline handlers)."""
    list_id = f"smlib-stations-{uuid.uuid4().hex[:12]}"
    options = "".join(f'<option value="{html.escape(label)}"></option>' for label in labels)
    return (
        f'<input type="search" list="{list_id}" placeholder="find a station: id, network or'
        f' sensor type, then Enter" aria-label="find a station" size="48"'
        f' oninput="{html.escape(_SEARCH_JS.replace("EXACT", "true"))}"'
        f' onchange="{html.escape(_SEARCH_JS.replace("EXACT", "false"))}">'
        f'<datalist id="{list_id}">{options}</datalist>'
    )


def static_explorer(
    data: xr.Dataset,
    series: Sequence[str] | None = None,
    dpi: int = 72,
    zoom_days: int = 7,
    weeks: int = 4,
    progress: bool | None = None,
):
    """Kernel-free explorer: station and zoom week chosen among pre-rendered images.

    Every station gets an image of its whole record (:func:`plot_record`) and one zoomed
    image per week choice (:func:`plot_zoom`): the week of its clearest raw diurnal cycle,
    then ``weeks`` windows spread over the record (:func:`week_choices`, shaded and numbered
    in the record image). The controls are linked to the images in the browser
    (:func:`ipywidgets.jslink`, saved in the notebook's widget state) and in the kernel
    (:func:`ipywidgets.link`), so the published page switches them without Python:

    - a search box (an :class:`ipywidgets.HTML` input with the station labels as suggestions;
      typing a label, or part of one and Enter, selects the station);
    - a station dropdown, linked to a :class:`ipywidgets.Stack` with one view per station;
    - a week dropdown, linked to the week :class:`~ipywidgets.Stack` inside every view.

    Parameters
    ----------
    data : xarray.Dataset
        From :func:`explorer_data`.
    series : sequence of str
        Series drawn in every image.
    dpi : int
        Resolution of the images (they are stored in the notebook's widget state:
        stations x (weeks + 2) images).
    zoom_days : int
        Length of the zoomed windows, days.
    weeks : int
        Number of evenly spread windows offered besides each station's clearest one.
    progress : bool, optional
        Progress bar while drawing (None: :func:`smlib.progress.progress_enabled` decides).

    Returns
    -------
    ipywidgets.VBox
        Children ``[HTML search box, HBox(station Dropdown, week Dropdown), Stack]``; the
        stack's children (one per station, order of ``data.station``) are
        ``VBox([Image(record), Stack(Image per week choice)])``. Attribute ``controls`` maps
        ``search``, ``station`` and ``week`` to their widgets, ``links`` holds every link.
        CSS classes: ``smlib-explorer`` (the box), ``smlib-explorer-search``,
        ``smlib-explorer-station``, ``smlib-explorer-week``, ``smlib-explorer-plots`` (the
        station stack) and ``smlib-explorer-zoom`` (the week stacks).
    """
    import ipywidgets as widgets

    stations = data["station"].values.astype(str)
    if stations.size == 0:
        raise ValueError("the explorer data hold no station")
    starts = week_choices(data, weeks, zoom_days)
    week_labels = ["clearest raw diurnal cycle (per station)"] + [
        f"{k}: {z0:%Y-%m-%d} + {zoom_days} days" for k, z0 in enumerate(starts, start=1)
    ]
    layout = widgets.Layout(max_width="100%", height="auto")

    def images(figures: Iterable[Figure]) -> list[widgets.Image]:
        # one PNG widget per figure, encoded as it comes (the zoom windows reuse one figure)
        return [
            widgets.Image(value=_png(f, dpi, _COLORS), format="png", layout=layout) for f in figures
        ]

    views = []
    disable = None if progress is None else not progress
    for s in progress_bar(stations, desc="explorer images", disable=disable):
        [record] = images([plot_record(data, s, series, starts, zoom_days)])
        zooms = images(_zoom_windows(data, s, [None, *starts], zoom_days, series, (9.0, 2.6)))
        zoom_stack = widgets.Stack(children=zooms, selected_index=0)
        zoom_stack.add_class("smlib-explorer-zoom")
        views.append(widgets.VBox([record, zoom_stack]))
    options = _station_options(data)
    station = widgets.Dropdown(
        options=options, value=0, description="Station", layout={"width": "auto"}
    )
    station.add_class("smlib-explorer-station")
    week = widgets.Dropdown(
        options=[(label, i) for i, label in enumerate(week_labels)],
        value=0,
        description="Zoom",
        layout={"width": "auto"},
    )
    week.add_class("smlib-explorer-week")
    search = widgets.HTML(_search_html([label for label, _ in options]))
    search.add_class("smlib-explorer-search")
    stack = widgets.Stack(children=views, selected_index=0)
    stack.add_class("smlib-explorer-plots")
    controls = widgets.HBox([station, week], layout=widgets.Layout(flex_flow="row wrap"))
    box = widgets.VBox([search, controls, stack])
    box.add_class("smlib-explorer")
    # browser links live in the saved widget state; kernel links keep Python in step
    pairs = [((station, "index"), (stack, "selected_index"))]
    pairs += [((week, "index"), (view.children[1], "selected_index")) for view in views]
    box.links = tuple(widgets.jslink(a, b) for a, b in pairs) + tuple(
        widgets.link(a, b) for a, b in pairs
    )
    box.controls = {"search": search, "station": station, "week": week}
    return box


def live_explorer(
    data: xr.Dataset,
    series: Sequence[str] | None = None,
    zoom_days: int = 7,
    show: Callable[[Figure], object] | None = None,
):
    """Explorer for a running kernel: station, period and series chosen with widgets.

    Parameters
    ----------
    data : xarray.Dataset
        From :func:`explorer_data`.
    series : sequence of str, optional
        Series checked at start (default: all present).
    zoom_days : int
        Length of the zoomed window.
    show : callable, optional
        Displays a figure inside the output widget (default :func:`IPython.display.display`).

    Returns
    -------
    ipywidgets.VBox
        ``[Dropdown, SelectionRangeSlider, HBox of Checkboxes, Output]``; attribute
        ``controls`` maps ``station``, ``period`` and every series key to its widget.
    """
    import ipywidgets as widgets

    if show is None:
        from IPython.display import display as show

    present = series_keys(data)
    checked = set(present if series is None else series)
    days = pd.DatetimeIndex(data["time"].values).normalize().unique()
    if len(days) == 0:
        raise ValueError("the explorer data hold no time step")
    station = widgets.Dropdown(
        options=_station_options(data), value=0, description="Station", layout={"width": "auto"}
    )
    period = widgets.SelectionRangeSlider(
        options=[(f"{d:%Y-%m-%d}", d) for d in days],
        index=(0, len(days) - 1),
        description="Period",
        layout={"width": "95%"},
        continuous_update=False,
    )
    boxes = {
        k: widgets.Checkbox(value=k in checked, description=series_label(k), indent=False)
        for k in present
    }
    stations = data["station"].values.astype(str)

    def render(station: int, period: tuple[pd.Timestamp, pd.Timestamp], **flags: bool) -> None:
        start, last = period
        chosen = [k for k, on in flags.items() if on]
        fig = plot_station(
            data,
            stations[station],
            start=start,
            end=last + pd.Timedelta(hours=23),
            series=chosen,
            zoom_days=zoom_days,
        )
        show(fig)

    controls: Mapping[str, widgets.Widget] = {"station": station, "period": period, **boxes}
    out = widgets.interactive_output(render, dict(controls))
    box = widgets.VBox([station, period, widgets.HBox(list(boxes.values())), out])
    box.add_class("smlib-explorer-live")
    box.controls = dict(controls)
    return box
