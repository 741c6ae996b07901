"""ERA5-Land and MERRA-2 readers: de-accumulation round trip, units, boxes, station sampling."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from smlib.io.errors import InputError
from smlib.io.reanalysis import (
    deaccumulate,
    era5_land_at_stations,
    merra2_at_stations,
    open_era5_land,
    open_merra2,
    stack_forecast_steps,
)

LAT = np.array([46.0, 45.9, 45.8])  # CDS order: latitude descending
LON = np.array([7.0, 7.1, 7.2, 7.3])


def _accumulate(hourly: np.ndarray, time: pd.DatetimeIndex) -> np.ndarray:
    """ERA5 convention: running total since 00 UTC; the 00 UTC value holds the previous day."""
    acc = np.empty_like(hourly)
    for i, t in enumerate(time):
        if t.hour == 1 or i == 0:
            acc[i] = hourly[i]
        else:
            acc[i] = acc[i - 1] + hourly[i]
    return acc


def _era5_file(path, time, lh, pr, lat=LAT, lon=LON, sea=None, units=None):
    """ERA5-Land CDS-style NetCDF from hourly LH (W m-2, up) and precip (mm h-1), shape (t,)."""
    n_t, shape = len(time), (len(time), len(lat), len(lon))
    scale = 1.0 + 0.1 * np.arange(len(lat) * len(lon)).reshape(len(lat), len(lon))
    slhf = -_accumulate(lh, time)[:, None, None] * 3600.0 * scale
    tp = _accumulate(pr, time)[:, None, None] / 1000.0 * scale
    sm = np.broadcast_to((0.2 + 0.001 * np.arange(n_t))[:, None, None] * scale, shape).copy()
    stl = np.broadcast_to(290.0 + np.arange(n_t)[:, None, None] * 0.0 + scale, shape).copy()
    if sea is not None:
        for arr in (slhf, tp, sm, stl):
            arr[:, sea[0], sea[1]] = np.nan
    u = {"swvl1": "m**3 m**-3", "stl1": "K", "slhf": "J m**-2", "tp": "m"}
    u.update(units or {})
    dims = ("valid_time", "latitude", "longitude")
    ds = xr.Dataset(
        {
            "swvl1": (dims, sm.astype("float32"), {"units": u["swvl1"]}),
            "stl1": (dims, stl.astype("float32"), {"units": u["stl1"]}),
            "slhf": (dims, slhf.astype("float32"), {"units": u["slhf"]}),
            "tp": (dims, tp.astype("float32"), {"units": u["tp"]}),
        },
        coords={"valid_time": time.to_numpy(), "latitude": lat, "longitude": lon, "number": 0,
                "expver": ("valid_time", np.array(["0001"] * n_t))},
    )  # fmt: skip
    for v, un in u.items():
        if un is None:
            del ds[v].attrs["units"]
    ds.to_netcdf(path)
    return path


@pytest.fixture
def hourly():
    time = pd.date_range("2020-07-01 00:00", periods=50, freq="h")  # crosses two midnights
    rng = np.random.default_rng(0)
    lh = rng.uniform(0, 400, time.size)
    pr = rng.choice([0.0, 0.0, 0.4, 2.5], time.size)
    return time, lh, pr


def test_deaccumulate_known_answer():
    t = pd.date_range("2020-01-01 22:00", periods=5, freq="h").to_numpy()  # 22 23 00 01 02
    acc = np.array([22.0, 23.0, 24.0, 1.0, 2.0])  # 1 per hour since 00 UTC
    out = deaccumulate(acc, t)
    assert np.isnan(out[0])  # previous hour unknown
    np.testing.assert_allclose(out[1:], [1.0, 1.0, 1.0, 1.0])


def test_era5_accumulation_round_trip(tmp_path, hourly):
    time, lh, pr = hourly
    (box,) = open_era5_land(_era5_file(tmp_path / "era5.nc", time, lh, pr))
    ds = box.data
    cell = ds.sel(lat=46.0, lon=7.0)  # scale 1 there
    # the first stamp (00 UTC) holds an unknown previous day: NaN, never a guess
    assert np.isnan(cell["lh"].values[0]) and np.isnan(cell["precip"].values[0])
    np.testing.assert_allclose(cell["lh"].values[1:], lh[1:], rtol=1e-5, atol=1e-2)
    np.testing.assert_allclose(cell["precip"].values[1:], pr[1:], atol=1e-4)
    # other cells scale with their factor; ts in degC
    other = ds.sel(lat=45.8, lon=7.3)
    np.testing.assert_allclose(other["lh"].values[1:], lh[1:] * 2.1, rtol=1e-5, atol=1e-2)
    np.testing.assert_allclose(cell["ts"].values, 290.0 + 1.0 - 273.15, atol=1e-4)
    assert list(ds["lat"].values) == sorted(LAT)


def test_era5_split_in_time_joins_and_deaccumulates_across_files(tmp_path, hourly):
    time, lh, pr = hourly
    d = tmp_path / "era5"
    d.mkdir()
    whole = _era5_file(tmp_path / "whole.nc", time, lh, pr)
    full = xr.open_dataset(whole)
    full.isel(valid_time=slice(0, 20)).to_netcdf(d / "a.nc")
    full.isel(valid_time=slice(20, None)).to_netcdf(d / "b.nc")
    (box,) = open_era5_land(d)
    np.testing.assert_allclose(
        box.data["lh"].sel(lat=46.0, lon=7.0).values[1:], lh[1:], rtol=1e-5, atol=1e-2
    )
    # a third file repeating hours 18-24 identically merges: same series, no error
    full.isel(valid_time=slice(18, 25)).to_netcdf(d / "c.nc")
    (box,) = open_era5_land(d)
    assert box.data.sizes["time"] == time.size
    np.testing.assert_allclose(
        box.data["lh"].sel(lat=46.0, lon=7.0).values[1:], lh[1:], rtol=1e-5, atol=1e-2
    )
    # ... but one differing record is a one-line error naming both files, cell and time
    bad = full.isel(valid_time=slice(18, 25)).load()
    bad["swvl1"][3, 1, 2] += 0.05
    bad.to_netcdf(d / "c.nc")
    with pytest.raises(ValueError, match="differ") as err:
        open_era5_land(d)
    msg = str(err.value)
    assert "\n" not in msg and "b.nc" in msg
    assert "c.nc" in msg and "cell lat 45.9, lon 7.2" in msg and "2020-07-01T21:00" in msg


@pytest.mark.parametrize(
    ("units", "message"),
    [({"stl1": None}, "no 'units' attribute"), ({"tp": "furlongs"}, "has units 'furlongs'")],
)
def test_era5_units_must_be_known(tmp_path, hourly, units, message):
    time, lh, pr = hourly
    with pytest.raises(ValueError, match=message):
        open_era5_land(_era5_file(tmp_path / "e.nc", time, lh, pr, units=units))


def test_era5_missing_variable(tmp_path, hourly):
    time, lh, pr = hourly
    p = _era5_file(tmp_path / "e.nc", time, lh, pr)
    xr.open_dataset(p).drop_vars("tp").to_netcdf(tmp_path / "f.nc")
    with pytest.raises(ValueError, match=r"f.nc: ERA5-Land file lacks variable\(s\) \['tp'\]"):
        open_era5_land(tmp_path / "f.nc")


def test_stations_take_nearest_land_cell_of_containing_box(tmp_path, hourly, caplog):
    time, lh, pr = hourly
    d = tmp_path / "boxes"
    d.mkdir()
    # box 1 with its NW corner cell over sea; box 2 further east; box 3 all sea
    _era5_file(d / "b1.nc", time, lh, pr, sea=(0, 0))
    _era5_file(d / "b2.nc", time, lh, pr, lon=LON + 10.0)
    _era5_file(d / "b3.nc", time, lh, pr, lat=LAT - 20, sea=(slice(None), slice(None)))
    ids = ["A/coast", "A/inland", "B/east", "C/nowhere"]
    lat = np.array([46.01, 45.81, 45.9, 10.0])
    lon = np.array([6.99, 7.29, 17.1, 0.0])
    axis = pd.date_range("2020-07-01", periods=72, freq="h").to_numpy()
    ds, uncovered = era5_land_at_stations(d, ids, lat, lon, axis)
    assert uncovered == ["C/nowhere"]
    assert "box has no land cell" in caplog.text and "C/nowhere" in caplog.text
    assert ds["era5_lh"].dtype == np.float32 and ds["era5_lh"].shape == (4, 72)
    # coast: nearest cell (46.0, 7.0) is sea -> next nearest land cell (46.0, 7.1), scale 1.1
    np.testing.assert_allclose(ds["era5_lh"].values[0, 1:50], lh[1:] * 1.1, rtol=1e-4, atol=0.05)
    # inland at (45.8, 7.3): scale 2.1; east box cell (45.9, 17.1): scale 1.5
    np.testing.assert_allclose(ds["era5_lh"].values[1, 1:50], lh[1:] * 2.1, rtol=1e-4, atol=0.05)
    np.testing.assert_allclose(ds["era5_lh"].values[2, 1:50], lh[1:] * 1.5, rtol=1e-4, atol=0.05)
    assert np.isnan(ds["era5_sm"].values[3]).all()
    assert np.isnan(ds["era5_sm"].values[:, 50:]).all()  # beyond the files' time range


M2_LAT, M2_LON = np.array([45.5, 46.0]), np.array([6.875, 7.5])


def _merra2_file(path, time, lat=M2_LAT, lon=M2_LON, units=None):
    shape = (len(time), len(lat), len(lon))
    idx = np.arange(len(time), dtype=float)[:, None, None] + np.zeros(shape)
    u = {"SFMC": "m-3 m-3", "TSOIL1": "K", "LHLAND": "W m-2", "PRECTOTLAND": "kg m-2 s-1"}
    u.update(units or {})
    ds = xr.Dataset(
        {
            "SFMC": (("time", "lat", "lon"), (0.25 + 0.001 * idx).astype("float32"), {"units": u["SFMC"]}),
            "TSOIL1": (("time", "lat", "lon"), (280.0 + idx).astype("float32"), {"units": u["TSOIL1"]}),
            "LHLAND": (("time", "lat", "lon"), (10.0 * idx).astype("float32"), {"units": u["LHLAND"]}),
            "PRECTOTLAND": (("time", "lat", "lon"), np.full(shape, 1e-4, "float32"), {"units": u["PRECTOTLAND"]}),
        },
        coords={"time": time.to_numpy(), "lat": lat, "lon": lon},
    )  # fmt: skip
    ds.to_netcdf(path)
    return path


def test_merra2_hour_means_stamped_at_hour_end(tmp_path):
    time = pd.date_range("2020-07-01 00:30", periods=24, freq="h")
    (box,) = open_merra2(_merra2_file(tmp_path / "m.nc", time))
    t = pd.DatetimeIndex(box.data["time"].values)
    assert t[0] == pd.Timestamp("2020-07-01 01:00") and (t.minute == 0).all()
    cell = box.data.sel(lat=46.0, lon=7.5)
    np.testing.assert_allclose(cell["ts"].values, 280.0 - 273.15 + np.arange(24), atol=1e-4)
    np.testing.assert_allclose(cell["precip"].values, 0.36, rtol=1e-5)  # 1e-4 kg m-2 s-1
    np.testing.assert_allclose(cell["lh"].values, 10.0 * np.arange(24), atol=1e-4)

    axis = pd.date_range("2020-07-01", periods=48, freq="h").to_numpy()
    ds, uncovered = merra2_at_stations(tmp_path / "m.nc", ["N/S"], np.array([45.9]),
                                       np.array([7.4]), axis)  # fmt: skip
    assert uncovered == []
    assert np.isnan(ds["merra2_sm"].values[0, 0])  # 00 UTC: the hour before the file
    assert ds["merra2_sm"].values[0, 1] == pytest.approx(0.25)
    assert ds["merra2_lh"].values[0, 24] == pytest.approx(230.0)


def test_merra2_rejects_off_half_hour_stamps_and_percent_is_converted(tmp_path):
    time = pd.date_range("2020-07-01 00:00", periods=3, freq="h")
    with pytest.raises(ValueError, match="hh:30"):
        open_merra2(_merra2_file(tmp_path / "m.nc", time))
    time = pd.date_range("2020-07-01 00:30", periods=3, freq="h")
    (box,) = open_merra2(_merra2_file(tmp_path / "p.nc", time, units={"SFMC": "%"}))
    assert float(box.data["sm"].max()) < 0.01


def test_era5_mixed_expver_dimension_is_combined(tmp_path, hourly):
    time, lh, pr = hourly
    full = xr.open_dataset(_era5_file(tmp_path / "e.nc", time, lh, pr)).drop_vars("expver")
    final = full.where(full["valid_time"] < time[30])
    prelim = full.where(full["valid_time"] >= time[30])
    mixed = xr.concat([final, prelim], dim="expver").assign_coords(expver=["0001", "0005"])
    for v in mixed.data_vars:
        mixed[v].attrs = full[v].attrs
    mixed.to_netcdf(tmp_path / "mixed.nc")
    (box,) = open_era5_land(tmp_path / "mixed.nc")
    np.testing.assert_allclose(
        box.data["lh"].sel(lat=46.0, lon=7.0).values[1:], lh[1:], rtol=1e-5, atol=1e-2
    )


def test_overlapping_station_boxes_and_monthly_global_files_mix(tmp_path, hourly):
    """Per-station boxes sharing cells, plus a larger grid split in time: all read, no hour lost."""
    time, lh, pr = hourly
    d = tmp_path / "mix"
    d.mkdir()
    big_lat, big_lon = np.array([46.1, 46.0, 45.9, 45.8]), np.array([6.9, 7.0, 7.1, 7.2, 7.3])
    whole = xr.open_dataset(_era5_file(tmp_path / "w.nc", time, lh, pr, lat=big_lat, lon=big_lon))
    # "global" grid in two monthly-like pieces; two station boxes cut from it (sharing cells)
    whole.isel(valid_time=slice(0, 30)).to_netcdf(d / "global_a.nc")
    whole.isel(valid_time=slice(30, None)).to_netcdf(d / "global_b.nc")
    whole.isel(latitude=slice(1, 3), longitude=slice(1, 3), valid_time=slice(10, 40)).to_netcdf(
        d / "station1.nc"
    )
    whole.isel(latitude=slice(1, 4), longitude=slice(2, 4), valid_time=slice(25, None)).to_netcdf(
        d / "station2.nc"
    )
    axis = pd.date_range("2020-07-01", periods=50, freq="h").to_numpy()
    ds, uncovered = era5_land_at_stations(d, ["N/a", "N/b"], np.array([45.99, 45.9]),
                                          np.array([7.01, 7.1]), axis)  # fmt: skip
    assert uncovered == []
    ref = open_era5_land(tmp_path / "w.nc")[0].data
    for i, (la, lo) in enumerate([(46.0, 7.0), (45.9, 7.1)]):
        cell = ref.sel(lat=la, lon=lo)
        np.testing.assert_allclose(ds["era5_sm"].values[i], cell["sm"].values, rtol=1e-6)
        # de-accumulated after joining: the hour after each seam is there
        np.testing.assert_allclose(ds["era5_lh"].values[i, 1:], cell["lh"].values[1:], rtol=1e-4)
        np.testing.assert_allclose(ds["era5_precip"].values[i, 1:], cell["precip"].values[1:],
                                   atol=1e-4)  # fmt: skip


def test_overlapping_boxes_that_differ_name_both_files(tmp_path, hourly):
    time, lh, pr = hourly
    d = tmp_path / "boxes"
    d.mkdir()
    big = xr.open_dataset(_era5_file(tmp_path / "w.nc", time, lh, pr)).load()
    big.isel(longitude=slice(0, 3)).to_netcdf(d / "s1.nc")
    other = big.isel(longitude=slice(1, 4)).load()
    other["stl1"][7:, 2, 0] += 1.0  # lat 45.8 (stored last), lon 7.1; from 07 UTC on
    other.to_netcdf(d / "s2.nc")
    with pytest.raises(InputError) as err:
        era5_land_at_stations(d, ["N/x"], np.array([45.8]), np.array([7.1]), time.to_numpy())
    msg = str(err.value)
    assert "s1.nc" in msg and "s2.nc" in msg and "lat 45.8, lon 7.1" in msg
    assert "ts at 2020-07-01T07:00" in msg


def _truncate(src, dst, keep=0.5):
    raw = src.read_bytes()
    dst.write_bytes(raw[: int(len(raw) * keep)])
    return dst


@pytest.mark.parametrize("opener", [open_era5_land, open_merra2])
def test_truncated_netcdf_is_one_line_error_or_a_counted_skip(tmp_path, hourly, opener):
    time, lh, pr = hourly
    d = tmp_path / "d"
    d.mkdir()
    if opener is open_era5_land:
        good = _era5_file(d / "good.nc", time, lh, pr)
    else:
        good = _merra2_file(d / "good.nc", pd.date_range("2020-07-01 00:30", periods=5, freq="h"))
    _truncate(good, d / "broken.nc")
    with pytest.raises(InputError) as err:
        opener(d)
    msg = str(err.value)
    assert msg.startswith(
        str(d / "broken.nc") + ": truncated or damaged NetCDF (NetCDF: HDF error)"
    )
    assert "\n" not in msg and "Errno" not in msg
    skipped = []
    boxes = opener(d, on_error="skip", skipped=skipped)
    assert len(boxes) == 1 and boxes[0].sources == [str(good)]
    assert [s.file for s in skipped] == [str(d / "broken.nc")]


def test_merra2_identical_station_boxes_merge(tmp_path):
    time = pd.date_range("2020-07-01 00:30", periods=24, freq="h")
    d = tmp_path / "m"
    d.mkdir()
    _merra2_file(d / "st1.nc", time)
    _merra2_file(d / "st2.nc", time)  # a neighbour's box: the same cells and hours
    (box,) = open_merra2(d)
    assert box.data.sizes["time"] == 24 and len(box.sources) == 2


def test_forecast_steps_become_valid_times():
    """CDS GRIB accumulations: (time, step) -> one axis of valid times, first of duplicates."""
    t0 = pd.to_datetime(["2020-07-01", "2020-07-02"]).to_numpy()
    steps = pd.to_timedelta([1, 2, 24], unit="h").to_numpy()
    vals = np.arange(6.0).reshape(2, 3, 1, 1)
    ds = xr.Dataset(
        {"tp": (("time", "step", "latitude", "longitude"), vals)},
        coords={"time": t0, "step": steps, "latitude": [45.0], "longitude": [7.0],
                "valid_time": (("time", "step"), t0[:, None] + steps[None, :])},
    )  # fmt: skip
    out = stack_forecast_steps(ds)
    hours = (out["time"].values - t0[0]) // np.timedelta64(1, "h")
    assert hours.tolist() == [1, 2, 24, 25, 26, 48]
    assert out["tp"].values[:, 0, 0].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    one = stack_forecast_steps(ds.isel(time=0, step=0))  # a single field: scalar coordinates
    assert one.sizes["time"] == 1 and one["time"].values[0] == t0[0] + steps[0]


_GRIB_PROBE = """
import json, os, sys
import numpy as np
from smlib.io.errors import InputError
from smlib.io.reanalysis import open_era5_land, open_reanalysis_file
ds = open_reanalysis_file(sys.argv[1])
sw, st = ds["swvl1"], ds["stl1"]
land = sw.values[0] > 0.01  # sea points hold 0 in ERA5 GRIB
try:
    open_era5_land(sys.argv[1])
    era5_error = None
except InputError as err:
    era5_error = str(err)
print(json.dumps({
    "n_time": int(ds.sizes["time"]), "time0": str(ds["time"].values[0]),
    "dims": list(sw.dims), "shape": list(sw.shape),
    "units": [sw.attrs.get("units"), st.attrs.get("units")],
    "n_land": int(land.sum()), "sw_land_max": float(sw.values[0][land].max()),
    "st_min": float(st.min()), "st_max": float(st.max()), "era5_error": era5_error,
}), flush=True)
os._exit(0)  # eccodes' libraries can crash the interpreter's teardown (docs/architecture.md)
"""


@pytest.mark.realdata
def test_real_era5_grib_sample_is_read(realdata):
    """The GRIB reader on a real ERA5 sample, in a child process: eccodes never shares the test
    process with netCDF4 (docs/architecture.md), and ``./run`` installs the ``grib`` extra."""
    import importlib.util
    import json
    import subprocess
    import sys

    if importlib.util.find_spec("cfgrib") is None:  # found, not imported: see the docstring
        pytest.skip("cfgrib is not installed (pip install -e '.[grib]')")
    path = realdata / "era5_ecmwf_cfgrib" / "soil-surface-level-mix.grib"
    done = subprocess.run(
        [sys.executable, "-c", _GRIB_PROBE, str(path)], capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["n_time"] == 1 and got["time0"].startswith("2022-01-01T00:00")
    assert got["dims"] == ["time", "latitude", "longitude"] and got["shape"] == [1, 6, 6]
    assert got["units"] == ["m**3 m**-3", "K"]
    assert 15 < got["n_land"] < 30 and got["sw_land_max"] < 0.6
    assert 260 < got["st_min"] and got["st_max"] < 300
    # the sample has no accumulations: the ERA5-Land reader says which, in one line
    assert re.search(r"soil-surface-level-mix.grib: ERA5-Land file lacks "
                     r"variable\(s\) \['slhf', 'tp'\]", got["era5_error"])  # fmt: skip
