"""smlib.evaluation.signal_ablation: what each signal estimate adds to the default product.

A tiny world with known answers: three dielectric stations, 30 days hourly. Soil temperature is
a fixed 24-h sine around 20 degC (``T_HF = TS - 20``); the true SM is a drying LF with one rain
step plus a diurnal cycle ``a_d sin(w (h - 4))`` whose amplitude ``a_d`` changes from day to day,
five hours ahead of TS, so part of it covaries with TS. Every probe reads ``raw = truth + A (TS -
20)`` with a known ``A`` per station. The "network" is the truth plus noise; ERA5-Land has the
right phase but an amplitude of its own each day; MERRA-2 an hour late, with its own amplitudes
too (a fixed cycle would be collinear with the temperature terms). A fit with the
temperature terms alone takes the part of the true cycle in phase with TS as artefact:
``b1 - A = mean(a_d) cos(5 w) / 6``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from smlib.config import CorrectConfig
from smlib.evaluation.signal_ablation import (
    ablation_subsets,
    network_gain,
    network_verdict,
    paired_gain_kernel,
    refit_kernel,
    score_signal_ablation,
    signal_ablation,
)
from smlib.method.correct import rain_affected_hours
from smlib.method.product import fit_product_table

N_DAYS = 30
RAIN_DAY = 15
A = np.array([0.002, 0.0015, 0.003])  # m3 m-3 K-1, the set artefact per station
W = 2 * np.pi / 24


def world(network: str = "truth", seed: int = 3, good_reanalysis: bool = False):
    """``(cube, truth, amp)``. ``network``: ``truth`` (truth + noise) or ``half`` (a network
    that removed only half of the artefact); ``good_reanalysis``: ERA5-Land is the truth plus
    noise instead of a cycle with amplitudes of its own."""
    rng = np.random.default_rng(seed)
    n_st, n_t = len(A), 24 * N_DAYS
    h = np.arange(n_t)
    day = h // 24
    amp = rng.uniform(0.002, 0.006, (n_st, N_DAYS))[:, day]
    lf = 0.25 - 0.001 * h / 24 + np.where(day >= RAIN_DAY, 0.04, 0.0)
    truth = lf[None, :] + amp * np.sin(W * (h - 4))
    ts = np.broadcast_to(20 + 6 * np.sin(W * (h - 9)), (n_st, n_t)).astype(np.float32)
    raw = truth + A[:, None] * (ts.astype(np.float64) - 20)
    if network == "truth":
        net = truth + rng.normal(0, 2e-4, truth.shape)
    else:  # a network that removed only half of the artefact
        net = raw - 0.5 * A[:, None] * (ts - 20.0) + rng.normal(0, 2e-4, truth.shape)
    amp_e = rng.uniform(0.002, 0.006, (n_st, N_DAYS))[:, day]
    era5 = lf[None, :] + amp_e * np.sin(W * (h - 4))
    if good_reanalysis:
        era5 = truth + rng.normal(0, 2e-4, truth.shape)
    amp_m = rng.uniform(0.003, 0.005, (n_st, N_DAYS))[:, day]
    merra2 = lf[None, :] + amp_m * np.sin(W * (h - 5))
    precip = np.where((day == RAIN_DAY) & (h % 24 < 4), 2.0, 0.0)[None, :].repeat(n_st, 0)
    dims = ("station", "time")
    coords = {
        "station": [f"N/S{i}" for i in range(n_st)],
        "time": pd.date_range("2021-06-01", periods=n_t, freq="h"),
        "lon": ("station", np.zeros(n_st)),
        "lat": ("station", np.full(n_st, 45.0)),
        "kind": ("station", ["ismn"] * n_st),
        "is_reference": ("station", np.zeros(n_st, bool)),
        "sensor_type": ("station", ["capacitance"] * n_st),
    }
    f32 = np.float32
    cube = xr.Dataset(
        {"sm": (dims, raw.astype(f32)), "ts": (dims, ts), "precip": (dims, precip.astype(f32)),
         "era5_sm": (dims, era5.astype(f32)), "merra2_sm": (dims, merra2.astype(f32)),
         "net": (dims, net.astype(f32))},
        coords=coords,
    )  # fmt: skip
    truth_ds = xr.Dataset({"sm": (dims, truth)}, coords=coords)
    return cube, truth_ds, amp


def corrected_of(cube: xr.Dataset, cc: CorrectConfig | None = None) -> xr.Dataset:
    """What ``smlib correct`` writes for the guided product, with the world's "network"."""
    cc = cc or CorrectConfig()
    raw = cube.sm.values.astype(np.float32)
    ts = cube.ts.values.astype(np.float32)
    signal = [cube.net.values, cube.era5_sm.values, cube.merra2_sm.values]
    rain = rain_affected_hours(cube, cc.rain_screen)
    prod, flag, _, _ = fit_product_table(cube, raw, ts, signal, rain, cc)
    dims = ("station", "time")
    return xr.Dataset(
        {"sm": cube.sm, "ts": cube.ts,
         "sm_lstm": (dims, prod, {"product": "guided: the temperature artefact ..."}),
         "sm_lstm_flag": (dims, flag), "sm_lstm_net": cube.net},
        coords=cube.drop_vars(list(cube.data_vars)).coords,
    )  # fmt: skip


def _arrays(cube):
    signals = {"sm_lstm_net": cube.net.values, "era5_sm": cube.era5_sm.values,
               "merra2_sm": cube.merra2_sm.values}  # fmt: skip
    return cube.sm.values, cube.ts.values, signals, rain_affected_hours(cube, "strict")


def test_subsets_follow_the_estimates_a_build_has():
    full = ablation_subsets(["sm_lstm_net", "era5_sm", "merra2_sm"])
    assert list(full) == ["all", "without_network", "without_era5", "without_merra2",
                          "network_alone", "none"]  # fmt: skip
    assert full["without_network"] == ("era5_sm", "merra2_sm")
    assert full["without_era5"] == ("sm_lstm_net", "merra2_sm")
    assert ablation_subsets(["merra2_sm", "sm_lstm_net"])["all"] == ("sm_lstm_net", "merra2_sm")
    assert "without_era5" not in ablation_subsets(["sm_lstm_net", "merra2_sm"])


def test_all_is_the_default_product_exactly_and_none_the_biased_fit():
    cube, _, amp = world()
    raw, ts, signals, rain = _arrays(cube)
    assert rain.any() and not rain.all()
    refits = refit_kernel(raw, ts, signals, rain, ablation_subsets(list(signals)))
    corrected = corrected_of(cube)
    np.testing.assert_array_equal(refits["all"].product, corrected.sm_lstm.values)
    np.testing.assert_array_equal(refits["all"].flag, corrected.sm_lstm_flag.values)
    assert (refits["all"].flag == 1).any()  # the rain days hold the artefact removed, flag 1
    # with the truth (plus noise) as an estimate, the artefact comes back
    np.testing.assert_allclose(refits["all"].coef[:, 0], A, rtol=0.02)
    np.testing.assert_allclose(refits["network_alone"].coef[:, 0], A, rtol=0.02)
    assert (
        np.isfinite(refits["none"].coef).all() and (refits["none"].flag == refits["all"].flag).all()
    )
    # the temperature terms alone take the in-phase part of the true cycle as artefact
    leak = amp.mean(axis=1) * np.cos(5 * W) / 6
    np.testing.assert_allclose(refits["none"].coef[:, 0] - A, leak, rtol=0.1)
    assert (refits["none"].coef[:, 0] - A > 0.5 * leak).all()


def test_the_wrapper_reproduces_the_product_and_scores_the_network_gain():
    cube, truth, _ = world()
    corrected = corrected_of(cube)
    abl = signal_ablation(cube.drop_vars("net"), corrected)
    assert abl.attrs["max_abs_difference_all"] <= 1e-6
    assert abl["sm_ablation_none"].attrs["units"] == "m3 m-3"
    table = score_signal_ablation(abl, corrected, truth, cube)
    assert list(table.index) == ["all", "without_network", "without_era5", "without_merra2",
                                 "network_alone", "none"]  # fmt: skip
    assert table.loc["none", "signal_estimates"] == "none"
    assert table.loc["all", "hf_r"] > 0.95
    gain = network_gain(table)
    assert gain is not None and gain > 0.01
    assert network_verdict(gain) == "helps"
    assert table.loc["none", "hf_r"] < table.loc["all", "hf_r"]


def test_a_network_that_kept_half_the_artefact_hurts_where_the_reanalysis_knows_the_signal():
    cube, truth, _ = world(network="half", good_reanalysis=True)
    raw, ts, signals, rain = _arrays(cube)
    alone = refit_kernel(raw, ts, signals, rain, {"network_alone": ("sm_lstm_net",)})
    np.testing.assert_allclose(alone["network_alone"].coef[:, 0], 0.5 * A, rtol=0.1)
    corrected = corrected_of(cube)
    table = score_signal_ablation(signal_ablation(cube, corrected), corrected, truth, cube)
    assert table.loc["without_network", "hf_r"] > 0.99
    gain = network_gain(table)
    assert gain is not None and gain < -0.05
    assert network_verdict(gain) == "hurts"


def test_a_good_network_beside_a_good_reanalysis_adds_nothing():
    cube, truth, _ = world(network="truth", good_reanalysis=True)
    corrected = corrected_of(cube)
    table = score_signal_ablation(signal_ablation(cube, corrected), corrected, truth, cube)
    gain = network_gain(table)
    assert gain is not None and abs(gain) < 0.01 and table.loc["all", "hf_r"] > 0.99
    assert network_verdict(gain) == "does nothing"
    assert network_gain(table.drop(index="without_network")) is None


def test_a_file_the_refit_cannot_reproduce_is_refused():
    cube, _, _ = world()
    corrected = corrected_of(cube)
    other = corrected_of(cube, CorrectConfig(smoothing_days=2))
    with pytest.raises(ValueError, match="differs from sm_lstm"):
        signal_ablation(cube, other)  # made with smoothing, refitted without
    assert signal_ablation(cube, other, CorrectConfig(smoothing_days=2)).attrs[
        "max_abs_difference_all"] <= 1e-6  # fmt: skip
    stored = corrected.copy()
    stored["sm_lstm"].attrs["product"] = "guided, stored coefficients: ..."
    with pytest.raises(ValueError, match="not a guided product fitted on this cube"):
        signal_ablation(cube, stored)
    with pytest.raises(ValueError, match="no sm_lstm_net"):
        signal_ablation(cube, corrected.drop_vars("sm_lstm_net"))
    with pytest.raises(ValueError, match="N/S9 of the corrected file is not in the cube"):
        signal_ablation(cube, corrected.assign_coords(station=["N/S0", "N/S1", "N/S9"]))


def test_the_refit_reproduces_smlib_corrects_file_from_a_trained_run(tmp_path):
    """End to end: a tiny trained run, ``correct_file``'s NetCDF, the refit with its config."""
    import torch
    from test_preprocess import TINY_TRAIN, make_tiny_cube

    from smlib.evaluation.signal_ablation import correct_config_of
    from smlib.method.correct import correct_file
    from smlib.method.train import train

    torch.set_num_threads(1)
    cube, _ = make_tiny_cube(n_ismn=3, n_days=24, seed=4)
    run = train(cube, tmp_path / "run", profile="quick",
                overrides=[*TINY_TRAIN, "correct.product=flagged", "correct.smoothing_days=1"])  # fmt: skip
    out = tmp_path / "corrected.nc"
    correct_file(cube, run, out=out, methods=("lstm",))
    with xr.open_dataset(out) as corrected:
        corrected.load()
    for cc in (correct_config_of(run), correct_config_of(None, out)):
        assert cc.smoothing_days == 1
        abl = signal_ablation(cube, corrected, cc)
        assert abl.attrs["max_abs_difference_all"] <= 1e-6
        assert "network_alone" in abl.attrs["ablations"].split()
    with pytest.raises(ValueError, match="differs from sm_lstm"):
        signal_ablation(cube, corrected, correct_config_of())  # the defaults: no smoothing


def test_smlib_evaluate_writes_the_ablation_and_its_verdict(tmp_path, capsys):
    import json

    from smlib.cli import main

    cube, truth, _ = world()
    corrected = corrected_of(cube)
    paths = {}
    for name, ds in (("cube", cube.drop_vars("net")), ("corrected", corrected), ("truth", truth)):
        paths[name] = tmp_path / f"{name}.nc"
        ds.to_netcdf(paths[name])
    rc = main(["evaluate", str(paths["corrected"]), "--truth", str(paths["truth"]),
               "--cube", str(paths["cube"]), "--out", str(tmp_path / "report")])  # fmt: skip
    assert rc == 0
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    sa = summary["signal_ablation"]
    assert sa["network"] == "helps" and sa["product_at_least_without_network"] is True
    assert sa["network_gain_hf_r"] == pytest.approx(
        sa["table"]["all"]["hf_r"] - sa["table"]["without_network"]["hf_r"]
    )
    table = pd.read_csv(tmp_path / "report" / "signal_ablation.csv", index_col="ablation")
    assert table.loc["all", "hf_r"] == pytest.approx(sa["table"]["all"]["hf_r"], abs=1e-5)
    assert "signal_ablation.csv" in summary["tables"]
    assert sa["product_label"] == "guided fit (LSTM + reanalysis)"
    assert "The network helps the product" in capsys.readouterr().out


def _table(all_: float, without: float, reanalysis: bool = True) -> pd.DataFrame:
    rows = {"all": all_, "without_network": without, "none": 0.3}
    if reanalysis:
        rows.update(without_era5=all_, network_alone=all_ - 0.01)
    return pd.DataFrame({"hf_r": rows}).rename_axis("ablation")


def test_the_books_sentence_says_whether_the_network_helps_does_nothing_or_hurts():
    from smlib.report import study

    helps = study.describe_signal_ablation(_table(0.93, 0.85))
    assert "scores a median rain-free HF R of 0.85" in helps and "with the network, 0.93" in helps
    assert "The network adds +0.08: part of the product's skill is the LSTM's." in helps
    nothing = study.describe_signal_ablation(_table(0.905, 0.90))
    assert "adds +0.005, less than 0.01" in nothing and "not from the LSTM" in nothing
    assert "the guided fit and the reanalysis" in nothing
    hurts = study.describe_signal_ablation(_table(0.80, 0.90))
    assert "The network costs 0.10" in hurts and "better fitted without it" in hurts
    assert len({helps, nothing, hurts}) == 3
    alone = study.describe_signal_ablation(_table(0.80, 0.80, reanalysis=False))
    assert "no other estimate (the temperature terms alone)" in alone
    assert "reanalysis" not in alone
    assert "not known" in study.describe_signal_ablation(_table(0.9, 0.9).drop("all"))


def test_the_books_table_comes_from_the_summary_or_says_why_not():
    from smlib.evaluation.signal_ablation import ablation_summary
    from smlib.report import study

    summary = {"signal_ablation": ablation_summary(_table(0.93, 0.85))}
    table = study.signal_ablation_table(summary)
    assert table.loc["without_network", "hf_r"] == 0.85
    assert summary["signal_ablation"]["network_gain_hf_r"] == pytest.approx(0.08)
    why = study.show_or_explain(
        study.signal_ablation_table, {"skipped": {"signal_ablation": "no guided product"}}
    )
    assert isinstance(why, study.Unavailable) and "no guided product" in str(why)


def test_the_books_table_of_the_network_gain_per_world():
    from smlib.evaluation.signal_ablation import ablation_summary
    from smlib.report import study

    paired = paired_gain_kernel(np.array([0.9, 0.8, 0.7, 0.6]), np.array([0.8, 0.8, 0.75, 0.5]))
    bench = {"scenarios": {"a": {"_signal_ablation": ablation_summary(_table(0.93, 0.85))},
                           "b": {"_signal_ablation": {**ablation_summary(_table(0.80, 0.90)),
                                                      "paired": paired}},
                           "c": {"_error": "training failed"}}}  # fmt: skip
    table = study.network_gain_by_world(bench)
    assert list(table.index) == ["a", "b"]
    assert table.loc["b", "network's gain"] == pytest.approx(-0.10)
    assert table.loc["a", "the network"] == "helps" and table.loc["b", "the network"] == "hurts"
    # the stations' own differences: +0.1, 0, -0.05, +0.1 -> mean +0.0375, 2 up, 1 down
    assert table.loc["b", "paired mean gain"] == pytest.approx(0.0375)
    assert (table.loc["b", "stations lifted"], table.loc["b", "stations lowered"]) == (2, 1)
    assert np.isnan(table.loc["a", "paired mean gain"])  # a result written before it
    why = study.show_or_explain(study.network_gain_by_world, {"scenarios": {"c": {}}})
    assert "rerun python -m benchmarks --only skill" in str(why)


def test_the_distributed_lag_product_is_refitted_with_its_own_model():
    from smlib.method.lagged_artefact import lagged_product

    cube, truth, _ = world()
    raw, ts, signals, rain = _arrays(cube)
    cc = CorrectConfig(artefact_lags_h=2)
    prod, flag, _ = lagged_product(raw, ts, list(signals.values()), rain, 2, cc.min_rule_hours)
    corrected = corrected_of(cube).assign(
        sm_lstm=(("station", "time"), prod, {"product": "guided: ... (distributed-lag artefact)"}),
        sm_lstm_flag=(("station", "time"), flag),
    )
    with pytest.raises(ValueError, match="differs from sm_lstm"):
        signal_ablation(cube, corrected)  # the b1, b2 model is not this product
    abl = signal_ablation(cube, corrected, cc)
    assert abl.attrs["max_abs_difference_all"] <= 1e-6
    table = score_signal_ablation(abl, corrected, truth, cube)
    assert network_verdict(network_gain(table)) == "helps"
    assert np.isfinite(table.loc["none", "hf_r"])


def test_the_paired_gain_is_the_median_of_the_stations_differences():
    """Station by station: the per-station HF R of the product and of the fit without the
    network, as the table's medians are made of; a network that kept half the artefact lowers
    every station where the reanalysis knows the signal."""
    from smlib.evaluation.signal_ablation import paired_network_gain
    from smlib.evaluation.skill import station_hf_r

    cube, truth, _ = world(network="half", good_reanalysis=True)
    corrected = corrected_of(cube)
    abl = signal_ablation(cube, corrected)
    table = score_signal_ablation(abl, corrected, truth, cube)
    paired = paired_network_gain(abl, corrected, truth, cube)
    ds = corrected[["sm", "ts"]].assign({v: abl[v] for v in abl.data_vars})
    r = station_hf_r(ds, truth, cube, {"a": "sm_ablation_all", "b": "sm_ablation_without_network"})
    assert np.isclose(np.nanmedian(r["a"]), table.loc["all", "hf_r"])
    assert np.isclose(np.nanmedian(r["b"]), table.loc["without_network", "hf_r"])
    assert paired["stations"] == table.loc["all", "stations_scored"]
    assert paired["stations_down"] == paired["stations"] and paired["stations_up"] == 0
    assert paired["median"] < -0.05 and np.isclose(paired["median"], np.median(r["a"] - r["b"]))
    assert paired_network_gain(abl.drop_vars("sm_ablation_without_network"), corrected, truth,
                               cube) is None  # fmt: skip
