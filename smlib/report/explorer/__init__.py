"""Interactive station explorer of the book (notebook 07): live in Jupyter, and kernel-free.

Modules: :mod:`~smlib.report.explorer.data` (the series), :mod:`~smlib.report.explorer.figures`
(record and zoom figures) and :mod:`~smlib.report.explorer.widgets` (the two views); every
public name is importable from ``smlib.report.explorer``.

Two views of the same per-station series (raw, Fourier, the default product, nearby reference, truth):

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

from smlib.report.explorer.data import explorer_data, series_keys, series_label
from smlib.report.explorer.figures import (
    plot_record,
    plot_station,
    plot_zoom,
    station_png,
    week_choices,
    zoom_start,
)
from smlib.report.explorer.widgets import live_explorer, static_explorer

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
