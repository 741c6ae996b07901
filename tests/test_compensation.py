"""Temperature compensation, the guided artefact fit, the flagged product and the new
preprocessing options -- on tiny synthetic series with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from smlib.method.compensation import (
    apply_coefficients,
    fit_coefficients,
    linear_compensation_kernel,
    temperature_regressors,
)
from smlib.method.correct import FLAG_MEANINGS, flagged_product, guided_compensation
from smlib.method.decomposition import moving_average
from smlib.method.preprocess import fill_short_gaps


def _world(n_days: int = 60, alpha: float = 0.003, lag_h: float = 2.0, seed: int = 0):
    """True SM with a drying diurnal cycle, TS, and a sensor whose element follows TS with a
    first-order thermal lag ``lag_h`` and reads ``alpha`` m3 m-3 per K of its temperature."""
    rng = np.random.default_rng(seed)
    t = np.arange(24 * n_days, dtype=float)
    smooth = lambda lo, hi: np.interp(t, np.arange(n_days) * 24.0, rng.uniform(lo, hi, n_days))  # noqa: E731
    day_amp, ts_amp = smooth(0.5, 1.5), smooth(4.0, 9.0)  # weather: cycle sizes vary by day
    ts = 20 + ts_amp * np.sin(2 * np.pi * (t - 9) / 24)  # peak at 15 h
    true = 0.25 - 0.004 * day_amp * np.sin(2 * np.pi * (t - 10) / 24) - 1e-5 * t  # min at 16 h
    ts_el = np.empty_like(ts)
    ts_el[0] = ts[0]
    for i in range(1, t.size):  # dT_el/dt = (T - T_el) / tau
        ts_el[i] = ts_el[i - 1] + (ts[i] - ts_el[i - 1]) / (lag_h + 1.0) if lag_h else ts[i]
    raw = true + alpha * (ts_el - 20) + rng.normal(0, 2e-4, t.size)
    return t, true[None, :], ts[None, :], raw[None, :]


def _hf(x):
    return x - moving_average(x.astype(np.float32), 24, "centred")


def test_temperature_regressors_of_a_sine():
    t = np.arange(24 * 10, dtype=float)
    ts = (10 + 5 * np.sin(2 * np.pi * t / 24))[None, :]
    hf, dhf = temperature_regressors(ts)
    mid = slice(24, -24)
    np.testing.assert_allclose(hf[0, mid], 5 * np.sin(2 * np.pi * t[mid] / 24), atol=1e-4)
    # centred difference of a sine: amplitude 5 * sin(2 pi / 24) per hour
    np.testing.assert_allclose(
        np.nanmax(np.abs(dhf[0, mid])), 5 * np.sin(2 * np.pi / 24), rtol=1e-3
    )


def test_fit_coefficients_recovers_a_linear_model_and_respects_min_hours():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(2, 1, 500))
    y = 0.3 * a - 0.7 * b + 5.0
    keep = np.ones_like(y, bool)
    np.testing.assert_allclose(fit_coefficients(y, [a, b], keep, 100)[0], [0.3, -0.7], atol=1e-9)
    assert np.isnan(fit_coefficients(y, [a, b], keep, 1000)).all()
    np.testing.assert_allclose(
        apply_coefficients(y, [a, b], np.array([[0.3, -0.7]])), 5.0, rtol=1e-6
    )


def test_linear_compensation_removes_a_pure_artefact():
    t = np.arange(24 * 30, dtype=float)
    ts = (20 + 6 * np.sin(2 * np.pi * (t - 9) / 24) + 0.05 * t / 24)[None, :]
    sm = 0.25 + 0.002 * (ts - 20)
    out, b = linear_compensation_kernel(sm, ts, np.ones_like(sm, bool))
    assert b[0] == pytest.approx(0.002, rel=1e-3)
    assert np.nanstd(_hf(out)) < 1e-5  # the diurnal artefact is gone; the LF is kept


def test_linear_compensation_is_biased_by_a_true_cycle_guided_is_not():
    """The true cycle has its minimum at 16 h, under the TS peak: the practitioner's fit
    absorbs it into the temperature coefficient; the guided fit, given a mis-scaled and noisy
    estimate of that cycle, separates the two and also captures the element's thermal lag."""
    t, true, ts, raw = _world(alpha=0.003, lag_h=2.0)
    free = np.ones_like(raw, bool)
    lin, b_lin = linear_compensation_kernel(raw, ts, free)
    rng = np.random.default_rng(3)
    estimate = 0.25 + 0.7 * _hf(true) + rng.normal(0, 3e-4, true.shape)  # a network's HF
    prod, flag, coef = guided_compensation(raw, ts, [estimate], free, ~free, min_hours=48)
    mid = slice(48, -48)

    def r(x):
        return np.corrcoef(_hf(x)[0, mid], _hf(true)[0, mid])[0, 1]

    assert r(raw) < -0.8  # the artefact inverts the cycle
    assert r(lin) < 0.5  # the plain fit removes part of the true cycle with the artefact
    assert r(prod) > 0.9
    assert b_lin[0] < coef[0, 0]  # attenuated temperature coefficient
    assert coef[0, 1] < 0  # a lagging element: artefact ~ b1 T - tau b1 dT/dt
    assert set(np.unique(flag)) <= {0, 3} and (flag == 3).sum() <= 2  # first and last hour


def test_flagged_product_never_takes_rain_hours_from_the_method():
    raw = np.array([[0.2, 0.21, np.nan, 0.3, 0.31]])
    method = np.array([[0.19, np.nan, 0.2, 0.5, 0.3]])
    rain = np.array([[False, False, False, True, False]])
    prod, flag, _ = flagged_product(raw, method, rain, None, rule="raw")
    np.testing.assert_allclose(prod, [[0.19, 0.21, np.nan, 0.3, 0.3]])
    assert flag.tolist() == [[0, 3, 4, 3, 0]]
    assert {0, 1, 2, 3, 4} == set(FLAG_MEANINGS)


def test_guided_product_keeps_rain_steps_and_flags_them():
    t, true, ts, raw = _world(n_days=40)
    step = (t >= 24 * 20).astype(float)[None, :] * 0.08  # a storm on day 20
    raw = raw + step
    true = true + step
    rain = np.zeros_like(raw, bool)
    rain[:, 24 * 19 : 24 * 22] = True
    prod, flag, _ = guided_compensation(raw, ts, [true], ~rain, rain, min_hours=48)
    assert (flag[rain & np.isfinite(prod)] == 1).all()
    # the step survives: mean of day 21 minus day 18 as in the truth
    d = lambda x, k: np.nanmean(x[0, 24 * k : 24 * (k + 1)])  # noqa: E731
    assert d(prod, 21) - d(prod, 18) == pytest.approx(d(true, 21) - d(true, 18), abs=3e-3)


def test_fill_short_gaps_only_fills_bounded_short_runs():
    x = np.array([[np.nan, 1.0, np.nan, np.nan, 4.0, np.nan, np.nan, np.nan, np.nan, 9.0, np.nan]])
    out = fill_short_gaps(x, 3)
    np.testing.assert_allclose(out[0, :5], [np.nan, 1, 2, 3, 4])
    assert np.isnan(out[0, 5:9]).all() and out[0, 9] == 9 and np.isnan(out[0, 10])
    assert fill_short_gaps(x, 0) is x
