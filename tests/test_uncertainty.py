"""Per-hour uncertainty of the corrected product: each part with a known answer, and calibration
on a tiny world whose truth, artefact and noise are set."""

from __future__ import annotations

import numpy as np
import pytest

from smlib.method.compensation import fit_coefficients
from smlib.method.uncertainty import (
    Z90,
    guidance_spread_var,
    jackknife_artefact_var,
    product_uncertainty,
    residual_ms_by_hour,
)

N_DAYS = 120
T = np.arange(24 * N_DAYS)


def _world(n_st: int = 4, noise: float = 0.002, seed: int = 0, b: float = 0.003):
    """Stations whose true HF is a diurnal cycle and whose probe adds ``b * TS_HF`` and noise."""
    rng = np.random.default_rng(seed)
    day = 2 * np.pi * T / 24
    ts_hf = np.stack([6 * np.sin(day - 1.0 + 0.3 * s) for s in range(n_st)])
    ts_hf += 1.5 * np.sin(2 * day)[None]  # not a sinusoid: a second harmonic
    ts_hf *= (1 + 0.3 * np.sin(2 * np.pi * T / (24 * 30)))[None]  # weather: amplitude varies
    ts_dhf = np.gradient(ts_hf, axis=1)
    truth_hf = -0.004 * np.sin(day + 0.5)[None].repeat(n_st, 0)
    raw_hf = truth_hf + b * ts_hf + rng.normal(0, noise, ts_hf.shape)
    return raw_hf, truth_hf, [ts_hf, ts_dhf]


def test_residual_mean_square_is_the_noise_when_the_model_is_right():
    raw_hf, truth_hf, temps = _world(noise=0.002)
    keep = np.ones(raw_hf.shape, bool)
    coef = fit_coefficients(raw_hf, temps + [truth_hf], keep, 240)
    ms = residual_ms_by_hour(raw_hf, temps + [truth_hf], coef, keep)
    assert ms.shape == (4, 24)
    assert np.sqrt(ms).mean() == pytest.approx(0.002, rel=0.1)


def test_residual_grows_at_the_hours_the_model_misses():
    raw_hf, truth_hf, temps = _world(noise=0.0005)
    hour = T % 24
    raw_hf = raw_hf + np.where((hour >= 12) & (hour < 15), 0.004, 0.0)[None]  # unmodelled bump
    keep = np.ones(raw_hf.shape, bool)
    coef = fit_coefficients(raw_hf, temps + [truth_hf], keep, 240)
    ms = residual_ms_by_hour(raw_hf, temps + [truth_hf], coef, keep)
    assert (ms[:, 12:15].min(axis=1) > 4 * np.median(ms, axis=1)).all()


def test_jackknife_matches_least_squares_theory_for_independent_noise():
    """One regressor, iid noise: Var(b) = sigma^2 / sum(x^2), so the artefact's SD at x is
    |x| sigma / sqrt(sum x^2)."""
    rng = np.random.default_rng(3)
    x = rng.normal(0, 1, (16, 24 * 100))
    y = 0.5 * x + rng.normal(0, 1.0, x.shape)
    keep = np.ones(x.shape, bool)
    var = jackknife_artefact_var(y, [x], 1, keep, min_hours=100, n_blocks=20)
    theory = x**2 / np.sum((x - x.mean(axis=1, keepdims=True)) ** 2, axis=1, keepdims=True)
    ratio = np.median(var / theory, axis=1)  # one value per station (var is b's, times x^2)
    assert np.mean(ratio) == pytest.approx(1.0, abs=0.25)


def test_jackknife_is_wider_with_fewer_fitted_hours():
    raw_hf, truth_hf, temps = _world(n_st=12, noise=0.002)
    long = np.ones(raw_hf.shape, bool)
    short = long & (T < 24 * 25)[None]  # about a fifth of the hours: about 5x the variance
    v_long = jackknife_artefact_var(raw_hf, temps + [truth_hf], 2, long, 240)
    v_short = jackknife_artefact_var(raw_hf, temps + [truth_hf], 2, short, 240)
    assert np.nanmean(v_short) > 2.5 * np.nanmean(v_long)


def test_guidance_spread_is_small_when_estimates_agree_and_large_when_they_do_not():
    raw_hf, truth_hf, temps = _world(noise=0.001)
    keep = np.ones(raw_hf.shape, bool)
    agree = guidance_spread_var(raw_hf, temps, [truth_hf, truth_hf * 1.02], keep, 240)
    wrong = np.roll(truth_hf, 6, axis=1)  # an estimate six hours out of phase
    disagree = guidance_spread_var(raw_hf, temps, [wrong, truth_hf], keep, 240)
    assert np.sqrt(np.nanmean(disagree)) > 3 * np.sqrt(np.nanmean(agree))


def test_interval_holds_about_90_percent_of_the_truth_and_flags_are_respected():
    raw_hf, truth_hf, temps = _world(n_st=6, noise=0.002, seed=5)
    rng = np.random.default_rng(9)
    signal = [truth_hf + rng.normal(0, 0.001, truth_hf.shape)]  # a good, noisy estimate
    keep = np.ones(raw_hf.shape, bool)
    flag = np.zeros(raw_hf.shape, np.int8)
    flag[0, :48] = 4  # no value
    flag[1, :48] = 3  # left raw
    sigma = product_uncertainty(raw_hf, temps, signal, keep, flag, min_hours=240)
    assert np.isnan(sigma[0, :48]).all() and np.isfinite(sigma[0, 48:]).all()
    # left raw: the artefact is still there, so the band is the raw HF's size, not the noise's
    assert np.nanmean(sigma[1, :48]) > 3 * np.nanmean(sigma[1, 48:])
    coef = fit_coefficients(raw_hf, temps + signal, keep, 240)
    product_hf = raw_hf - sum(coef[:, j : j + 1] * temps[j] for j in range(2))
    err = (product_hf - truth_hf)[2:]
    inside = np.abs(err) <= Z90 * sigma[2:]
    assert 0.85 <= inside.mean() <= 0.97


def test_a_gain_on_the_artefact_scales_its_uncertainty_not_the_residual():
    raw_hf, truth_hf, temps = _world(n_st=3, noise=0.002, seed=4)
    rng = np.random.default_rng(2)
    signal = [truth_hf + rng.normal(0, 0.001, truth_hf.shape), truth_hf + 0.0005]
    keep = np.ones(raw_hf.shape, bool)
    flag = np.zeros(raw_hf.shape, np.int8)
    args = (raw_hf, temps, signal, keep, flag)
    plain = product_uncertainty(*args, min_hours=240).astype(np.float64)
    assert np.array_equal(product_uncertainty(*args, gain=np.ones(raw_hf.shape)), plain)
    ms = residual_ms_by_hour(
        raw_hf, temps + signal, fit_coefficients(raw_hf, temps + signal, keep, 240), keep
    )[:, T % 24]
    gain = np.ones(raw_hf.shape)
    gain[1] = 2.0  # one station's artefact doubled at every hour: its artefact variance x4
    scaled = product_uncertainty(*args, min_hours=240, gain=gain).astype(np.float64)
    np.testing.assert_allclose(scaled[[0, 2]], plain[[0, 2]])
    np.testing.assert_allclose(scaled[1] ** 2 - ms[1], 4 * (plain[1] ** 2 - ms[1]), rtol=1e-3)
    assert (plain[1] ** 2 - ms[1]).min() > 0  # the artefact's part is there to scale


def test_a_station_without_enough_hours_is_left_raw_or_missing_never_narrow():
    raw_hf, truth_hf, temps = _world(n_st=2)
    keep = np.ones(raw_hf.shape, bool)
    keep[1] = T < 100  # too few hours to fit: the product leaves it raw (flag 3)
    flag = np.zeros(raw_hf.shape, np.int8)
    flag[1] = 3
    sigma = product_uncertainty(raw_hf, temps, [truth_hf], keep, flag, min_hours=240)
    assert np.isfinite(sigma[0]).all()
    assert np.nanmean(sigma[1]) > 2 * np.nanmean(sigma[0])


# ----------------------------------------------------------------------------- in the product
@pytest.fixture(scope="module")
def corrected_tiny(tmp_path_factory):
    import torch
    from test_preprocess import TINY_TRAIN, make_tiny_cube

    from smlib.method.correct import correct
    from smlib.method.train import train

    torch.set_num_threads(1)
    cube, truth = make_tiny_cube(n_ismn=6, n_days=60, seed=3, rain_days=(9, 23, 41))
    run = train(cube, tmp_path_factory.mktemp("runs") / "tiny", profile="recommended",
                overrides=(*TINY_TRAIN, "correct.min_rule_hours=120"))  # fmt: skip
    out = correct(cube, run, methods=("lstm", "lin"))
    return cube, truth, out


def test_default_product_carries_a_cf_uncertainty_where_it_has_values(corrected_tiny, tmp_path):
    import xarray as xr

    _, _, out = corrected_tiny
    assert out.attrs["product"] == "flagged"
    for var in ("sm_lstm", "sm_lin"):
        sigma = out[f"{var}_uncertainty"]
        assert sigma.attrs["units"] == "m3 m-3"
        assert sigma.attrs["standard_name"].endswith(" standard_error")
        assert f"{var}_uncertainty" in out[var].attrs["ancillary_variables"].split()
        flag = out[f"{var}_flag"].values
        assert np.isnan(sigma.values[flag == 4]).all()
        assert np.isfinite(sigma.values[flag == 0]).all() and (sigma.values[flag == 0] > 0).all()
    assert "sm_lstm_net_uncertainty" not in out  # the network's own series has none
    path = tmp_path / "c.nc"
    out.to_netcdf(path)
    with xr.open_dataset(path) as back:
        assert (
            back["sm_lstm_uncertainty"].attrs["standard_name"]
            == out["sm_lstm_uncertainty"].attrs["standard_name"]
        )


def test_coverage_is_measured_against_the_truth(corrected_tiny):
    from smlib.evaluation.calibration import describe_calibration, interval_coverage

    cube, truth, out = corrected_tiny
    table = interval_coverage(out, truth.to_dataset(name="sm"), cube)
    assert set(table.index) == {"sm_lstm", "sm_lin"}
    row = table.loc["sm_lstm"]
    assert row["n_stations"] >= 4 and row["n_hours"] > 1000
    # the tiny world's artefact gain changes from day to day (a model error the per-station fit
    # cannot remove): the intervals must still hold about 90 % and be narrow where it is good
    for var in ("sm_lstm", "sm_lin"):
        assert table.loc[var, "coverage"] >= 0.8, table.T
        assert table.loc[var, "rank_corr_width_error"] > 0.1
    assert table.loc["sm_lin", "coverage"] <= 0.98, table.T
    # the default product's sigma is that of the guided fit; its night equations take it
    # closer to the truth than that fit, so here its interval errs on the wide side (the
    # skill benchmark measures its coverage in every world: benchmarks/README.md)
    assert table.loc["sm_lstm", "coverage"] <= 0.999, table.T
    text = describe_calibration(table)
    assert f"{row['coverage']:.0%}" in text


def test_describe_calibration_says_too_narrow_and_too_wide():
    import pandas as pd

    from smlib.evaluation.calibration import describe_calibration

    base = dict(coverage_station_min=0.5, coverage_station_max=0.9, mean_width=0.01)
    table = pd.DataFrame.from_dict(
        {
            "sm_a": {**base, "coverage": 0.70, "rank_corr_width_error": 0.3},
            "sm_b": {**base, "coverage": 0.99, "rank_corr_width_error": -0.1},
            "sm_c": {**base, "coverage": 0.91, "rank_corr_width_error": 0.2},
            "sm_d": {**base, "coverage": 0.88, "rank_corr_width_error": 0.03},
        },
        orient="index",
    )
    text = describe_calibration(table)
    assert "70% of the true rain-free HF values (too narrow" in text
    assert "99% of the true rain-free HF values (too wide" in text
    assert "its width does not follow the error" in text
    assert "91% of the true rain-free HF values (honest" in text
    assert "narrowest where the product is best (rank correlation +0.20)" in text
    assert "barely follows the error (rank correlation +0.03)" in text


def test_evaluate_reports_the_calibration(corrected_tiny, tmp_path):
    import json

    from smlib.evaluation.calibration import interval_coverage
    from smlib.report.evaluate import evaluate

    cube, truth, out = corrected_tiny
    truth_ds = truth.to_dataset(name="sm")
    summary = evaluate(out, out=tmp_path / "rep", truth=truth_ds, cube=cube)
    expected = interval_coverage(out, truth_ds, cube)
    for var in ("sm_lstm", "sm_lin"):
        assert summary["calibration"][var]["coverage"] == pytest.approx(
            expected.loc[var, "coverage"]
        )
    assert (tmp_path / "rep" / "calibration.png").is_file()
    on_disk = json.loads((tmp_path / "rep" / "summary.json").read_text())
    assert on_disk["calibration"]["sm_lstm"]["n_hours"] == expected.loc["sm_lstm", "n_hours"]


def test_explorer_draws_the_band_and_not_a_series_of_sigma(corrected_tiny):
    from matplotlib.collections import PolyCollection

    from smlib.report.explorer import explorer_data, plot_zoom, series_keys

    cube, truth, out = corrected_tiny
    data = explorer_data(out, truth.to_dataset(name="sm"))
    assert "lstm_uncertainty" in data and "lstm_uncertainty" not in series_keys(data)
    station = str(out["station"].values[0])
    fig = plot_zoom(data, station, series=["raw", "lstm"])
    bands = [c for ax in fig.axes for c in ax.collections if isinstance(c, PolyCollection)]
    assert bands, "no 90 % band drawn around the product"


def test_reference_coverage_known_answer():
    """A station whose product differs from its reference by +-a every other hour: all its HF
    errors are a, so intervals of half-width 1.645 sigma hold all or none of them."""
    import pandas as pd
    import xarray as xr

    from smlib.evaluation.calibration import describe_calibration, reference_coverage

    n = 24 * 20
    time = pd.date_range("2021-06-01", periods=n, freq="h")
    s = 0.25 + 0.01 * np.sin(2 * np.pi * np.arange(n) / 24)
    a = 0.002
    err = np.where(np.arange(n) % 2 == 0, a, -a)

    def corrected(sigma: float) -> xr.Dataset:
        sm = np.stack([s + err, s])
        return xr.Dataset(
            {
                "sm": (("station", "time"), sm),
                "sm_lstm": (("station", "time"), sm),
                "sm_lstm_flag": (("station", "time"), np.zeros((2, n), np.int8)),
                "sm_lstm_uncertainty": (("station", "time"), np.full((2, n), sigma)),
            },
            coords={
                "station": ["N/probe", "N/cosmic"], "time": time,
                "lat": ("station", [40.0, 40.01]), "lon": ("station", [-100.0, -100.0]),
                "is_reference": ("station", [0, 1]), "kind": ("station", ["ismn", "ismn"]),
                "sensor_type": ("station", ["capacitance", "cosmic-ray"]),
            },
        )  # fmt: skip

    wide = reference_coverage(corrected(a / 1.5))  # 1.645 * a / 1.5 > a: every hour inside
    narrow = reference_coverage(corrected(a / 2))  # 1.645 * a / 2 < a: none inside
    assert wide.loc["sm_lstm", "coverage"] == pytest.approx(1.0)
    assert narrow.loc["sm_lstm", "coverage"] == pytest.approx(0.0)
    assert narrow.loc["sm_lstm", "n_stations"] == 1
    assert "lower bound" in describe_calibration(wide, against="reference")


def test_ismn_tree_carries_the_uncertainty_and_ismn_reads_it(corrected_tiny, tmp_path, capsys):
    from ismn.interface import ISMN_Interface

    from smlib.ops import ismn_writer

    _, _, out = corrected_tiny
    ismn_only = out.isel(station=np.flatnonzero(out["kind"].values == "ismn"))
    written = ismn_writer.write_station_files(tmp_path / "tree", ismn_only, "lstm")
    codes = {p.name.split("_")[3] for p in written}
    assert codes == {"sm", "ts", ismn_writer.UNCERTAINTY_CODE}
    iface = ISMN_Interface(tmp_path / "tree")
    sid = str(ismn_only["station"].values[0])
    net, st = sid.split("/")
    station = iface[net][st]
    (sensor,) = [s for s in station.sensors.values() if "smuncertainty" in s.name]
    got = sensor.data["smuncertainty"]
    want = ismn_only["sm_lstm_uncertainty"].sel(station=sid).to_series().dropna()
    np.testing.assert_allclose(got.to_numpy(), want.to_numpy(), atol=6e-6)
    assert (sensor.data["smuncertainty_orig_flag"].to_numpy() ==
            ismn_only["sm_lstm_flag"].sel(station=sid).values[np.isfinite(
                ismn_only["sm_lstm_uncertainty"].sel(station=sid).values)]).all()  # fmt: skip


def test_book_helpers_read_the_calibration_from_the_report(corrected_tiny, tmp_path):
    """Notebook 04's sentences, table and figure come from the evaluation report; a report
    without a calibration explains itself instead of failing."""
    from smlib.report import study
    from smlib.report.evaluate import evaluate

    cube, truth, out = corrected_tiny
    summary = evaluate(out, out=tmp_path / "rep", truth=truth.to_dataset(name="sm"), cube=cube)
    table = study.calibration_table(summary, "truth")
    assert set(table.index) == {"sm_lstm", "sm_lin"}
    text = study.describe_uncertainty(summary, "truth").data
    assert f"{table.loc['sm_lstm', 'coverage']:.0%} of the true rain-free HF values" in text
    assert study.plot_calibration(tmp_path / "rep").axes
    bare = evaluate(out.drop_vars(["sm_lstm_uncertainty", "sm_lin_uncertainty"]),
                    out=tmp_path / "bare", cube=cube)  # fmt: skip
    why = study.show_or_explain(study.calibration_table, bare, "reference")
    assert isinstance(why, study.Unavailable) and "uncertainty" in str(why.reason)
