"""The thermistor's noise in the night equations: its variance, and the slope corrected for it
(smlib.method.night_window.thermistor_noise_var, NightEquations.noise_gram, errors in variables
in smlib.method.lagged_artefact.distributed_lag_fit)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from smlib.method.lagged_artefact import distributed_lag_compensation
from smlib.method.night_window import (
    NightEquations,
    NightRule,
    night_index,
    thermistor_noise_var,
)

HOURS = np.arange("2020-05-01T00", "2020-09-28T00", dtype="datetime64[h]")
NIGHT = night_index(HOURS, np.array([0.0]))


def _true_ts(amplitude_k: float) -> np.ndarray:
    """A non-sinusoidal diurnal TS (fast rise, slow decay) with a day-to-day drift, degC."""
    t = np.arange(HOURS.size)
    day = 2 * np.pi * (t % 24) / 24
    shape = np.sin(day - 2 * np.pi * 9 / 24) + 0.3 * np.sin(2 * day - 1.0)
    return 18 + amplitude_k * shape + 2 * np.sin(2 * np.pi * t / (24 * 40))


def _thermistor(ts_true: np.ndarray, sd_k: float, seed: int = 0) -> np.ndarray:
    """A reading of ``ts_true`` with white noise ``sd_k`` and a 0.1 K resolution."""
    rng = np.random.default_rng(seed)
    return np.round(ts_true + sd_k * rng.standard_normal(ts_true.shape), 1)


@pytest.mark.parametrize("sd_k", [0.05, 0.1, 0.2])
def test_the_noise_variance_is_recovered_from_the_nights(sd_k):
    """White noise plus the 0.1 K quantisation (variance 0.01 / 12), for a 1 K or a 6 K cycle."""
    for amplitude in (1.0, 6.0):
        got = thermistor_noise_var(_thermistor(_true_ts(amplitude), sd_k), NIGHT[0])
        want = sd_k**2 + 0.1**2 / 12
        assert got == pytest.approx(want, rel=0.12), (amplitude, got, want)


def test_a_smooth_reading_has_no_noise_and_too_few_nights_give_none():
    assert thermistor_noise_var(_true_ts(6.0), NIGHT[0]) < 5e-4  # 5 % of a 0.1 K noise
    few = np.where(np.arange(HOURS.size) < 24 * 3, NIGHT[0], -1)  # three nights: 18 runs
    assert thermistor_noise_var(_thermistor(_true_ts(1.0), 0.1), few) == 0.0


def test_noise_gram_counts_each_night_s_hours_less_its_line():
    ts = _thermistor(_true_ts(1.0), 0.1)[None]
    eq = NightEquations(NIGHT, np.zeros_like(ts), ts, weight=3.0, errors_in_variables=True)
    first = np.flatnonzero(NIGHT[0] == 1)[:5]
    second = np.flatnonzero(NIGHT[0] == 2)[:4]
    var = thermistor_noise_var(ts[0], NIGHT[0])
    got = eq.noise_gram(0, np.concatenate([first, second]))
    assert got == pytest.approx(3.0 * var * (3 + 2))
    assert dataclasses.replace(eq, errors_in_variables=False).noise_gram(0, first) == 0.0


def _probe(gain: float, amplitude_k: float, sd_k: float, seed: int = 1):
    """One station whose probe responds to the *true* soil temperature (``gain`` m3 m-3 K-1);
    the thermistor beside it reads that temperature with noise. The true SM dries by day
    (evaporation in phase with the warming) and is a straight line at night."""
    rng = np.random.default_rng(seed)
    t = np.arange(HOURS.size)
    hour = t % 24
    ts_true = _true_ts(amplitude_k)
    et = np.where((hour >= 8) & (hour < 19), np.sin(np.pi * (hour - 8) / 11), 0.0)
    truth = 0.30 - np.cumsum(0.004 * et / et[:24].sum()) + 0.004 * t / 24
    raw = truth + gain * (ts_true - 18) + rng.normal(0, 3e-4, t.size)
    ts_read = _thermistor(ts_true, sd_k, seed + 100)  # noise apart from the probe's
    return raw[None].astype(np.float32), ts_read[None].astype(np.float32)


def test_the_nights_single_slope_finds_the_true_gain_where_ts_varies_little():
    """A 1 K diurnal range read with 0.15 K of noise: the nights' TS varies by a few tenths
    of a kelvin, so the least-squares slope comes out about 20 % short; corrected for the
    thermistor's noise it is within 5 % of the true gain."""
    gain = 0.003
    raw, ts = _probe(gain, amplitude_k=1.0, sd_k=0.15)
    keep = np.ones(raw.shape, bool)
    slopes = {}
    for eiv in (False, True):
        rule = NightRule(NIGHT, 10.0, 600.0, errors_in_variables=eiv)  # no estimate: nights alone
        _, fit = distributed_lag_compensation(raw, ts, [], keep, 0, night=rule)
        slopes[eiv] = float(fit.weights[0, 0])
    assert slopes[False] < 0.85 * gain, slopes  # attenuated
    assert abs(slopes[True] / gain - 1) < 0.05, slopes


def test_a_fit_with_lags_is_not_corrected():
    """With lags, the noise-free part of the nights' normal matrix is near singular (a smooth
    night's lagged TS differ by little), and taking the noise off it would let the weights
    of those differences run away: only the single slope is corrected."""
    raw, ts = _probe(0.003, amplitude_k=1.0, sd_k=0.15)
    keep = np.ones(raw.shape, bool)
    fits = [
        distributed_lag_compensation(
            raw, ts, [], keep, 4, night=NightRule(NIGHT, 10.0, 600.0, errors_in_variables=eiv)
        )[1]
        for eiv in (False, True)
    ]
    np.testing.assert_array_equal(fits[0].weights, fits[1].weights)


def test_a_large_diurnal_range_is_left_as_it_was():
    """With a 6 K range the nights' TS varies far more than the noise: the correction moves
    the gain by under 3 %, and both are within 5 % of the truth."""
    gain = 0.002
    raw, ts = _probe(gain, amplitude_k=6.0, sd_k=0.1)
    keep = np.ones(raw.shape, bool)
    sums = []
    for eiv in (False, True):
        rule = NightRule(NIGHT, 10.0, 600.0, errors_in_variables=eiv)
        sums.append(float(distributed_lag_compensation(raw, ts, [], keep, 0, night=rule)[1]
                          .weights[0, 0]))  # fmt: skip
    assert abs(sums[1] / sums[0] - 1) < 0.03 and all(abs(s / gain - 1) < 0.05 for s in sums)


def test_only_the_nights_alone_are_corrected():
    """Beside a signal estimate's day equations the nights are not corrected (measured worse
    on the skill benchmark); the recommended profile turns the correction on, the paper's not."""
    from smlib.config import get_profile

    rule = NightRule(NIGHT, 10.0, 600.0, errors_in_variables=True)
    ts = np.zeros((1, HOURS.size))
    assert rule.equations(ts, ts, 0, False).errors_in_variables
    assert not rule.equations(ts, ts, 1, True).errors_in_variables
    assert not rule.equations(ts, ts, 2, False).errors_in_variables
    assert get_profile("recommended").correct.night_errors_in_variables
    assert not get_profile("paper").correct.night_errors_in_variables


# --- the gain along the fitted shape (NightEquations.gain_errors_in_variables) -------------


def _signal_estimate(gain: float, amplitude_k: float, sd_k: float) -> tuple:
    """:func:`_probe` with a perfect estimate of the true SM (its raw less the artefact and
    the probe's noise, recomputed from the same seed)."""
    raw, ts = _probe(gain, amplitude_k, sd_k)
    rng = np.random.default_rng(1)
    probe_noise = rng.normal(0, 3e-4, HOURS.size)
    truth = raw[0] - gain * (_true_ts(amplitude_k) - 18) - probe_noise
    return raw, ts, truth[None].astype(np.float32)


def _lag_gain(raw, ts, signal, gain_eiv: bool, max_lag: int = 4) -> np.ndarray:
    rule = NightRule(NIGHT, 10.0, 600.0, gain_errors_in_variables=gain_eiv)
    keep = np.ones(raw.shape, bool)
    return distributed_lag_compensation(raw, ts, signal, keep, max_lag, night=rule)[1].weights[0]


@pytest.mark.parametrize("with_estimate", [False, True])
def test_the_gain_of_a_fit_with_lags_is_found_where_ts_varies_little(with_estimate):
    """A 1 K diurnal range read with 0.15 K of noise. With lags (the nights alone, or the
    network's estimate and the nights at weight 600) least squares takes too little for
    artefact; rescaled along its shape the sum of the weights (the probe's gain on a lag-0
    element) is within 5 % of the truth, and the shape is the same."""
    gain = 0.003
    raw, ts, truth = _signal_estimate(gain, amplitude_k=1.0, sd_k=0.15)
    signal = [truth] if with_estimate else []
    plain, corrected = (_lag_gain(raw, ts, signal, eiv) for eiv in (False, True))
    assert plain.sum() < 0.9 * gain, plain
    assert abs(corrected.sum() / gain - 1) < 0.05, corrected
    ratio = corrected[plain != 0] / plain[plain != 0]
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-9)  # one scalar: the shape is kept
    assert ratio[0] > 1


def test_the_gain_along_the_shape_leaves_a_large_range_as_it_was():
    """With a 6 K range and a reanalysis-like estimate the day equations' TS varies far more
    than the noise: the rescale moves the gain by under 1 %."""
    raw, ts, truth = _signal_estimate(0.002, amplitude_k=6.0, sd_k=0.1)
    plain, corrected = (_lag_gain(raw, ts, [truth], eiv) for eiv in (False, True))
    assert 1 < corrected.sum() / plain.sum() < 1.01


def test_the_gain_along_the_shape_is_passed_to_every_fit_and_recommended():
    """Every fit's night equations carry it (the single slope of the nights alone keeps its
    own correction, which the rescale does not repeat); the recommended profile turns it on,
    the paper's and the dataclass default not."""
    from smlib.config import CorrectConfig, get_profile

    rule = NightRule(NIGHT, 10.0, 600.0, gain_errors_in_variables=True)
    ts = np.zeros((1, HOURS.size))
    assert all(
        rule.equations(ts, ts, n, alone).gain_errors_in_variables
        for n, alone in ((0, False), (1, True), (2, False))
    )
    assert get_profile("recommended").correct.night_gain_errors_in_variables
    assert not get_profile("paper").correct.night_gain_errors_in_variables
    assert not CorrectConfig().night_gain_errors_in_variables


def test_the_single_slope_is_not_corrected_twice():
    """A single slope of the nights alone, already corrected on its diagonal, is not rescaled
    again: the same weight with and without the rescale."""
    raw, ts = _probe(0.003, amplitude_k=1.0, sd_k=0.15)
    keep = np.ones(raw.shape, bool)
    got = [
        distributed_lag_compensation(raw, ts, [], keep, 0, night=NightRule(
            NIGHT, 10.0, 600.0, errors_in_variables=True, gain_errors_in_variables=g
        ))[1].weights[0, 0]
        for g in (False, True)
    ]  # fmt: skip
    assert got[0] == got[1]


def _artefact_rmse(raw, ts, gain: float, gain_eiv: bool) -> tuple[float, float]:
    """The nights-alone fit with lags 0-4: the sum of its weights over the true gain, and the
    RMSE of its removed artefact's HF against the true artefact's (m3 m-3)."""
    from smlib.method.decomposition import high_frequency

    rule = NightRule(NIGHT, 10.0, 600.0, gain_errors_in_variables=gain_eiv)
    keep = np.ones(raw.shape, bool)
    prod, fit = distributed_lag_compensation(raw, ts, [], keep, 4, night=rule)
    removed = high_frequency((raw - prod).astype(np.float64))[0]
    true = high_frequency(gain * (_true_ts(1.0)[None] - 18))[0]
    ok = np.isfinite(removed) & np.isfinite(true)
    return float(fit.weights[0].sum() / gain), float(np.sqrt(np.mean((removed - true)[ok] ** 2)))


def test_the_gain_along_the_shape_removes_the_artefact_better_with_a_usual_thermistor():
    """0.15 K of noise on a 1 K range: the rescaled fit removes the true artefact with a
    smaller error than least squares."""
    raw, ts = _probe(0.003, amplitude_k=1.0, sd_k=0.15)
    plain, corrected = (_artefact_rmse(raw, ts, 0.003, eiv) for eiv in (False, True))
    assert corrected[1] < 0.97 * plain[1], (plain, corrected)


@pytest.mark.parametrize("sd_k", [0.3, 0.5])
def test_the_gain_along_the_shape_does_not_overshoot_with_a_noisy_thermistor(sd_k):
    """0.3 or 0.5 K of noise on a 1 K range: least squares' lag weights also fit the noise,
    and an uncapped rescale took 1.16 and 1.5 times the true gain (GAIN_NOISE_SHARE_MAX at
    0.5). Capped, the gain stays within 15 % of the truth and the removed artefact within 5 %
    of least squares' error."""
    raw, ts = _probe(0.003, amplitude_k=1.0, sd_k=sd_k)
    plain, corrected = (_artefact_rmse(raw, ts, 0.003, eiv) for eiv in (False, True))
    assert abs(corrected[0] - 1) < 0.15, corrected
    assert corrected[1] < 1.05 * plain[1], (plain, corrected)
