"""Flux-tower readers: AmeriFlux BASE sample, FLUXNET2015 HH fixture, UTC, priority merge."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

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
    both_le = raw["LE"].notna().to_numpy().reshape(48, 2).all(axis=1)
    assert raw["LE"].notna().sum() == 40
    assert df["lh"].notna().sum() == both_le.sum()  # an hour needs both halves
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
    assert np.isnan(first["lh"].iloc[1])  # its 2nd half-hour is -9999
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
    assert sm.isna().sum() == 2  # hour 3 (both halves below 0) and hour 10 (one half)
    assert np.isnan(sm.iloc[3]) and np.isnan(sm.iloc[10])
    np.testing.assert_allclose(sm.drop(sm.index[[3, 10]]).to_numpy(), 0.12)
    msg = " ".join(r.getMessage() for r in caplog.records)
    assert "3 SWC value(s) below 0 % set missing" in msg and "-0.5 % on line 8" in msg
