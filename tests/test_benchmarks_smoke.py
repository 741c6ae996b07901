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
        # the product's 90 % intervals are scored against the truth in every world
        cal = s["_calibration"]["sm_lstm"]
        assert 0 < cal["coverage"] <= 1 and cal["mean_width"] > 0 and cal["n_hours"] > 0
    assert set(d["summary"]["targets"]) == set(scen)
    assert set(d["summary"]["calibration"]) == set(scen)


def test_uncertainty(tmp_path):
    """The uncertainty's share of correction time is measured in the same process."""
    d = _run(tmp_path, "uncertainty")
    assert 0 < d["seconds_uncertainty"] < d["seconds_correct"]
    ratio = d["summary"]["correct_over_correct_without_uncertainty"]
    assert ratio == pytest.approx(
        d["seconds_correct"] / (d["seconds_correct"] - d["seconds_uncertainty"]), rel=1e-2
    )


@pytest.mark.slow
def test_student(tmp_path):
    """Two tiny worlds end to end (twin -> ingest -> teacher -> student -> both products ->
    scores): every world has both products scored and a verdict that follows its numbers."""
    from benchmarks.bench_student import TARGET_ABS_HF_R_DIFFERENCE

    d = _run(tmp_path, "student", timeout=900)
    worlds = d["worlds"]
    assert list(worlds) == ["default", "sensor_lag"]
    for name, w in worlds.items():
        assert "_error" not in w, (name, w["_error"])
        s = w["scores"]
        for m in ("raw", "teacher", "student", "teacher_net", "student_net"):
            assert math.isfinite(s[m]["hf_r"]), (name, m)
        # the world's artefact inverts the true cycle; both products undo some of it
        assert s["raw"]["hf_r"] < 0 < s["teacher"]["hf_r"] and s["student"]["hf_r"] > 0, s
        assert w["teacher_hf_r"] == round(s["teacher"]["hf_r"], 4)
        assert w["difference"] == pytest.approx(w["student_hf_r"] - w["teacher_hf_r"], abs=2e-4)
        assert w["within_target"] is (abs(w["difference"]) <= TARGET_ABS_HF_R_DIFFERENCE)
        # the student learned the teacher: its network agrees with the teacher's on held-out hours
        assert w["distillation"]["validation_agreement"]["hf_r_student_teacher"] > 0.9
    summ = d["summary"]
    assert summ["worlds"] == 2 and summ["failed"] == []
    assert sorted(summ["within_target"] + summ["missing_target"]) == sorted(worlds)
    assert summ["missing_target"] == sorted(n for n, w in worlds.items() if not w["within_target"])


def test_student_summary_lists_misses_and_failures():
    """Known rows: a miss, a pass at the boundary, a failed world, a world without scores."""
    from benchmarks.bench_student import summarise, world_row

    def scores(t, s):
        return {"teacher": {"hf_r": t, "phase_error_h": 1.0},
                "student": {"hf_r": s, "phase_error_h": 2.0},
                "teacher_net": {"hf_r": 0.5}, "student_net": {"hf_r": 0.45}}  # fmt: skip

    near = world_row(scores(0.90, 0.88))
    assert near["within_target"] is True and near["difference"] == pytest.approx(-0.02)
    assert near["net_difference"] == pytest.approx(-0.05)
    assert near["phase_error_difference_h"] == pytest.approx(1.0)
    far = world_row(scores(0.90, 0.85))
    assert far["within_target"] is False and far["difference"] == pytest.approx(-0.05)
    none = world_row({"teacher": {"hf_r": None}, "student": {"hf_r": 0.3}})
    assert none["within_target"] is None and none["difference"] is None
    s = summarise({"a": near, "b": far, "c": {"_error": "teacher training failed: x"}, "d": none})
    assert s["within_target"] == ["a"] and s["missing_target"] == ["b", "d"]
    assert s["failed"] == ["c"] and s["all_within_target"] is False
    assert s["largest_abs_difference"] == pytest.approx(0.05)
    assert summarise({"a": near})["all_within_target"] is True


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
