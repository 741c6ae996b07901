"""The product's fit hours where the rain screen of every source leaves a station too few
(smlib.method.product_rain.product_fit_hours), on the known-answer world of
test_product_default: the artefact comes back exactly, and the flags still say rain."""

from __future__ import annotations

import logging

import numpy as np
from test_product_default import B1, RAIN_DAY, world

from smlib.config import CorrectConfig
from smlib.method.correct import rain_affected_hours
from smlib.method.product import fit_product_table, product_fit_hours

WET = 0  # the station whose reanalysis cell rains every other day


def _wet_world():
    cube, truth, _ = world()
    h = np.arange(cube.sizes["time"])
    day = h // 24
    showers = (day % 2 == 0) & (h % 24 < 3)  # 2 mm h-1 for 3 h: a rain day of the cell
    for v in ("era5_precip", "merra2_precip"):
        cube[v].values[WET] = np.where(showers, 2.0, 0.0)
    return cube, truth, day


def _arrays(cube):
    return (np.asarray(cube[v].values, dtype=np.float32) for v in ("sm", "ts", "era5_sm"))


def test_a_station_the_regional_rain_leaves_too_few_hours_is_fitted_on_its_own_screen(caplog):
    cube, truth, day = _wet_world()
    raw, ts, exact = _arrays(cube)
    cc = CorrectConfig()
    rain = rain_affected_hours(cube, cc.rain_screen)
    usable = np.isfinite(raw) & np.isfinite(ts)
    assert (~rain[WET] & usable[WET]).sum() < cc.min_rule_hours  # widened: every day is rain
    with caplog.at_level(logging.INFO, logger="smlib.method.product_rain"):
        free = product_fit_hours(cube, raw, ts, rain, cc.rain_screen, cc.min_rule_hours)
    # its own screen (the SM tendency: no gauge at an ISMN station) sees the one rain step,
    # widened by a day; the other stations keep every source's screen
    np.testing.assert_array_equal(free[WET], np.abs(day - RAIN_DAY) > 1)
    others = np.arange(raw.shape[0]) != WET
    np.testing.assert_array_equal(free[others], ~rain[others])
    assert (
        "own gauge or SM tendency" in caplog.text and str(cube.station.values[WET]) in caplog.text
    )
    # the product: the set artefact comes back there, and the cell's rain days stay flagged 1
    prod, flag, coef, _ = fit_product_table(cube, raw, ts, [exact], rain, cc)
    assert abs(coef[WET, 0] - B1[WET]) < 1e-6
    done = np.isin(flag[WET], (0, 1))
    assert done.sum() > 0.9 * np.isfinite(raw[WET]).sum()  # not left raw (flag 3)
    np.testing.assert_array_equal(flag[WET][done] == 1, rain[WET][done])
    expected = raw[WET] - B1[WET] * (ts[WET] - 20.0)  # the set artefact removed at every hour
    np.testing.assert_allclose(prod[WET][done], expected[done], atol=1e-5)
    dry = done & (np.abs(day - RAIN_DAY) > 1)
    np.testing.assert_allclose(prod[WET][dry], truth[WET][dry], atol=1e-5)


def test_without_regional_rain_or_with_enough_hours_nothing_changes():
    cube, _, _ = world()
    raw, ts, _ = _arrays(cube)
    cc = CorrectConfig()
    rain = rain_affected_hours(cube, cc.rain_screen)
    free = product_fit_hours(cube, raw, ts, rain, cc.rain_screen, cc.min_rule_hours)
    np.testing.assert_array_equal(free, ~rain)  # every station has enough: ~rain
    # a station short of hours by its own record (the world's FEW: 200 SM hours) stays short
    few = np.isfinite(raw).sum(axis=1) < cc.min_rule_hours
    assert few.any() and (free[few] == ~rain[few]).all()
