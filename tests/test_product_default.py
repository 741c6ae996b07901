"""The default product (``flagged``, ``guided``) with known answers, and its stored coefficients.

A tiny world whose artefact and signal are set: true SM is a drying LF with a rain step plus a
diurnal sine whose amplitude changes from day to day; soil temperature is a fixed 24-h sine
around 20 degC (its 24-h mean is exactly 20, so ``T_HF = TS - 20``); every probe reads
``raw = true + b1 (TS - 20)`` with a known ``b1`` per station. With the truth among the signal
estimates the guided fit is exact: ``b1`` comes back, ``b2 = 0``, and the product is the truth.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from test_preprocess import TINY_TRAIN, make_tiny_cube

from smlib.method.compensation import guided_compensation, guided_fit
from smlib.method.compensation import temperature_regressors as regressors
from smlib.method.correct import FLAG_MEANINGS, correct, correct_file
from smlib.method.product import (
    apply_product,
    coefficients_path,
    read_coefficients,
    write_coefficients,
)
from smlib.method.settled import regressors_final
from smlib.method.train import train

torch.set_num_threads(1)

N_DAYS = 24
RAIN_DAY = 12  # rain at 00-03 h (local = UTC here); the strict screen widens it by a day
B1 = np.array([0.002, 0.0015, 0.003, -0.001])  # m3 m-3 K-1, per station (the last a tower)
FEW = 2  # the station with too few hours to fit
RAW_GAP = (0, slice(24 * 5, 24 * 6))  # station 0: one whole day without SM
TS_GAP = (1, slice(24 * 16 + 5, 24 * 16 + 35))  # station 1: 30 h without TS
EXTRA_RAIN_ARTEFACT = 0.004  # a different artefact on the rain day: must not enter the fit
RISE_DAY = 18  # SM rises by 0.004 without rain: below the record's threshold (0.5 sd ~ 0.005)


def world(with_amplitude: bool = False):
    """``(cube, truth, rain_hours)``: the tiny world of the module docstring (and the true
    diurnal amplitude, station x hour, with ``with_amplitude``)."""
    cube, _ = make_tiny_cube(n_ismn=3, n_days=N_DAYS, seed=4, lon0=0.0, rain_days=())
    n_st, n_t = cube.sizes["station"], cube.sizes["time"]
    assert (np.rint(cube.lon.values / 15) == 0).all()  # local solar day = UTC day
    h = np.arange(n_t)
    day = h // 24
    rng = np.random.default_rng(7)
    amp = rng.uniform(0.002, 0.006, (n_st, N_DAYS))[:, day]  # day-to-day amplitude
    lf = 0.25 - 0.001 * h / 24 + np.where(day >= RAIN_DAY, 0.05, 0.0)
    lf = lf + np.where(day >= RISE_DAY, 0.004, 0.0)
    truth = lf[None, :] + amp * np.sin(2 * np.pi * (h - 4) / 24)
    ts = np.broadcast_to(20 + 6 * np.sin(2 * np.pi * (h - 9) / 24), (n_st, n_t))
    ts = ts.astype(np.float32)
    rain_day = day == RAIN_DAY
    raw = truth + B1[:, None] * (ts.astype(np.float64) - 20)
    raw = raw + np.where(rain_day, EXTRA_RAIN_ARTEFACT, 0.0) * (ts - 20.0)
    raw[RAW_GAP] = np.nan
    raw[FEW, 200:] = np.nan  # 200 hours only: below min_rule_hours (240)
    ts = ts.copy()
    ts[TS_GAP] = np.nan
    precip = np.where(rain_day & (h % 24 < 4), 2.0, 0.0)[None, :].repeat(n_st, 0)
    cube["sm"].values[:] = raw
    cube["ts"].values[:] = ts
    cube["era5_sm"].values[:] = truth  # an exact estimate of the signal
    cube["merra2_sm"].values[:] = lf[None, :] + amp * np.sin(2 * np.pi * (h - 5.5) / 24)
    for v in ("era5_precip", "merra2_precip"):
        cube[v].values[:] = precip
    cube["precip"].values[:] = np.where(cube.kind.values[:, None] == "tower", precip, np.nan)
    rain_hours = np.broadcast_to(np.abs(day - RAIN_DAY) <= 1, (n_st, n_t))  # widened by 1 day
    return (cube, truth, rain_hours, amp) if with_amplitude else (cube, truth, rain_hours)


def expected_flags(cube, rain_hours) -> np.ndarray:
    raw = cube.sm.values
    n_t = raw.shape[1]
    left_raw = np.zeros(raw.shape, bool)
    left_raw[:, [0, n_t - 1]] = True  # the TS tendency is undefined at the record's ends
    left_raw[TS_GAP] = True
    left_raw[FEW] = True
    flag = np.where(rain_hours, 1, 0)
    flag = np.where(left_raw, 3, flag)
    return np.where(np.isfinite(raw), flag, 4).astype(np.int8)


def _arrays(cube):
    return (
        cube.sm.values.astype(np.float64),
        cube.ts.values.astype(np.float64),
        cube.era5_sm.values.astype(np.float64),
    )


def test_guided_compensation_recovers_the_set_artefact_and_the_truth():
    cube, truth, rain = world()
    raw, ts, exact = _arrays(cube)
    net = exact + np.random.default_rng(1).normal(0, 2e-3, exact.shape)  # a poor network
    prod, flag, coef = guided_compensation(raw, ts, [net, exact], ~rain, rain, min_hours=240)
    fitted = np.arange(4) != FEW
    np.testing.assert_allclose(coef[fitted, 0], B1[fitted], rtol=1e-6)
    np.testing.assert_allclose(coef[fitted, 1], 0.0, atol=1e-8)
    assert np.isnan(coef[FEW]).all()
    np.testing.assert_array_equal(flag, expected_flags(cube, rain))
    done = np.isin(flag, (0, 1))
    np.testing.assert_allclose(prod[done], truth[done] + (raw - truth - B1[:, None] * (ts - 20))[done],
                               atol=2e-7)  # fmt: skip
    dry = done & ~rain
    np.testing.assert_allclose(prod[dry], truth[dry], atol=2e-7)
    # the rain day keeps what is not the fitted artefact (here its extra artefact)
    wet = done & (np.arange(raw.shape[1]) // 24 == RAIN_DAY)[None, :]
    np.testing.assert_allclose(prod[wet] - truth[wet], (EXTRA_RAIN_ARTEFACT * (ts - 20))[wet],
                               atol=2e-7)  # fmt: skip
    left = flag == 3
    np.testing.assert_array_equal(prod[left], raw[left].astype(np.float32))
    assert np.isnan(prod[flag == 4]).all()


def test_guided_fit_falls_back_to_fewer_estimates_and_says_so():
    cube, _, rain, amp = world(with_amplitude=True)
    raw, ts, exact = _arrays(cube)
    net = exact.copy()
    net[0] = np.nan  # no network at station 0: fitted with the reanalysis alone, still exact
    rean = exact.copy()
    rean[1] = np.nan  # station 1 has no estimate at all: the plain TS fit, biased by the cycle
    net[1] = np.nan
    coef, n_hours, n_signals = guided_fit(raw, ts, [net, rean], ~rain, 240)
    np.testing.assert_array_equal(n_signals, [1, 0, -1, 2])
    np.testing.assert_allclose(coef[[0, 3], 0], B1[[0, 3]], rtol=1e-6)
    # the plain fit takes the part of the true cycle in phase with TS as artefact: with the
    # cycle a sin(w (h - 4)) and TS 6 sin(w (h - 9)), that is mean(a) cos(5 w) / 6 per K
    used = (~rain[1] & np.isfinite(ts[1]))[12:-11]
    leak = amp[1, 12:-11][used].mean() * np.cos(5 * 2 * np.pi / 24) / 6
    assert coef[1, 0] - B1[1] == pytest.approx(leak, rel=0.1)  # + the steps' HF transients
    # rain-free hours with every series of the fit defined: 12 h of LF reach at both ends
    n_t = raw.shape[1]
    inner = np.zeros(n_t, bool)
    inner[12 : n_t - 11] = True
    assert n_hours[3] == (inner & ~rain[3]).sum()
    assert n_hours[2] == 0 and np.isnan(coef[2]).all()


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """The world corrected by ``smlib correct``'s path with the default product."""
    d = tmp_path_factory.mktemp("product")
    cube, truth, rain = world()
    # the network is only one of the signal estimates here: trained on the tiny twin of the
    # same stations (the set world has no day with R(SM, TS) < -0.34 to train on)
    twin, _ = make_tiny_cube(n_ismn=3, n_days=N_DAYS, seed=4, lon0=0.0, rain_days=(8,))
    run = train(twin, d / "run", profile="quick", overrides=TINY_TRAIN)
    out = d / "corrected.nc"
    res = correct_file(cube, run, out=out, methods=("lstm",), product="flagged")
    return cube, truth, rain, run, res, out


def test_correct_default_product_has_the_known_coefficients_values_and_flags(fitted):
    cube, truth, rain, run, res, _ = fitted
    assert {"sm_lstm", "sm_lstm_net", "sm_lstm_flag", "rule_coefficient"} <= set(res.data_vars)
    coef = res.rule_coefficient.values
    fitted_st = np.arange(4) != FEW
    # exact only because the reanalysis estimate (= truth) is stacked beside the network
    np.testing.assert_allclose(coef[fitted_st, 0], B1[fitted_st], rtol=2e-4)
    np.testing.assert_allclose(coef[fitted_st, 1], 0.0, atol=2e-6)
    assert np.isnan(coef[FEW]).all()
    flag = res.sm_lstm_flag.values
    np.testing.assert_array_equal(flag, expected_flags(cube, rain))
    assert set(np.unique(flag)) == {0, 1, 3, 4}
    dry = flag == 0
    np.testing.assert_allclose(res.sm_lstm.values[dry], truth[dry], atol=3e-6)
    left = flag == 3
    np.testing.assert_array_equal(res.sm_lstm.values[left], cube.sm.values[left])
    # sm_lstm_net is the network's own series, not the product
    net = correct(cube, run, ("lstm",), product="paper").sm_lstm.values
    np.testing.assert_array_equal(res.sm_lstm_net.values, net)
    both = dry & np.isfinite(net)
    assert np.abs(net[both] - truth[both]).max() > 10 * np.abs(res.sm_lstm.values[both]
                                                               - truth[both]).max()  # fmt: skip
    assert res.sm_lstm_flag.attrs["flag_meanings"].split() == list(FLAG_MEANINGS.values())


def test_coefficient_file_is_written_beside_the_output_and_documents_the_fit(fitted):
    cube, _, rain, _, res, out = fitted
    path = coefficients_path(out)
    assert path == out.with_name("corrected.coefficients.json") and path.exists()
    doc = json.loads(path.read_text())
    assert doc["format"] == "smlib-product-coefficients" and doc["version"] == 1
    assert doc["variables"]["b1"]["units"] == "m3 m-3 K-1"
    assert doc["variables"]["b2"]["units"] == "m3 m-3 h K-1"
    p = doc["product"]
    assert (p["lf_window_h"], p["lf_centering"], p["max_gap_h"]) == (24, "centred", 3)
    assert p["signal_estimates"] == ["sm_lstm_net", "era5_sm", "merra2_sm"]
    assert p["unseen_station"] == {"fallback": "raw", "flag": 3}
    st = doc["stations"]
    assert st["station"] == [str(s) for s in cube.station.values]
    assert st["fallback"][FEW] == "raw" and st["b1"][FEW] is None
    assert st["signals_used"][FEW] is None and st["fitted_hours"][FEW] == 0
    np.testing.assert_allclose(
        [st["b1"][i] for i in (0, 1, 3)], res.rule_coefficient.values[[0, 1, 3], 0], rtol=1e-6
    )
    n_rain_free = (~rain[3]).sum()
    assert 240 <= st["fitted_hours"][3] <= n_rain_free
    table = read_coefficients(path)
    np.testing.assert_array_equal(table.coef, np.array([[np.nan if v is None else v for v in
                                  (st["b1"][i], st["b2"][i])] for i in range(4)]))  # fmt: skip
    bad = path.with_name("bad.json")
    bad.write_text(json.dumps({**doc, "version": 99}))
    with pytest.raises(ValueError, match="bad.json: coefficient file version 99"):
        read_coefficients(bad)


def test_stored_coefficients_give_the_batch_product(fitted, tmp_path):
    cube, _, _, run, res, out = fitted
    applied = apply_product(cube, coefficients_path(out))
    np.testing.assert_allclose(applied.sm_lstm.values, res.sm_lstm.values, rtol=0, atol=1e-7,
                               equal_nan=True)  # fmt: skip
    np.testing.assert_array_equal(applied.sm_lstm_flag.values, res.sm_lstm_flag.values)
    again = correct(cube, run, ("lstm",), product="flagged", coefficients=coefficients_path(out))
    for v in ("sm_lstm", "sm_lstm_flag", "sm_lstm_net", "rule_coefficient"):
        np.testing.assert_array_equal(again[v].values, res[v].values, err_msg=v)


def test_a_station_never_fitted_stays_raw_with_flag_3(fitted, tmp_path):
    cube, _, _, _, res, out = fitted
    table = read_coefficients(coefficients_path(out))
    renamed = cube.assign_coords(station=["NET/NEW"] + [str(s) for s in cube.station.values[1:]])
    applied = apply_product(renamed, table)
    raw = cube.sm.values[0]
    np.testing.assert_array_equal(applied.sm_lstm.values[0], raw)
    np.testing.assert_array_equal(applied.sm_lstm_flag.values[0], np.where(np.isfinite(raw), 3, 4))
    assert np.isnan(applied.rule_coefficient.values[0]).all()
    np.testing.assert_array_equal(applied.sm_lstm.values[1:], res.sm_lstm.values[1:])
    # a table written and read again applies the same
    copy = write_coefficients(table, tmp_path / "copy.coefficients.json")
    np.testing.assert_array_equal(apply_product(cube, copy).sm_lstm.values, res.sm_lstm.values)


def test_streamed_regressors_are_settled_where_said():
    """Every hour that regressors_final calls settled has the regressors of the whole record."""
    rng = np.random.default_rng(0)
    n = 24 * 6
    ts = 20 + 5 * np.sin(2 * np.pi * np.arange(n) / 24) + rng.normal(0, 0.1, (4, n))
    ts[0, 50:52] = np.nan  # a short gap (interpolated)
    ts[1, 60:100] = np.nan  # a long one (LF borrowed from the next defined mean)
    ts[2, ::37] = np.nan
    ts[3, 100:104] = np.nan
    whole = regressors(ts)
    lags = []
    for m in range(30, n):
        part, settled = regressors(ts[:, :m]), regressors_final(ts[:, :m])
        for a, b in zip(part, whole, strict=True):
            np.testing.assert_array_equal(a[settled], b[:, :m][settled])
        lags.append(m - 1 - np.flatnonzero(settled[0])[-1])
    assert min(lags) == 12  # complete TS: 11 h of the centred LF and 1 of the tendency
    assert max(lags) <= 27


def test_network_mode_rule_fills_rain_and_input_less_hours_with_flags_1_and_2():
    """``correct.mode=network``: the network's value on rain-free hours with inputs; the
    artefact rule, fitted on raw minus network HF, on rain hours (1) and input-less ones (2)."""
    from smlib.method.compensation import flagged_product

    cube, truth, rain = world()
    raw, ts, _ = _arrays(cube)
    method = truth.copy()  # a perfect network ...
    no_input = np.zeros(raw.shape, bool)
    no_input[3, 24 * 3 : 24 * 4] = True  # ... without inputs for a day at the tower
    method[no_input] = np.nan
    prod, flag, coef = flagged_product(raw, method, rain, ts, "artefact", 240)
    fitted = np.arange(4) != FEW
    np.testing.assert_allclose(coef[fitted, 0], B1[fitted], rtol=1e-6)
    np.testing.assert_allclose(coef[fitted, 1], 0.0, atol=1e-8)
    have = np.isfinite(raw)
    assert (flag[3][no_input[3]] == 2).all()
    np.testing.assert_allclose(prod[no_input], truth[no_input], atol=2e-7)  # rule = truth here
    wet = rain & have & np.isfinite(regressors(ts)[1])
    wet[FEW] = False
    assert (flag[wet] == 1).all()
    np.testing.assert_allclose(  # the rain day keeps what is not the fitted artefact
        prod[wet], (raw - B1[:, None] * (ts - 20))[wet], atol=2e-7
    )
    dry = have & ~rain & ~no_input
    assert (flag[dry] == 0).all() and np.allclose(prod[dry], truth[dry], atol=1e-7)
    assert (flag[FEW][have[FEW] & rain[FEW]] == 3).all()
    assert (flag[~have] == 4).all()


def test_stored_coefficients_on_new_hours_alone(fitted):
    """An operator holds only the latest hours: the product of those hours (away from the
    first day, whose LF and daily tendency need the hours before) is the book's, flags
    included -- the in-situ rain screen keeps the fitting record's threshold, so the small
    rise of RISE_DAY is no rain in the new hours either (after the rain day their own spread
    would be ~10 times smaller and call it rain)."""
    cube, _, _, _, res, out = fitted
    for day in (9, RAIN_DAY + 2):
        start = 24 * day + 5
        later = apply_product(cube.isel(time=slice(start, None)), coefficients_path(out))
        keep = slice(start + 48, None)
        np.testing.assert_allclose(later.sm_lstm.values[:, 48:], res.sm_lstm.values[:, keep],
                                   rtol=0, atol=1e-7, equal_nan=True)  # fmt: skip
        np.testing.assert_array_equal(
            later.sm_lstm_flag.values[:, 48:], res.sm_lstm_flag.values[:, keep]
        )
        assert (later.sm_lstm_flag.values[:, 48:] == 1).any() == (day < RAIN_DAY)


def test_damaged_coefficient_files_are_refused_naming_the_file(fitted, tmp_path):
    _, _, _, _, _, out = fitted
    doc = json.loads(coefficients_path(out).read_text())
    cases = {
        "short.json": {**doc, "stations": {**doc["stations"], "b2": doc["stations"]["b2"][:-1]}},
        "nokey.json": {k: v for k, v in doc.items() if k != "product"},
        "other.json": {"format": "something else"},
    }
    for name, bad in cases.items():
        (tmp_path / name).write_text(json.dumps(bad))
        with pytest.raises(ValueError, match=name):
            read_coefficients(tmp_path / name)
    (tmp_path / "cut.json").write_text(coefficients_path(out).read_text()[:200])
    with pytest.raises(ValueError, match="cut.json: not a readable coefficient file"):
        read_coefficients(tmp_path / "cut.json")


def test_cli_correct_applies_a_stored_table(fitted, tmp_path):
    """``smlib correct --coefficients FILE`` gives the product that the fitting run wrote."""
    import xarray as xr

    from smlib.cli import main

    cube, _, _, run, res, out = fitted
    cube_path = tmp_path / "cube.nc"
    cube.to_netcdf(cube_path)
    again = tmp_path / "again.nc"
    rc = main(["correct", str(cube_path), "--model", str(run), "--out", str(again),
               "--methods", "lstm", "--product", "flagged",
               "--coefficients", str(coefficients_path(out))])  # fmt: skip
    assert rc == 0
    with xr.open_dataset(again) as got:
        for v in ("sm_lstm", "sm_lstm_flag"):
            np.testing.assert_array_equal(got[v].values, res[v].values, err_msg=v)
        assert "stored coefficients" in got["sm_lstm"].attrs["product"]
    assert not coefficients_path(again).exists()  # applied, not fitted: no new table
    rc = main(["correct", str(cube_path), "--model", str(run), "--out", str(tmp_path / "x.nc"),
               "--methods", "lstm", "--coefficients", str(tmp_path / "missing.json")])  # fmt: skip
    assert rc == 2
