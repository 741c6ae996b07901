"""Tables as the book shows them: inside the page width, long ones folded.

:func:`show_table` wraps a :class:`pandas.DataFrame` (or a pandas ``Styler``) in a
horizontally scrolling container, so a wide table scrolls inside the page instead of running
past its right edge, and folds a table longer than ``max_rows`` rows into an HTML
``<details>`` element whose summary line says what it holds. The CSS classes it writes are
styled by ``book/_assets/smlib.css``:

``smlib-table``
    the scrolling container (``overflow-x: auto``);
``smlib-table-fold``
    the ``<details>`` element of a folded table.

Outside HTML (a terminal, a text-only notebook viewer) the table prints as pandas prints it.
"""

from __future__ import annotations

import html
import logging
import re
from typing import Any

import pandas as pd

__all__ = ["Table", "method_label", "show_table"]

log = logging.getLogger(__name__)


#: Plain-text labels of the series every build has (others come from the method registry).
_PLAIN_LABELS = {
    "raw": "raw",
    "fft": "Fourier",
    "reference": "reference",
    "truth": "truth",
}


def method_label(key: str) -> str:
    """Plain-text label of a series or correction method, for text, tables and controls.

    ``raw``, ``fft`` (Fourier), ``reference`` and ``truth`` have fixed labels; any other
    method is named by the subscript of its figure label in
    :data:`smlib.report.plots.METHOD_STYLE` (``ISMN$_\\mathrm{LIN}$`` -> ``LIN``,
    ``ISMN$_\\mathrm{LSTM,paper}$`` -> ``LSTM (paper)``, TeX spaces as spaces:
    ``ISMN$_\\mathrm{night\\ slope}$`` -> ``night slope``), by a figure label without TeX as
    it is (``lstm``, the default product: ``guided fit (LSTM + reanalysis)``), else by its key.
    """
    if key in _PLAIN_LABELS:
        return _PLAIN_LABELS[key]
    from smlib.report.plots import METHOD_STYLE

    label = str(METHOD_STYLE.get(key, {}).get("label", ""))
    sub = re.search(r"\$_\\mathrm\{(.+?)\}\$", label)
    if sub:
        text = re.sub(r"\\[ ,;:!]", " ", sub.group(1))  # TeX spaces: night\ slope -> night slope
        name, *variant = text.split(",")  # LSTM,paper -> LSTM (paper)
        return f"{name} ({', '.join(variant)})" if variant else name
    return label.replace("$", "").strip() or key


class Table:
    """A table for notebook display: HTML inside a scrolling box, folded when long.

    Create with :func:`show_table`; the notebook shows it when it is a cell's last value.

    Attributes
    ----------
    frame : pandas.DataFrame
        The data shown.
    folded : bool
        Whether the HTML folds the table under a summary line.
    summary : str
        The summary line of a folded table.
    """

    def __init__(
        self,
        frame: pd.DataFrame,
        body_html: str,
        folded: bool,
        summary: str,
        caption: str | None = None,
    ) -> None:
        self.frame = frame
        self.folded = folded
        self.summary = summary
        self.caption = caption
        self._body = body_html

    def to_html(self) -> str:
        """The HTML shown in a notebook (also usable inside an :class:`ipywidgets.HTML`)."""
        box = f'<div class="smlib-table">{self._body}</div>'
        if not self.folded:
            if self.caption:
                return f'<p class="smlib-table-caption">{html.escape(self.caption)}</p>{box}'
            return box
        return (
            '<details class="smlib-table-fold">'
            f"<summary>{html.escape(self.summary)}</summary>{box}</details>"
        )

    def _repr_html_(self) -> str:
        return self.to_html()

    def __repr__(self) -> str:
        return repr(self.frame)


def show_table(
    table: pd.DataFrame | pd.Series | Any,
    max_rows: int = 15,
    summary: str | None = None,
    *,
    fold: bool | None = None,
) -> Table:
    """Display a table inside the page: scrolling sideways when wide, folded when long.

    Parameters
    ----------
    table : pandas.DataFrame, pandas.Series or pandas.io.formats.style.Styler
        What to show. A Series is shown as a one-column frame; a Styler keeps its formatting.
        Cell values are rendered with pandas' current display options (e.g.
        ``display.precision``).
    max_rows : int
        Tables with more rows than this are folded under a summary line (all rows stay in
        the page: open the fold to read them).
    summary : str, optional
        What the table holds: the fold's summary line (followed by the table's size), or a
        caption above a table short enough to show unfolded. Default for a fold:
        ``"<n> rows x <m> columns (click to show)"``; no caption.
    fold : bool, optional
        Force folding on or off, whatever the length.

    Returns
    -------
    Table
        Shows as HTML in a notebook, as the plain DataFrame elsewhere.

    Raises
    ------
    TypeError
        When ``table`` is neither a DataFrame, a Series nor a Styler.
    ValueError
        When ``max_rows`` is negative.
    """
    if max_rows < 0:
        raise ValueError(f"max_rows must be >= 0, got {max_rows}")
    if isinstance(table, pd.Series):
        table = table.to_frame()
    if isinstance(table, pd.DataFrame):
        frame = table
        body = frame.to_html(border=0)
    elif hasattr(table, "to_html") and isinstance(getattr(table, "data", None), pd.DataFrame):
        frame = table.data  # a pandas Styler
        body = table.to_html()
    else:
        raise TypeError(f"show_table expects a DataFrame, Series or Styler, got {type(table)}")
    n_rows, n_cols = frame.shape
    folded = n_rows > max_rows if fold is None else fold
    counts = (
        f"{n_rows} row{'s' if n_rows != 1 else ''} x {n_cols} column{'s' if n_cols != 1 else ''}"
    )
    line = f"{counts} (click to show)" if summary is None else f"{summary} ({counts})"
    return Table(frame, body, folded, line, caption=summary)
