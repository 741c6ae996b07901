"""The station explorer: series assembly, figures and the kernel-free widget view."""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from ipywidgets.widgets.widget_link import Link

from smlib.report import explorer

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


def test_week_choices_spread_over_the_record_inside_it(corrected) -> None:
    data = explorer.explorer_data(corrected)  # 10 days from 2020-06-01
    # windows of 7 days start on June 1 to 4: the first and the last of them
    starts = explorer.week_choices(data, n=2, days=7)
    assert starts == [pd.Timestamp("2020-06-01"), pd.Timestamp("2020-06-04")]
    # more choices than fitting windows: each start once
    assert explorer.week_choices(data, n=10, days=7) == list(
        pd.date_range("2020-06-01", "2020-06-04", freq="D")
    )
    with pytest.raises(ValueError, match="n must be"):
        explorer.week_choices(data, n=0)


def test_plot_record_marks_the_week_choices_and_plot_zoom_its_window(corrected, truth) -> None:
    data = explorer.explorer_data(corrected, truth)
    marks = explorer.week_choices(data, n=2, days=3)
    fig = explorer.plot_record(data, "NET/DIEL-1", marks=marks, zoom_days=3)
    (ax,) = fig.axes
    assert len(ax.lines) == 4  # raw, lstm, reference, truth
    assert len(ax.patches) == 2 and [t.get_text() for t in ax.texts] == ["1", "2"]
    zoom = explorer.plot_zoom(data, "NET/DIEL-1", "2020-06-05", zoom_days=3)
    xmin, xmax = zoom.axes[0].get_xlim()
    assert xmax - xmin == pytest.approx(3 - 1 / 24)
    assert zoom.axes[0].get_title(loc="left").startswith("2020-06-05 + 3 days")
    clearest = explorer.plot_zoom(data, "NET/FAR-1", zoom_days=7)  # default: zoom_start
    assert "clearest" in clearest.axes[0].get_title(loc="left")
    assert clearest.axes[0].get_title(loc="left").startswith("2020-06-03")


def _static(data, **kwargs):
    box = explorer.static_explorer(data, dpi=20, **kwargs)
    search, (station, week), stack = box.children[0], box.children[1].children, box.children[2]
    return box, search, station, week, stack


def test_static_explorer_has_every_station_and_week_and_browser_links(corrected, truth) -> None:
    box, search, station, week, stack = _static(explorer.explorer_data(corrected, truth), weeks=2)
    assert isinstance(station, widgets.Dropdown) and isinstance(week, widgets.Dropdown)
    assert isinstance(stack, widgets.Stack)
    assert len(stack.children) == len(station.options) == len(STATIONS)
    assert len(week.options) == 3  # the clearest week, then two spread over the record
    for view in stack.children:
        record, zooms = view.children
        assert isinstance(record, widgets.Image) and record.value[:4] == b"\x89PNG"
        assert len(zooms.children) == len(week.options)
        assert "smlib-explorer-zoom" in zooms._dom_classes
    # each station's picture differs, and so does each week's
    assert len({v.children[0].value for v in stack.children}) == len(STATIONS)
    assert len({z.value for z in stack.children[0].children[1].children}) == len(week.options)
    js = {(link.source, link.target) for link in box.links if isinstance(link, Link)}
    assert ((station, "index"), (stack, "selected_index")) in js
    for view in stack.children:
        assert ((week, "index"), (view.children[1], "selected_index")) in js
    assert "smlib-explorer-station" in station._dom_classes
    assert "smlib-explorer-week" in week._dom_classes
    assert box.controls == {"search": search, "station": station, "week": week}


def test_search_box_offers_every_station_label(corrected) -> None:
    _, search, station, _, _ = _static(explorer.explorer_data(corrected), weeks=1)
    assert "smlib-explorer-search" in search._dom_classes
    html = search.value
    assert html.count("<option ") == len(STATIONS)
    for label in station.options:
        assert f'value="{label[0]}"' in html
    list_id = html.split('list="')[1].split('"')[0]
    assert f'<datalist id="{list_id}">' in html
    # the handlers select the station dropdown of the same explorer and notify the widget
    assert "smlib-explorer-station select" in html and "dispatchEvent" in html
    assert "oninput=" in html and "onchange=" in html


def test_switching_station_and_week_switches_the_images(corrected) -> None:
    _, _, station, week, stack = _static(explorer.explorer_data(corrected), weeks=2)
    assert stack.selected_index == 0
    station.index = 2
    assert stack.selected_index == 2
    station.value = 1
    assert stack.selected_index == 1
    week.index = 2
    assert all(view.children[1].selected_index == 2 for view in stack.children)


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


def test_every_method_of_the_corrected_file_is_a_series(corrected) -> None:
    """Methods are read from the registry, not a fixed list: a new one is drawn and labelled."""
    from smlib.evaluation.diagnostics import METHOD_VARIABLES

    extra = next((k for k, v in METHOD_VARIABLES.items() if k not in ("raw", "fft", "lstm")), None)
    if extra is None:
        pytest.skip("the method registry holds no method besides raw, fft and lstm")
    ds = corrected.assign({METHOD_VARIABLES[extra]: corrected["sm_lstm"] + 0.01})
    data = explorer.explorer_data(ds)
    keys = explorer.series_keys(data)
    assert keys[0] == "raw" and extra in keys and keys[-1] == "reference"
    assert data[extra].attrs["long_name"] == f"soil moisture, {explorer.series_label(extra)}"
    fig = explorer.plot_record(data, "NET/DIEL-1")
    assert len(fig.axes[0].lines) == len(keys)
    box = explorer.live_explorer(data, show=lambda fig: None)
    assert box.controls[extra].description == explorer.series_label(extra)
