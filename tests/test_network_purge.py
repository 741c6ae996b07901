"""The network's share of the probe's artefact, found on the nights and removed
(smlib.method.network_purge), with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from smlib.method.decomposition import high_frequency
from smlib.method.network_purge import night_share, purge_network

N_DAYS = 60
T = np.arange(24 * N_DAYS)
HOUR = T % 24
NIGHT = np.where((HOUR >= 20) | (HOUR < 6), (T + 4) // 24, -1)[None, :].repeat(3, 0)


def _station_world(kappa=(0.3, 0.0, -0.4), seed=0):
    """Three stations: the true SM dries by day and is a straight line within each night; the
    artefact follows a lagged, non-sinusoidal TS; the network's series is the truth plus
    ``kappa`` times the artefact and its own noise."""
    rng = np.random.default_rng(seed)
    day = 2 * np.pi * HOUR / 24
    weather = 1 + 0.4 * rng.random(N_DAYS).repeat(24)
    ts = weather * (6 * np.sin(day - 2.4) + 1.5 * np.sin(2 * day - 1.0))
    drying = np.clip(np.sin(day - 1.6), 0, None)  # evaporation by day only
    truth = 0.25 - 0.002 * np.cumsum(drying) / 24
    artefact = 0.002 * np.roll(ts, 2)
    art_hf = high_frequency(np.tile(artefact, (3, 1)))
    truth = np.tile(truth, (3, 1))
    net = truth + np.asarray(kappa)[:, None] * art_hf + rng.normal(0, 2e-4, truth.shape)
    return truth, art_hf, net.astype(np.float32)


def test_night_share_finds_the_networks_share_of_the_artefact():
    truth, art_hf, net = _station_world()
    share = night_share(high_frequency(net), art_hf, NIGHT, np.ones(net.shape, bool))
    np.testing.assert_allclose(share, [0.3, 0.0, -0.4], atol=0.03)


def test_night_share_ignores_a_straight_line_and_needs_enough_hours():
    t = np.arange(48.0)
    night = np.where(t % 24 < 10, t // 24, -1).astype(int)[None, :]
    x = np.sin(t / 3)[None, :]
    y = 0.4 * x + 0.02 * t[None, :] - 0.001 * (t[None, :] // 24)
    assert night_share(y, x, night, np.ones((1, 48), bool))[0] == pytest.approx(0.4)
    few = np.ones((1, 48), bool)
    few[:, 5:10] = few[:, 29:34] = False  # 5 hours a night: fewer than the minimum
    assert np.isnan(night_share(y, x, night, few)[0])
    assert np.isnan(night_share(y, np.zeros_like(x), night, np.ones((1, 48), bool))[0])


def test_purge_takes_out_the_artefact_the_network_carries_and_nothing_else():
    truth, art_hf, net = _station_world()
    purged, kappa = purge_network(net, art_hf, NIGHT, np.ones(net.shape, bool))
    # a positive share is removed; none or a negative one (another probe's sign) is left
    np.testing.assert_allclose(kappa, [0.3, 0.0, 0.0], atol=0.03)
    err = high_frequency(purged) - high_frequency(truth)
    before = high_frequency(net) - high_frequency(truth)
    rms = np.sqrt(np.nanmean(err**2, axis=1))
    assert rms[0] < 0.1 * np.sqrt(np.nanmean(before[0] ** 2))
    np.testing.assert_array_equal(purged[2], net[2])  # another probe's sign: left as it is
    np.testing.assert_allclose(purged[1], net[1], atol=1e-4)  # none to speak of
    # the network's gaps stay gaps; a share above 1 is held at 1
    gappy = net.copy()
    gappy[0, :30] = np.nan
    again, _ = purge_network(gappy, art_hf, NIGHT, np.ones(net.shape, bool))
    assert np.isnan(again[0, :30]).all() and np.isfinite(again[0, 30:]).any()
    _, held = purge_network(truth + 3 * art_hf, art_hf, NIGHT, np.ones(net.shape, bool))
    np.testing.assert_array_equal(held, [1.0, 1.0, 1.0])
