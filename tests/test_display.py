"""smlib.report.display.show_table: wide tables scroll inside the page, long ones fold."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from smlib.report.display import Table, method_label, show_table


def _frame(rows: int, cols: int = 3) -> pd.DataFrame:
    return pd.DataFrame(
        np.arange(rows * cols, dtype=float).reshape(rows, cols),
        columns=[f"c{k}" for k in range(cols)],
        index=pd.Index([f"st-{i}" for i in range(rows)], name="station"),
    )


def test_short_table_scrolls_but_is_not_folded() -> None:
    table = show_table(_frame(3), max_rows=5)
    html = table._repr_html_()
    assert isinstance(table, Table) and not table.folded
    assert html.startswith('<div class="smlib-table">') and "<details" not in html
    assert html.count("<tr") == 1 + 1 + 3  # header, index-name row, three rows
    assert repr(table) == repr(_frame(3))


def test_long_table_folds_under_a_summary_line_with_its_size() -> None:
    table = show_table(_frame(46), max_rows=15, summary="46 stations & more")
    html = table.to_html()
    assert table.folded
    assert html.startswith('<details class="smlib-table-fold"><summary>')
    # the summary is escaped and states the size; every row stays in the page
    assert "<summary>46 stations &amp; more (46 rows x 3 columns)</summary>" in html
    assert html.count("st-45") == 1 and '<div class="smlib-table">' in html


def test_default_summary_and_forced_folding() -> None:
    assert show_table(_frame(20)).summary == "20 rows x 3 columns (click to show)"
    assert not show_table(_frame(20), fold=False).folded
    assert show_table(_frame(1), fold=True).summary == "1 row x 3 columns (click to show)"


def test_series_and_styler_are_accepted() -> None:
    series = show_table(pd.Series([1.0, 2.0], name="r"))
    assert series.frame.shape == (2, 1)
    styled = show_table(_frame(2).style.format(precision=1))
    assert "0.0" in styled.to_html() and styled.frame.shape == (2, 3)


def test_bad_input_is_refused() -> None:
    with pytest.raises(TypeError, match="DataFrame"):
        show_table([1, 2, 3])
    with pytest.raises(ValueError, match="max_rows"):
        show_table(_frame(2), max_rows=-1)


def test_a_short_table_shows_its_summary_as_a_caption() -> None:
    html = show_table(_frame(2), summary="two <stations>").to_html()
    assert html.startswith('<p class="smlib-table-caption">two &lt;stations&gt;</p>')
    assert "<details" not in html
    assert show_table(_frame(2)).caption is None


def test_method_labels_are_plain_text(monkeypatch) -> None:
    from smlib.report import plots

    assert [method_label(k) for k in ("raw", "fft", "lstm", "truth")] == [
        "raw",
        "Fourier",
        "guided fit (LSTM + reanalysis)",
        "truth",
    ]
    styles = {
        **plots.METHOD_STYLE,
        "new": {"label": "ISMN$_\\mathrm{NEW,v2}$"},
        "bare": {"label": "$x$"},
        "spaced": {"label": "ISMN$_\\mathrm{night\\ slope,v\\,2}$"},
    }
    monkeypatch.setattr(plots, "METHOD_STYLE", styles)
    assert method_label("new") == "NEW (v2)"  # the subscript of the figure label
    assert method_label("bare") == "x"
    assert method_label("spaced") == "night slope (v 2)"  # TeX spaces are not text
    assert method_label("chanzy") == "night slope"
    assert method_label("unknown") == "unknown"


def test_the_default_product_is_labelled_by_what_it_is() -> None:
    from smlib.method.registry import METHODS, guided_label
    from smlib.report import plots

    assert METHODS["lstm"].variable == "sm_lstm"  # key and variable keep their names
    assert "LSTM" not in method_label("lstm").split(" (")[0]  # not called "the LSTM"
    assert method_label("lstm") == plots.METHOD_STYLE["lstm"]["label"] == guided_label()
    assert plots.TOWER_LABELS["lstm"] == "Fluxtower, guided fit (LSTM + reanalysis)"
    assert guided_label(["sm_lstm_net"]) == "guided fit (LSTM)"
