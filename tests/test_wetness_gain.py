"""A tower's artefact gain that follows the soil's wetness (smlib.method.wetness_gain)."""

from __future__ import annotations

import numpy as np
import pytest

from smlib.method.compensation import apply_guided_kernel
from smlib.method.decomposition import high_frequency
from smlib.method.product import ProductCoefficients, read_coefficients, write_coefficients
from smlib.method.water_balance import evaporative_drying
from smlib.method.wetness_gain import (
    apply_with_wetness,
    tower_wetness_slope,
    wetness_for_stations,
)
from smlib.method.wetness_level import wetness_factor, wetness_level

N_DAYS = 240
RHO = -4.0  # the gain grows by 4 % per 0.01 m3 m-3 the soil dries below the mean level
G0 = 0.002  # m3 m-3 K-1 at the mean level


def _tower(seed: int = 0):
    """A tower whose true SM dries through a season and back, with an evaporative diurnal
    cycle; the probe's gain is linear in the wetness (``RHO`` relative per m3 m-3)."""
    rng = np.random.default_rng(seed)
    t = np.arange(24 * N_DAYS)
    hour = t % 24
    season = 0.25 + 0.08 * np.cos(2 * np.pi * t / t.size)  # wet, dry in mid-record, wet
    lh = np.clip(250 * np.sin(2 * np.pi * (hour - 6) / 24), 0, None) * (
        0.6 + 0.4 * rng.random(t.size // 24)
    ).repeat(24)
    drying = evaporative_drying(lh[None])[0].astype(float)
    truth = season + high_frequency(drying[None])[0]
    ts = 18 + 7 * np.sin(2 * np.pi * (hour - 9) / 24) + 1.5 * np.sin(4 * np.pi * (hour - 9) / 24)
    ts = ts + 4 * np.sin(2 * np.pi * t / t.size)
    gain = G0 * (1 + RHO * (season - season.mean()))
    raw = truth + gain * (ts - ts.mean()) + rng.normal(0, 3e-4, t.size)
    ok = np.isfinite(truth)
    return raw[None], ts[None], drying[None], truth[None], ok[None]


def test_wetness_level_is_a_trailing_mean_that_needs_enough_hours():
    x = np.array([[0.2, 0.2, 0.4, np.nan, np.nan, np.nan]])
    level = wetness_level(x, window_h=3, min_hours=2)
    np.testing.assert_allclose(level[0, :4], [np.nan, 0.2, 0.8 / 3, 0.3])
    assert np.isnan(level[0, 4:]).all()  # one measured hour of three is too few


def test_wetness_factor_is_one_without_a_slope_or_a_level_and_stays_in_range():
    raw = np.full((3, 48), 0.2)
    raw[2, :] = np.nan
    f = wetness_factor(raw, np.array([-4.0, np.nan, -4.0]), np.array([0.25, 0.25, 0.25]))
    np.testing.assert_allclose(f[0, 30], 1.2)  # 1 - 4 * (0.20 - 0.25)
    assert (f[1] == 1).all() and (f[2] == 1).all()
    big = wetness_factor(raw[:1], np.array([-100.0]), np.array([0.25]))
    assert big[0, 30] == 2.0


def test_the_slope_is_found_from_the_evaporation_and_the_product_follows_the_season():
    raw, ts, drying, truth, ok = _tower()
    slope, mean = tower_wetness_slope(raw, ts, drying, ok, max_lag_h=3, min_hours=240)
    assert slope[0] == pytest.approx(RHO, rel=0.2)
    assert mean[0] == pytest.approx(np.nanmean(wetness_level(raw)), abs=0.01)
    # one gain for all seasons against the gain that follows the wetness, same lag weights
    coef = np.array([[G0, 0.0, 0.0, 0.0]])
    terms = ("ts_hf_lag0h", "ts_hf_lag1h", "ts_hf_lag2h", "ts_hf_lag3h")
    const, _ = apply_guided_kernel(raw, ts, coef, terms=terms)
    wet, _ = apply_guided_kernel(raw, ts, coef, terms=terms, wetness=(slope, mean))
    dry = np.zeros(raw.shape, bool)
    dry[0, 24 * 90 : 24 * 150] = True  # the driest two months

    def rmse(x):
        return float(np.sqrt(np.nanmean((high_frequency(x) - high_frequency(truth))[dry] ** 2)))

    assert rmse(wet) < 0.5 * rmse(const)


def test_stations_without_evaporation_get_no_slope():
    raw, ts, drying, _, ok = _tower()
    slope, mean = tower_wetness_slope(raw, ts, np.full_like(drying, np.nan), ok, 3)
    assert np.isnan(slope).all() and np.isnan(mean).all()


def test_the_station_table_keeps_the_wetness_term(tmp_path):
    table = ProductCoefficients(
        station=np.array(["FLUXNET/US-A", "NET/ST-1"], dtype=object),
        coef=np.array([[0.002, 0.0], [0.001, 0.0005]]),
        fitted_hours=np.array([500, 400]),
        n_signals=np.array([1, 1]),
        rain_tendency_sd=np.array([0.01, 0.02]),
        signal_estimates=("sm_lstm_net",),
        terms=("ts_hf_lag0h", "ts_hf_lag1h"),
        wetness_slope=np.array([-3.5, np.nan]),
        wetness_level_mean=np.array([0.22, np.nan]),
    )
    back = read_coefficients(write_coefficients(table, tmp_path / "t.coefficients.json"))
    np.testing.assert_array_equal(back.wetness_slope, table.wetness_slope)
    np.testing.assert_array_equal(back.wetness_level_mean, table.wetness_level_mean)
    slope, mean = wetness_for_stations(back, np.array(["NET/ST-1", "NEW/X", "FLUXNET/US-A"]))
    np.testing.assert_array_equal(slope, [np.nan, np.nan, -3.5])
    np.testing.assert_array_equal(mean, [np.nan, np.nan, 0.22])
    plain = ProductCoefficients(**{**table.__dict__, "wetness_slope": None,
                                   "wetness_level_mean": None})  # fmt: skip
    again = read_coefficients(write_coefficients(plain, tmp_path / "p.coefficients.json"))
    assert again.wetness_slope is None and wetness_for_stations(again, table.station) is None


def test_a_wetness_term_needs_the_lagged_artefact():
    raw, ts, *_ = _tower()
    with pytest.raises(ValueError, match="distributed-lag"):
        apply_guided_kernel(
            raw, ts, np.array([[G0, 0.0]]), wetness=(np.array([1.0]), np.array([0.2]))
        )


@pytest.mark.parametrize("seed", [0, 2])
def test_the_slope_is_shrunk_where_the_record_does_not_determine_it(monkeypatch, seed):
    monkeypatch.setitem(globals(), "RHO", 0.0)  # _tower's probe: one gain for all seasons
    noise = np.random.default_rng(seed).normal(0, 2e-3, (1, 24 * N_DAYS))
    raw, ts, drying, _, ok = _tower(seed)
    plain, _ = tower_wetness_slope(raw + noise, ts, drying, ok, 3, 240, n_blocks=0)
    shrunk, _ = tower_wetness_slope(raw + noise, ts, drying, ok, 3, 240)
    # one gain in truth: a small estimate is shrunk towards it, never away
    assert abs(shrunk[0]) < 0.7 * abs(plain[0]) and abs(shrunk[0]) < 0.1


def test_a_determined_slope_is_kept():
    raw, ts, drying, _, ok = _tower(1)
    plain, _ = tower_wetness_slope(raw, ts, drying, ok, 3, 240, n_blocks=0)
    shrunk, _ = tower_wetness_slope(raw, ts, drying, ok, 3, 240)
    assert shrunk[0] == pytest.approx(plain[0], rel=0.02)
    assert shrunk[0] == pytest.approx(RHO, rel=0.2)


def test_centred_on_the_fit_the_scaled_artefact_is_the_true_one_at_every_level():
    """Dry spells have the larger diurnal TS swings, so a least-squares constant gain is the
    gain of the dry hours more than of the wet ones: scaling it by a factor that is 1 at the
    plain mean level counts the dry hours twice; centred on the fit it recovers the truth."""
    t = np.arange(24 * N_DAYS)
    hour = t % 24
    season = 0.25 + 0.08 * np.cos(2 * np.pi * t / t.size)
    swing = 1 + 6 * (0.33 - season)  # 1 (wet) to about 2 (dry)
    ts = 18 + swing * (
        7 * np.sin(2 * np.pi * (hour - 9) / 24) + 1.5 * np.sin(np.pi * (hour - 9) / 6)
    )
    truth = (season + 0.002 * np.sin(2 * np.pi * (hour - 3) / 24))[None]
    gain = G0 * (1 + RHO * (season - season.mean()))
    raw = truth + (gain * (ts - 18))[None]
    ts = ts[None]
    ts_hf, art = high_frequency(ts), high_frequency(raw) - high_frequency(truth)
    ok = np.isfinite(ts_hf) & np.isfinite(art)
    g_fit = np.sum(art[ok] * ts_hf[ok]) / np.sum(ts_hf[ok] ** 2)
    assert g_fit > 1.05 * G0  # the dry hours weigh more
    coef, rain = np.array([[g_fit, 0.0]]), np.zeros(raw.shape, bool)
    terms = ("ts_hf_lag0h", "ts_hf_lag1h")
    wetness = (np.array([RHO]), np.array([np.nanmean(wetness_level(raw))]))
    plain, _ = apply_guided_kernel(raw, ts, coef, rain, terms=terms, wetness=wetness)
    centred, _, applied = apply_with_wetness(raw, ts, coef, rain, terms, wetness)
    assert applied[1][0] < wetness[1][0] - 0.01  # centred on a drier level

    def rmse(x):
        return float(np.sqrt(np.nanmean((high_frequency(x) - high_frequency(truth)) ** 2)))

    assert rmse(centred) < 0.05 * rmse(plain)
    assert rmse(centred) < 2e-4  # m3 m-3, against a diurnal artefact of about 0.02
