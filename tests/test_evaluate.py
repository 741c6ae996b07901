"""`evaluate` end to end on a tiny corrected file with known structure."""

from __future__ import annotations

import json
import logging

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from smlib.cli import main
from smlib.report.evaluate import evaluate

N_DAYS = 30


@pytest.fixture(autouse=True)
def _no_downloads(monkeypatch):
    from cartopy.io import Downloader

    def _refuse(self, url):
        raise AssertionError(f"cartopy tried to download {url}")

    monkeypatch.setattr(Downloader, "_urlopen", _refuse)


def _cycle(n: int, peak_utc: float) -> np.ndarray:
    return np.cos(2 * np.pi * (np.arange(n) - peak_utc) / 24)


def _world(seed: int = 0) -> tuple[xr.Dataset, xr.Dataset]:
    """Corrected file and truth: true SM peaks at 06 LST, sensor artefact peaks at 15 LST."""
    rng = np.random.default_rng(seed)
    n = 24 * N_DAYS
    time = pd.date_range("2021-06-01", periods=n, freq="h")
    stations = [
        ("NET/CRNS", "cosmic-ray", True, "ismn", 40.0, -100.0),
        ("NET/TDR", "tdr", True, "ismn", 45.0, -95.0),
        ("NET/IMP", "impedance", False, "ismn", 40.1, -100.0),
        ("NET/CAP", "capacitance", False, "ismn", 40.2, -100.1),
        ("NET/FDR", "fdr", False, "ismn", 45.1, -95.0),
        ("NET/FAR", "fdr", False, "ismn", 30.0, -90.0),
        ("FLUXNET/US-T1", "fdr", False, "tower", 41.0, -99.0),
    ]
    offset = -7  # all sites near -100 deg: local solar = UTC - 7 h (approximately)
    truth_cycle = 0.008 * _cycle(n, 6 - offset)
    artefact = 0.015 * _cycle(n, 15 - offset)
    ts_cycle = 6.0 * _cycle(n, 15 - offset)
    sm, truth, fft, lstm, ts, lh = [], [], [], [], [], []
    for is_ref in (s[2] for s in stations):
        base = 0.2 + 0.1 * rng.uniform() + np.linspace(0, -0.02, n)
        t = base + truth_cycle
        raw = t + (0.0 if is_ref else 1.0) * artefact + 0.0005 * rng.normal(size=n)
        truth.append(t)
        sm.append(raw)
        fft.append(base + 0.008 * _cycle(n, 9 - offset))
        lstm.append(t + 0.0005 * rng.normal(size=n))
        ts.append(22 + ts_cycle + 0.2 * rng.normal(size=n))
        lh.append(np.maximum(0, 300 * _cycle(n, 13 - offset)) + 5 * rng.normal(size=n))
    sm = np.array(sm)
    sm[2, 100:130] = np.nan  # a gap
    names = [s[0] for s in stations]
    coords = {
        "station": names,
        "time": time,
        "lat": ("station", [s[4] for s in stations]),
        "lon": ("station", [s[5] for s in stations]),
        "sensor_type": ("station", [s[1] for s in stations]),
        "is_reference": ("station", [s[2] for s in stations]),
        "kind": ("station", [s[3] for s in stations]),
    }
    lh = np.array(lh)
    lh[:-1] = np.nan  # only the tower measures LH
    dims = ("station", "time")
    corrected = xr.Dataset(
        {
            "sm": (dims, sm, {"units": "m3 m-3"}),
            "ts": (dims, np.array(ts), {"units": "degC"}),
            "sm_fft": (dims, np.array(fft), {"units": "m3 m-3"}),
            "sm_lstm": (dims, np.array(lstm), {"units": "m3 m-3"}),
            "lh": (dims, lh, {"units": "W m-2"}),
        },
        coords=coords,
    )
    truth_ds = xr.Dataset(
        {"sm": (dims, np.array(truth)), "lh": (dims, np.array(lh))},
        coords={"station": names, "time": time},
    )
    return corrected, truth_ds


def test_evaluate_writes_figures_tables_and_summary(tmp_path):
    corrected, truth = _world()
    path = tmp_path / "corrected.nc"
    corrected.to_netcdf(path)
    truth.to_netcdf(tmp_path / "truth.nc")
    summary = evaluate(path, out=tmp_path / "report", truth=tmp_path / "truth.nc")

    out = tmp_path / "report"
    on_disk = json.loads((out / "summary.json").read_text())
    assert on_disk == json.loads(json.dumps(summary))
    for stem in (
        "fig1_r_sm_ts_raw",
        "fig3_r_sm_ts_lstm",
        "fig3b_r_sm_ts_fft",
        "fig4_r_sm_ts_by_sensor",
        "fig5_station_pair",
        "fig6a_composite_cycles",
        "fig6b_hf_r_reference",
        "fig8_land_coupling",
        "map_stations",
        "skill_vs_truth",
    ):
        for ext in ("png", "svg"):
            assert (out / f"{stem}.{ext}").stat().st_size > 0, stem
    for table in (
        "r_sm_ts_station",
        "r_sm_ts_by_sensor",
        "hf_r_reference",
        "land_coupling",
        "skill_truth",
        "skill_truth_by_sensor",
    ):
        assert (out / f"{table}.csv").is_file(), table
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temp files left

    # headline numbers follow the construction of the world
    assert summary["n_reference_pairs"] == 3  # IMP, CAP -> CRNS; FDR -> TDR; FAR has none
    hf = summary["median_hf_r_vs_reference"]
    assert hf["raw"] < 0.3 < hf["fft"] < hf["lstm"]
    assert hf["lstm"] > 0.9
    r_ts = summary["median_r_sm_ts"]
    assert r_ts["raw"]["impedance"] > 0.5 and r_ts["lstm"]["impedance"] < -0.5
    assert r_ts["raw"]["cosmic-ray"] < -0.5
    truth_r = summary["median_hf_r_vs_truth"]
    assert truth_r["lstm"] > 0.9 > truth_r["raw"]
    # on the twin, the towers' true SM joins Fig. 8 as the benchmark of the coupling
    assert set(summary["median_r_sm_lh"]) == {"raw", "fft", "lstm", "truth"}
    coupling = pd.read_csv(out / "land_coupling.csv")
    assert np.isfinite(coupling.loc[coupling["method"] == "truth", "r_sm_lh"]).all()
    assert summary["median_abs_phase_error_h"]["lstm"] <= 1.0
    assert summary["median_r_sm_lh"]["raw"] > summary["median_r_sm_lh"]["lstm"]
    # the world's corrected file carries no uncertainty: nothing to check it against
    assert set(summary["skipped"]) == {
        "lag_sensitivity", "calibration_vs_reference", "network_coverage"
    }  # fmt: skip

    table = pd.read_csv(out / "hf_r_reference.csv")
    assert list(table.columns[:3]) == ["station", "reference", "distance_km"]
    assert set(table["station"]) == {"NET/IMP", "NET/CAP", "NET/FDR"}


def test_evaluate_without_truth_towers_or_fft(tmp_path):
    corrected, _ = _world(1)
    ds = corrected.drop_vars(["sm_fft", "lh"])
    summary = evaluate(ds, out=tmp_path)
    assert summary["methods"] == ["raw", "lstm"]
    assert set(summary["skipped"]) == {
        "land_coupling", "skill_vs_truth", "lag_sensitivity", "calibration_vs_reference",
        "network_coverage",
    }  # fmt: skip
    assert "median_r_sm_lh" not in summary
    assert not (tmp_path / "fig8_land_coupling.png").exists()
    assert (tmp_path / "fig3_r_sm_ts_lstm.svg").is_file()


def test_evaluate_plots_a_given_sensitivity(tmp_path):
    corrected, _ = _world(2)
    s = xr.DataArray(
        np.arange(14 * 18, dtype=float).reshape(14, 18),
        dims=("feature", "lag"),
        coords={"feature": [f"f{i}" for i in range(14)], "lag": np.arange(18)},
        attrs={"units": "1", "n_windows": 10},
    )
    summary = evaluate(corrected, out=tmp_path, sensitivity=s)
    assert "fig7_lag_sensitivity.png" in summary["figures"]
    table = pd.read_csv(tmp_path / "lag_sensitivity.csv")
    assert table.shape == (14, 19) and table.loc[1, "lag_0h"] == 18


def test_evaluate_rejects_bad_input(tmp_path):
    corrected, _ = _world()
    with pytest.raises(KeyError, match="sensor_type"):
        evaluate(corrected.drop_vars("sensor_type"), out=tmp_path)
    with pytest.raises(ValueError, match="hourly"):
        evaluate(corrected.isel(time=np.r_[0:100, 101:300]), out=tmp_path)
    with pytest.raises(FileNotFoundError, match="corrected file"):
        evaluate(tmp_path / "nope.nc", out=tmp_path)


def test_cli_evaluate_refuses_a_file_without_corrected_series(tmp_path, caplog):
    """Only ``sm`` and ``ts``: one line naming the file and the variables expected, exit 2."""
    corrected, _ = _world()
    path = tmp_path / "raw_only.nc"
    corrected[["sm", "ts"]].to_netcdf(path)
    caplog.clear()
    with caplog.at_level(logging.ERROR):
        rc = main(["evaluate", str(path), "--out", str(tmp_path / "report")])
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert rc == 2 and len(errors) == 1 and "\n" not in errors[0]
    assert errors[0].startswith(f"{path} holds no corrected series (only sm, ts)")
    for name in ("sm_fft", "sm_lin", "sm_paper", "sm_lstm"):
        assert name in errors[0]
    assert not (tmp_path / "report").exists()  # no report of nothing
    # one corrected series is enough
    corrected[["sm", "ts", "sm_fft"]].to_netcdf(tmp_path / "fft.nc")
    assert main(["evaluate", str(tmp_path / "fft.nc"), "--out", str(tmp_path / "r2")]) == 0
    assert json.loads((tmp_path / "r2" / "summary.json").read_text())["methods"] == ["raw", "fft"]


def test_evaluate_computes_sensitivity_from_a_run_directory(tmp_path):
    import torch

    from smlib.config import config_to_dict, dump_config, get_profile
    from smlib.method.model import build_model
    from smlib.method.preprocess import feature_names
    from smlib.method.scaling import MinMaxScaler
    from smlib.method.train import save_checkpoint

    torch.manual_seed(0)
    torch.set_num_threads(1)
    cfg = get_profile(
        "quick",
        ["preprocess.feature_set=insitu", "preprocess.rain_screen=none", "model.hidden_size=8"],
    )
    features = feature_names(cfg.preprocess)
    scaler = MinMaxScaler(
        features, np.array([15.0, -8.0, -1.0, -1.0]), np.array([30.0, 8.0, 1.0, 1.0]), -0.02, 0.02
    )
    model = build_model(cfg.model, len(features), scaler.y_min, scaler.y_max)
    run = tmp_path / "run"
    run.mkdir()
    dump_config(cfg, run / "config.yaml")
    save_checkpoint(
        run / "best.pt",
        {
            "config": config_to_dict(cfg),
            "model_state": model.state_dict(),
            "scaler": scaler.to_dict(),
        },
    )
    corrected, _ = _world(3)
    cube = tmp_path / "cube.nc"
    # a cube whose non-reference stations have training days (R(SM, TS) < -0.34)
    corrected.assign(sm=corrected["sm_lstm"]).drop_vars(["sm_fft", "sm_lstm"]).to_netcdf(cube)

    summary = evaluate(
        corrected, out=tmp_path / "report", model_dir=run, cube=cube, sensitivity_max_windows=200
    )
    assert "lag_sensitivity" not in summary["skipped"]
    assert summary["lag_sensitivity_windows"] == 200
    table = pd.read_csv(tmp_path / "report" / "lag_sensitivity.csv")
    assert list(table["feature"]) == list(features)
    assert (tmp_path / "report" / "fig7_lag_sensitivity.svg").is_file()


def test_summary_coverage_and_skill_by_scope_known_numbers(tmp_path):
    """The two summary entries the book reads (issue 21): coverage per method and scope, and
    the skill by hour scope, on the world of tests/test_skill.py whose numbers are set."""
    from test_skill import _scored_world

    cube, corrected, truth, _ = _scored_world()
    corrected = corrected.rename({"sm_x": "sm_lin", "sm_x_flag": "sm_lin_flag"})
    cube_path, truth_path = tmp_path / "cube.nc", tmp_path / "truth.nc"
    cube.to_netcdf(cube_path)
    truth.to_netcdf(truth_path)
    evaluate(corrected, out=tmp_path / "report", truth=truth_path, cube=cube_path)
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())

    # coverage: every ISMN station's hours with a raw value (N/S1 has none on day 25)
    n = 30 * 24
    raw_hours = 4 * n - 24
    cov = summary["coverage"]["lin"]
    assert cov["stations"] == round((raw_hours - 24) / raw_hours, 4)  # N/S0's day left raw
    assert cov["stations_by_flag"] == {
        "corrected": round((raw_hours - 24 - 4 * 72) / raw_hours, 4),
        "rain_affected_temperature_artefact_removed": round(4 * 72 / raw_hours, 4),
        "no_method_input_temperature_artefact_removed": 0.0,
        "left_raw": round(24 / raw_hours, 4),
    }
    assert cov["towers"] == 1.0
    assert cov["towers_by_flag"]["corrected"] == round(27 / 30, 4)
    assert set(summary["coverage"]) == {"lin"}  # raw is not a correction

    # skill by scope: the numbers of score_against_truth, its per-type dicts left out
    by_scope = summary["skill_by_scope"]
    assert set(by_scope) == {"raw", "lin"}
    lin = by_scope["lin"]
    assert lin["hf_r"] == pytest.approx((1 / np.sqrt(2) + np.sqrt(3) / 2) / 2, abs=2e-3)
    assert lin["phase_error_h"] == 2.5
    assert lin["coverage_stations"] == pytest.approx((3 * n - 48) / (3 * n - 24))
    assert "r_sm_ts" not in lin and lin["tower_r_error"] > 0
    assert summary["skill_by_scope_scope"]["stations_scored"] == 2
    assert summary["skill_by_scope_scope"]["towers"] == 1
