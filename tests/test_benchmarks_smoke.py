"""Every benchmark runs end to end in ``--quick`` mode and writes well-formed JSON.

No timing is asserted (shared machines); the checks are structural plus the correctness
checks the benchmarks make themselves (the pandas baseline must agree with the vectorised
path, the scaled cube must be processed).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.__main__ import available  # noqa: E402


def _run(tmp_path: Path, name: str, timeout: int = 300) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--only", name, "--out", str(tmp_path)],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=timeout,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    path = tmp_path / f"bench_{name}.json"
    assert path.is_file()
    data = json.loads(path.read_text())
    assert isinstance(data["summary"], dict) and data["summary"]
    m = data["_machine"]
    assert m["quick"] is True and m["cpu_count"] >= 1 and m["wall_seconds"] >= 0
    assert "gpu" in m and m["cuda_available"] == (m["gpu"] is not None)
    return data


def _positive(x: float) -> bool:
    return isinstance(x, int | float) and math.isfinite(x) and x > 0


def test_every_module_is_covered():
    names = {n.removeprefix("bench_") for n in available()}
    assert {"preprocess", "method", "memory", "e2e", "skill"} <= names


def test_unknown_benchmark_is_refused(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--only", "nope", "--out", str(tmp_path)],
        capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert proc.returncode == 2 and "nope" in proc.stderr


def test_preprocess(tmp_path):
    d = _run(tmp_path, "preprocess")
    s = d["summary"]
    assert _positive(s["vectorised_station_hours_per_s"]) and _positive(s["vectorised_over_pandas"])
    assert d["max_abs_r_difference"] < 1e-5  # both paths computed the same R


def test_e2e(tmp_path):
    from benchmarks import bench_e2e

    d = _run(tmp_path, "e2e")
    present = [p for p in bench_e2e.SOURCES if p.is_file()]
    assert [s["file"] for s in d["sources"]] == [str(p.relative_to(ROOT)) for p in present]
    readable = [s for s in d["sources"] if "stages_s" in s]
    assert d["summary"]["found"] is bool(readable)
    if readable:
        assert d["summary"]["source"] == readable[0]["file"] and d["summary"]["stages_s"]
    else:
        assert "run ./run book first" in d["summary"]["note"]


def test_e2e_flattens_the_recorded_stage_timings(tmp_path, monkeypatch):
    """A build's timings file with known stages; a damaged one is reported, not fatal."""
    from benchmarks import bench_e2e

    timings = {
        "profile": "quick", "built_at": "2026-01-01 00:00 UTC", "twin": {"s": 1.5},
        "notebooks": {"00_overview": {"status": "executed", "s": 2.0}},
        "pipeline": {"train": 3.26}, "html_s": 4.0, "total_s": 10.76,
    }  # fmt: skip
    good, bad = tmp_path / "build" / "timings.json", tmp_path / "bad.json"
    good.parent.mkdir()
    good.write_text(json.dumps(timings))
    bad.write_text("{")
    monkeypatch.setattr(bench_e2e, "ROOT", tmp_path)
    monkeypatch.setattr(bench_e2e, "SOURCES", (bad, tmp_path / "absent.json", good))
    d = bench_e2e.run()
    assert [s["file"] for s in d["sources"]] == ["bad.json", "build/timings.json"]
    assert d["sources"][0]["error"].startswith("unreadable")
    s = d["summary"]
    assert s["found"] is True and s["source"] == "build/timings.json" and s["total_s"] == 10.8
    assert s["stages_s"] == {
        "twin": 1.5, "notebook:00_overview": 2.0, "pipeline:train": 3.3, "html": 4.0
    }  # fmt: skip
    monkeypatch.setattr(bench_e2e, "SOURCES", (bad,))
    assert bench_e2e.run()["summary"]["found"] is False


@pytest.mark.slow
def test_method(tmp_path):
    d = _run(tmp_path, "method")
    s = d["summary"]
    assert _positive(s["matmul_gflops"])
    q = s["quick"]
    for key in ("train_samples_per_s_batch32", "best_infer_samples_per_s",
                "seconds_to_correct_one_station_year", "bf16_autocast_over_fp32_batch32"):  # fmt: skip
        assert _positive(q[key]), key
    assert set(s["targets_met"]) == set(s["targets"])


@pytest.mark.slow
def test_memory(tmp_path):
    d = _run(tmp_path, "memory")
    s = d["summary"]
    assert _positive(s["train_peak_rss_mib"]) and _positive(s["scaled_prepare_peak_rss_mib"])
    sp = d["scale_prepare"]
    assert sp["stations"] == 60 and sp["stations_with_valid_hours"] == 60
    assert 0.5 < sp["valid_fraction"] <= 1.0


@pytest.mark.slow
def test_skill(tmp_path):
    """Two tiny worlds end to end (twin -> ingest -> two trainings -> corrections -> scores,
    and each world left out of training once): the structure of what the book reads."""
    d = _run(tmp_path, "skill", timeout=900)
    scen = d["scenarios"]
    assert set(scen) == {"default", "sensor_lag"}
    for s in scen.values():
        assert {"raw", "fft", "lin", "paper", "recommended", "loo_recommended"} <= set(s)
        assert s["recommended"]["coverage_stations"] is not None
        hf = {m: s[m]["hf_r"] for m in ("raw", "recommended")}
        assert all(isinstance(v, float) and math.isfinite(v) for v in hf.values()), hf
        # both worlds' artefact inverts the true cycle; the default product undoes some of it
        assert hf["raw"] < 0 and hf["recommended"] > hf["raw"], hf
    assert set(d["summary"]["targets"]) == set(scen)


def test_uncertainty(tmp_path):
    """The uncertainty's share of correction time is measured in the same process."""
    d = _run(tmp_path, "uncertainty")
    assert 0 < d["seconds_uncertainty"] < d["seconds_correct"]
    ratio = d["summary"]["correct_over_correct_without_uncertainty"]
    assert ratio == pytest.approx(
        d["seconds_correct"] / (d["seconds_correct"] - d["seconds_uncertainty"]), rel=1e-2
    )


@pytest.mark.slow
def test_operational(tmp_path):
    """Teacher, students, the archive product from stored coefficients (checked against the
    batch product inside the benchmark), and the GPU module's product path run on the CPU."""
    d = _run(tmp_path, "operational", timeout=900)
    s = d["summary"]
    assert _positive(s["student_network_station_hours_per_s"])
    assert _positive(s["archive_hours_cpu"]) and s["archive_hours_cpu_target"] == 1.0
    assert s["archive_run_workers"] in (1, 2) and s["archive_run_threads_per_worker"] == 1
    assert "coefficients=table" in s["archive_run_product"]
    assert _positive(s["coefficient_fit_one_off_s"])
    assert 0 <= s["archive_sm_lstm_vs_batch_max_abs_diff"] <= 1e-6
    assert s["targets"]["archive sm_lstm = correct(coefficients=) (1e-6)"] is True
    assert all(r["hours_with_value"] > 0 for r in d["archive"])
    g = d["gpu_product_path_on_cpu"]
    assert g["device"] == "cpu"
    assert _positive(g["product_station_hours_per_s"]) and _positive(g["archive_minutes"])
    assert 0 <= g["sm_lstm_vs_batch_max_abs_diff_m3m3"] <= 1e-6
