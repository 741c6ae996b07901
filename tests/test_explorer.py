"""The station explorer: series assembly, figures and the kernel-free widget view."""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from ipywidgets.widgets.widget_link import Link

from smlib import explorer

STATIONS = ["NET/DIEL-1", "NET/REF-1", "NET/FAR-1"]


@pytest.fixture
def corrected() -> xr.Dataset:
    """Three stations x 10 days: a dielectric one, a reference 10 km away, one far away."""
    time = pd.date_range("2020-06-01", periods=240, freq="h")
    hour = np.arange(time.size) % 24
    true = 0.25 - 0.01 * np.sin(2 * np.pi * (hour - 6) / 24)  # afternoon minimum
    raw = 0.25 + 0.02 * np.sin(2 * np.pi * (hour - 6) / 24)  # spurious afternoon peak
    sm = np.stack([raw, true + 0.001, raw]).astype(np.float32)
    sm[2, :48] = np.nan
    ds = xr.Dataset(
        {
            "sm": (("station", "time"), sm),
            "sm_lstm": (("station", "time"), np.stack([true, true, true]).astype(np.float32)),
        },
        coords={
            "station": STATIONS,
            "time": time,
            "lat": ("station", [45.0, 45.09, 10.0]),
            "lon": ("station", [0.0, 0.0, 60.0]),
            "sensor_type": ("station", ["impedance", "tdr", "capacitance"]),
            "is_reference": ("station", [False, True, False]),
            "kind": ("station", ["ismn", "ismn", "ismn"]),
        },
    )
    return ds


@pytest.fixture
def truth(corrected: xr.Dataset) -> xr.Dataset:
    # one day longer and stations in another order: must be aligned to the corrected grid
    time = pd.date_range("2020-05-31", periods=264, freq="h")
    hour = np.arange(time.size) % 24
    true = 0.25 - 0.01 * np.sin(2 * np.pi * (hour - 6) / 24)
    return xr.Dataset(
        {"sm": (("station", "time"), np.tile(true, (3, 1)))},
        coords={"station": STATIONS[::-1], "time": time},
    )


def test_explorer_data_collects_every_series_on_the_corrected_grid(corrected, truth) -> None:
    data = explorer.explorer_data(corrected, truth)
    assert set(data.data_vars) == {"raw", "lstm", "reference", "truth"}
    assert data.sizes == corrected.sizes
    np.testing.assert_array_equal(data["raw"].values, corrected["sm"].values)
    # the dielectric station gets the reference 10 km away; the far one and the reference none
    assert list(data["reference_station"].values) == ["NET/REF-1", "", ""]
    assert data["reference_km"].values[0] == pytest.approx(10.0, abs=0.1)
    np.testing.assert_array_equal(data["reference"].values[0], corrected["sm"].values[1])
    assert np.isnan(data["reference"].values[1:]).all()
    # truth aligned by station id and time, not by position
    expected = truth["sm"].sel(station="NET/FAR-1", time=corrected["time"]).values
    np.testing.assert_allclose(data["truth"].sel(station="NET/FAR-1").values, expected, rtol=1e-6)
    assert data["truth"].attrs["units"] == "m3 m-3"


def test_zoom_start_finds_the_regular_week_not_the_gap(corrected) -> None:
    data = explorer.explorer_data(corrected)
    # station 3 has no raw SM on the first two days: the first full week starts on day 3
    assert explorer.zoom_start(data, "NET/FAR-1", days=7) == pd.Timestamp("2020-06-03")
    assert explorer.zoom_start(data, "NET/DIEL-1", days=7) == pd.Timestamp("2020-06-01")


def test_plot_station_draws_the_chosen_series_only(corrected, truth) -> None:
    data = explorer.explorer_data(corrected, truth)
    fig = explorer.plot_station(data, "NET/DIEL-1", series=("raw", "truth"), zoom_days=3)
    top, zoom = fig.axes[:2]
    assert len(top.lines) == 2 and len(zoom.lines) == 2
    xmin, xmax = zoom.get_xlim()
    assert xmax - xmin == pytest.approx(3 - 1 / 24)  # days, matplotlib date units
    fig = explorer.plot_station(data, "NET/DIEL-1")
    assert len(fig.axes[0].lines) == 4  # raw, lstm, reference, truth
    with pytest.raises(KeyError, match="NET/NONE"):
        explorer.plot_station(data, "NET/NONE")


def test_station_png_is_a_png(corrected) -> None:
    png = explorer.station_png(explorer.explorer_data(corrected), "NET/REF-1", dpi=40)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_static_explorer_has_one_image_per_station_and_a_browser_link(corrected, truth) -> None:
    box = explorer.static_explorer(explorer.explorer_data(corrected, truth), dpi=30)
    dropdown, stack = box.children
    assert isinstance(dropdown, widgets.Dropdown) and isinstance(stack, widgets.Stack)
    assert len(stack.children) == len(dropdown.options) == len(STATIONS)
    assert all(isinstance(c, widgets.Image) and c.value[:4] == b"\x89PNG" for c in stack.children)
    # each station's image differs (the stack is not one picture repeated)
    assert len({c.value for c in stack.children}) == len(STATIONS)
    js = [link for link in box.links if isinstance(link, Link)]
    assert len(js) == 1
    assert js[0].source == (dropdown, "index") and js[0].target == (stack, "selected_index")
    assert "smlib-explorer-station" in dropdown._dom_classes


def test_switching_the_station_switches_the_image(corrected) -> None:
    box = explorer.static_explorer(explorer.explorer_data(corrected), dpi=30)
    dropdown, stack = box.children
    assert stack.selected_index == 0
    dropdown.index = 2
    assert stack.selected_index == 2
    dropdown.value = 1
    assert stack.selected_index == 1


def test_live_explorer_redraws_on_every_control(corrected, truth) -> None:
    shown = []
    box = explorer.live_explorer(explorer.explorer_data(corrected, truth), show=shown.append)
    controls = box.controls
    assert set(controls) == {"station", "period", "raw", "lstm", "reference", "truth"}
    n = len(shown)
    assert n >= 1
    controls["station"].index = 1
    assert len(shown) == n + 1
    assert shown[-1]._suptitle.get_text().startswith("NET/REF-1")
    controls["truth"].value = False
    lines = [ln.get_label() for ln in shown[-1].axes[0].lines]
    assert "Truth" not in lines and any("ISMN" in label for label in lines)
    period = controls["period"]
    period.index = (2, 4)
    xmin, xmax = shown[-1].axes[0].get_xlim()
    assert xmax - xmin == pytest.approx(3 - 1 / 24)


def test_explorer_data_requires_sm(corrected) -> None:
    with pytest.raises(KeyError, match="'sm'"):
        explorer.explorer_data(corrected.drop_vars("sm"))
