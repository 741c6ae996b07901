"""The guided fit on records cut by whole-day gaps (issue 18, ``sparse_noisy``).

ISMN's complete-day rule turns every dropout into a missing day, and the 24-h centred mean is
undefined within half a day of one: a station measured every other day keeps no hour with a
complete window, so the guided fit left it raw. Known answers: TS is a 24-h sine, the probe
reads the truth plus ``A * T_HF``, the signal estimate is the truth (its diurnal cycle
changes size from day to day); with the LF held across
gaps the fit recovers ``A`` at the gappy station, and a complete station is untouched.
"""

from __future__ import annotations

import numpy as np
import pytest

from smlib.method.compensation import fit_inputs, guided_compensation, guided_fit
from smlib.method.decomposition import held_high_frequency, high_frequency
from smlib.method.uncertainty import guided_uncertainty

N_DAYS = 40
A = 0.004  # m3 m-3 K-1
K = 0.002  # the true cycle's coupling to TS, m3 m-3 K-1


def _stations():
    rng = np.random.default_rng(3)
    t = np.arange(24 * N_DAYS)
    ts_hf = 5.0 * np.sin(2 * np.pi * (t - 9) / 24)
    # the true cycle's size changes from day to day (not a fixed multiple of TS's)
    amp = rng.uniform(0.2, 1.8, N_DAYS)[t // 24]
    truth = 0.25 - 0.0003 * t / 24 - K * amp * ts_hf
    raw = truth + A * ts_hf + rng.normal(0, 2e-4, t.size)
    ts = np.tile(20.0 + ts_hf, (2, 1)).astype(np.float32)
    raw = np.tile(raw, (2, 1)).astype(np.float32)
    day = t // 24
    raw[1, day % 2 == 1] = np.nan  # station 1: every other day missing (complete-day rule)
    signal = np.tile(truth, (2, 1)).astype(np.float32)
    return raw, ts, signal, np.tile(truth, (2, 1))


def test_held_high_frequency_keeps_an_isolated_day_and_matches_inside_complete_runs():
    raw, _, _, _ = _stations()
    strict, held = high_frequency(raw), held_high_frequency(raw)
    assert np.isfinite(strict[1]).sum() <= N_DAYS  # one hour per isolated day at most
    assert np.isfinite(held[1]).sum() == np.isfinite(raw[1]).sum()
    both = np.isfinite(strict)
    np.testing.assert_array_equal(held[both], strict[both])


def test_a_station_of_isolated_days_is_fitted_with_the_held_lf_and_recovers_the_artefact():
    raw, ts, signal, truth = _stations()
    keep = np.ones(raw.shape, bool)
    _, _, _, held = fit_inputs(raw, ts, [signal], keep, min_hours=240)
    assert held.tolist() == [False, True]
    coef, n_hours, n_signals = guided_fit(raw, ts, [signal], keep, min_hours=240)
    assert n_signals.tolist() == [1, 1]
    assert n_hours[1] >= 0.9 * np.isfinite(raw[1]).sum() - 48
    np.testing.assert_allclose(coef[:, 0], A, rtol=0.05)
    prod, _, _ = guided_compensation(raw, ts, [signal], keep, ~keep, 240)
    have = np.isfinite(prod[1]) & np.isfinite(raw[1])
    assert have.sum() > 0.9 * np.isfinite(raw[1]).sum()
    err = np.abs(prod[1] - truth[1])[24:-24][have[24:-24]]  # the record's edges aside
    assert np.median(err) < 3e-4 and np.percentile(err, 99) < 1.5e-3
    sigma = guided_uncertainty(raw, ts, [signal], keep, np.where(np.isfinite(raw), 0, 4), 240)
    assert np.isfinite(sigma[1, have]).all()


def test_the_complete_station_gets_the_same_fit_as_without_its_gappy_neighbour():
    raw, ts, signal, _ = _stations()
    keep = np.ones(raw.shape, bool)
    both, _, _ = guided_fit(raw, ts, [signal], keep, min_hours=240)
    alone, _, _ = guided_fit(raw[:1], ts[:1], [signal[:1]], keep[:1], min_hours=240)
    np.testing.assert_array_equal(both[0], alone[0])
    y_all, _, _, _ = fit_inputs(raw, ts, [signal], keep, min_hours=240)
    np.testing.assert_array_equal(y_all[0], high_frequency(raw[:1])[0])


@pytest.mark.parametrize("min_hours", [240, 24 * N_DAYS])
def test_where_even_the_held_lf_leaves_too_few_hours_the_station_stays_unfitted(min_hours):
    raw, ts, signal, _ = _stations()
    keep = np.ones(raw.shape, bool)
    coef, _, n_signals = guided_fit(raw, ts, [signal], keep, min_hours=min_hours)
    if min_hours > np.isfinite(raw[1]).sum():
        assert n_signals[1] == -1 and np.isnan(coef[1]).all()
    else:
        assert n_signals[1] == 1


def test_a_signal_estimate_collinear_with_ts_is_dropped_not_split_at_random(caplog):
    """A fixed-shape diurnal cycle (a multiple of TS HF) cannot be told from the artefact:
    least squares gave b1 = 1.03 m3 m-3 K-1 here. The fit falls back to the temperature terms
    (the plain slope A - K), and says so."""
    t = np.arange(24 * N_DAYS)
    ts_hf = 5.0 * np.sin(2 * np.pi * (t - 9) / 24)
    noise = np.random.default_rng(5).normal(0, 2e-4, t.size)
    truth = 0.25 - 0.0003 * t / 24 - K * ts_hf
    raw = (truth + A * ts_hf + noise)[None].astype(np.float32)
    ts = (20.0 + ts_hf)[None].astype(np.float32)
    keep = np.ones(raw.shape, bool)
    with caplog.at_level("WARNING", logger="smlib.method.compensation"):
        coef, _, n_signals = guided_fit(raw, ts, [truth[None].astype(np.float32)], keep, 240)
    assert n_signals.tolist() == [0]  # temperature terms alone
    np.testing.assert_allclose(coef[0, 0], A - K, rtol=0.05)
    assert "collinear regressors" in caplog.text
