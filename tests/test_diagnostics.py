"""Diagnostics against hand-computed values on tiny arrays."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.stats
import xarray as xr

from smlib.evaluation import diagnostics as dg

HOURS = 24 * 12


def _cycle(n: int, peak_hour: float, amplitude: float = 1.0) -> np.ndarray:
    """Cosine diurnal cycle on an hourly UTC axis starting at 00 UTC."""
    h = np.arange(n)
    return amplitude * np.cos(2 * np.pi * (h - peak_hour) / 24)


def _dataset(n: int = HOURS, start: str = "2020-06-01") -> xr.Dataset:
    """Three stations: a reference, a dielectric station 10 km away and a far one."""
    time = pd.date_range(start, periods=n, freq="h")
    truth = 0.25 + 0.01 * _cycle(n, 6)  # wettest at 06 UTC
    raw = 0.25 + 0.01 * _cycle(n, 15)  # artefact: peaks with temperature
    ts = 20 + 5 * _cycle(n, 15)
    sm = np.stack([truth, raw, raw])
    return xr.Dataset(
        {
            "sm": (("station", "time"), sm),
            "sm_lstm": (("station", "time"), np.stack([truth, truth + 0.001, truth])),
            "sm_fft": (("station", "time"), np.stack([truth, 0.25 + 0.01 * _cycle(n, 9), raw])),
            "ts": (("station", "time"), np.stack([ts, ts, ts])),
        },
        coords={
            "station": ["NET/REF", "NET/DIEL", "NET/FAR"],
            "time": time,
            "lat": ("station", [40.0, 40.0 + 10.0 / 111.2, 45.0]),
            "lon": ("station", [0.0, 0.0, 0.0]),
            "sensor_type": ("station", ["cosmic-ray", "impedance", "fdr"]),
            "is_reference": ("station", [True, False, False]),
            "kind": ("station", ["ismn", "ismn", "ismn"]),
        },
    )


def test_pearson_r_matches_scipy_with_missing_values():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(2, 50))
    y += 0.5 * x
    x[[3, 7]] = np.nan
    ok = np.isfinite(x)
    expected = scipy.stats.pearsonr(x[ok], y[ok]).statistic
    assert dg.pearson_r(x, y) == pytest.approx(expected, abs=1e-12)


def test_pearson_r_undefined_cases():
    assert np.isnan(dg.pearson_r(np.ones(10), np.arange(10.0)))
    assert np.isnan(dg.pearson_r(np.array([1.0, 2.0, np.nan]), np.array([1.0, 2.0, 3.0])))


def test_hf_anomaly_removes_mean_and_keeps_cycle():
    x = 0.3 + 0.01 * _cycle(HOURS, 6) + 1e-4 * np.arange(HOURS)  # slow trend is removed
    hf = dg.hf_anomaly(x)
    assert np.isnan(hf[:12]).all() and np.isnan(hf[-11:]).all()
    inner = slice(12, HOURS - 11)
    # the 24-h mean of a linear trend at t is the trend at t - 0.5 h
    expected = 0.01 * _cycle(HOURS, 6)[inner] + 0.5e-4
    np.testing.assert_allclose(hf[inner], expected, atol=1e-12)


def test_hf_anomaly_nan_window_is_undefined():
    x = _cycle(HOURS, 0)
    x[100] = np.nan
    hf = dg.hf_anomaly(x)
    assert np.isnan(hf[100 - 11 : 100 + 13]).all()
    assert np.isfinite(hf[100 - 12]) and np.isfinite(hf[100 + 13])


def test_haversine_and_nearest_reference():
    # one degree of latitude is 111.19 km on the mean sphere
    assert dg.haversine_km(0.0, 0.0, 1.0, 0.0) == pytest.approx(111.195, abs=1e-2)
    idx, dist = dg.nearest_reference(
        np.array([40.0, 40.1, 40.3, 50.0]),
        np.array([0.0, 0.0, 0.0, 0.0]),
        np.array([True, False, True, False]),
        max_km=50.0,
    )
    np.testing.assert_array_equal(idx, [2, 0, 0, -1])
    assert dist[1] == pytest.approx(11.12, abs=0.01)
    assert np.isnan(dist[3])


def _two_station(sm: np.ndarray, ts: np.ndarray, lon: list[float]) -> xr.Dataset:
    time = pd.date_range("2020-06-01", periods=sm.shape[-1], freq="h")
    return xr.Dataset(
        {"sm": (("station", "time"), sm), "ts": (("station", "time"), ts)},
        coords={
            "station": [f"S/{i}" for i in range(len(sm))],
            "time": time,
            "lon": ("station", lon),
        },
    )


def test_daily_r_local_days_and_gaps():
    n = 24 * 4
    sm = np.stack([_cycle(n, 15), _cycle(n, 15)])
    ts = np.stack([-_cycle(n, 15), _cycle(n, 15)])
    ts[1, 30] = np.nan  # breaks the second day of station 1
    r = dg.daily_r_sm_ts(_two_station(sm, ts, [0.0, 0.0]))
    np.testing.assert_allclose(r[0], -1.0)
    np.testing.assert_allclose(r[1, [0, 2, 3]], 1.0)
    assert np.isnan(r[1, 1])
    # at 45 E (UTC+3) local days start at 21 UTC: 1 June is incomplete, 2-4 June are complete
    r3 = dg.daily_r_sm_ts(_two_station(sm[:1], ts[:1], [45.0]))
    assert str(r3["day"].values[0])[:10] == "2020-06-01"
    assert np.isnan(r3[0, 0]) and np.isfinite(r3[0, 1:4]).all()


def test_daily_r_matches_numpy_per_day():
    rng = np.random.default_rng(0)
    sm, ts = rng.normal(size=(2, 1, 48))
    r = dg.daily_r_sm_ts(_two_station(sm, ts, [0.0]))
    for d in range(2):
        day = slice(24 * d, 24 * d + 24)
        expected = scipy.stats.pearsonr(sm[0, day], ts[0, day]).statistic
        assert float(r[0, d]) == pytest.approx(expected, abs=1e-12)


def test_daily_r_wrapper_doy_and_dask():
    ds = _dataset()
    r = dg.daily_r_sm_ts(ds)
    assert r.dims == ("station", "day") and r.sizes["day"] == HOURS // 24
    assert int(r["doy"][0]) == pd.Timestamp("2020-06-01").day_of_year
    np.testing.assert_allclose(r.sel(station="NET/DIEL"), 1.0)
    lazy = dg.daily_r_sm_ts(ds.chunk(station=1))
    np.testing.assert_allclose(lazy.compute().values, r.values)


def test_doy_window_mean_over_years():
    r = np.array([[0.2, 0.4, np.nan, -1.0]])
    doy = np.array([[1, 366, 5, 6]])  # 366 joins the last window
    out = dg.doy_window_mean(r, doy, window_days=5)
    assert out.shape == (1, 73)
    assert out[0, 0] == pytest.approx(0.2)
    assert out[0, 1] == pytest.approx(-1.0)
    assert out[0, 72] == pytest.approx(0.4)
    assert np.isnan(out[0, 2])


def test_r_sm_ts_climatology_coordinates():
    clim = dg.r_sm_ts_climatology(dg.daily_r_sm_ts(_dataset()))
    assert clim.dims == ("station", "doy_window")
    assert int(clim["doy_window"][0]) == 1 and int(clim["doy_window"][1]) == 6
    june = clim.sel(station="NET/DIEL").sel(doy_window=151)  # 1 June 2020 is day 153
    assert float(june) == pytest.approx(1.0)


def test_diurnal_composite_local_solar_hour():
    n = HOURS
    time = pd.date_range("2020-06-01", periods=n, freq="h")
    x = xr.DataArray(
        np.stack([_cycle(n, 0), _cycle(n, 0)]),
        dims=("station", "time"),
        coords={"time": time, "lon": ("station", [0.0, -90.0])},
    )
    comp = dg.diurnal_composite(x)
    assert comp.dims == ("station", "local_hour")
    # peak at 00 UTC is local solar 00 at lon 0 and 18 at lon -90 (UTC-6)
    assert int(np.argmax(comp.values[0])) == 0 and int(np.argmax(comp.values[1])) == 18
    np.testing.assert_allclose(comp[0].values, _cycle(24, 0), atol=1e-12)
    np.testing.assert_allclose(dg.diurnal_composite(x.chunk(station=1)).values, comp.values)


def test_phase_helpers():
    comp = np.array([_cycle(24, 5), np.full(24, np.nan)])
    ph = dg.minimum_phase_hours(comp)
    assert ph[0] == 17 and np.isnan(ph[1])
    np.testing.assert_allclose(dg.circular_hour_difference([1, 23, 12], [23, 1, 0]), [2, -2, -12])


def test_land_coupling_kernel_known_tci():
    n = 24 * 20
    lh = 100 * _cycle(n, 13)  # sigma of a full-period sine: A / sqrt(2)
    sm = 0.3 - 0.01 * _cycle(n, 13)  # perfectly anti-correlated anomalies
    whole_days = np.zeros(n, dtype=bool)
    whole_days[12 : 12 + 24 * 18] = True  # the anomaly is defined from hour 12 on
    r, sigma, tci = dg.land_coupling_kernel(sm, lh, mask=whole_days, min_count=48)
    assert r == pytest.approx(-1.0)
    assert sigma == pytest.approx(100 / np.sqrt(2), rel=1e-9)
    assert tci == pytest.approx(-100 / np.sqrt(2), rel=1e-9)


def test_land_coupling_kernel_matches_numpy_on_masked_noise():
    rng = np.random.default_rng(3)
    n = 24 * 30
    sm, lh = rng.normal(size=(2, n))
    mask = np.zeros(n, dtype=bool)
    mask[100:500] = True
    r, sigma, tci = dg.land_coupling_kernel(sm, lh, mask=mask)
    a, b = dg.hf_anomaly(sm)[mask], dg.hf_anomaly(lh)[mask]
    assert r == pytest.approx(np.corrcoef(a, b)[0, 1], abs=1e-12)
    assert sigma == pytest.approx(np.std(b), abs=1e-12)
    assert tci == pytest.approx(r * sigma)


def test_land_coupling_wrapper_warm_season_towers_only():
    n = 24 * 60
    time = pd.date_range("2020-04-02", periods=n, freq="h")  # April (cold) + May (warm)
    warm = time.month >= 5
    lh = 100 * _cycle(n, 13)
    sm_raw = 0.3 + np.where(warm, 0.01, -0.01) * _cycle(n, 13)
    ds = xr.Dataset(
        {
            "sm": (("station", "time"), np.stack([sm_raw, sm_raw])),
            "sm_lstm": (("station", "time"), np.stack([0.3 - 0.01 * _cycle(n, 13)] * 2)),
            "lh": (("station", "time"), np.stack([lh, np.full(n, np.nan)])),
        },
        coords={
            "station": ["FLUXNET/A", "NET/B"],
            "time": time,
            "lat": ("station", [40.0, 40.0]),
            "lon": ("station", [0.0, 0.0]),
            "kind": ("station", ["tower", "ismn"]),
        },
    )
    out = dg.land_coupling(ds)
    assert list(out["station"].values) == ["FLUXNET/A"]
    assert list(out["product"].values) == ["raw", "lstm"]  # sm_fft absent: skipped
    r = out["r_sm_lh"].isel(station=0)
    # warm season only (the sign flip at 1 May leaks into the first 12 h of anomalies)
    assert r.sel(product="raw").item() == pytest.approx(1.0, abs=2e-3)
    assert r.sel(product="lstm").item() == pytest.approx(-1.0, abs=1e-6)
    assert out["tci"].attrs["units"] == "W m-2"
    lazy = dg.land_coupling(ds.chunk(station=1)).compute()
    np.testing.assert_allclose(lazy["tci"].values, out["tci"].values)


def test_land_coupling_needs_lh():
    with pytest.raises(KeyError, match="lh"):
        dg.land_coupling(_dataset())


def test_reference_pairs_and_hf_correlation():
    ds = _dataset()
    pairs = dg.reference_pairs(ds, max_km=50.0)
    assert list(pairs["station"]) == ["NET/DIEL"]
    assert pairs.loc[0, "reference"] == "NET/REF"
    assert pairs.loc[0, "distance_km"] == pytest.approx(10.0, abs=0.05)
    table = dg.hf_correlation_vs_reference(ds, pairs)
    # raw peaks 9 h after the reference: R = cos(2 pi 9 / 24)
    # cos of the phase lag; the anomaly spans 11 days and 1 h, not whole periods
    assert table.loc[0, "raw"] == pytest.approx(np.cos(2 * np.pi * 9 / 24), abs=2e-3)
    assert table.loc[0, "lstm"] == pytest.approx(1.0, abs=1e-9)
    assert table.loc[0, "fft"] == pytest.approx(np.cos(2 * np.pi * 3 / 24), abs=2e-3)


def test_hf_correlation_dask_equals_numpy():
    ds = _dataset()
    eager = dg.hf_correlation(ds["sm"], ds["ts"])
    lazy = dg.hf_correlation(ds["sm"].chunk(station=1), ds["ts"].chunk(station=1))
    np.testing.assert_allclose(lazy.compute().values, eager.values)
    # the reference peaks 9 h before its temperature; the series are not whole periods long
    np.testing.assert_allclose(eager.values, [np.cos(2 * np.pi * 9 / 24), 1.0, 1.0], atol=2e-3)


def test_hf_correlation_rejects_non_hourly_axis():
    ds = _dataset().isel(time=slice(None, None, 2))
    with pytest.raises(ValueError, match="hourly"):
        dg.hf_correlation(ds["sm"], ds["ts"])


def test_skill_vs_truth_known_phase_and_rmse():
    ds = _dataset()
    truth = xr.Dataset({"sm": ds["sm"].sel(station=["NET/REF"]).reindex(station=ds["station"])})
    truth["sm"].loc[{"station": ["NET/DIEL", "NET/FAR"]}] = ds["sm_lstm"].sel(station="NET/REF")
    truth = truth.drop_vars(["lat", "lon", "sensor_type", "is_reference", "kind"])
    skill = dg.skill_vs_truth(ds, truth)
    assert set(skill["method"]) == {"raw", "fft", "lstm"}
    row = skill[(skill.station == "NET/DIEL") & (skill.method == "raw")].iloc[0]
    assert row.sensor_type == "impedance"
    assert row.min_hour == 3 and row.min_hour_truth == 18
    assert row.phase_error_h == pytest.approx(9.0)  # raw dries 9 h after the truth
    # RMSE between two unit-amplitude cosines 9 h apart, times 0.01
    expected = 0.01 * np.sqrt(np.mean((_cycle(24, 15) - _cycle(24, 6)) ** 2))
    assert row.composite_rmse == pytest.approx(expected, rel=1e-6)
    lstm = skill[(skill.station == "NET/DIEL") & (skill.method == "lstm")].iloc[0]
    assert lstm.hf_r == pytest.approx(1.0) and lstm.composite_rmse == pytest.approx(0.0, abs=1e-12)


def test_skill_vs_truth_without_common_station():
    ds = _dataset()
    truth = xr.Dataset(
        {"sm": (("station", "time"), np.zeros((1, HOURS)))},
        coords={"station": ["X/Y"], "time": ds["time"]},
    )
    with pytest.raises(ValueError, match="no station"):
        dg.skill_vs_truth(ds, truth)


def test_land_coupling_common_hours_share_sigma_lh():
    rng = np.random.default_rng(5)
    n = 24 * 20
    time = pd.date_range("2020-06-01", periods=n, freq="h")
    lh = 100 * _cycle(n, 13) + 10 * rng.normal(size=n)
    lstm = 0.3 - 0.01 * _cycle(n, 13)
    lstm[:200] = np.nan  # the correction is undefined early on
    ds = xr.Dataset(
        {
            "sm": (("station", "time"), (0.3 + 0.01 * _cycle(n, 13))[None]),
            "sm_lstm": (("station", "time"), lstm[None]),
            "lh": (("station", "time"), lh[None]),
        },
        coords={
            "station": ["T"],
            "time": time,
            "lat": ("station", [40.0]),
            "lon": ("station", [0.0]),
            "kind": ("station", ["tower"]),
        },
    )
    composite = dg.land_coupling(ds)["sigma_lh"].isel(station=0).values
    assert composite[0] == pytest.approx(composite[1], rel=1e-12)
    common = dg.land_coupling(ds, composite=False)["sigma_lh"].isel(station=0).values
    assert common[0] == pytest.approx(common[1], rel=1e-12)
    own = dg.land_coupling(ds, common_hours=False, composite=False)["sigma_lh"]
    own = own.isel(station=0).values
    assert own[0] != pytest.approx(own[1], rel=1e-6)
    # with common hours sigma is that of the LH anomaly where the LSTM anomaly exists
    b = dg.hf_anomaly(lh)
    ok = np.isfinite(b) & np.isfinite(dg.hf_anomaly(lstm))
    assert common[0] == pytest.approx(np.std(b[ok]), rel=1e-12)


def test_hf_correlation_keep_mask_excludes_rain_steps():
    """A rain step dominates HF anomalies; keeping only rain-free days recovers the diurnal R."""
    n = 24 * 20
    t = np.arange(n)
    diurnal = np.sin(2 * np.pi * t / 24)
    step = np.where(t >= 24 * 10 + 15, 0.2, 0.0)  # a storm on day 10
    time = pd.date_range("2020-06-01", periods=n, freq="h")
    x = xr.DataArray((diurnal * 0.01 + step)[None], dims=("station", "time"), coords={"time": time})
    y = xr.DataArray((diurnal * 0.01)[None], dims=("station", "time"), coords={"time": time})
    everything = float(dg.hf_correlation(x, y).values[0])
    keep = xr.DataArray(
        ((t < 24 * 9) | (t >= 24 * 12))[None], dims=("station", "time"), coords={"time": time}
    )
    screened = float(dg.hf_correlation(x, y, keep=keep).values[0])
    assert everything < 0.5
    assert screened == pytest.approx(1.0, abs=1e-6)


def test_rain_free_hours_flags_rainy_days_and_neighbours():
    n_day = 10
    time = pd.date_range("2020-06-01", periods=24 * n_day, freq="h")
    sm = np.full((1, time.size), 0.2, dtype=np.float32)
    precip = np.zeros_like(sm)
    precip[0, 24 * 5 + 14] = 5.0  # 5 mm at 14 UTC of day 5 (lon 0: local = UTC)
    cube = xr.Dataset(
        {
            "sm": (("station", "time"), sm),
            "era5_precip": (("station", "time"), precip),
            "merra2_precip": (("station", "time"), np.zeros_like(sm)),
        },
        coords={"station": ["NET/A"], "time": time, "lon": ("station", [0.0])},
    )
    keep = dg.rain_free_hours(cube).values[0].reshape(n_day, 24)
    # ERA5 day totals are stamped at the end of their hour, so day 5 is wet; widened by a day
    assert not keep[4:7].any()
    assert keep[:4].all() and keep[7:].all()


def test_composite_coupling_kernel_known_answer():
    """Pure diurnal sines: the composite R is cos(phase shift), sigma the LH amplitude / sqrt 2.

    Day-to-day noise, which the all-hours index counts, averages out of the composites.
    """
    n = 24 * 40
    t = np.arange(n)
    rng = np.random.default_rng(0)
    lh = 100.0 * np.sin(2 * np.pi * (t - 7) / 24) + rng.normal(0, 30, n)
    sm = 0.01 * np.sin(2 * np.pi * (t - 7 - 6) / 24) + rng.normal(0, 0.004, n)  # 6 h later
    hour = t % 24
    keep = np.ones(n, dtype=bool)
    r, sigma, tci = dg.composite_coupling_kernel(sm, lh, keep, hour, 0)
    assert r == pytest.approx(np.cos(2 * np.pi * 6 / 24), abs=0.08)  # ~0: quarter-day lag
    assert sigma == pytest.approx(100 / np.sqrt(2), rel=0.05)
    assert tci == pytest.approx(r * sigma)
    r_all, _, _ = dg.land_coupling_kernel(sm, lh, keep)
    r12, _, _ = dg.composite_coupling_kernel(-sm, lh, keep, hour, 0)
    assert abs(r12 + r) < 1e-12  # sign flips with the series
    # missing local hours leave the composite undefined
    gap = keep & (hour != 5)
    assert np.isnan(dg.composite_coupling_kernel(sm, lh, gap, hour, 0)).all()
    assert np.isfinite(r_all)
