"""smlib.evaluation.skill: scores on hour scopes against a known truth, and the benchmark's sentences."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from smlib.evaluation.skill import (
    coupling_vs_truth,
    cross_scenario_table,
    describe_cross_scenario,
    score_against_truth,
)


def _cube(n_st: int = 4, n_days: int = 40, seed: int = 0):
    """Towers and ISMN stations with a true diurnal cycle; 'sm' = truth + an in-phase artefact."""
    rng = np.random.default_rng(seed)
    time = pd.date_range("2020-05-01", periods=24 * n_days, freq="h")
    t = np.arange(time.size)
    true = 0.25 - 0.004 * np.sin(2 * np.pi * (t - 10) / 24) + np.zeros((n_st, 1))
    ts = 20 + 6 * np.sin(2 * np.pi * (t - 9) / 24) + np.zeros((n_st, 1))
    noise = rng.normal(0, 3e-4, true.shape)
    coords = {
        "station": [f"N/S{i}" for i in range(n_st - 1)] + ["FLUXNET/T1"],
        "time": time,
        "lon": ("station", np.zeros(n_st)),
        "lat": ("station", np.full(n_st, 45.0)),
        "kind": ("station", ["ismn"] * (n_st - 1) + ["tower"]),
        "is_reference": ("station", np.zeros(n_st, bool)),
        "sensor_type": ("station", ["capacitance"] * n_st),
    }
    dims = ("station", "time")
    lh = np.maximum(0, 300 * np.sin(2 * np.pi * (t - 6) / 24)) + np.zeros((n_st, 1))
    cube = xr.Dataset(
        {"sm": (dims, true + 0.002 * (ts - 20) + noise), "ts": (dims, ts), "lh": (dims, lh)},
        coords=coords,
    )
    truth = xr.Dataset({"sm": (dims, true)}, coords=coords)
    return cube, truth


def test_perfect_correction_scores_one_and_raw_scores_negative():
    cube, truth = _cube()
    corrected = cube.assign(sm_good=truth["sm"] + 0.0)
    scores = score_against_truth(corrected, truth, cube, {"raw": "sm", "good": "sm_good"})
    assert scores["good"]["hf_r"] == pytest.approx(1.0, abs=1e-6)
    assert scores["good"]["phase_error_h"] == 0.0
    assert scores["raw"]["hf_r"] < 0  # the in-phase artefact inverts the cycle
    assert scores["good"]["coverage_stations"] == 1.0
    assert scores["good"]["tower_r_error"] == pytest.approx(0.0, abs=1e-9)
    assert scores["_scope"]["stations_scored"] == 3 and scores["_scope"]["towers"] == 1


def test_missing_method_variables_are_skipped():
    cube, truth = _cube()
    scores = score_against_truth(cube, truth, cube, {"raw": "sm", "nope": "sm_nope"})
    assert "nope" not in scores and "raw" in scores


def _bench(rec: dict[str, float]) -> dict:
    scen = {}
    for name, r in rec.items():
        scen[name] = {
            "raw": {"hf_r": -0.5},
            "fft": {"hf_r": 0.1},
            "lin": {"hf_r": 0.6},
            "paper": {"hf_r": 0.7},
            "recommended": {"hf_r": r},
        }
    return {
        "scenarios": scen,
        "summary": {"targets": {n: {"hf_r": r >= 0.9} for n, r in rec.items()}},
    }


def test_cross_scenario_sentences_follow_the_numbers():
    good = describe_cross_scenario(_bench({"a": 0.95, "b": 0.92}))
    assert "ahead of every other method in all 2 worlds" in good
    assert "Targets met in every world: hf_r" in good
    mixed = describe_cross_scenario(_bench({"a": 0.95, "b": 0.65}))
    assert "behind in b (best: LSTM, paper's method)" in mixed
    assert "Missed: hf_r in b" in mixed
    table = cross_scenario_table(_bench({"a": 0.95}), "hf_r")
    assert table.loc["a", "LSTM, recommended (default)"] == 0.95


def test_coupling_vs_truth_names_the_closest_method():
    coupling = xr.Dataset(
        {"r_sm_lh": (("station", "product"), [[0.3, -0.8, -0.85], [0.2, -0.7, -0.9]])},
        coords={"station": ["T1", "T2"], "product": ["raw", "lstm", "truth"]},
    )
    table, text = coupling_vs_truth(coupling)
    assert table.loc["lstm", "towers within 0.1"] == 1
    assert "Closest to it: lstm" in text
    no_truth = coupling.sel(product=["raw", "lstm"])
    assert "cannot be judged" in coupling_vs_truth(no_truth)[1]


def test_ablation_sentences_and_coverage_table():
    from smlib.evaluation.skill import ablation_table, coverage_table, describe_ablations

    result = {
        "scenarios": {"w": {"recommended": {"hf_r": 0.9}, "recommended_net": {"hf_r": 0.6,
                                                                              "phase_error_h": 2}}},
        "ablations": {"w": {"strict": {"hf_r_network": 0.8, "hf_r_product": 0.91,
                                       "phase_error_h_network": 1}}},
    }  # fmt: skip
    text = describe_ablations(ablation_table(result))
    assert text == "*w, strict*: network HF R 0.60 -> 0.80, product 0.90 -> 0.91."
    cov = coverage_table({"coverage": {"lstm": {"stations": 1.0, "stations_by_flag": {}}}})
    assert list(cov.columns) == ["stations"] and cov.loc["lstm", "stations"] == 1.0
