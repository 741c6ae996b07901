"""Night windows and the night equations of the artefact fit (smlib.method.night_window)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from smlib.method.lagged_artefact import distributed_lag_compensation, distributed_lag_fit
from smlib.method.night_window import (
    NightEquations,
    NightRule,
    detrend_within_nights,
    night_index,
)

HOURS = np.arange("2020-06-01T00", "2020-08-30T00", dtype="datetime64[h]")


def test_night_index_follows_local_solar_time():
    # at 90 E local solar time is UTC + 6: 20 local = 14 UTC
    n = night_index(HOURS[:48], np.array([0.0, 90.0, -90.0]), start_h=20, length_h=10)
    utc = np.arange(48) % 24
    for row, offset in zip(n, (0, 6, -6), strict=True):
        local = (utc + offset) % 24
        inside = (local >= 20) | (local < 6)
        np.testing.assert_array_equal(row >= 0, inside)
        # one number per window, counted up, a window across midnight kept whole
        ids = row[row >= 0]
        assert (np.diff(ids) >= 0).all() and len(np.unique(ids)) <= 3
    # the window from 20 UTC on day 0 to 05 UTC on day 1 has one number at lon 0
    assert len(set(n[0, 20:30])) == 1 and n[0, 30] == -1


@pytest.mark.parametrize("start, length", [(24, 10), (20, 0), (20, 24)])
def test_night_index_rejects_a_window_that_is_not_one(start, length):
    with pytest.raises(ValueError, match="night window"):
        night_index(HOURS[:24], np.array([0.0]), start_h=start, length_h=length)


def test_detrend_within_nights_removes_lines_and_drops_short_nights():
    night = np.array([0] * 6 + [-1] * 3 + [1] * 2)
    line = 0.3 + 0.01 * np.arange(11)
    (r,), rows = detrend_within_nights([line], night, np.ones(11, bool), min_hours=4)
    assert rows.tolist() == [0, 1, 2, 3, 4, 5]  # night 1 has 2 hours: left out
    np.testing.assert_allclose(r, 0.0, atol=1e-12)
    usable = np.ones(11, bool)
    usable[1:4] = False  # three usable hours left of night 0
    _, rows = detrend_within_nights([line], night, usable, min_hours=4)
    assert rows.size == 0


def _evaporating_station(delay_h: int = 0, gain: float = 0.001, seed: int = 0):
    """One station whose true SM falls by 0.01 m3 m-3 a day with evaporation (08-19 local,
    in phase with the warming) and is recharged from below at a steady rate (a straight line
    at night); the probe adds ``gain`` x TS, ``delay_h`` hours late, and a little noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(HOURS.size)
    hour = t % 24
    day = 2 * np.pi * hour / 24
    # TS: a fast morning rise and a slow evening decay, peak mid-afternoon
    ts = 22 + 7 * np.sin(day - 2 * np.pi * 9 / 24) + 2 * np.sin(2 * day - 1.0)
    ts = ts + rng.normal(0, 0.05, t.size)
    et = np.where((hour >= 8) & (hour < 19), np.sin(np.pi * (hour - 8) / 11), 0.0)
    et = 0.01 * et / et[:24].sum()  # m3 m-3 per hour, 0.01 a day
    truth = 0.30 - np.cumsum(et) + 0.01 * t / 24
    raw = truth + gain * (np.roll(ts, delay_h) - 22) + rng.normal(0, 2e-4, t.size)
    raw[:delay_h] = np.nan
    return raw[None].astype(np.float32), ts[None].astype(np.float32), truth[None]


def _hf(x):
    return x - np.convolve(x, np.ones(24) / 24, "same")


@pytest.mark.parametrize("delay_h", [0, 2])
def test_night_equations_recover_the_gain_a_whole_day_fit_misses(delay_h):
    """Without a signal estimate the whole-day fit takes the evaporation for artefact (the
    gain comes out wrong); with the night equations it is found, delay included."""
    raw, ts, truth = _evaporating_station(delay_h)
    keep = np.ones(raw.shape, bool)
    night = night_index(HOURS, np.array([0.0]))
    fits = {}
    rule = NightRule(night, 10.0, 600.0)  # no estimate: the nights alone
    for label, kw in {"day": {}, "night": {"night": rule}}.items():
        corrected, fit = distributed_lag_compensation(raw, ts, [], keep, 4, **kw)
        inner = slice(48, -48)
        ok = np.isfinite(corrected[0, inner])
        r = np.corrcoef(_hf(corrected[0])[inner][ok], _hf(truth[0])[inner][ok])[0, 1]
        fits[label] = (float(np.nansum(fit.weights[0])), r)
    assert abs(fits["night"][0] - 0.001) < 0.0001, fits
    assert abs(fits["day"][0] - 0.001) > 0.0002, fits  # the bias the nights remove
    assert fits["night"][1] > 0.97 > fits["day"][1], fits


def test_night_equations_leave_a_guided_fit_with_the_true_signal_unchanged():
    """With the true SM as the signal estimate the guided fit is already right: the nights
    (the weight the reanalysis-guided default gives them) keep it right."""
    raw, ts, truth = _evaporating_station(2)
    keep = np.ones(raw.shape, bool)
    night = NightEquations(night_index(HOURS, np.array([0.0])), raw, ts, 10.0)
    hf = np.vstack([_hf(raw[0])])
    ts_hf = np.vstack([_hf(ts[0].astype(np.float64))])
    free = distributed_lag_fit(hf, ts_hf, [np.vstack([_hf(truth[0])])], keep, 4)
    both = distributed_lag_fit(hf, ts_hf, [np.vstack([_hf(truth[0])])], keep, 4, night=night)
    assert abs(np.sum(free.weights) - 0.001) < 0.00005
    assert abs(np.sum(both.weights) - 0.001) < 0.00005


def test_the_network_alone_cannot_undo_what_the_nights_find():
    """An in-situ network whose series is a function of TS (here a pure multiple of it, the
    worst case) cannot on its own tell the true cycle from the artefact: the free fit takes
    any share of TS as artefact. With the network-only weight the nights hold the gain."""
    raw, ts, truth = _evaporating_station(0)
    network = (-0.0004 * (ts - 22)).astype(np.float32)
    keep = np.ones(raw.shape, bool)
    rule = NightRule(night_index(HOURS, np.array([0.0])), 10.0, 600.0)
    _, free = distributed_lag_compensation(raw, ts, [network], keep, 4, network_anchor="none")
    _, held = distributed_lag_compensation(
        raw, ts, [network], keep, 4, network_anchor="select", night=rule
    )
    assert abs(np.nansum(held.weights) - 0.001) < 0.0001
    assert abs(np.nansum(free.weights) - 0.001) > 0.0002


@pytest.mark.parametrize("kind", ["raw", "six_hours_late"])
def test_select_nights_leaves_out_a_network_that_misleads_the_fit(kind):
    """A network whose series carries the probe's artefact (``raw``: it learned the artefact
    as signal) or is out of phase (the truth 6 h late) pulls the fit anchored on it or the
    free one away from the gain; ``select_nights`` keeps the nights-alone fit there (gain
    0.001 and the truth recovered, ``n_signals`` 0), by the same diurnal SM-TS rule."""
    raw, ts, truth = _evaporating_station(0)
    network = raw.copy() if kind == "raw" else np.roll(truth, 6).astype(np.float32)
    keep = np.ones(raw.shape, bool)
    rule = NightRule(night_index(HOURS, np.array([0.0])), 10.0, 600.0)
    err = {}
    for anchor in ("select", "select_nights"):
        out, fit = distributed_lag_compensation(
            raw, ts, [network], keep, 4, network_anchor=anchor, night=rule
        )
        err[anchor] = np.sqrt(np.mean(_hf(out[0] - truth[0])[48:-48] ** 2))
    assert abs(np.nansum(fit.weights) - 0.001) < 0.00005 and fit.n_signals[0] == 0
    assert not fit.anchored[0]
    assert err["select_nights"] < 3e-4 < 2 * err["select_nights"] < err["select"]
    # with an estimate beside the network (reanalysis) the option changes nothing
    both = [network, truth.astype(np.float32)]
    a, _ = distributed_lag_compensation(raw, ts, both, keep, 4, network_anchor="select", night=rule)
    b, _ = distributed_lag_compensation(
        raw, ts, both, keep, 4, network_anchor="select_nights", night=rule
    )
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("delay_h", [0, 2])
def test_the_night_slope_replaces_a_kept_fit_of_the_wrong_shape_only(delay_h):
    """``select_nights_slope``'s fourth candidate, one slope from the nights alone: a kept fit
    whose kernel says 4 h late on a probe that sees TS at once is replaced by the slope
    (0.001, the true gain); a kept fit with the right 2-h delay is not (the slope would
    leave the SM-TS composite correlation higher, not lower by the margin)."""
    from smlib.method.lagged_artefact import DistributedLagFit
    from smlib.method.night_candidates import prefer_night_slope

    raw, ts, _ = _evaporating_station(delay_h)
    kept = [0, 0, 0, 0, 0.001] if delay_h == 0 else [0, 0, 0.00098, 0, 0]
    fit = DistributedLagFit(
        np.array([kept]), np.array([4]), np.array([1.0]), n_signals=np.array([1]),
        anchored=np.array([True]), n_hours=np.array([100]),
    )  # fmt: skip
    nights = NightEquations(night_index(HOURS, np.array([0.0])), raw, ts, 1.0, days=False)
    hf, ts_hf = _hf(raw[0])[None], _hf(ts[0].astype(np.float64))[None]
    prefer_night_slope(fit, np.array([0]), hf, ts_hf, np.ones(raw.shape, bool), nights,
                        1e-3, 240)  # fmt: skip
    if delay_h == 0:
        assert fit.window_h[0] == 0 and abs(fit.weights[0, 0] - 0.001) < 0.00002
        assert fit.n_signals[0] == 0 and not fit.anchored[0]
        assert np.all(fit.weights[0, 1:] == 0)
    else:
        np.testing.assert_array_equal(fit.weights[0], kept)
        assert fit.window_h[0] == 4 and fit.n_signals[0] == 1 and fit.anchored[0]


@pytest.mark.parametrize("delay_h", [0, 2])
def test_select_nights_slope_is_select_nights_where_the_nights_fit_already_holds(delay_h):
    """Where the kept fit already has the nights' artefact (a misleading network, the nights
    alone kept), the single slope changes nothing, with or without a delayed element."""
    raw, ts, truth = _evaporating_station(delay_h)
    keep = np.ones(raw.shape, bool)
    rule = NightRule(night_index(HOURS, np.array([0.0])), 10.0, 600.0)
    out = {
        a: distributed_lag_compensation(raw, ts, [raw.copy()], keep, 4, network_anchor=a,
                                        night=rule)[0]
        for a in ("select_nights", "select_nights_slope")
    }  # fmt: skip
    np.testing.assert_array_equal(out["select_nights"], out["select_nights_slope"])
    assert np.sqrt(np.nanmean(_hf(out["select_nights"][0] - truth[0])[48:-48] ** 2)) < 3e-4


def test_the_night_slope_rule_reaches_stations_with_no_estimate(monkeypatch):
    """Where no estimate is left (the product without the network: the nights alone) the
    single slope is a candidate too, by the same rule; with a margin that always prefers it
    the fit becomes one lag-0 weight under ``select_nights_slope`` and not under
    ``select_nights``."""
    import smlib.method.night_candidates as nc

    monkeypatch.setattr(nc, "NIGHT_SLOPE_MARGIN", -10.0)
    raw, ts, _ = _evaporating_station(2)
    keep = np.ones(raw.shape, bool)
    rule = NightRule(night_index(HOURS, np.array([0.0])), 10.0, 600.0)
    fits = {
        a: distributed_lag_compensation(raw, ts, [], keep, 4, network_anchor=a, night=rule)[1]
        for a in ("select_nights", "select_nights_slope")
    }
    assert fits["select_nights"].window_h[0] == 2  # the delay, from the nights alone
    assert fits["select_nights_slope"].window_h[0] == 0
    assert np.all(fits["select_nights_slope"].weights[0, 1:] == 0)


@pytest.mark.parametrize("network_first", [True, False])
def test_the_night_slope_rule_reaches_fits_guided_by_the_reanalysis(network_first):
    """With two estimates (the network and a reanalysis, or two reanalyses) the anchor does not
    act, but the single slope replaces the kept fit by the same rule. Here the estimates carry
    half the artefact, so the guided fit takes too little for it; the nights' slope finds the
    true gain (0.001) and leaves the SM-TS composite correlation lower by far more than the
    margin. ``select_nights`` keeps the biased fit."""
    raw, ts, truth = _evaporating_station(0)
    keep = np.ones(raw.shape, bool)
    rule = NightRule(night_index(HOURS, np.array([0.0])), 10.0, 600.0)
    misled = (truth + 0.0005 * (ts - 22)).astype(np.float32)  # half the artefact in them
    fits = {
        a: distributed_lag_compensation(raw, ts, [misled, misled.copy()], keep, 4,
                                        network_anchor=a, night=rule,
                                        network_first=network_first)[1]
        for a in ("select_nights", "select_nights_slope")
    }  # fmt: skip
    biased = float(np.nansum(fits["select_nights"].weights[0]))
    assert biased < 0.0008, biased
    slope = fits["select_nights_slope"]
    assert slope.window_h[0] == 0 and abs(slope.weights[0, 0] - 0.001) < 0.00005
    assert slope.n_signals[0] == 0 and np.all(slope.weights[0, 1:] == 0)


def test_recommended_profile_turns_the_nights_on_and_bad_settings_are_refused():
    from smlib.config import get_profile, validate

    rec = get_profile("recommended").correct
    assert (rec.night_weight, rec.night_weight_network_only) == (10.0, 600.0)
    assert rec.night_window_h == (20, 10) and rec.artefact_lags_h > 0
    assert get_profile("paper").correct.night_weight == 0.0  # the paper's method is kept
    assert rec.network_anchor == "select_nights_kernel"
    assert get_profile("paper").correct.network_anchor == "select"
    for bad, match in [
        (["correct.network_anchor=nearest"], "network_anchor"),
        (["correct.night_window_h=[20]"], "night_window_h"),
        (["correct.night_window_h=[20, 0]"], "night_window_h"),
        (["correct.night_weight=-1"], ">= 0"),
    ]:
        with pytest.raises(ValueError, match=match):
            validate(get_profile("recommended", bad))


def test_fit_product_table_uses_the_run_s_night_window():
    """The product's fit builds its nights from the cube's hours and longitudes and the
    configured window: a window that misses every night of the station changes nothing."""
    import dataclasses

    import xarray as xr

    from smlib.config import get_profile
    from smlib.method.product import fit_product_table, night_rule

    raw, ts, truth = _evaporating_station(0)
    ds = xr.Dataset(
        {"sm": (("station", "time"), raw), "ts": (("station", "time"), ts)},
        coords={"station": ["N/S1"], "time": HOURS, "lon": ("station", [0.0])},
    )
    cc = get_profile("recommended").correct
    rain = np.zeros(raw.shape, bool)
    rule = night_rule(ds, cc)
    assert rule is not None and (rule.night >= 0).mean() == pytest.approx(10 / 24, abs=0.01)
    assert (
        night_rule(ds, dataclasses.replace(cc, night_weight=0, night_weight_network_only=0)) is None
    )
    _, _, coef, table = fit_product_table(ds, raw, ts, [], rain, cc)
    assert abs(np.nansum(coef) - 0.001) < 0.0001  # the nights alone: no estimate given
    assert table.terms[0] == "ts_hf_lag0h"


def test_dark_hours_follow_latitude_and_season():
    from smlib.method.night_window import dark_hours

    june = np.arange("2020-06-21T00", "2020-06-22T00", dtype="datetime64[h]")
    december = np.arange("2020-12-21T00", "2020-12-22T00", dtype="datetime64[h]")
    lat = np.array([0.0, 45.0, 70.0, -70.0])
    lon = np.zeros(4)
    dark_june = dark_hours(june, lat, lon).sum(axis=1)
    dark_dec = dark_hours(december, lat, lon).sum(axis=1)
    # the equator: about 12 h between sunset and sunrise, 11 whole hours of them dark
    assert dark_june[0] == 11 and dark_dec[0] == 11
    # 45 N: 8 dark hours at midsummer, 14 at midwinter; polar day and night at 70 N and S
    assert dark_june[1] == 8 and dark_dec[1] == 14
    assert (dark_june[2], dark_dec[2]) == (0, 24)
    assert (dark_june[3], dark_dec[3]) == (24, 0)
    # local solar time: at 90 E the dark hours are those at 0 E, six hours earlier in UTC
    east = dark_hours(june, np.array([45.0]), np.array([90.0]))[0]
    np.testing.assert_array_equal(np.roll(east, 6), dark_hours(june, lat[1:2], lon[:1])[0])


def test_night_index_with_latitudes_keeps_the_dark_hours_of_the_window():
    lon = np.zeros(3)
    lat = np.array([40.0, 64.0, np.nan])
    whole = night_index(HOURS[:72], lon)
    dark = night_index(HOURS[:72], lon, lat=lat)
    # 40 N in June: the window's lit hour (05 local) goes, the dark ones keep their numbers
    assert ((dark[0] >= 0) <= (whole[0] >= 0)).all()
    assert 8 <= (dark[0, 24:48] >= 0).sum() < (whole[0, 24:48] >= 0).sum()
    np.testing.assert_array_equal(dark[0][dark[0] >= 0], whole[0][dark[0] >= 0])
    # 64 N in June: a few dark hours a night at most; no latitude: the whole window (logged)
    assert (dark[1, 24:48] >= 0).sum() <= 4  # a 4.4-h night on 2 June
    np.testing.assert_array_equal(dark[2], whole[2])


def _sunlit_station(lat: float, seed: int = 0):
    """One station at ``lat`` (lon 0) whose true SM dries by evaporation in proportion to the
    sun (cos Z > 0), with a steady recharge; TS follows the sun an hour or two late; the probe
    adds 0.001 x TS and a little noise."""
    from smlib.timeutils import solar_geometry

    rng = np.random.default_rng(seed)
    cosz, _, _ = solar_geometry(pd.DatetimeIndex(HOURS), np.array([lat]), np.array([0.0]))
    sun = np.maximum(cosz[0], 0.0)
    et = 0.012 * sun / (sun.sum() / (HOURS.size / 24))  # 0.012 m3 m-3 a day
    t = np.arange(HOURS.size)
    truth = 0.30 - np.cumsum(et) + 0.012 * t / 24
    warm = np.convolve(sun, np.exp(-np.arange(12) / 3.0), "full")[: t.size]
    ts = 15 + 12 * warm / warm.max() + rng.normal(0, 0.05, t.size)
    raw = truth + 0.001 * (ts - 20) + rng.normal(0, 2e-4, t.size)
    return raw[None].astype(np.float32), ts[None].astype(np.float32), truth[None]


def test_dark_nights_keep_the_evening_sun_out_of_the_night_equations():
    """At 64 N in summer the 20:00 + 10 h window holds hours of low sun at both ends: their
    evaporation is taken for artefact and the nights-alone gain comes out 14 % low. Keeping
    the dark hours (three or more a night) finds it within 5 %."""
    raw, ts, _ = _sunlit_station(64.0)
    keep = np.ones(raw.shape, bool)
    gains = {}
    for label, lat, min_hours in [("window", None, 8), ("dark", np.array([64.0]), 3)]:
        night = night_index(HOURS, np.array([0.0]), 20, 10, lat=lat)
        rule = NightRule(night, 10.0, 600.0, min_hours=min_hours)
        _, fit = distributed_lag_compensation(raw, ts, [], keep, 4, night=rule)
        gains[label] = float(np.nansum(fit.weights[0]))
    assert abs(gains["dark"] - 0.001) < 0.00005, gains
    assert abs(gains["window"] - 0.001) > 0.0001, gains


def test_a_short_window_still_gives_nights():
    """The fewest hours a night needs follows the window (all but two, at least 3): a
    6-hour window, the advice where summer nights are short, is not silently empty."""
    import xarray as xr

    from smlib.config import get_profile
    from smlib.method.night_window import night_min_hours
    from smlib.method.product import night_rule

    raw, ts, _ = _evaporating_station(0)
    ds = xr.Dataset(
        {"sm": (("station", "time"), raw)},
        coords={"station": ["N/S1"], "time": HOURS, "lon": ("station", [0.0]),
                "lat": ("station", [45.0])},
    )  # fmt: skip
    cc = dataclasses.replace(get_profile("recommended").correct, night_window_h=(22, 6))
    rule = night_rule(ds, cc)
    assert rule.min_hours == night_min_hours(6) == 4
    eq = rule.equations(raw, ts, 0, False)
    assert eq.rows(0, np.ones(raw.shape[1], bool), 4) is not None
    dark = night_rule(ds, dataclasses.replace(cc, night_dark_only=True))
    assert ((dark.night >= 0) <= (rule.night >= 0)).all() and (dark.night >= 0).any()
