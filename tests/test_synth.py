"""The embedded synthetic twin: physics, sensors and files with known answers."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from smlib.evaluation.metrics import haversine_km
from smlib.synth import simulate_twin, write_twin, write_twin_files
from smlib.synth.reanalysis import diurnal_error
from smlib.synth.sensors import tipping_bucket
from smlib.synth.world import build_world
from smlib.synth.writers import ismn_header_line
from smlib.timeutils import local_day_view, solar_offset_hours

REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata"

# 8 stations: 6 dielectric (2 impedance, 2 capacitance, 2 FDR) + TDR + TDT references, 1 tower
N_ST, N_DAYS, START = 8, 45, "2019-06-01"


@pytest.fixture(scope="module")
def twin():
    return simulate_twin(N_ST, N_DAYS, seed=3, start=START, show_progress=False)


def _daily_r(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson R over the last axis (NaN where a day is incomplete)."""
    a = a - a.mean(-1, keepdims=True)
    b = b - b.mean(-1, keepdims=True)
    return (a * b).sum(-1) / np.sqrt((a * a).sum(-1) * (b * b).sum(-1))


def test_world_layout_default_size():
    w = build_world(40, 365, seed=0, start="2019-04-01")
    st = w.stations
    assert st.index.is_unique
    assert set(st["sensor_type"]) == {"impedance", "capacitance", "fdr", "tdr", "tdt", "cosmic-ray"}
    assert (st["kind"] == "ismn").sum() == 40 and (st["kind"] == "tower").sum() == 6
    assert st["is_reference"].sum() == 10
    pairs = st[st["paired_reference"] != ""]
    assert len(pairs) == 10
    ref = st.loc[pairs["paired_reference"]]
    dist = haversine_km(pairs["lat"].to_numpy(), pairs["lon"].to_numpy(),
                        ref["lat"].to_numpy(), ref["lon"].to_numpy())  # fmt: skip
    assert (dist < 50).all() and (dist > 1).all()
    assert not pairs["is_reference"].any() and ref["is_reference"].all()
    # every dielectric technique has some weakly affected probes at the default size
    diel = st[(st["kind"] == "ismn") & ~st["is_reference"]]
    assert diel.groupby("sensor_type")["weak_artefact"].sum().min() >= 1
    # ids follow the cube's naming
    assert all(i.startswith("FLUXNET/") for i in st.index[st["kind"] == "tower"])
    assert all(i == f"{n}/{s}" for i, n, s in zip(st.index, st["network"], st["name"], strict=True))


def test_rain_is_convective_timed(twin):
    st = twin.world.stations
    off = solar_offset_hours(st["lon"].to_numpy())
    days, _ = local_day_view(twin.truth_precip, off)
    by_hour = np.nansum(days, axis=(0, 1))  # rain in the hour ending at local hour h
    share = by_hour[13:].sum() + by_hour[0]  # hours ending 13:00 .. 24:00 local
    assert share / by_hour.sum() > 0.9
    assert by_hour.sum() > 0


def test_truth_composite_peaks_near_dawn_and_bottoms_in_the_afternoon(twin):
    st = twin.world.stations
    lon, lat = st["lon"].to_numpy(), st["lat"].to_numpy()
    off = solar_offset_hours(lon)
    sm, _ = local_day_view(twin.truth_sm, off)
    rain, _ = local_day_view(twin.truth_precip, off)
    dry = np.nansum(rain, axis=2) == 0
    dry[:, 1:] &= dry[:, :-1]  # no rain that day nor the day before
    dry &= np.isfinite(sm).all(axis=2)
    assert dry.sum() > 50
    anomaly = sm[dry] - sm[dry].mean(axis=1, keepdims=True)  # (n_dry_day, 24)
    comp = anomaly.mean(axis=0)
    # sunrise (local solar time) at the stations in mid-period: cos(omega) = -tan(phi)tan(delta)
    doy = twin.time[len(twin.time) // 2].day_of_year
    decl = np.radians(23.44) * np.sin(2 * np.pi * (284 + doy) / 365.0)
    half_day = np.degrees(np.arccos(-np.tan(np.radians(lat)) * np.tan(decl))) / 15.0
    sunrise = float(np.mean(12.0 - half_day))
    assert abs(int(np.argmax(comp)) - sunrise) <= 3
    assert 12 <= int(np.argmin(comp)) <= 19
    amplitude = np.median(anomaly.max(axis=1) - anomaly.min(axis=1))
    assert 0.003 < amplitude < 0.03


def test_daily_r_signs_by_technique(twin):
    st = twin.world.stations
    ismn = st[st["kind"] == "ismn"]
    n = len(ismn)
    off = solar_offset_hours(ismn["lon"].to_numpy())
    sm_good = np.where(twin.sm_flag == "G", twin.sm_obs, np.nan)
    r_obs = _daily_r(local_day_view(sm_good, off)[0], local_day_view(twin.ts_obs, off)[0])
    r_true = _daily_r(
        local_day_view(twin.truth_sm[:n], off)[0], local_day_view(twin.truth_ts[:n], off)[0]
    )
    stype = ismn["sensor_type"].to_numpy()
    for t in ("impedance", "capacitance", "fdr"):
        assert np.nanmedian(r_obs[stype == t]) > 0, t
    for t in ("tdr", "tdt"):
        assert np.nanmedian(r_obs[stype == t]) < 0, t
    assert np.nanmedian(r_true) < -0.34
    # the paper's training filter still finds genuine days on dielectric stations
    diel = r_obs[np.isin(stype, ["impedance", "capacitance", "fdr"])]
    assert np.nanmean(diel[np.isfinite(diel)] < -0.34) > 0.02


def test_diurnal_error_known_answer():
    t = np.arange(24 * 10, dtype=float)
    x = 0.2 + 0.01 * np.sin(2 * np.pi * t / 24)
    y = diurnal_error(x[None, :], np.array([6.0]), np.array([2.0]))[0]
    expect = 0.2 + 0.02 * np.sin(2 * np.pi * (t - 6) / 24)
    core = slice(24, -24)
    np.testing.assert_allclose(y[core], expect[core], atol=1e-9)


@pytest.mark.skipif(not REALDATA.is_dir(), reason="../shared/realdata not present")
def test_ismn_header_matches_real_files():
    f = next((REALDATA / "ismn_TUW-GEO_ismn_tests").rglob("*ARM-1_sm_*.stm"))
    first = f.read_bytes().splitlines()[0].decode()
    assert ismn_header_line("COSMOS", "ARM-1", 36.6054, -97.4878, 322.0, 0.0, 0.19,
                            "Cosmic-ray-Probe") == first  # fmt: skip


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_same_seed_identical_files_and_different_seed_differs(tmp_path):
    a = write_twin(tmp_path / "a", n_stations=4, n_days=3, seed=11, start=START)
    b = write_twin(tmp_path / "b", n_stations=4, n_days=3, seed=11, start=START)
    c = write_twin(tmp_path / "c", n_stations=4, n_days=3, seed=12, start=START)
    da, db, dc = _digest(a), _digest(b), _digest(c)
    assert dc != da
    assert da == db
    assert {"truth.nc", "twin.yml"} <= set(da)
    assert any(k.startswith("ismn/") for k in da) and any(k.startswith("era5land/") for k in da)
    assert any(k.startswith("merra2/") for k in da) and any(k.startswith("fluxnet/") for k in da)
    ta = xr.open_dataset(a / "truth.nc")
    tc = xr.open_dataset(c / "truth.nc")
    assert not np.array_equal(ta["lat"].values, tc["lat"].values)
    assert not np.allclose(ta["sm"].values, tc["sm"].values)


def test_default_scenario_is_todays_twin(tmp_path):
    """``scenario="default"`` writes the same bytes as no scenario, and the data files are those
    the twin wrote before scenarios existed (digest of the text files of a tiny world, taken
    from the generator at commit 102be38)."""
    a = write_twin(tmp_path / "a", n_stations=4, n_days=3, seed=11, start=START)
    b = write_twin(tmp_path / "b", n_stations=4, n_days=3, seed=11, start=START, scenario="default")
    assert _digest(a) == _digest(b)
    h = hashlib.sha256()
    for p in sorted(a.rglob("*")):
        if p.is_file() and p.suffix in (".stm", ".csv"):
            h.update(str(p.relative_to(a)).encode())
            h.update(p.read_bytes())
    assert h.hexdigest() == "b728197891c05bd8848471ef8dc5ff8a7fde6b00c3b4de56adc28fbb44920f7b"
    truth = xr.open_dataset(a / "truth.nc")
    assert truth.attrs["scenario"] == "default"
    assert float(truth["irrigation"].sum()) == 0.0 and float(truth["sensor_lag_h"].max()) == 0.0
    truth.close()


def test_line_endings_vary_and_files_parse(tmp_path, twin):
    out = write_twin_files(twin, tmp_path / "tw")
    stm = sorted((out / "ismn").rglob("*_sm_*.stm"))
    endings = set()
    for p in stm:
        raw = p.read_bytes()
        endings.add(("\r\n" in raw.decode(), "\n\r" in raw.decode(), raw.count(b"\n") == 0))
        rows = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
        recs = [r.split() for r in rows[1:] if r.strip()]
        assert all(len(r) == 5 and r[4] == b"M" for r in recs)
    assert len(endings) >= 3
    assert list((out / "ismn").rglob("*_p_0.000000_0.000000_Pulse-Count_*.stm"))
    assert list((out / "ismn").rglob("*_static_variables.csv"))
    truth = xr.open_dataset(out / "truth.nc")
    assert list(truth["station"].values) == list(twin.world.stations.index)
    for v in ("sm", "ts", "lh"):
        assert truth[v].attrs["units"] and truth[v].attrs["standard_name"]
    assert {"sensor_beta0", "sensor_offset", "paired_reference", "era5_sm_phase_h",
            "merra2_sm_amp"} <= set(truth.data_vars)  # fmt: skip


def _align(cube: xr.Dataset, time: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray]:
    """Indices mapping the cube's time axis onto the twin's (only common stamps)."""
    ct = pd.DatetimeIndex(cube["time"].values)
    common = ct.intersection(time)
    return ct.get_indexer(common), time.get_indexer(common)


def _check(got: np.ndarray, expected: np.ndarray, atol: float, what: str) -> None:
    ok = np.isfinite(got)
    assert ok.sum() > 0, f"{what}: nothing to compare"
    np.testing.assert_allclose(got[ok], expected[ok], atol=atol, rtol=0, err_msg=what)


@pytest.mark.slow
def test_round_trip_through_ingest(tmp_path, twin):
    """Written files -> smlib ingest -> the generator's own arrays, within format precision."""
    cube_mod = pytest.importorskip("smlib.data")
    out = write_twin_files(twin, tmp_path / "tw")
    cube = cube_mod.ingest(
        ismn=out / "ismn", era5=out / "era5land", merra2=out / "merra2",
        fluxnet=[out / "fluxnet"], min_days=10,
    )  # fmt: skip
    st = twin.world.stations
    assert set(cube["station"].values) == set(st.index)
    ci, ti = _align(cube, twin.time)
    n_time = len(twin.time)
    for sid in st.index:
        row = st.loc[sid]
        s = st.index.get_loc(sid)
        c = cube.sel(station=sid)
        assert float(c["lat"]) == pytest.approx(row["lat"], abs=1e-5)
        assert float(c["lon"]) == pytest.approx(row["lon"], abs=1e-5)
        if row["kind"] == "ismn":
            assert str(c["sensor_type"].values) == row["sensor_type"]
            good = np.where(twin.sm_flag[s] == "G", twin.sm_obs[s], np.nan)
            _check(c["sm"].values[ci], good[ti], 6e-5, f"{sid} sm")
            _check(c["ts"].values[ci], twin.ts_obs[s][ti], 6e-3, f"{sid} ts")
        else:
            k = int(np.flatnonzero(twin.towers.site == row["name"])[0])
            tw = twin.towers

            # hour ending at stamp j = half-hours 2(j-1), 2(j-1)+1; a mean takes one available
            # half (smlib.io.fluxnet.HALF_HOURS_NEEDED), a sum needs both
            def hourly(a, how="mean", k=k):
                pair = a[k].reshape(-1, 2)
                one = np.isfinite(pair).any(1)
                mean = np.nansum(pair, 1) / np.maximum(np.isfinite(pair).sum(1), 1)
                v = pair.sum(1) if how == "sum" else np.where(one, mean, np.nan)
                return np.concatenate([[np.nan], v])[:n_time]

            _check(c["sm"].values[ci], hourly(tw.swc)[ti] / 100.0, 1e-5, f"{sid} swc")
            _check(c["ts"].values[ci], hourly(tw.ts)[ti], 1e-3, f"{sid} ts")
            _check(c["lh"].values[ci], hourly(tw.le)[ti], 1e-3, f"{sid} le")
            _check(c["precip"].values[ci], hourly(tw.p, "sum")[ti], 1e-4, f"{sid} p")
        # ERA5-Land: states instantaneous, de-accumulated fluxes for the hour ending at t
        run, cell, i0 = twin.era5, twin.era5.station_cell[s], twin.i0
        _check(c["era5_sm"].values[ci], run.sm[cell, i0 + ti], 1e-6, f"{sid} era5 sm")
        _check(c["era5_ts"].values[ci], run.ts[cell, i0 + ti], 1e-4, f"{sid} era5 ts")
        _check(c["era5_lh"].values[ci], run.lh[cell, i0 + ti], 0.02, f"{sid} era5 lh")
        _check(c["era5_precip"].values[ci], run.precip[cell, i0 + ti], 1e-4, f"{sid} era5 tp")
        # MERRA-2: hour means stamped at the end of their hour
        run, cell = twin.merra2, twin.merra2.station_cell[s]
        mean_sm = 0.5 * (run.sm[cell, i0 + ti - 1] + run.sm[cell, i0 + ti])
        mean_ts = 0.5 * (run.ts[cell, i0 + ti - 1] + run.ts[cell, i0 + ti])
        _check(c["merra2_sm"].values[ci], mean_sm, 1e-6, f"{sid} merra2 sm")
        _check(c["merra2_ts"].values[ci], mean_ts, 1e-4, f"{sid} merra2 ts")
        _check(c["merra2_lh"].values[ci], run.lh[cell, i0 + ti], 1e-3, f"{sid} merra2 lh")
        _check(c["merra2_precip"].values[ci], run.precip[cell, i0 + ti], 1e-4, f"{sid} merra2 p")


def test_reanalysis_diurnal_shape_goes_wrong_in_bad_regions(twin):
    """In the FDR region the products put the SM maximum in the afternoon; the truth at dawn."""
    st = twin.world.stations
    bad = (st["region"] == 1).to_numpy()  # iberian_meseta, bad for both products
    assert bad.any()
    off = solar_offset_hours(st["lon"].to_numpy()[bad])
    sl = slice(twin.i0, twin.i0 + len(twin.time))

    def peak_hour(x):
        days, _ = local_day_view(x, off)
        complete = np.isfinite(days).all(axis=2)
        anomaly = days[complete] - days[complete].mean(axis=1, keepdims=True)
        return int(np.argmax(anomaly.mean(axis=0)))

    assert peak_hour(twin.truth_sm[bad]) <= 10
    for run in (twin.era5, twin.merra2):
        assert run.errors["sm_phase_h"][1] >= 7.0
        assert 12 <= peak_hour(run.sm[run.station_cell[bad], sl]) <= 20, run.spec.name


def test_tipping_bucket_reports_whole_tips_and_conserves_rain():
    rain = np.array([[0.05, 0.3, 0.0, 1.13, 0.0, 0.07, 2.0]])
    got = tipping_bucket(rain, tip=0.2)
    np.testing.assert_allclose(got / 0.2, np.round(got / 0.2), atol=1e-9)
    assert rain.sum() - 0.2 < got.sum() <= rain.sum() + 1e-9
    np.testing.assert_allclose(got[0, :2], [0.0, 0.2])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"n_stations": 1}, "at least 2"), ({"n_days": 0}, "at least 1 day"), ({"seed": -1}, "seed")],
)
def test_bad_sizes_raise_clear_errors(tmp_path, kwargs, message):
    args = {"n_stations": 4, "n_days": 2, "seed": 0, **kwargs}
    with pytest.raises(ValueError, match=message):
        write_twin(tmp_path / "x", **args)
