"""Interactive station explorer of the book (notebook 07): live in Jupyter, and kernel-free.

Two views of the same per-station series (raw, Fourier, LSTM, nearby reference, truth):

:func:`live_explorer`
    ipywidgets controls wired to a plotting function with :func:`ipywidgets.interactive_output`:
    a station dropdown, a date-range slider and one checkbox per series. Needs a running kernel.
:func:`static_explorer`
    For the HTML book, where there is no kernel: one PNG per station (full period above, the
    week with the largest raw diurnal range below, every series overlaid) in an
    :class:`ipywidgets.Stack`; a dropdown's ``index`` is linked to the stack's
    ``selected_index`` both in the browser (:func:`ipywidgets.jslink`, which lives in the saved
    widget state) and in the kernel (:func:`ipywidgets.link`). Every station is selectable in
    the published page.

The widget state must be stored in the executed notebook (``nbclient`` does it by default,
``store_widget_state=True``). CSS classes ``smlib-explorer``, ``smlib-explorer-station`` and
``smlib-explorer-plots`` mark the static view for browser tests.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.figure import Figure

from smlib import diagnostics as dg
from smlib.plots import METHOD_STYLE, SM_UNITS

__all__ = [
    "SERIES",
    "SERIES_LABELS",
    "explorer_data",
    "zoom_start",
    "plot_station",
    "station_png",
    "static_explorer",
    "live_explorer",
]

log = logging.getLogger(__name__)

#: Series the explorer can overlay, in drawing order.
SERIES: tuple[str, ...] = ("raw", "fft", "lstm", "reference", "truth")
#: Checkbox label of each series.
SERIES_LABELS: dict[str, str] = {
    "raw": "raw",
    "fft": "Fourier",
    "lstm": "LSTM",
    "reference": "reference",
    "truth": "truth",
}


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
        Variables among :data:`SERIES` (m3 m-3); ``reference`` holds the nearest reference
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
        label = "nearest reference station" if v == "reference" else SERIES_LABELS[v]
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


def _draw(ax, data: xr.Dataset, station: str, sl: slice, series: Sequence[str]) -> int:
    """Plot ``series`` of ``station`` over the time slice ``sl``; return lines drawn."""
    x = data.sel(station=station, time=sl)
    t = pd.DatetimeIndex(x["time"].values)
    drawn = 0
    for key in SERIES:
        if key not in series or key not in x:
            continue
        y = np.asarray(x[key].values, dtype=float)
        if not np.isfinite(y).any():
            continue
        style = METHOD_STYLE[key]
        label = style["label"]
        if key == "reference":
            label += f" ({x['reference_station'].item()})"
        ax.plot(t, y, color=style["color"], ls=style["linestyle"], lw=1.1, label=label)
        drawn += 1
    return drawn


def plot_station(
    data: xr.Dataset,
    station: str,
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
    series: Sequence[str] = SERIES,
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
        Keys of :data:`SERIES` to draw (absent ones are ignored).
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
    fig = plot_station(data, station, **kwargs)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


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


def static_explorer(
    data: xr.Dataset,
    series: Sequence[str] = SERIES,
    dpi: int = 72,
    zoom_days: int = 7,
    progress: bool | None = None,
):
    """Kernel-free explorer: a station dropdown linked to a stack of pre-rendered PNGs.

    Parameters
    ----------
    data : xarray.Dataset
        From :func:`explorer_data`.
    series : sequence of str
        Series drawn in every image.
    dpi : int
        Resolution of the images (they are stored in the notebook's widget state).
    zoom_days : int
        Length of the zoomed window of each image.
    progress : bool, optional
        Show a progress bar (None: only on a terminal).

    Returns
    -------
    ipywidgets.VBox
        Children ``[Dropdown, Stack]``; the stack holds one :class:`ipywidgets.Image` per
        station (same order as ``data.station``). Attribute ``links`` holds the browser-side
        :func:`~ipywidgets.jslink` and the kernel-side :func:`~ipywidgets.link`.
    """
    import sys

    import ipywidgets as widgets
    from tqdm.auto import tqdm

    stations = data["station"].values.astype(str)
    if stations.size == 0:
        raise ValueError("the explorer data hold no station")
    images = [
        widgets.Image(
            value=station_png(data, s, dpi=dpi, series=series, zoom_days=zoom_days),
            format="png",
            layout=widgets.Layout(max_width="100%", height="auto"),
        )
        for s in tqdm(stations, desc="explorer images", file=sys.stdout, disable=not progress)
    ]
    dropdown = widgets.Dropdown(
        options=_station_options(data), value=0, description="Station", layout={"width": "auto"}
    )
    dropdown.add_class("smlib-explorer-station")
    stack = widgets.Stack(children=images, selected_index=0)
    stack.add_class("smlib-explorer-plots")
    box = widgets.VBox([dropdown, stack])
    box.add_class("smlib-explorer")
    # the browser link lives in the saved widget state; the kernel link keeps Python in step
    box.links = (
        widgets.jslink((dropdown, "index"), (stack, "selected_index")),
        widgets.link((dropdown, "index"), (stack, "selected_index")),
    )
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

    present = [k for k in SERIES if k in data]
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
        k: widgets.Checkbox(value=k in checked, description=SERIES_LABELS[k], indent=False)
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
