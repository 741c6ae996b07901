"""Flux-tower readers: AmeriFlux BASE sample, FLUXNET2015 HH fixture, UTC, priority merge."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from smlib.io.errors import InputError
from smlib.io.fluxnet import read_fluxnet, read_site_list, read_tower_file

AMF = "flux_chuhousen_amerifluxr/AMF_US-CRT_BASE_HH_2-5.csv"


@pytest.mark.realdata
def test_ameriflux_base_sample(realdata, tmp_path):
    raw = pd.read_csv(realdata / AMF, skiprows=2, na_values=[-9999])
    df, col = read_tower_file(realdata / AMF, utc_offset=-5)
    assert col == "SWC" and len(raw) == 96 and len(df) == 48
    # first half-hours 00:00 and 00:30 local standard time -> hour ending 01:00 LST = 06:00 UTC
    assert df.index[0] == pd.Timestamp("2011-01-01 06:00")
    np.testing.assert_allclose(df["sm"].iloc[0], raw["SWC"].iloc[:2].mean() / 100.0)
    np.testing.assert_allclose(df["ts"].iloc[0], raw["TS_1_1_1"].iloc[:2].mean())
    np.testing.assert_allclose(df["precip"].iloc[0], raw["P"].iloc[:2].sum())
    halves = raw["LE"].notna().to_numpy().reshape(48, 2)
    assert raw["LE"].notna().sum() == 40
    assert df["lh"].notna().sum() == halves.any(axis=1).sum() > halves.all(axis=1).sum()
    one = np.flatnonzero(halves.sum(axis=1) == 1)  # an hour with one LE half takes that half
    le = raw["LE"].to_numpy().reshape(48, 2)
    np.testing.assert_allclose(df["lh"].iloc[one], np.nanmean(le[one], axis=1))
    assert 0.39 < df["sm"].min() and df["sm"].max() < 0.48

    # through read_fluxnet with a site list found in the folder
    shutil.copy(realdata / AMF, tmp_path / "AMF_US-CRT_BASE_HH_2-5.csv")
    (tmp_path / "sites.csv").write_text("SITE_ID,LOCATION_LAT,LOCATION_LONG\nUS-CRT,41.63,-83.35\n")
    (tw,) = read_fluxnet(tmp_path)
    assert tw.site == "US-CRT" and tw.lat == 41.63
    assert tw.data.index[0] == pd.Timestamp("2011-01-01 07:00")  # offset from lon: round(-83/15)=-6


def _flx_file(folder, site, start, n_hh, le=100.0, swc=30.0, res="HH", prefix="FLX"):
    step = "30min" if res == "HH" else "60min"
    t = pd.date_range(start, periods=n_hh, freq=step)
    y1, y2 = t[0].year, t[-1].year
    name = (
        f"FLX_{site}_FLUXNET2015_FULLSET_{res}_{y1}-{y2}_1-4.csv"
        if prefix == "FLX"
        else f"ICOSETC_{site}_FLUXNET_{res}_01.csv"
    )
    le_v = np.full(n_hh, le) + np.arange(n_hh)
    df = pd.DataFrame(
        {
            "TIMESTAMP_START": t.strftime("%Y%m%d%H%M"),
            "TIMESTAMP_END": (t + pd.Timedelta(step)).strftime("%Y%m%d%H%M"),
            "LE_F_MDS": le_v,
            "SWC_F_MDS_1": swc,
            "TS_F_MDS_1": 15.0,
            "P_F": 0.5,
        }
    )
    df.loc[3, "LE_F_MDS"] = -9999
    df.to_csv(folder / name, index=False)
    return folder / name


def test_fluxnet2015_hh_to_hourly_utc_and_priority(tmp_path):
    (tmp_path / "sites.csv").write_text(
        "SITE_ID,LOCATION_LAT,LOCATION_LONG,UTC_OFFSET\nDE-Tha,50.96,13.57,1\n"
    )
    _flx_file(tmp_path, "DE-Tha", "2015-06-01 00:00", 48)  # 24 h of FLUXNET2015
    # ICOS: overlaps the FLUXNET day and extends it by one day
    _flx_file(tmp_path, "DE-Tha", "2015-06-01 00:00", 96, le=900.0, swc=50.0, prefix="ICOSETC")
    (tw,) = read_fluxnet([tmp_path])
    df = tw.data
    assert df.index[0] == pd.Timestamp("2015-06-01 00:00")  # hour ending 01 LST = 00 UTC
    assert len(df) == 48 and (np.diff(df.index.values) == np.timedelta64(1, "h")).all()
    first = df.iloc[:24]
    assert (first["sm"] == 0.30).all()  # FLUXNET2015 wins on the overlap
    assert first["lh"].iloc[0] == pytest.approx(100.5)
    assert first["lh"].iloc[1] == pytest.approx(102.0)  # its 2nd half-hour is -9999: the 1st
    assert (first["precip"] == 1.0).all()  # 0.5 mm per half hour summed
    assert (df.iloc[24:]["sm"] == 0.50).all()  # ICOS only extends
    assert len(tw.sources) == 2 and "FLX_" in tw.sources[0]


def test_bad_tower_files_name_file_and_line(tmp_path):
    p = _flx_file(tmp_path, "DE-Tha", "2015-06-01 00:00", 6)
    df = pd.read_csv(p)
    df.loc[4, "TIMESTAMP_START"] = df.loc[2, "TIMESTAMP_START"]
    df.to_csv(p, index=False)
    with pytest.raises(ValueError, match=r"FLX_DE-Tha.*\.csv:6: duplicated or unordered"):
        read_tower_file(p, 1)
    p = _flx_file(tmp_path, "DE-Tha", "2015-06-01 00:00", 6, res="HR")
    df = pd.read_csv(p, dtype={"TIMESTAMP_START": str})
    df.loc[3:, "TIMESTAMP_START"] = (
        pd.to_datetime(df.loc[3:, "TIMESTAMP_START"], format="%Y%m%d%H%M") + pd.Timedelta("30min")
    ).dt.strftime("%Y%m%d%H%M")
    df.to_csv(p, index=False)
    with pytest.raises(ValueError, match=r":5: step of 90 minutes in a HR file"):
        read_tower_file(p, 1)
    df = pd.read_csv(p).drop(columns=["SWC_F_MDS_1"])
    df.to_csv(p, index=False)
    with pytest.raises(ValueError, match="needs soil moisture"):
        read_tower_file(p, 1)


def test_site_list_offsets(tmp_path):
    (tmp_path / "s.csv").write_text(
        "SITE_ID,LOCATION_LAT,LOCATION_LONG,LOCATION_ELEV,UTC_OFFSET\n"
        "US-A,40,-105.2,1650,\nAU-B,-30,150,,10\n"
    )
    s = read_site_list(tmp_path / "s.csv")
    assert s.loc["US-A", "utc_offset"] == -7 and s.loc["AU-B", "utc_offset"] == 10
    assert s.loc["US-A", "elevation"] == 1650 and np.isnan(s.loc["AU-B", "elevation"])
    (tmp_path / "t.csv").write_text("SITE,LAT\nX,1\n")
    with pytest.raises(ValueError, match="site list needs columns"):
        read_site_list(tmp_path / "t.csv")


def test_tower_series_to_xarray(tmp_path):
    (tmp_path / "sites.csv").write_text("SITE_ID,LOCATION_LAT,LOCATION_LONG\nDE-Tha,50.96,13.57\n")
    _flx_file(tmp_path, "DE-Tha", "2015-06-01 00:00", 48)
    (tw,) = read_fluxnet(tmp_path)
    ds = tw.to_xarray()
    assert ds["sm"].attrs["units"] == "m3 m-3" and ds.sizes["time"] == 24
    assert ds.attrs["site"] == "DE-Tha"


def test_damaged_tower_file_costs_its_site_only(tmp_path):
    from smlib.io.errors import InputError

    (tmp_path / "sites.csv").write_text(
        "SITE_ID,LOCATION_LAT,LOCATION_LONG,UTC_OFFSET\nUS-Aaa,40,-100,-6\nUS-Bbb,41,-101,-6\n"
    )
    _flx_file(tmp_path, "US-Aaa", "2020-07-01", 96)
    _flx_file(tmp_path, "US-Bbb", "2020-07-01", 96, swc=150.0)  # SWC in tenths of a percent?
    with pytest.raises(InputError, match=r"FLX_US-Bbb_.*\.csv:2: SWC 150 % outside") as err:
        read_fluxnet(tmp_path)
    assert err.value.line == 2
    skipped = []
    (tw,) = read_fluxnet(tmp_path, on_error="skip", skipped=skipped)
    assert tw.site == "US-Aaa"
    (rec,) = skipped
    assert rec.station == "FLUXNET/US-Bbb" and rec.source == "fluxnet" and rec.line == 2
    # a truncated CSV (cut inside a time stamp) is one line naming the file, too
    f = next(tmp_path.glob("FLX_US-Aaa_*.csv"))
    raw = f.read_bytes()
    f.write_bytes(raw[: raw.index(b"\n", len(raw) // 2) + 5])
    skipped = []
    assert read_fluxnet(tmp_path, on_error="skip", skipped=skipped) == []
    assert {r.station for r in skipped} == {"FLUXNET/US-Aaa", "FLUXNET/US-Bbb"}
    assert all("\n" not in r.describe() for r in skipped)


def _write_hh(folder, columns: dict, n_hh=48, site="US-Hhh", start="2016-07-01 00:00"):
    t = pd.date_range(start, periods=n_hh, freq="30min")
    df = pd.DataFrame(
        {"TIMESTAMP_START": t.strftime("%Y%m%d%H%M"),
         "TIMESTAMP_END": (t + pd.Timedelta("30min")).strftime("%Y%m%d%H%M"), **columns}
    )  # fmt: skip
    path = folder / f"FLX_{site}_FLUXNET2015_FULLSET_HH_{t[0].year}-{t[-1].year}_1-4.csv"
    df.to_csv(path, index=False)
    return path


def test_soil_sensors_logged_hourly_read_as_the_full_hours(tmp_path):
    """SWC/TS at :00 only (every :30 is -9999): the hours are the :00 values; P needs both."""
    n = 48
    swc = 20.0 + np.arange(n) / 10.0
    ts = 10.0 + np.arange(n)
    swc[1::2] = -9999
    ts[1::2] = -9999
    p = np.full(n, 0.2)
    p[5] = -9999
    le = 50.0 + np.arange(n)
    le[7] = -9999  # one LE half missing: the hour takes the other
    le[8:10] = -9999  # both halves missing: NaN
    path = _write_hh(
        tmp_path, {"LE_F_MDS": le, "SWC_F_MDS_1": swc, "TS_F_MDS_1": ts, "P_F": p}, n_hh=n
    )
    df, col = read_tower_file(path, utc_offset=0)
    assert col == "SWC_F_MDS_1" and len(df) == 24
    np.testing.assert_allclose(df["sm"], swc[0::2] / 100.0)
    np.testing.assert_allclose(df["ts"], ts[0::2])
    assert np.isnan(df["precip"].iloc[2]) and df["precip"].notna().sum() == 23
    np.testing.assert_allclose(df["precip"].drop(df.index[2]), 0.4)
    assert df["lh"].iloc[3] == pytest.approx(56.0) and np.isnan(df["lh"].iloc[4])
    assert df["lh"].iloc[0] == pytest.approx(50.5)


def test_soil_temperature_column_fallbacks(tmp_path, caplog):
    n = 48
    base = {"LE_F_MDS": 80.0, "SWC_F_MDS_1": 25.0, "P_F": 0.0}
    # TS_F_MDS_1 absent: the next depth is taken, with a warning
    path = _write_hh(tmp_path, {**base, "TS_F_MDS_2": 12.0, "TS_F_MDS_3": 9.0}, n_hh=n)
    with caplog.at_level("WARNING", logger="smlib.io.fluxnet"):
        df, _ = read_tower_file(path, utc_offset=0)
    assert (df["ts"] == 12.0).all() and df.attrs["columns"]["ts"] == "TS_F_MDS_2"
    assert "deeper sensor" in caplog.text
    # TS_F_MDS_1 present but empty: the same-depth AmeriFlux name wins over a deeper one
    path.unlink()
    cols = {**base, "TS_F_MDS_1": -9999.0, "TS_F_MDS_2": 12.0, "TS_1_1_1": 14.0}
    path = _write_hh(tmp_path, cols, n_hh=n)
    df, _ = read_tower_file(path, utc_offset=0)
    assert (df["ts"] == 14.0).all() and df.attrs["columns"]["ts"] == "TS_1_1_1"
    # another horizontal position at the first depth before a deeper sensor
    path.unlink()
    path = _write_hh(tmp_path, {**base, "TS_1_2_1": 8.0, "TS_2_1_1": 13.0}, n_hh=n)
    df, _ = read_tower_file(path, utc_offset=0)
    assert (df["ts"] == 13.0).all()
    # no soil temperature at all: read, TS NaN, a warning that names the consequence
    path.unlink()
    path = _write_hh(tmp_path, base, n_hh=n)
    caplog.clear()
    with caplog.at_level("WARNING", logger="smlib.io.fluxnet"):
        df, _ = read_tower_file(path, utc_offset=0)
    assert df["ts"].isna().all() and "cannot correct" in caplog.text


def test_tower_series_records_the_ts_column(tmp_path):
    (tmp_path / "sites.csv").write_text("SITE_ID,LOCATION_LAT,LOCATION_LONG\nUS-Hhh,40.0,-100\n")
    _write_hh(tmp_path, {"LE_F_MDS": 80.0, "SWC_F_MDS_1": 25.0, "TS_F_MDS_2": 12.0, "P_F": 0.0})
    (tw,) = read_fluxnet(tmp_path)
    assert tw.ts_column == "TS_F_MDS_2" and tw.sm_column == "SWC_F_MDS_1"


def test_a_few_impossible_swc_values_are_dropped_not_the_tower(tmp_path, caplog):
    """A probe in dry soil reading -0.04 % now and then costs those half-hours, not the site."""
    n = 400
    swc = np.full(n, 3.0)
    swc[[10, 11, 200]] = [-0.04, -0.04, 101.0]  # 3 of 400 = 0.75 % <= 1 %
    path = _write_hh(tmp_path, {"LE_F_MDS": 80.0, "SWC_F_MDS_1": swc, "TS_F_MDS_1": 12.0,
                                "P_F": 0.0}, n_hh=n)  # fmt: skip
    with caplog.at_level("WARNING", logger="smlib.io.fluxnet"):
        df, _ = read_tower_file(path, utc_offset=0)
    assert "1 of 400 SWC values above 100 % set missing (first, line 202" in caplog.text
    assert "2 SWC value(s) below 0 % set missing (first -0.04 % on line 12" in caplog.text
    assert df.attrs["sm_out_of_range"] == 3
    assert np.isnan(df["sm"].iloc[5]) and df["sm"].iloc[100] == pytest.approx(0.03)  # both halves
    assert df["sm"].iloc[[4, 6]].notna().all() and df["sm"].notna().sum() == 199
    # more than 1 % above 100 % and the file is refused (not percent?); below 0 never counts
    swc[300:305] = 250.0
    swc[20:60] = -1.0
    path = _write_hh(tmp_path, {"LE_F_MDS": 80.0, "SWC_F_MDS_1": swc, "TS_F_MDS_1": 12.0,
                                "P_F": 0.0}, n_hh=n)  # fmt: skip
    with pytest.raises(InputError, match=r":202: SWC 101 % outside .*6 of 400 SWC values"):
        read_tower_file(path, utc_offset=0)
    swc[300:305] = 3.0  # 42 of 400 below 0 % alone: dropped, the file read
    path = _write_hh(tmp_path, {"LE_F_MDS": 80.0, "SWC_F_MDS_1": swc, "TS_F_MDS_1": 12.0,
                                "P_F": 0.0}, n_hh=n)  # fmt: skip
    df, _ = read_tower_file(path, utc_offset=0)
    assert df.attrs["sm_out_of_range"] == 43 and df["sm"].isna().sum() == 21


def test_records_left_out_are_missing_hours(tmp_path, caplog):
    n = 48
    le = 50.0 + np.arange(n)
    path = _write_hh(tmp_path, {"LE_F_MDS": le, "SWC_F_MDS_1": 25.0, "TS_F_MDS_1": 12.0,
                                "P_F": 0.1}, n_hh=n)  # fmt: skip
    df = pd.read_csv(path, dtype={"TIMESTAMP_START": str, "TIMESTAMP_END": str})
    df.drop(index=[10, 11, 12]).to_csv(path, index=False)  # 10:00 of hour 5 .. 06:30
    with caplog.at_level("WARNING", logger="smlib.io.fluxnet"):
        out, _ = read_tower_file(path, utc_offset=0)
    assert "3 records absent between the time stamps (the first gap before line 12)" in caplog.text
    assert len(out) == 24 and out.index[5] - out.index[4] == pd.Timedelta("1h")
    assert np.isnan(out["sm"].iloc[5]) and out["sm"].iloc[6] == pytest.approx(0.25)  # 06:00 only
    assert out["lh"].iloc[6] == pytest.approx(63.0) and np.isnan(out["precip"].iloc[6])
    # a step that is not a whole number of half-hours still refuses the file
    df.loc[20, "TIMESTAMP_START"] = df.loc[20, "TIMESTAMP_START"][:-2] + "15"  # 10:00 -> 10:15
    df.to_csv(path, index=False)
    with pytest.raises(ValueError, match=r":22: step of 45 minutes in a HH file"):
        read_tower_file(path, utc_offset=0)


def test_swc_below_zero_is_dropped_value_by_value_and_counted(tmp_path, caplog):
    """A dry probe's reading below 0 % (offset or temperature artefact) costs that value, not
    the tower: it is set missing, as ISMN flags it C01, and the log counts it with its line."""
    f = _flx_file(tmp_path, "US-Ccc", "2020-07-01", 48, swc=12.0)
    df = pd.read_csv(f)
    df.loc[[6, 7, 20], "SWC_F_MDS_1"] = [-0.5, -11.9, -0.1]  # hours 3 (both halves) and 10
    df.to_csv(f, index=False)
    with caplog.at_level("WARNING", logger="smlib.io.fluxnet"):
        data, _ = read_tower_file(f, utc_offset=0)
    sm = data["sm"]
    assert sm.isna().sum() == 1  # hour 3 (both halves below 0); hour 10 keeps its other half
    assert np.isnan(sm.iloc[3]) and sm.iloc[10] == pytest.approx(0.12)
    np.testing.assert_allclose(sm.drop(sm.index[3]).to_numpy(), 0.12)
    msg = " ".join(r.getMessage() for r in caplog.records)
    assert "3 SWC value(s) below 0 % set missing" in msg and "-0.5 % on line 8" in msg
