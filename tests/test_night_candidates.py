"""The element kernel of the nights alone (smlib.method.night_candidates): known answers."""

from __future__ import annotations

import numpy as np
import pytest

from smlib.method.lagged_artefact import DistributedLagFit, distributed_lag_compensation
from smlib.method.night_candidates import (
    KERNEL_MARGIN,
    _kept_r,
    element_kernel,
    fit_element_kernel,
    prefer_element_kernel,
)
from smlib.method.night_window import NightEquations, NightRule, night_index

HOURS = np.arange("2020-06-01T00", "2020-09-28T00", dtype="datetime64[h]")


def _station(
    delay_h: float, tau_h: float, gain: float = 0.001, ts_noise: float = 0.05, seed=0, memory=6
):
    """True SM that falls with the day's evaporation (08-19 local) and rises on a straight
    line at night; the probe adds ``gain`` x TS HF seen through ``element_kernel(delay_h,
    tau_h, memory)`` and a little noise; the thermistor reads TS with ``ts_noise`` K of noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(HOURS.size)
    hour, day = t % 24, 2 * np.pi * (t % 24) / 24
    amp = 7 + 3 * np.sin(2 * np.pi * t / (24 * 9))  # sunny and cloudy spells
    ts_true = 22 + amp * np.sin(day - 2 * np.pi * 9 / 24) + 2 * np.sin(2 * day - 1.0)
    et = np.where((hour >= 8) & (hour < 19), np.sin(np.pi * (hour - 8) / 11), 0.0)
    et = 0.01 * et / et[:24].sum()
    truth = 0.30 - np.cumsum(et) + 0.01 * t / 24
    w = element_kernel(delay_h, tau_h, memory)
    seen = sum(w[k] * np.roll(ts_true, k) for k in range(memory + 1))
    raw = truth + gain * (seen - 22) + rng.normal(0, 2e-4, t.size)
    raw[:memory] = np.nan
    ts = ts_true + rng.normal(0, ts_noise, t.size)
    return raw[None].astype(np.float32), ts[None].astype(np.float32), truth[None]


def _nights(raw, ts, eiv=True):
    return NightEquations(night_index(HOURS, np.array([0.0])), raw, ts, 1.0, days=False,
                          errors_in_variables=eiv)  # fmt: skip


def _hf(x):
    return x - np.convolve(x, np.ones(24) / 24, "same")


def test_element_kernel_is_a_delay_then_a_first_order_response():
    np.testing.assert_allclose(element_kernel(2.0, 0.0, 6), [0, 0, 1, 0, 0, 0, 0])
    np.testing.assert_allclose(element_kernel(0.5, 0.0, 2), [0.5, 0.5, 0])
    for d, tau in ((0.0, 1.0), (1.0, 2.0), (2.5, 1.5)):
        w = element_kernel(d, tau, 30)  # wide enough that nothing is cut
        assert abs(float(w.sum()) - 1) < 1e-12
        assert abs(float(np.arange(31) @ w) - (d + tau)) < 0.02  # mean lag d + tau
        assert np.all(w[: int(np.floor(d))] == 0)  # nothing before the delay
    np.testing.assert_allclose(element_kernel(9.0, 0.0, 4), [0, 0, 0, 0, 1])  # cut: last lag


@pytest.mark.parametrize(("delay_h", "tau_h"), [(2.0, 0.0), (1.0, 2.0), (0.0, 0.0)])
def test_the_nights_alone_find_the_element_and_its_gain(delay_h, tau_h):
    """The element's mean lag (delay + time constant) and its gain come back from the nights
    alone, though the true SM falls by day in phase with the warming. (The nights' smooth TS
    tells a 2-h delay from a 1-h delay with a 1-h response only by little.)"""
    raw, ts, truth = _station(delay_h, tau_h)
    fit = fit_element_kernel(_nights(raw, ts), np.ones(raw.shape, bool), 6)
    assert abs(fit.delay_h[0] + fit.tau_h[0] - (delay_h + tau_h)) <= 0.5, fit
    assert abs(fit.gain[0] - 0.001) < 0.0001, fit.gain
    np.testing.assert_allclose(fit.weights[0].sum(), fit.gain[0])
    assert fit.n_hours[0] > 0 and np.isfinite(fit.cv_rmse[0])


def test_a_probe_that_sees_ts_at_once_keeps_the_shortest_memory():
    """One standard error of parsimony: without a delay the kernel kept is lag 0 (the single
    slope), not a delayed kernel that fits the smooth nights almost as well."""
    for seed in range(3):
        raw, ts, _ = _station(0.0, 0.0, seed=seed)
        fit = fit_element_kernel(_nights(raw, ts), np.ones(raw.shape, bool), 6)
        assert fit.delay_h[0] + fit.tau_h[0] == 0, (seed, fit.delay_h, fit.tau_h)


def test_the_thermistor_noise_does_not_shrink_the_gain():
    """With 1 K of thermistor noise the plain least-squares gain is attenuated; corrected
    for the noise (errors in variables) it is not."""
    raw, ts, _ = _station(0.0, 0.0, ts_noise=1.0)
    keep = np.ones(raw.shape, bool)
    plain = fit_element_kernel(_nights(raw, ts, eiv=False), keep, 6).gain[0]
    corrected = fit_element_kernel(_nights(raw, ts, eiv=True), keep, 6).gain[0]
    assert plain < 0.00095 and abs(corrected - 0.001) < abs(plain - 0.001) / 2, (plain, corrected)


def test_too_few_nights_leave_the_station_unfitted():
    raw, ts, _ = _station(2.0, 0.0)
    keep = np.zeros(raw.shape, bool)
    keep[0, : 24 * 5] = True  # five days: fewer nights than the equations need
    fit = fit_element_kernel(_nights(raw, ts), keep, 6)
    assert np.isnan(fit.gain[0]) and np.all(np.isnan(fit.weights[0])) and fit.n_hours[0] == 0


def _kept(weights):
    return DistributedLagFit(
        np.array([weights], float), np.array([6]), np.array([1.0]), n_signals=np.array([1]),
        anchored=np.array([True]), n_hours=np.array([100]),
    )  # fmt: skip


@pytest.mark.parametrize("kept_delay_h", [3, 0, 1])
def test_a_delayed_element_replaces_a_kept_fit_unless_that_fit_leaves_much_less_coupling(
    kept_delay_h,
):
    """On a probe whose element sees TS 2 h late, a kept fit that puts the artefact 3 h late
    (composite +0.01) or at lag 0 (-0.64: lower than the right kernel's -0.56, the truth's, by
    the in-phase bias of 0.08) is replaced by the kernel, which leaves the true SM's HF. A kept
    fit 1 h late leaves -0.82, lower by more than :data:`KERNEL_MARGIN`, and stays."""
    raw, ts, truth = _station(2.0, 0.0, seed=1)
    kept = [0.0] * 7
    kept[kept_delay_h] = 0.001
    fit = _kept(kept)
    hf, ts_hf = _hf(raw[0].astype(np.float64))[None], _hf(ts[0].astype(np.float64))[None]
    keep = np.isfinite(hf)
    r_kept = _kept_r(hf, ts_hf, keep, np.array([kept]))[0]
    prefer_element_kernel(fit, np.array([0]), hf, ts_hf, keep, _nights(raw, ts))
    r_kernel = _kept_r(hf, ts_hf, keep, fit.weights)[0]
    if kept_delay_h == 1:
        assert r_kept < -0.8
        np.testing.assert_array_equal(fit.weights[0], kept)
        assert fit.n_signals[0] == 1 and fit.anchored[0]
        return
    assert r_kept > r_kernel - KERNEL_MARGIN and abs(r_kernel + 0.56) < 0.02, (r_kept, r_kernel)
    assert fit.n_signals[0] == 0 and not fit.anchored[0] and fit.window_h[0] >= 2
    assert abs(fit.weights[0].sum() - 0.001) < 0.0001 and abs(fit.weights[0, 0]) < 0.00005
    art = sum(fit.weights[0, k] * np.roll(ts_hf[0], k) for k in range(7))
    inner = slice(72, -72)
    r = np.corrcoef((hf[0] - art)[inner], _hf(truth[0])[inner])[0, 1]
    assert r > 0.97, r


def test_a_kernel_at_lag_0_leaves_the_kept_fit_to_the_slope_rule():
    """Where the nights show no delay the kernel is the single slope, which replaces a kept
    fit only by the slope's own rule: the kept fit stays."""
    raw, ts, _ = _station(0.0, 0.0)
    kept = [0.0008, 0.0002, 0, 0, 0, 0, 0]
    fit = _kept(kept)
    hf, ts_hf = _hf(raw[0].astype(np.float64))[None], _hf(ts[0].astype(np.float64))[None]
    prefer_element_kernel(fit, np.array([0]), hf, ts_hf, np.isfinite(hf), _nights(raw, ts))
    np.testing.assert_array_equal(fit.weights[0], kept)
    assert fit.n_signals[0] == 1 and fit.anchored[0]


def test_select_nights_kernel_where_no_estimate_is_left():
    """The product without any estimate under ``select_nights_kernel`` finds a first-order
    element from the nights alone, and its corrected series follows the true SM."""
    raw, ts, truth = _station(1.0, 2.0)
    keep = np.ones(raw.shape, bool)
    rule = NightRule(night_index(HOURS, np.array([0.0])), 10.0, 600.0, errors_in_variables=True)
    out, fit = distributed_lag_compensation(
        raw, ts, [], keep, 6, network_anchor="select_nights_kernel", night=rule
    )
    w = element_kernel(1.0, 2.0, 6)
    assert np.abs(fit.weights[0] / fit.weights[0].sum() - w).max() < 0.08, fit.weights
    inner = slice(72, -72)
    ok = np.isfinite(out[0, inner])
    r = np.corrcoef(_hf(out[0].astype(float))[inner][ok], _hf(truth[0])[inner][ok])[0, 1]
    assert r > 0.97, r


def test_a_slow_element_keeps_its_tail_in_the_kernels_longer_window():
    """Known answers: first-order elements of 2 and 4 h (nothing cut: their response over
    30 h) keep 5 and 22 % of it beyond 6 h. Cut there and rescaled, the kernel of the nights
    alone takes too small a gain (0.88 of it at 2 h); spanning 12 h (``kernel_lags_h``, the
    station table then 13 lags wide) it finds the 2-h element's shape and gain, and the
    corrected series follows the truth closer at every station (the nights' smooth TS tells a
    4-h element from a 1-h delay and a 2-h response only by little: the gain can stay short).
    """
    rule = NightRule(night_index(HOURS, np.array([0.0])), 10.0, 600.0, errors_in_variables=True)
    inner = slice(72, -72)
    for tau, seed in ((2.0, 0), (2.0, 1), (4.0, 0), (4.0, 1), (4.0, 2)):
        raw, ts, truth = _station(0.0, tau, seed=seed, memory=30)
        err, fits = {}, {}
        for k in (0, 12):
            out, fits[k] = distributed_lag_compensation(
                raw, ts, [], np.ones(raw.shape, bool), 6, network_anchor="select_nights_kernel",
                night=rule, kernel_lags_h=k,
            )  # fmt: skip
            ok = np.isfinite(out[0, inner])
            left = (_hf(out[0].astype(float)) - _hf(truth[0]))[inner][ok]
            err[k] = np.sqrt(np.mean(left**2))
        assert fits[0].weights.shape == (1, 7) and fits[12].weights.shape == (1, 13)
        assert err[12] < 0.8 * err[0], (tau, seed, err)
        w = fits[12].weights[0]
        if tau == 2.0:
            assert abs(w.sum() - 0.001) < 0.00002, w.sum()  # the gain
            assert np.abs(w / w.sum() - element_kernel(0.0, 2.0, 12)).max() < 0.01
            assert abs(fits[0].weights[0].sum() - 0.00088) < 0.00002  # cut at 6 h: short


def test_the_free_fits_window_stays_within_max_window_h():
    """``max_window_h``: the same fit as with ``max_lag_h`` that short, the weights padded
    with zeros to the table's width."""
    from smlib.method.lagged_fit import distributed_lag_fit

    raw, ts, _ = _station(2.0, 0.0)
    hf_raw, hf_ts = _hf(raw[0])[None], _hf(ts[0].astype(float))[None]
    keep = np.ones(raw.shape, bool)
    short = distributed_lag_fit(hf_raw, hf_ts, [], keep, 4, night=_nights(raw, ts))
    wide = distributed_lag_fit(hf_raw, hf_ts, [], keep, 12, night=_nights(raw, ts), max_window_h=4)
    assert wide.weights.shape == (1, 13) and (wide.weights[0, 5:] == 0).all()
    np.testing.assert_array_equal(wide.weights[0, :5], short.weights[0])
    assert wide.window_h[0] == short.window_h[0] <= 4


def test_the_table_widens_only_where_the_kernel_may_be_kept():
    """``kernel_lags_h`` widens the station table only under ``select_nights_kernel`` with the
    night equations; another anchor, or no nights, keeps the free fits' window."""
    raw, ts, _ = _station(1.0, 2.0)
    keep = np.ones(raw.shape, bool)
    rule = NightRule(night_index(HOURS, np.array([0.0])), 10.0, 600.0, errors_in_variables=True)
    width = {
        (anchor, nights is not None): distributed_lag_compensation(
            raw, ts, [], keep, 6, network_anchor=anchor, night=nights, kernel_lags_h=12
        )[1].weights.shape[1]
        for anchor in ("select_nights_kernel", "select_nights_slope")
        for nights in (rule, None)
    }
    assert width == {
        ("select_nights_kernel", True): 13, ("select_nights_kernel", False): 7,
        ("select_nights_slope", True): 7, ("select_nights_slope", False): 7,
    }  # fmt: skip


def test_the_free_fits_take_the_kernels_memory_only_in_situ(monkeypatch):
    """Where no estimate but the network guides the fit (or none is left) the nights carry
    it, and the free fits choose their window up to the kernel's memory (12 h); where another
    estimate guides them (a reanalysis, a tower's evaporation) they keep 0-6 h, which a true
    cycle that follows TS hours late (irrigation at a fixed hour) could otherwise fill."""
    import smlib.method.lagged_artefact as la

    raw, ts, truth = _station(1.0, 2.0)
    est = truth.astype(np.float32)
    keep = np.ones(raw.shape, bool)
    rule = NightRule(night_index(HOURS, np.array([0.0])), 10.0, 600.0, errors_in_variables=True)
    seen: list[int] = []
    real = la.distributed_lag_fit

    def spy(*args, max_window_h=None, **kwargs):
        seen.append(max_window_h)
        return real(*args, max_window_h=max_window_h, **kwargs)

    monkeypatch.setattr(la, "distributed_lag_fit", spy)
    cases = {"network": ([est], True), "none": ([], True), "reanalysis": ([est], False),
             "network and reanalysis": ([est, est], True)}  # fmt: skip
    windows = {}
    for name, (signal, network_first) in cases.items():
        seen.clear()
        _, fit = distributed_lag_compensation(
            raw, ts, signal, keep, 6, network_anchor="select_nights_kernel", night=rule,
            network_first=network_first, kernel_lags_h=12,
        )  # fmt: skip
        windows[name] = set(seen)
        assert fit.weights.shape == (1, 13)
        if not network_first:
            assert (fit.weights[0, 7:] == 0).all()
    assert windows == {"network": {12}, "none": {12}, "reanalysis": {6},
                       "network and reanalysis": {6}}  # fmt: skip
