"""Figures name the default product by what made it in the file drawn (issue 18, item 5)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from smlib.method.registry import NETWORK_LABEL, guided_label, product_label
from smlib.report import plots

DEFAULT = guided_label()


def _corrected(attrs: dict) -> xr.Dataset:
    da = xr.DataArray(np.zeros((1, 3), np.float32), dims=("station", "time"), attrs=attrs)
    return xr.Dataset({"sm": da, "sm_lstm": da.copy()})


def _labels(fig) -> list[str]:
    ax = fig.axes[0]
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    return ticks + legend


@pytest.mark.parametrize(
    ("attrs", "label"),
    [
        ({"product": "guided: ...", "signal_estimates": "sm_lstm_net"}, "guided fit (LSTM)"),
        ({"product": "guided: ...", "signal_estimates": "sm_lstm_net era5_sm merra2_sm"}, DEFAULT),
        ({"product": "guided: ...", "signal_estimates": "era5_sm"}, "guided fit (reanalysis)"),
        ({"product": "guided, stored coefficients: ..."}, DEFAULT),
        ({"product": "flagged: rain-affected hours ..."}, NETWORK_LABEL),
        ({}, NETWORK_LABEL),
    ],
)
def test_product_label_names_what_made_the_product(attrs, label):
    assert product_label(attrs) == label


def test_figures_drawn_for_an_insitu_build_say_lstm_only_and_the_default_comes_back():
    table = pd.DataFrame({"raw": [0.1, 0.2], "lstm": [0.8, 0.9]})
    insitu = _corrected({"product": "guided: ...", "signal_estimates": "sm_lstm_net"})
    with plots.product_labels(insitu) as label:
        assert label == "guided fit (LSTM)"
        fig = plots.plot_hf_r_distribution(table, ["raw", "lstm"])
        assert plots.TOWER_LABELS["lstm"] == "Fluxtower, guided fit (LSTM)"
    shown = _labels(fig)
    assert "guided fit (LSTM)" in shown
    assert not any("reanalysis" in t for t in shown)
    # outside the block the default product's label is back; other methods never change
    assert plots.METHOD_STYLE["lstm"]["label"] == DEFAULT
    assert plots.TOWER_LABELS["lstm"] == f"Fluxtower, {DEFAULT}"
    assert _labels(plots.plot_hf_r_distribution(table, ["raw", "lstm"]))[1] == DEFAULT
    assert plots.METHOD_STYLE["raw"]["label"] == "ISMN"


def test_a_paper_product_is_drawn_as_the_network_series():
    paper = _corrected({"product": "flagged: rain-affected hours hold the 'raw' rule"})
    try:
        assert plots.set_product_labels(paper) == NETWORK_LABEL
        assert plots.METHOD_STYLE["lstm"]["label"] == NETWORK_LABEL
        assert plots.METHOD_STYLE["lstm"]["color"] == "#2ca02c"
    finally:
        plots.set_product_labels(None)
    assert plots.METHOD_STYLE["lstm"]["label"] == DEFAULT


def test_evaluate_labels_the_figures_of_an_insitu_file(tmp_path, monkeypatch):
    """``smlib evaluate`` draws inside :func:`product_labels` of the file it reads."""
    from smlib.report import evaluate as ev

    seen: list[str] = []
    real = ev._map_part

    def spy(ds, report):
        seen.append(plots.METHOD_STYLE["lstm"]["label"])
        return real(ds, report)

    monkeypatch.setattr(ev, "_map_part", spy)
    pytest.importorskip("matplotlib")
    ds = _tiny_corrected({"product": "guided: ...", "signal_estimates": "sm_lstm_net"})
    ev.evaluate(ds, out=tmp_path / "report")
    assert seen == ["guided fit (LSTM)"]
    assert plots.METHOD_STYLE["lstm"]["label"] == DEFAULT


def _tiny_corrected(attrs: dict) -> xr.Dataset:
    time = pd.date_range("2020-06-01", periods=24 * 10, freq="h")
    rng = np.random.default_rng(0)
    st = ["A", "B"]
    sm = 0.25 + 0.01 * rng.standard_normal((2, time.size))
    ts = 20 + 5 * np.sin(2 * np.pi * np.arange(time.size) / 24)[None].repeat(2, 0)
    dims = ("station", "time")
    return xr.Dataset(
        {
            "sm": (dims, sm.astype(np.float32)),
            "sm_lstm": (dims, sm.astype(np.float32), attrs),
            "ts": (dims, ts.astype(np.float32)),
        },
        coords={
            "station": st,
            "time": time,
            "lat": ("station", [40.0, 41.0]),
            "lon": ("station", [-100.0, -101.0]),
            "kind": ("station", ["ismn", "ismn"]),
            "sensor_type": ("station", ["capacitance", "capacitance"]),
            "is_reference": ("station", [False, False]),
        },
    )
