"""Preprocessing: decomposition, local-day correlation, rain screens, features, scaler, windows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from smlib.config import PreprocessConfig
from smlib.method.decomposition import decompose, lf_reach, moving_average
from smlib.method.preprocess import FEATURE_SETS, feature_names, prepare, training_stations
from smlib.method.scaling import MinMaxScaler, window_view
from smlib.method.screens import (
    daily_correlation,
    daily_correlation_kernel,
    insitu_rain_days,
    rain_flags,
)
from smlib.timeutils import local_days

#: Training overrides for a model that trains in a second on a tiny cube (shape tests, not skill).
TINY_TRAIN = (
    "model.hidden_size=8",
    "model.dense=[8, 4]",
    "train.batch_size=64",
    "train.max_samples_per_epoch=256",
    "train.max_epochs=1",
    "train.num_threads=1",
    "train.device=cpu",
)


def make_tiny_cube(
    n_ismn: int = 6,
    n_days: int = 40,
    seed: int = 0,
    lon0: float = -97.5,
    rain_days: tuple[int, ...] = (9, 23),
) -> tuple[xr.Dataset, xr.DataArray]:
    """A small station cube with a known diurnal truth and a temperature artefact.

    True SM: a drying LF with rain steps on ``rain_days`` plus a diurnal cycle peaking at 07 local
    solar time (minimum in the afternoon). Soil temperature peaks at 15 local. Dielectric sensors
    read ``truth + k_d * (TS - mean TS)`` with a gain ``k_d`` drawn per day, weak on ~40 % of days
    (R(SM, TS) < 0, the days the training filter keeps) and strong otherwise (R > 0). A daily
    "cloudiness" scales both the TS and the true SM diurnal amplitudes. The last ISMN station is a reference (reads the
    truth); one tower (kind ``tower``) carries ``lh`` and ``precip``. Reanalysis products see the
    truth's diurnal amplitude but peak 2.5 h (ERA5) / 1.5 h (MERRA-2) late, with an SM bias.

    Returns
    -------
    cube : xarray.Dataset, dims (station, time)
    truth : xarray.DataArray, true SM (m3 m-3), dims (station, time)
    """
    rng = np.random.default_rng(seed)
    n_st = n_ismn + 1
    time = pd.date_range("2021-05-01", periods=24 * n_days, freq="h")
    lon = lon0 + rng.uniform(-3, 3, n_st)
    offs = np.rint(lon / 15).astype(int)
    hour = (time.hour.to_numpy()[None, :] + offs[:, None]) % 24  # local solar hour
    day = (np.arange(len(time))[None, :] + offs[:, None]) // 24
    tt = np.arange(len(time)) / 24.0
    base = 0.18 + 0.05 * rng.random((n_st, 1))
    lf_true = base * np.exp(-tt / 60.0)[None, :]
    precip = np.zeros((n_st, len(time)))
    for d in (d for d in rain_days if d < n_days):
        i = d * 24 + 14
        lf_true[:, i:] += 0.06 * np.exp(-(tt[i:] - tt[i]) / 4.0)[None, :]
        precip[:, i : i + 3] = 2.0
    dd = np.clip(day + 1, 0, n_days + 1)  # per-hour index of its local day (+1 for early UTC hours)
    cloud = (0.5 + rng.random((n_st, n_days + 2)))[np.arange(n_st)[:, None], dd]  # daily forcing
    amp = (0.003 + 0.002 * rng.random((n_st, 1))) * cloud
    truth = lf_true + amp * np.cos(2 * np.pi * (hour - 7) / 24)
    ts_amp = 7 * cloud
    ts = (
        22
        + ts_amp * np.cos(2 * np.pi * (hour - 15) / 24)
        + 2 * np.sin(2 * np.pi * tt / 17)[None, :]
    )
    ts = ts + 0.2 * rng.standard_normal(ts.shape)
    # artefact gain per local day: weak on ~40 % of days (physically consistent, R < 0)
    weak = rng.random((n_st, n_days + 2)) < 0.4
    gain_d = np.where(
        weak, rng.uniform(0.0, 0.0003, weak.shape), rng.uniform(0.001, 0.003, weak.shape)
    )
    gain = gain_d[np.arange(n_st)[:, None], dd]
    ts_anom = ts - 22
    sm = truth + gain * ts_anom + 0.0003 * rng.standard_normal(ts.shape)
    ref = np.zeros(n_st, bool)
    ref[n_ismn - 1] = True
    sm[ref] = truth[ref] + 0.0002 * rng.standard_normal(ts.shape[1])
    kind = np.array(["ismn"] * n_ismn + ["tower"])
    lh = np.clip(350 * np.sin(2 * np.pi * (hour - 6) / 24), 0, None) * (
        1 + 0.1 * rng.standard_normal(ts.shape)
    )

    def rean(phase: float, bias: float) -> dict[str, np.ndarray]:
        # the land models see the daily forcing but put the diurnal cycle ``phase`` hours late
        hf = amp * 0.8 * np.cos(2 * np.pi * (hour - 7 - phase) / 24)
        return {
            "sm": lf_true + bias + hf,
            "ts": 21
            + 2 * np.sin(2 * np.pi * tt / 17)[None, :]
            + 8 * np.cos(2 * np.pi * (hour - 14 - phase) / 24),
            "lh": np.clip(300 * np.sin(2 * np.pi * (hour - 6 - phase) / 24), 0, None)
            * (1 + 0.2 * np.sin(2 * np.pi * tt / 11))[None, :],
            "precip": precip,
        }

    e5, m2 = rean(2.5, 0.03), rean(1.5, -0.02)
    attrs = {
        "sm": ("m3 m-3", "volume_fraction_of_condensed_water_in_soil"),
        "ts": ("degC", "soil_temperature"),
        "lh": ("W m-2", "surface_upward_latent_heat_flux"),
        "precip": ("mm h-1", "precipitation_flux"),
    }
    data = {"sm": sm, "ts": ts}
    for prefix, src in (("era5_", e5), ("merra2_", m2)):
        for k, v in src.items():
            data[prefix + k] = v
    data["lh"] = np.where(kind[:, None] == "tower", lh, np.nan)
    data["precip"] = np.where(kind[:, None] == "tower", precip, np.nan)
    ds = xr.Dataset(
        {
            k: (("station", "time"), v.astype(np.float32), {"units": attrs[k.split("_")[-1]][0]})
            for k, v in data.items()
        },
        coords={
            "station": [f"NET/S{i}" for i in range(n_ismn)] + ["FLUXNET/US-XX"],
            "time": time,
            "lat": ("station", np.full(n_st, 36.0)),
            "lon": ("station", lon),
            "sensor_type": ("station", np.array(["capacitance"] * (n_ismn - 1) + ["tdr", "fdr"])),
            "is_reference": ("station", ref),
            "kind": ("station", kind),
        },
    )
    truth_da = xr.DataArray(
        truth.astype(np.float32), dims=("station", "time"), coords=ds.sm.coords, name="sm_true"
    )
    return ds, truth_da


# --------------------------------------------------------------------------- decomposition
@pytest.mark.parametrize("centering", ["centred", "symmetric", "trailing"])
def test_moving_average_removes_diurnal_sine(centering):
    t = np.arange(24 * 6, dtype=float)
    x = 0.2 + 0.01 * np.sin(2 * np.pi * (t - 5) / 24) + 1e-4 * t
    lf = moving_average(x[None, :], 24, centering)[0]
    back, fwd = lf_reach(24, centering)
    ok = np.isfinite(lf)
    assert ok.sum() == len(t) - back - fwd
    assert np.isnan(lf[:back]).all() and (fwd == 0 or np.isnan(lf[-fwd:]).all())
    # LF equals the trend at the window's centre of mass; HF is the sine
    centre = {"centred": -0.5, "symmetric": 0.0, "trailing": -11.5}[centering]
    np.testing.assert_allclose(lf[ok], 0.2 + 1e-4 * (t[ok] + centre), atol=1e-9)
    hf = x - lf
    np.testing.assert_allclose(
        hf[ok], 0.01 * np.sin(2 * np.pi * (t[ok] - 5) / 24) - 1e-4 * centre, atol=1e-9
    )


def test_centred_matches_pandas_rolling():
    x = np.random.default_rng(1).random(100)
    expected = pd.Series(x).rolling(24, center=True).mean().to_numpy()
    np.testing.assert_allclose(
        moving_average(x, 24, "centred"), expected, equal_nan=True, atol=1e-12
    )


def test_moving_average_nan_needs_complete_window():
    x = np.ones(72)
    x[30] = np.nan
    lf = moving_average(x)
    back, fwd = lf_reach()
    assert np.isnan(lf[30 - fwd : 30 + back + 1]).all()
    assert np.isfinite(lf[30 + back + 1 : 72 - fwd]).all()


def test_decompose_dask_equals_numpy():
    ds, _ = make_tiny_cube(n_ismn=3, n_days=5)
    lf, hf = decompose(ds.sm)
    lf2, hf2 = decompose(ds.sm.chunk({"station": 1}))
    xr.testing.assert_allclose(lf, lf2.compute())
    ok = np.isfinite(lf.values)
    assert ok[:, 12:-11].all() and not ok[:, :12].any()
    np.testing.assert_allclose((lf + hf).values[ok], ds.sm.values[ok], atol=1e-6)
    assert lf.attrs["units"] == "m3 m-3"


# --------------------------------------------------------------------------- local days and R
def test_daily_correlation_kernel_known_answers():
    h = np.arange(24.0)
    a = np.sin(2 * np.pi * h / 24)
    days = np.stack([a, a, a, a])[None]
    other = np.stack([a, -a, np.full(24, 3.0), np.where(h == 5, np.nan, a)])[None]
    r = daily_correlation_kernel(days, other)
    np.testing.assert_allclose(r[0, :2], [1.0, -1.0])
    assert np.isnan(r[0, 2]) and np.isnan(r[0, 3])  # constant day, incomplete day


def test_local_days_follow_solar_time():
    time = pd.date_range("2020-06-01", periods=72, freq="h")
    x = np.tile(np.arange(72.0), (2, 1))
    days, dates, index = local_days(x, time.values, np.array([0.0, -90.0]))
    # station 1 is UTC-6: local midnight of 2020-06-01 is UTC 06:00 (index 6)
    d = int(np.flatnonzero(dates == np.datetime64("2020-06-01"))[0])
    assert days[1, d, 0] == 6 and days[0, d, 0] == 0
    assert index[1, d, 23] == 29


def test_daily_correlation_wrapper_matches_kernel_and_dask():
    ds, _ = make_tiny_cube(n_ismn=3, n_days=6)
    r = daily_correlation(ds.sm, ds.ts)
    assert r.dims == ("station", "day")
    sm_days, dates, _ = local_days(ds.sm.values, ds.time.values, ds.lon.values)
    ts_days, _, _ = local_days(ds.ts.values, ds.time.values, ds.lon.values)
    np.testing.assert_allclose(r.values, daily_correlation_kernel(sm_days, ts_days), equal_nan=True)
    rd = daily_correlation(ds.sm.chunk({"station": 2}), ds.ts.chunk({"station": 2}))
    np.testing.assert_allclose(rd.values, r.values, equal_nan=True)
    assert np.isnan(r.values[:, 0]).all() or np.isfinite(r.values[:, 1]).all()


# --------------------------------------------------------------------------- rain screens
def test_insitu_rain_screen_flags_rising_days():
    level = np.full((1, 20), 0.2)
    level[0, 10:] = 0.3  # one wetting step on day 10
    level[0] -= 0.001 * np.arange(20)  # slow drying
    days = np.repeat(level[..., None], 24, axis=-1)
    flags = insitu_rain_days(days, 0.5)
    assert flags[0].tolist() == [i == 10 for i in range(20)]


def test_rain_flags_paper_and_strict():
    ds, _ = make_tiny_cube(n_ismn=3, n_days=30, rain_days=(12,))
    paper = rain_flags(ds, PreprocessConfig(rain_screen="paper"))
    strict = rain_flags(ds, PreprocessConfig(rain_screen="strict", widen_days=1))
    none = rain_flags(ds, PreprocessConfig(rain_screen="none"))
    # reanalysis screen: exactly the local day of the storm (24 hours per station)
    assert (paper["era5"].sum(1) == 24).all()
    assert not none["insitu"].any()
    # strict masks the union widened by a day on each side: 3 days, every source
    assert (strict["insitu"] == strict["era5"]).all()
    assert (strict["era5"].sum(1) >= 72).all()
    assert (strict["era5"] >= paper["era5"]).all()


# --------------------------------------------------------------------------- features, filter
def test_feature_sets_in_paper_order():
    names = feature_names(PreprocessConfig())
    assert len(names) == 14 and names[:2] == ("ts_lf", "ts_hf")
    assert names[2:8] == (
        "era5_sm_lf",
        "era5_sm_hf",
        "era5_ts_lf",
        "era5_ts_hf",
        "era5_lh_lf",
        "era5_lh_hf",
    )
    assert names[8:] == tuple(n.replace("era5", "merra2") for n in names[2:8])
    assert feature_names(PreprocessConfig(feature_set="insitu")) == FEATURE_SETS["insitu"]
    ablated = feature_names(PreprocessConfig(drop_features=("era5_lh_lf", "era5_lh_hf")))
    assert len(ablated) == 12 and "era5_lh_hf" not in ablated
    with pytest.raises(KeyError, match="not in feature set"):
        feature_names(PreprocessConfig(drop_features=("nope",)))


def test_prepare_filter_keeps_exactly_days_below_threshold():
    ds, _ = make_tiny_cube(n_ismn=3, n_days=20, rain_days=())
    cfg = PreprocessConfig(rain_screen="none")
    prep = prepare(ds, cfg, training=True)
    sm_days, _, index = local_days(prep.sm, ds.time.values, ds.lon.values)
    ts_days, _, _ = local_days(ds.ts.values, ds.time.values, ds.lon.values)
    r = daily_correlation_kernel(sm_days, ts_days)
    for s in range(prep.sm.shape[0]):
        for d in range(r.shape[1]):
            hours = index[s, d][index[s, d] >= 0]
            expected = bool(np.isfinite(r[s, d]) and r[s, d] < -0.34)
            assert prep.r_ok[s, hours].all() == expected and prep.r_ok[s, hours].any() == expected
    assert 0 < prep.r_ok.mean() < 1


def test_prepare_features_and_valid_windows():
    ds, _ = make_tiny_cube(n_ismn=3, n_days=6)
    prep = prepare(ds, PreprocessConfig(), training=False)
    assert prep.x.shape == (4, 144, 14) and prep.x.flags.c_contiguous
    j = prep.features.index("ts_hf")
    lf, hf = decompose(ds.ts)
    np.testing.assert_allclose(prep.x[:, :, j], hf.values, atol=1e-5, equal_nan=True)
    # first valid end hour: LF needs 12 h back, the window 17 more
    assert prep.valid_end[:, : 12 + 17].sum() == 0 and prep.valid_end[0, 12 + 17]
    ins = prepare(
        ds.drop_vars([v for v in ds if v.startswith(("era5", "merra2"))]),
        PreprocessConfig(feature_set="insitu"),
        training=False,
    )
    assert ins.x.shape[-1] == 4
    np.testing.assert_allclose(ins.x[..., 2] ** 2 + ins.x[..., 3] ** 2, 1.0, rtol=1e-6)
    with pytest.raises(KeyError, match="feature_set=insitu"):
        prepare(ds.drop_vars("era5_sm"), PreprocessConfig(), training=False)


def test_training_stations_excludes_references_and_towers():
    ds, _ = make_tiny_cube(n_ismn=4, n_days=3)
    assert training_stations(ds).tolist() == [True, True, True, False, False]


# --------------------------------------------------------------------------- scaler, windows
def test_scaler_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 3)) * [1, 10, 100]
    y = rng.normal(size=500) * 0.01
    sc = MinMaxScaler.fit(x, y, ("a", "b", "c"))
    xs = sc.transform(x)
    assert xs.min() == pytest.approx(0, abs=1e-6) and xs.max() == pytest.approx(1, abs=1e-6)
    np.testing.assert_allclose(sc.inverse_target(sc.transform_target(y)), y, atol=1e-7)
    sc.save(tmp_path / "scaler.json")
    back = MinMaxScaler.load(tmp_path / "scaler.json")
    np.testing.assert_array_equal(back.transform(x), xs)
    assert back.features == ("a", "b", "c")


def test_window_t_covers_t_minus_17_to_t():
    x = np.arange(2 * 50 * 2, dtype=np.float32).reshape(2, 50, 2)
    v = window_view(x, 18)
    assert v.shape == (2, 33, 18, 2)
    assert np.shares_memory(v, x)
    t = 30
    np.testing.assert_array_equal(v[1, t - 17], x[1, t - 17 : t + 1])
    assert v[1, t - 17, -1, 0] == x[1, t, 0] and v[1, t - 17, 0, 0] == x[1, t - 17, 0]


def test_prepare_leaves_the_cube_untouched():
    ds, _ = make_tiny_cube(n_ismn=3, n_days=30, rain_days=(12,))
    before = ds.copy(deep=True)
    prepare(ds, PreprocessConfig(rain_screen="strict"), training=True)
    xr.testing.assert_identical(ds, before)
