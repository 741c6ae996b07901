"""The guided fit where the network is the only signal estimate (issue 18, in-situ-only stations).

A tiny world with known answers: soil temperature is a fixed 24-h sine, so ``T_HF = TS - 20``
exactly; the true diurnal SM cycle falls as the soil warms, ``s = -K T_HF``; the probe reads
``raw = s + A T_HF`` (plus a little noise); the network's series is the truth plus its own small
error -- collinear with TS, as a network fed with TS and the time of day is. The free fit cannot
tell the network from the temperature terms and keeps the station near raw minus the plain
slope ``A - K``; the fit anchored on the network recovers ``A`` and the truth.
"""

from __future__ import annotations

import numpy as np
import pytest

from smlib.method.compensation import (
    apply_guided_kernel,
    guided_compensation,
    guided_fit,
    temperature_regressors,
)
from smlib.method.network_anchor import (
    anchor_single_network,
    composite_correlation,
    select_network_anchor,
)
from smlib.method.product import ProductCoefficients, read_coefficients, write_coefficients
from smlib.method.uncertainty import guided_uncertainty

N_DAYS = 30
A = 0.006  # m3 m-3 K-1, the probe's artefact
K = 0.002  # m3 m-3 K-1, the true cycle's (negative) coupling to TS


def _world(n_st: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    t = np.arange(24 * N_DAYS)
    ts_hf = 5.0 * np.sin(2 * np.pi * (t - 9) / 24)
    ts = np.tile(20.0 + ts_hf, (n_st, 1)).astype(np.float32)
    lf = 0.25 - 0.0002 * t / 24
    truth = lf - K * ts_hf
    raw = np.stack([truth + A * ts_hf + rng.normal(0, 2e-4, t.size) for _ in range(n_st)])
    net = np.stack([truth + rng.normal(0, 2e-4, t.size) for _ in range(n_st)])
    truth = np.tile(truth, (n_st, 1))
    return raw.astype(np.float32), ts, net.astype(np.float32), truth


def test_composite_correlation_signs_and_undefined_hours():
    t = np.arange(96.0)
    ts = np.sin(2 * np.pi * t / 24)[None, :]
    keep = np.ones((1, 96), bool)
    assert composite_correlation(-0.01 * ts, ts, keep)[0] == pytest.approx(-1.0)
    assert composite_correlation(0.02 * ts + 1.0, ts, keep)[0] == pytest.approx(1.0)
    missing_hour = keep.copy()
    missing_hour[0, 5::24] = False  # hour 5 of every day dropped: no composite
    assert np.isnan(composite_correlation(ts, ts, missing_hour)[0])


def test_anchored_fit_recovers_the_artefact_where_the_free_fit_cannot():
    raw, ts, net, truth = _world()
    keep = np.ones(raw.shape, bool)
    coef_free, _, n_signals = guided_fit(raw, ts, [net], keep, min_hours=48)
    assert (n_signals == 1).all()
    coef, anchored = anchor_single_network(raw, ts, [net], keep, coef_free, n_signals, 48)
    assert anchored.all()
    np.testing.assert_allclose(coef[:, 0], A, rtol=0.02)
    assert np.abs(coef[:, 1]).max() < 2e-4
    # the free fit lands far from A (between the plain slope A - K and A)
    assert np.abs(coef_free[:, 0] - A).min() > 0.1 * A
    prod, flag = apply_guided_kernel(raw, ts, coef, ~keep)
    inner = slice(24, -24)
    err = np.abs(prod[:, inner] - truth[:, inner])
    assert err.max() < 2e-3 and np.median(err) < 5e-4
    free, _, _ = guided_compensation(raw, ts, [net], keep, ~keep, 48)
    assert np.median(np.abs(free[:, inner] - truth[:, inner])) > 2 * np.median(err)
    assert (flag[:, inner] == 0).all()


def test_a_network_that_corrected_nothing_is_not_anchored_on():
    raw, ts, _, _ = _world()
    keep = np.ones(raw.shape, bool)
    lazy = raw.copy()  # the network's series is the raw series: its artefact estimate is 0
    coef_free, _, n_signals = guided_fit(raw, ts, [lazy], keep, min_hours=48)
    coef, anchored = anchor_single_network(raw, ts, [lazy], keep, coef_free, n_signals, 48)
    assert not anchored.any()
    np.testing.assert_array_equal(coef, coef_free)


def test_with_reanalysis_beside_the_network_nothing_changes():
    raw, ts, net, truth = _world()
    keep = np.ones(raw.shape, bool)
    coef_free, _, n_signals = guided_fit(raw, ts, [net, truth], keep, min_hours=48)
    coef, anchored = anchor_single_network(raw, ts, [net, truth], keep, coef_free, n_signals, 48)
    assert not anchored.any()
    np.testing.assert_array_equal(coef, coef_free)


def test_stations_without_the_network_in_their_fit_keep_the_free_coefficients():
    raw, ts, net, _ = _world()
    keep = np.ones(raw.shape, bool)
    regs = list(temperature_regressors(ts))
    coef_free = np.full((3, 2), 0.001)
    y = raw - np.nanmean(raw, axis=1, keepdims=True)
    coef, anchored = select_network_anchor(
        y, regs, net - np.nanmean(net, axis=1, keepdims=True), keep, coef_free,
        np.array([False, True, False]), 48,
    )  # fmt: skip
    assert anchored.tolist() == [False, True, False]
    np.testing.assert_array_equal(coef[[0, 2]], coef_free[[0, 2]])


def test_the_station_table_records_the_anchored_fit(tmp_path):
    table = ProductCoefficients(
        station=np.array(["N/A", "N/B"], dtype=object),
        coef=np.array([[A, 0.0], [0.001, 0.0]]),
        fitted_hours=np.array([500, 500]),
        n_signals=np.array([1, 1]),
        rain_tendency_sd=np.array([0.01, 0.01]),
        signal_estimates=("sm_lstm_net",),
        anchored=np.array([True, False]),
    )
    path = write_coefficients(table, tmp_path / "c.coefficients.json")
    back = read_coefficients(path)
    assert back.fits() == ["anchored_on_network", "free"]
    np.testing.assert_array_equal(back.anchored, [True, False])


def test_uncertainty_of_an_anchored_station_describes_the_anchored_fit():
    raw, ts, net, truth = _world()
    keep = np.ones(raw.shape, bool)
    flag = np.zeros(raw.shape, np.int8)
    free = guided_uncertainty(raw, ts, [net], keep, flag, 48)
    anch = guided_uncertainty(raw, ts, [net], keep, flag, 48, anchored=np.ones(3, bool))
    coef_free, _, n_signals = guided_fit(raw, ts, [net], keep, min_hours=48)
    coef, anchored = anchor_single_network(raw, ts, [net], keep, coef_free, n_signals, 48)
    assert anchored.all()
    prod, _ = apply_guided_kernel(raw, ts, coef, ~keep)
    inner = slice(36, -36)
    err = np.abs(prod[:, inner] - truth[:, inner])
    inside = err <= 1.645 * anch[:, inner]
    assert 0.8 <= inside.mean() <= 1.0
    # the free fit's sigma says nothing about the anchored product's error
    assert not np.allclose(free, anch)


def _delayed_world(n_st: int = 3, delay_h: int = 2, seed: int = 1):
    """As :func:`_world`, the probe's element seeing TS ``delay_h`` hours late."""
    raw, ts, net, truth = _world(n_st, seed)
    ts_hf = ts - 20.0
    late = np.roll(ts_hf, delay_h, axis=1)
    raw = (truth + A * late + (raw - truth - A * ts_hf)).astype(np.float32)
    return raw, ts, net, truth


def test_the_distributed_lag_fit_is_anchored_on_the_network_where_it_is_alone():
    from smlib.method.lagged_artefact import (
        distributed_lag_artefact,
        distributed_lag_compensation,
    )

    raw, ts, net, truth = _delayed_world()
    keep = np.ones(raw.shape, bool)
    inner = slice(48, -24)
    anch, fit = distributed_lag_compensation(
        raw, ts, [net], keep, 4, min_hours=48, network_anchor="select"
    )
    assert fit.anchored.all() and (fit.n_signals == 1).all()
    # the anchored lags recover the delayed artefact A T_HF(t - 2 h), and so the truth
    artefact = distributed_lag_artefact(ts - 20.0, fit.weights)
    late = A * np.roll(ts - 20.0, 2, axis=1)
    assert np.abs(artefact[:, inner] - late[:, inner]).max() < 0.05 * A * 5.0
    err = np.abs(anch[:, inner] - truth[:, inner])
    assert np.median(err) < 5e-4
    free, fit_free = distributed_lag_compensation(raw, ts, [net], keep, 4, min_hours=48)
    assert not fit_free.anchored.any()
    assert np.median(np.abs(free[:, inner] - truth[:, inner])) > 2 * np.median(err)


def test_the_lag_anchor_leaves_a_network_that_corrected_nothing_and_reanalysis_fits_alone():
    from smlib.method.lagged_artefact import distributed_lag_compensation

    raw, ts, net, truth = _delayed_world()
    keep = np.ones(raw.shape, bool)
    _, fit = distributed_lag_compensation(
        raw, ts, [raw.copy()], keep, 4, min_hours=48, network_anchor="select"
    )
    assert not fit.anchored.any()  # its anchored fit removes nothing: the free one is kept
    _, fit2 = distributed_lag_compensation(
        raw, ts, [net, truth.astype(np.float32)], keep, 4, min_hours=48, network_anchor="select"
    )
    assert not fit2.anchored.any() and (fit2.n_signals == 2).all()
    with pytest.raises(ValueError, match="network_anchor"):
        distributed_lag_compensation(raw, ts, [net], keep, 4, network_anchor="off")


def test_select_nights_without_lags_is_select():
    """The guided fit without lags has no night equations: select_nights anchors as select."""
    from smlib.evaluation.signal_ablation import refit_kernel

    raw, ts, net, _ = _world()
    rain = np.zeros(raw.shape, bool)
    subsets = {"all": ("sm_lstm_net",)}
    fits = {
        a: refit_kernel(raw, ts, {"sm_lstm_net": net}, rain, subsets, 48, network_anchor=a)
        for a in ("select", "select_nights", "none")
    }
    np.testing.assert_array_equal(
        fits["select"]["all"].product, fits["select_nights"]["all"].product
    )
    assert not np.array_equal(fits["select"]["all"].product, fits["none"]["all"].product)
