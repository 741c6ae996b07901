"""Station cube: every QC rule on a tiny ISMN tree with known answers, schema, I/O, references."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from smlib.cli import main
from smlib.data import complete_day_mask, ingest, open_cube, select_sensor_pair, write_atomic
from smlib.io.ismn import IsmnSeries

START = "2021-06-01"
N_DAYS = 5
MIN_DAYS = 3


def _sm(t):
    return 0.25 + 0.02 * np.sin(2 * np.pi * t.hour / 24)


def _ts(t):
    return 20.0 + 5 * np.sin(2 * np.pi * (t.hour - 8) / 24)


@pytest.fixture
def tree(tmp_path, stm_writer):
    """Tiny ISMN download; the comment of each station states what QC must do with it."""
    root = tmp_path / "ismn"
    t = pd.date_range(START, periods=24 * N_DAYS, freq="h")

    def station(name, sm_sensor="EC5", sm_depth=(0.0, 0.05), lon=0.0, sm_flags="G",
                ts_flags="G", times=t, sm_values=None):  # fmt: skip
        stm_writer(root, "NET", name, "sm", *sm_depth, sm_sensor, times,
                   _sm(times) if sm_values is None else sm_values, sm_flags, lon=lon)  # fmt: skip
        stm_writer(root, "NET", name, "ts", 0.05, 0.05, "T-sensor", times, _ts(times), ts_flags,
                   lon=lon)  # fmt: skip

    # full: kept, 5 days; a deeper SM sensor (depth rule) and a redundant twin probe _B
    station("full", sm_sensor="EC5_A")
    stm_writer(root, "NET", "full", "sm", 0.0, 0.05, "EC5_B", t, _sm(t) + 0.1)
    stm_writer(root, "NET", "full", "sm", 0.20, 0.20, "EC5", t, _sm(t))
    # gap: one SM hour missing on day 2 -> that day removed, 4 days kept
    station("gap", times=t.delete(24 * 2 + 5))
    # flagged: one SM value of day 3 flagged D03 -> day 3 removed, 4 kept
    flags = ["G"] * t.size
    flags[24 * 3 + 7] = "D03"
    station("flagged", sm_flags=flags)
    # short: only 2 complete days -> removed by min_days
    station("short", times=t[: 24 * 2])
    # deep: SM only at 0.20 m -> removed by the depth rule
    station("deep", sm_depth=(0.2, 0.2))
    # bad: TS never flagged G -> removed by the flag rule
    station("bad", ts_flags="D03")
    # east: lon 30 E (local = UTC+2): 4 complete local days (22 UTC to 22 UTC)
    station("east", lon=30.0)
    # crns: cosmic-ray 0-0.19 m is kept (footprint depth) and is a reference by physics
    station("crns", sm_sensor="Cosmic-ray-Probe", sm_depth=(0.0, 0.19))
    return root


@pytest.fixture
def cube(tree):
    return ingest(tree, min_days=MIN_DAYS)


def test_stations_kept_and_removed_by_rule(cube):
    assert list(cube.station.values) == [
        "NET/crns",
        "NET/east",
        "NET/flagged",
        "NET/full",
        "NET/gap",
    ]
    qc = json.loads(cube.attrs["qc_summary"])
    assert list(qc) == [
        "unreadable", "depth", "flag_good", "one_sensor", "complete_local_days", "min_days"
    ]  # fmt: skip
    assert qc["unreadable"]["stations_removed"] == 0
    assert qc["depth"]["reasons"] == {"NET/deep": "no SM sensor within 0.1 m"}
    assert qc["depth"]["detail"]["sensors"] == 2  # full's 0.20 m probe and deep's probe
    assert qc["flag_good"]["reasons"] == {"NET/bad": "no TS value flagged G"}
    assert qc["flag_good"]["detail"]["D03"] == 1 + 24 * N_DAYS
    assert qc["one_sensor"]["detail"]["sensors"] == 1  # full's redundant EC5_B
    assert qc["min_days"]["reasons"] == {"NET/short": f"2 complete local days < {MIN_DAYS} (ismn)"}
    assert qc["min_days"]["days_removed"] == 2
    assert qc["complete_local_days"]["stations_removed"] == 0


def test_complete_local_days_rule(cube):
    sm, ts = cube["sm"], cube["ts"]
    assert cube.time.values[0] == np.datetime64(f"{START}T00:00")
    days = {s: int(np.isfinite(sm.sel(station=s)).sum()) // 24 for s in cube.station.values}
    assert days == {"NET/crns": 5, "NET/east": 4, "NET/flagged": 4, "NET/full": 5, "NET/gap": 4}
    # SM on removed days is NaN; TS keeps its measured values there (the correction's input
    # windows reach into the day before a complete one), its own gap included; kept days are
    # untouched
    gap_day = slice(f"{START}T00:00", None)
    g = cube.sel(station="NET/gap", time=gap_day)
    assert np.isnan(g["sm"].values[48:72]).all()
    assert np.isnan(g["ts"].values[48:72]).sum() == 1 and np.isfinite(g["ts"].values[48:53]).all()
    t = pd.DatetimeIndex(cube.time.values)
    np.testing.assert_allclose(g["sm"].values[:48], _sm(t[:48]), atol=6e-5)
    # east: local days run 22 UTC -> 22 UTC, so the first 22 and the last 2 hours go
    e = sm.sel(station="NET/east").values
    assert np.isnan(e[:22]).all() and np.isfinite(e[22 : 22 + 96]).all()
    assert np.isnan(e[22 + 96 :]).all()
    with_ts = cube.station.values != "NET/crns"  # the cosmic-ray reference has no TS
    sm_ok, ts_ok = np.isfinite(sm.values[with_ts]), np.isfinite(ts.values[with_ts])
    assert (ts_ok | ~sm_ok).all()  # every kept SM hour has its TS
    assert (ts_ok & ~sm_ok).any()  # and TS stays on days without complete SM
    qc = json.loads(cube.attrs["qc_summary"])["complete_local_days"]
    # gap day 2 + flagged day 3 + east's two partial days
    assert qc["days_removed"] == 4
    # only SM is removed (TS stays): gap's day lacks one SM hour, flagged's one SM hour,
    # east's two partial local days hold 22 and 2 SM hours
    assert qc["values_removed"] == 23 + 23 + (22 + 2)


def test_sensor_choice_and_coordinates(cube):
    full = cube.sel(station="NET/full")
    assert str(full.sensor.values) == "EC5_A"  # redundant tie -> name order
    np.testing.assert_allclose(
        full["sm"].values[:24], _sm(pd.DatetimeIndex(cube.time.values[:24])), atol=6e-5
    )
    crns = cube.sel(station="NET/crns")
    assert str(crns.sensor_type.values) == "cosmic-ray" and float(crns.depth_to) == pytest.approx(
        0.19
    )
    assert cube["is_reference"].values.tolist() == [True, False, False, False, False]
    assert set(cube["kind"].values) == {"ismn"} and set(cube["network"].values) == {"NET"}
    assert str(full.sensor_type.values) == "capacitance"


def test_schema_and_cf_attributes(cube):
    assert cube["sm"].dims == ("station", "time") and cube["sm"].dtype == np.float32
    assert cube["sm"].attrs["standard_name"] == "volume_fraction_of_condensed_water_in_soil"
    assert cube["ts"].attrs["units"] == "degC"
    assert "era5_sm" not in cube and "lh" not in cube  # absent without reanalysis / towers
    assert cube.attrs["Conventions"] == "CF-1.8"
    assert (np.diff(cube.time.values) == np.timedelta64(1, "h")).all()
    for c in ("lat", "lon", "elevation", "depth_from", "depth_to"):
        assert "units" in cube[c].attrs


def test_select_sensor_pair_prefers_nearest_depth_then_deterministic():
    t = np.arange("2021-01-01T00", "2021-01-02T00", dtype="datetime64[h]").astype("datetime64[ns]")

    def s(var, d0, d1, sensor, n=24):
        return IsmnSeries("N", "S", var, d0, d1, sensor, 0, 0, 0, t[:n], np.ones(n), n)

    sm5, sm10 = s("sm", 0.05, 0.05, "A"), s("sm", 0.10, 0.10, "A")
    ts10, ts5 = s("ts", 0.10, 0.10, "T"), s("ts", 0.05, 0.05, "T")
    assert select_sensor_pair([sm10, sm5], [ts10]) == (sm10, ts10)  # nearest depth
    assert select_sensor_pair([sm10, sm5], [ts10, ts5]) == (sm5, ts5)  # tie -> shallower
    a, b = s("sm", 0.05, 0.05, "P_B"), s("sm", 0.05, 0.05, "P_A")
    short = s("sm", 0.05, 0.05, "P_0", n=5)
    assert select_sensor_pair([a, b, short], [ts5])[0] is b  # more common hours, then name
    assert select_sensor_pair([b, a], [ts5]) == select_sensor_pair([a, b], [ts5])


def test_complete_day_mask_known_answer():
    x = np.ones((2, 72))
    x[0, 30] = np.nan
    keep = complete_day_mask(x, x, lon=np.array([0.0, -90.0]))  # 2nd: local = UTC-6
    assert keep[0].tolist() == [True] * 24 + [False] * 24 + [True] * 24
    assert not keep[1, :6].any() and keep[1, 6:54].all() and not keep[1, 54:].any()


def test_reference_from_list(tree, tmp_path, caplog):
    ref = tmp_path / "refs.txt"
    ref.write_text("# my references\nNET/gap\nX/missing\n")
    with caplog.at_level(logging.WARNING, logger="smlib.data"):
        ds = ingest(tree, reference=ref, min_days=MIN_DAYS)
    assert ds.station.values[ds.is_reference.values].tolist() == ["NET/gap"]
    assert "X/missing" in caplog.text


def test_no_station_left_is_a_clear_error(tree):
    with pytest.raises(ValueError, match="no station passes QC"):
        ingest(tree, min_days=50)


def test_write_open_round_trip_and_dask_chunks(cube, tree, tmp_path):
    out = tmp_path / "sub" / "cube.nc"
    ds = ingest(tree, out=out, min_days=MIN_DAYS)
    back = open_cube(out)
    xr.testing.assert_identical(back["sm"].load(), ds["sm"])
    assert back["is_reference"].dtype == bool
    assert back.attrs["qc_summary"] == ds.attrs["qc_summary"]
    assert [p.name for p in out.parent.iterdir()] == ["cube.nc"]  # no temporary left
    pytest.importorskip("dask")
    lazy = open_cube(out, chunks=2)
    assert lazy["sm"].chunks[0] == (2, 2, 1) and len(lazy["sm"].chunks[1]) == 1


def test_interrupted_write_leaves_nothing(cube, tmp_path, monkeypatch):
    def boom(self, *a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(xr.Dataset, "to_netcdf", boom)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(cube, tmp_path / "out" / "cube.nc")
    assert list((tmp_path / "out").iterdir()) == []


def test_open_cube_rejects_foreign_files(tmp_path):
    xr.Dataset({"x": ("t", [1.0])}).to_netcdf(tmp_path / "foreign.nc")
    with pytest.raises(ValueError, match="foreign.nc is not an smlib station cube"):
        open_cube(tmp_path / "foreign.nc")
    (tmp_path / "text.nc").write_text("hello")
    with pytest.raises(ValueError, match="text.nc is not a readable NetCDF"):
        open_cube(tmp_path / "text.nc")
    with pytest.raises(FileNotFoundError):
        open_cube(tmp_path / "absent.nc")


def _tower_folder(fl: Path, sites: tuple[str, ...] = ("FR-Tst",)) -> Path:
    """FLUXNET2015 towers at 45 N 0 E, 4 days half-hourly, UTC+0, constant fluxes."""
    fl.mkdir(parents=True)
    rows = "".join(f"{site},45,0,0\n" for site in sites)
    (fl / "sites.csv").write_text("SITE_ID,LOCATION_LAT,LOCATION_LONG,UTC_OFFSET\n" + rows)
    th = pd.date_range(START, periods=48 * 4, freq="30min")
    for site in sites:
        pd.DataFrame(
            {
                "TIMESTAMP_START": th.strftime("%Y%m%d%H%M"),
                "LE_F_MDS": 80.0,
                "SWC_F_MDS_1": 25.0,
                "TS_F_MDS_1": 18.0,
                "P_F": 0.0,
            }
        ).to_csv(fl / f"FLX_{site}_FLUXNET2015_FULLSET_HH_2021-2021_1-4.csv", index=False)
    return fl


def test_tower_only_ingest_from_the_command_line(tmp_path, caplog):
    """A user with flux towers only builds a cube: ``smlib ingest --fluxnet DIR --out CUBE``."""
    fl = _tower_folder(tmp_path / "flux", ("FR-Tst", "DE-Tst"))
    out = tmp_path / "towers.nc"
    argv = ["ingest", "--fluxnet", str(fl), "--out", str(out), "--min-days", str(MIN_DAYS)]
    assert main(argv) == 0
    ds = open_cube(out)
    assert sorted(ds.station.values.tolist()) == ["FLUXNET/DE-Tst", "FLUXNET/FR-Tst"]
    assert set(ds["kind"].values.astype(str)) == {"tower"}
    assert ds.attrs["source"] == "FLUXNET2015/AmeriFlux/ICOS" and ds.attrs["ismn_path"] == ""
    # the same 3 complete local days as beside ISMN stations, SWC in % -> m3 m-3
    assert int(np.isfinite(ds["lh"]).sum()) == 2 * 72
    assert float(ds["sm"].max()) == pytest.approx(0.25)
    ds.close()
    # no station source at all: one line, exit code 2, nothing written
    caplog.clear()
    with caplog.at_level(logging.ERROR):
        assert main(["ingest", "--out", str(tmp_path / "none.nc")]) == 2
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "no station source" in errors[0] and "--fluxnet" in errors[0]
    assert not (tmp_path / "none.nc").exists()


def test_ingest_with_reanalysis_and_towers(tree, tmp_path):
    # ERA5-Land box around the stations (lon 0 and 30 E), constant fields
    time = pd.date_range(START, periods=24 * N_DAYS, freq="h")
    lat, lon = np.array([45.5, 45.0, 44.5]), np.array([-0.5, 0.0, 0.5])
    shape = (time.size, lat.size, lon.size)
    hours_since_reset = ((time.hour - 1) % 24 + 1).to_numpy()[:, None, None]
    dims = ("valid_time", "latitude", "longitude")
    era = xr.Dataset(
        {
            "swvl1": (dims, np.full(shape, 0.3, "f4"), {"units": "m**3 m**-3"}),
            "stl1": (dims, np.full(shape, 300.0, "f4"), {"units": "K"}),
            "slhf": (
                dims,
                -hours_since_reset * 3600.0 * 50 + np.zeros(shape),
                {"units": "J m**-2"},
            ),
            "tp": (dims, hours_since_reset * 0.0 + np.zeros(shape), {"units": "m"}),
        },
        coords={"valid_time": time, "latitude": lat, "longitude": lon},
    )
    era.to_netcdf(tmp_path / "era5.nc")
    fl = _tower_folder(tmp_path / "flux")
    ds = ingest(tree, era5=tmp_path / "era5.nc", fluxnet=[fl], min_days=MIN_DAYS)
    assert "FLUXNET/FR-Tst" in ds.station.values
    tw = ds.sel(station="FLUXNET/FR-Tst")
    assert str(tw.kind.values) == "tower" and not bool(tw.is_reference)
    # hours end at 01 .. 00 UTC: 4 days minus the last hour of the last day -> 3 complete days
    assert int(np.isfinite(tw["lh"]).sum()) == 72 and float(tw["sm"].max()) == pytest.approx(0.25)
    full = ds.sel(station="NET/full")
    assert float(full["era5_ts"].max()) == pytest.approx(26.85, abs=1e-4)
    assert float(full["era5_lh"].sel(time=f"{START}T05:00")) == pytest.approx(50.0)
    east = ds.sel(station="NET/east")
    assert np.isnan(east["era5_sm"]).all()  # 30 E is in no box
    assert json.loads(ds.attrs["reanalysis_uncovered_stations"])["era5"] == ["NET/east"]
    for v in ("era5_sm", "era5_ts", "era5_lh", "era5_precip", "lh", "precip"):
        assert ds[v].dtype == np.float32 and "units" in ds[v].attrs


@pytest.mark.slow
def test_ingest_reads_the_embedded_twin(tmp_path):
    """The twin (smlib.synth) and these readers target the same real formats: check each other."""
    synth = pytest.importorskip("smlib.synth")
    root = synth.write_twin(tmp_path / "twin", n_stations=6, n_days=30, seed=3)
    ds = ingest(root / "ismn", era5=root / "era5land", merra2=root / "merra2",
                fluxnet=[root / "fluxnet"], min_days=5)  # fmt: skip
    truth = xr.open_dataset(root / "truth.nc")
    common = [s for s in ds.station.values if s in truth.station.values]
    assert len(common) == ds.sizes["station"] >= 6
    t = truth.sel(station=common)
    c = ds.sel(station=common)
    for coord in ("kind", "network"):
        assert c[coord].values.astype(str).tolist() == t[coord].values.astype(str).tolist()
    # tower files do not name their soil-moisture instrument: the cube says "unknown"
    ism = c["kind"].values == "ismn"
    assert (
        c["sensor_type"].values[ism].tolist() == t["sensor_type"].values[ism].astype(str).tolist()
    )
    assert set(c["sensor_type"].values[~ism]) == {"unknown"}
    assert c["is_reference"].values.tolist() == t["is_reference"].values.astype(bool).tolist()
    np.testing.assert_allclose(c["lat"].values, t["lat"].values, atol=1e-4)
    np.testing.assert_allclose(c["lon"].values, t["lon"].values, atol=1e-4)
    assert json.loads(ds.attrs["reanalysis_uncovered_stations"]) == {"era5": [], "merra2": []}
    # reanalysis soil temperature near the true one (same days, same hours, degC)
    both = np.isfinite(c["era5_ts"].values) & np.isfinite(t["ts"].values)
    assert np.nanmean(np.abs(c["era5_ts"].values[both] - t["ts"].values[both])) < 8.0


# ------------------------------------------------------------------------------ issue 12
def _t():
    return pd.date_range(START, periods=24 * N_DAYS, freq="h")


def test_sm_only_reference_stations_are_kept(tmp_path, stm_writer):
    root, t = tmp_path / "ismn", _t()
    stm_writer(root, "NET", "cosmos", "sm", 0.0, 0.19, "Cosmic-ray-Probe", t, _sm(t))
    stm_writer(root, "NET", "tdr", "sm", 0.0, 0.05, "TDR-100", t, _sm(t))
    stm_writer(root, "NET", "tdr", "ts", 0.5, 0.5, "T", t, _ts(t))  # too deep: SM only
    stm_writer(root, "NET", "ec5", "sm", 0.0, 0.05, "EC5", t, _sm(t))  # no TS, no reference
    stm_writer(root, "NET", "pair", "sm", 0.0, 0.05, "EC5", t, _sm(t))
    stm_writer(root, "NET", "pair", "ts", 0.05, 0.05, "T", t, _ts(t))
    ds = ingest(root, min_days=MIN_DAYS)
    assert list(ds.station.values) == ["NET/cosmos", "NET/pair", "NET/tdr"]
    assert ds.is_reference.values.tolist() == [True, False, True]
    assert np.isnan(ds["ts"].sel(station="NET/cosmos")).all()
    assert int(np.isfinite(ds["sm"].sel(station="NET/cosmos")).sum()) == 24 * N_DAYS
    assert ds.attrs["n_sm_only_references"] == 2
    reasons = json.loads(ds.attrs["qc_summary"])["depth"]["reasons"]
    assert reasons == {
        "NET/ec5": "no TS sensor within 0.1 m (only reference stations may have SM only)"
    }
    # an explicit reference list decides which SM-only station may stay
    ref = tmp_path / "refs.txt"
    ref.write_text("NET/ec5\n")
    ds = ingest(root, reference=ref, min_days=MIN_DAYS)
    assert list(ds.station.values) == ["NET/ec5", "NET/pair"]
    assert ds.is_reference.values.tolist() == [True, False]


def test_station_gauge_is_stored_and_screens_its_days(tmp_path, stm_writer):
    from smlib.config import PreprocessConfig
    from smlib.data import RAIN_SOURCE_FLAGS
    from smlib.method.screens import rain_flags

    root, t = tmp_path / "ismn", _t()
    sm = _sm(t) + np.where(t.day >= 3, 0.05, 0.0)  # SM jumps on day 2 (index; June 3)
    rain = np.where((t.day == 4) & (t.hour == 10), 2.0, 0.0)  # the gauge: rain on June 4
    for name in ("gauged", "plain"):
        stm_writer(root, "NET", name, "sm", 0.0, 0.05, "EC5", t, sm)
        stm_writer(root, "NET", name, "ts", 0.05, 0.05, "T", t, _ts(t))
    stm_writer(root, "NET", "gauged", "p", 0.0, 0.0, "Pulse-Count", t, rain)
    ds = ingest(root, min_days=MIN_DAYS)
    assert ds["precip"].attrs["units"] == "mm h-1" and "gauge" in ds["precip"].attrs["long_name"]
    assert float(ds["precip"].sel(station="NET/gauged").sum()) == 2.0
    assert np.isnan(ds["precip"].sel(station="NET/plain")).all()
    src = ds["insitu_rain_source"]
    assert src.dtype == np.int8 and src.attrs["flag_meanings"] == "none sm_tendency gauge"
    assert (src.sel(station="NET/gauged") == 2).all() and (src.sel(station="NET/plain") == 1).all()
    assert list(RAIN_SOURCE_FLAGS) == [0, 1, 2]
    flags = rain_flags(ds, PreprocessConfig(rain_screen="paper"))["insitu"]
    day_flags = flags.reshape(2, N_DAYS, 24).all(axis=2)
    assert day_flags[0].tolist() == [False, False, False, True, False]  # gauged: the rain day
    assert day_flags[1].tolist() == [False, False, True, False, False]  # plain: the SM jump
    # the int8 record survives the NetCDF round trip with its flags
    write_atomic(ds, tmp_path / "c.nc")
    back = open_cube(tmp_path / "c.nc")
    assert back["insitu_rain_source"].dtype == np.int8
    np.testing.assert_array_equal(back["insitu_rain_source"].values, src.values)


def test_ingest_on_error_and_sensor_map(tmp_path, stm_writer):
    root, t = tmp_path / "ismn", _t()
    for name, sensor, scale in (("ok", "EC5", 1.0), ("pct", "EC5", 100.0), ("ns", "n.s.", 1.0)):
        stm_writer(root, "NET", name, "sm", 0.0, 0.05, sensor, t, _sm(t) * scale)
        stm_writer(root, "NET", name, "ts", 0.05, 0.05, "T", t, _ts(t))
    with pytest.raises(ValueError, match=r"NET_NET_pct_sm_.*\.stm:2: soil moisture 25 outside"):
        ingest(root, min_days=MIN_DAYS, on_error="raise")
    ds = ingest(root, min_days=MIN_DAYS)  # default: skip
    assert list(ds.station.values) == ["NET/ns", "NET/ok"]
    qc = json.loads(ds.attrs["qc_summary"])["unreadable"]
    assert qc["stations_removed"] == 1 and qc["detail"] == {"files": 1}
    assert "NET_NET_pct_sm" in qc["reasons"]["NET/pct"] and ":2: " in qc["reasons"]["NET/pct"]
    assert json.loads(ds.attrs["sensor_notes"]) == {
        "NET/ns": "instrument not specified by the provider ('n.s.')"
    }
    assert str(ds["sensor_type"].sel(station="NET/ns").values) == "unknown"
    smap = tmp_path / "map.yml"
    smap.write_text("stations:\n  NET/ns: tdr\n")
    ds = ingest(root, min_days=MIN_DAYS, sensor_map=smap)
    assert str(ds["sensor_type"].sel(station="NET/ns").values) == "tdr"
    assert bool(ds["is_reference"].sel(station="NET/ns")) and ds.attrs["sensor_notes"] == "{}"
    with pytest.raises(ValueError, match="on_error must be one of"):
        ingest(root, on_error="ignore")


@pytest.mark.realdata
def test_real_cosmos_download_gives_sm_only_references(realdata):
    """The issue's case: ISMN's COSMOS stations ship SM only and used to be dropped."""
    ds = ingest(
        realdata / "ismn_TUW-GEO_ismn_tests" / "Data_seperate_files_header_20170810_20180809",
        min_days=92,
    )
    assert list(ds.station.values) == ["COSMOS/ARM-1", "COSMOS/Barrow-ARM"]
    assert ds.is_reference.values.all() and set(ds.sensor_type.values) == {"cosmic-ray"}
    assert np.isnan(ds["ts"].values).all() and int(ds["sm"].notnull().sum()) == 6120
    assert ds.attrs["n_sm_only_references"] == 2
