"""The night-slope baseline ``chanzy`` (after Chanzy et al. 2012): known slopes on tiny worlds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from smlib.method.compensation import linear_compensation_kernel, temperature_regressors
from smlib.method.correct import correct
from smlib.method.decomposition import moving_average
from smlib.method.night_slope import night_slope_kernel
from smlib.method.night_window import night_index

SLOPES = np.array([0.003, -0.002])  # the second probe reads lower when warm (MethodsX 2024)


def _world(n_days: int = 50, seed: int = 0):
    """Two probes at 0 E whose true SM dries by day only (evaporation, peak at 13 h) and
    drains slowly at night; TS peaks at 15 h; probe noise 2e-4 m3 m-3."""
    rng = np.random.default_rng(seed)
    time = pd.date_range("2020-06-01", periods=24 * n_days, freq="h")
    h = np.arange(time.size) % 24
    t = np.arange(time.size, dtype=float)
    amp = np.interp(t, np.arange(n_days) * 24.0, rng.uniform(0.6, 1.4, n_days))  # weather
    evap = np.where((h >= 6) & (h < 20), np.sin(np.pi * (h - 6) / 14), 0.0) * amp
    true = 0.30 - 4e-4 * np.cumsum(evap) - 2e-5 * np.arange(time.size)
    ts = 20 + 7 * amp * np.sin(2 * np.pi * (h - 9) / 24)
    true, ts = np.tile(true, (2, 1)), np.tile(ts, (2, 1))
    raw = true + SLOPES[:, None] * (ts - 20) + rng.normal(0, 2e-4, true.shape)
    return time, true, ts, raw


def _hf_r(x, true):
    hf = lambda a: a - moving_average(a.astype(np.float32), 24, "centred")  # noqa: E731
    mid = slice(48, -48)
    return [np.corrcoef(hf(x)[s, mid], hf(true)[s, mid])[0, 1] for s in range(x.shape[0])]


def test_night_slope_recovers_each_probes_slope_where_lin_takes_drying_for_artefact():
    time, true, ts, raw = _world()
    free = np.ones_like(raw, bool)
    night = night_index(time.values, np.zeros(2))
    out, alpha, n = night_slope_kernel(raw, ts, night, free)
    np.testing.assert_allclose(alpha, SLOPES, rtol=0.03)
    assert (n >= 48).all()
    _, b_lin = linear_compensation_kernel(raw, ts, free)
    # the day's drying follows TS: the whole-day fit takes part of it for artefact
    assert (np.abs(b_lin - SLOPES) > 5 * np.abs(alpha - SLOPES)).all()
    lin, _ = linear_compensation_kernel(raw, ts, free)
    # the same correction with the true slopes (what any slope on TS HF can reach)
    oracle = raw - SLOPES[:, None] * temperature_regressors(ts)[0]
    r_night, r_lin, r_oracle = _hf_r(out, true), _hf_r(lin, true), _hf_r(oracle, true)
    for night_r, lin_r, best in zip(r_night, r_lin, r_oracle, strict=True):
        assert night_r > best - 0.01 and lin_r < best - 0.1


def test_rain_nights_are_left_out_and_short_records_get_no_slope():
    time, true, ts, raw = _world()
    raw = raw.copy()
    raw[:, 24 * 10 + 22 :] += 0.05  # a rain step inside the night of day 10
    free = np.ones_like(raw, bool)
    free[:, 24 * 10 : 24 * 12] = False  # that rain day and the next, as the strict screen does
    night = night_index(time.values, np.zeros(2))
    _, alpha, n = night_slope_kernel(raw, ts, night, free)
    np.testing.assert_allclose(alpha, SLOPES, rtol=0.03)
    short = np.zeros_like(free)
    short[:, : 24 * 6] = True  # six days: fewer nights than MIN_NIGHTS
    out, alpha, n = night_slope_kernel(raw, ts, night, short)
    assert np.isnan(alpha).all() and (n <= 6).all() and np.isnan(out).all()


def test_correct_writes_the_baseline_its_coefficient_and_flags():
    time, true, ts, raw = _world()
    dims = ("station", "time")
    coords = {
        "station": ["N/A", "N/B"], "time": time, "lon": ("station", np.zeros(2)),
        "lat": ("station", np.full(2, 45.0)), "kind": ("station", ["ismn", "ismn"]),
        "is_reference": ("station", np.zeros(2, bool)),
        "sensor_type": ("station", ["capacitance", "capacitance"]),
    }  # fmt: skip
    cube = xr.Dataset({"sm": (dims, raw), "ts": (dims, ts)}, coords=coords)
    out = correct(cube, None, methods=("lin", "chanzy"))
    np.testing.assert_allclose(out["chanzy_coefficient"].values, SLOPES, rtol=0.03)
    assert out["chanzy_coefficient"].attrs["units"] == "m3 m-3 K-1"
    assert out["sm_chanzy"].attrs["units"] == "m3 m-3"
    flags = out["sm_chanzy_flag"].values
    assert set(np.unique(flags)) <= {0, 3} and (flags == 0).mean() > 0.9
    r_night, r_lin = _hf_r(out["sm_chanzy"].values, true), _hf_r(out["sm_lin"].values, true)
    assert all(a > b + 0.1 for a, b in zip(r_night, r_lin, strict=True))
