"""The book's throughput section renders what the benchmark JSON files hold, and says when none."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from smlib.ops.throughput import throughput_markdown

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks import bench_operational as bo

torch.set_num_threads(1)


def _result() -> dict:
    """A result with the structure bench_operational writes (numbers chosen for the test)."""
    net = [
        {"model": "teacher_paper", "variant": "torch_fp32", "station_hours_per_s": 2000},
        {"model": "teacher_quick", "variant": "torch_fp32", "station_hours_per_s": 20000},
        {"model": "gru_student", "variant": "torch_fp32", "station_hours_per_s": 100000},
        {"model": "gru_student", "variant": "onnxruntime_fp32", "station_hours_per_s": 150000},
        {"model": "tcn_student", "variant": "torch_fp32", "station_hours_per_s": 90000},
    ]
    net = [{"threads": 1, **r} for r in net] + [
        {"threads": 2, "model": "gru_student", "variant": "torch_fp32", "station_hours_per_s": 9}
    ]
    e2e = [
        {"threads": 1, "model": "teacher_paper", "product": "paper", "station_hours_per_s": 1800},
        {"threads": 1, "model": "gru_student", "product": "flagged", "station_hours_per_s": 40000},
        {"threads": 2, "model": "gru_student", "product": "flagged", "station_hours_per_s": 50000},
    ]
    skill = {
        k: {"paper": {"hf_r": v}, "flagged": {"hf_r": v - 0.05}}
        for k, v in (("teacher_quick", 0.83), ("gru_student", 0.82), ("tcn_student", 0.8))
    }
    res = {
        "network": net,
        "end_to_end": {"stations": 8, "hours": 8760, "rows": e2e},
        "archive": [
            {
                "workers": w,
                "stations": 46,
                "block_stations": 5,
                "station_hours_per_s": r,
                "peak_rss_total_mib": 900,
                "peak_rss_largest_worker_mib": 300,
            }
            for w, r in ((1, 30000), (2, 70000))
        ],  # fmt: skip
        "skill": skill,
        "onnx_vs_torch_max_abs_diff_normalised": 3e-7,
        "streaming_vs_batch_max_abs_diff_m3m3": 0.0,
    }
    res["summary"] = bo._summary(res, threads=2)
    return res


def test_summary_ratios_and_projection():
    s = _result()["summary"]
    assert s["student_over_teacher_cpu"] == 50.0  # one thread each (the 2-thread row is ignored)
    assert s["student_over_quick_teacher_cpu"] == 5.0
    assert s["fastest_student_variant"] == "gru_student onnxruntime_fp32"
    # the projection uses the archive command's rate: the 2-worker run (70,000 station-h/s)
    assert s["archive_run_student_station_hours_per_s"] == 70000
    assert s["archive_run_workers"] == 2
    assert s["archive_hours_cpu"] == pytest.approx(254e6 / 70000 / 3600, abs=0.01)
    assert s["end_to_end_student_in_process_station_hours_per_s"] == 50000
    assert s["end_to_end_student_one_core_station_hours_per_s"] == 40000
    assert s["student_minus_teacher_hf_r"] == pytest.approx(-0.01)
    assert all(s["targets"].values())


def test_markdown_reads_the_json_files(tmp_path):
    assert "No CPU measurement yet" in throughput_markdown(tmp_path)
    res = _result()
    res["_machine"] = {"cpu": "Test CPU", "date_utc": "2026-01-01T00:00:00Z", "quick": False}
    (tmp_path / "bench_operational.json").write_text(json.dumps(res))
    gpu = {
        "device": "Test GPU",
        "summary": {"teacher_paper_fp32": {"batch": 16384, "station_hours_per_s": 800000}},
    }
    (tmp_path / "gpu_test.json").write_text(json.dumps(gpu))
    md = throughput_markdown(tmp_path)
    assert "| gru_student | torch_fp32 | 1 | 100,000 |" in md
    assert "**50.0x**" in md and "Test GPU" in md
    assert "| teacher_paper | fp32 | 16384 | 800,000 | 5.3 min |" in md
    assert "| 2 | 46 (5) | 70,000 | 900 MiB | 300 MiB |" in md


def test_int8_model_and_peak_memory():
    from smlib.config import ModelConfig
    from smlib.method.model import build_model
    from smlib.method.runfolder import LoadedModel
    from smlib.method.scaling import MinMaxScaler

    cfg = ModelConfig(name="gru_student", hidden_size=16, num_layers=1, dropout=0.0, dense=(8,))
    model = build_model(cfg, 4, -0.01, 0.01).eval()
    sc = MinMaxScaler(("a", "b", "c", "d"), np.zeros(4), np.ones(4), -0.01, 0.01)
    lm = LoadedModel(model, None, sc, Path("."), torch.device("cpu"))
    q = bo.int8_model(lm)
    x, lf = torch.rand(64, 18, 4), torch.full((64,), 0.3)
    with torch.no_grad():
        assert np.abs((q.model(x, lf) - model(x, lf)).numpy()).max() < 0.05
    with bo._peak_rss(period=0.01) as peak:
        _ = np.ones(20_000_000)
    assert peak["total_mib"] > 100
