"""The explorer's two views: ipywidgets live in Jupyter, and pre-rendered, kernel-free in the
HTML book."""

from __future__ import annotations

import html
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence

import pandas as pd
import xarray as xr
from matplotlib.figure import Figure

from smlib.progress import progress_bar
from smlib.report.explorer.data import _station_options, series_keys, series_label
from smlib.report.explorer.figures import (
    _png,
    _zoom_windows,
    plot_record,
    plot_station,
    week_choices,
)

__all__ = [
    "static_explorer",
    "live_explorer",
]


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
