"""The cached study pipeline: stages reuse their outputs and re-run exactly when inputs change."""

from __future__ import annotations

import json

import pytest
import xarray as xr

from smlib.report.pipeline import data_layout, run_pipeline, stage_timings

TINY = dict(
    twin={"n_stations": 8, "n_days": 120, "seed": 0},
    min_days=30,
    overrides=[
        "train.max_epochs=1",
        "model.hidden_size=8",
        "train.max_samples_per_epoch=256",
        "train.max_val_samples=256",
        "train.num_threads=1",
    ],
)


def test_data_layout_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        data_layout(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="no ismn/ folder"):
        data_layout(tmp_path)


@pytest.mark.slow
def test_stages_are_cached_and_rerun_on_change(tmp_path):
    first = run_pipeline(work_dir=tmp_path, **TINY)
    # the study budget "quick" trains the recommended model and the paper's method beside it
    assert set(first.timings) == {
        "synth",
        "ingest",
        "train",
        "train_baseline",
        "correct",
        "evaluate",
    }
    assert first.run_dir.name == "recommended"
    with xr.open_dataset(first.corrected) as corrected:
        assert {"sm_lstm", "sm_lstm_flag", "sm_paper", "sm_fft", "sm_lin"} <= set(corrected)
    assert all(t > 0 for t in first.timings.values())
    for path in (first.cube, first.run_dir / "best.pt", first.corrected):
        assert path.exists()
    assert json.loads((first.report_dir / "summary.json").read_text())
    assert first.truth is not None and first.truth.exists()

    again = run_pipeline(work_dir=tmp_path, **TINY)
    assert all(t == 0.0 for t in again.timings.values()), again.timings

    # editing the evaluation code re-runs the evaluation only
    import smlib.report.pipeline as pipeline_mod

    real = pipeline_mod._code_digest
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pipeline_mod, "_code_digest", lambda s: "edited" if s == "evaluate" else real(s))
        edited = run_pipeline(work_dir=tmp_path, **TINY)
    assert edited.timings["evaluate"] > 0
    assert all(
        edited.timings[s] == 0.0 for s in ("synth", "ingest", "train", "train_baseline", "correct")
    )

    changed = dict(
        TINY, overrides=[o.replace("hidden_size=8", "hidden_size=6") for o in TINY["overrides"]]
    )
    third = run_pipeline(work_dir=tmp_path, **changed)
    assert third.timings["synth"] == 0.0 and third.timings["ingest"] == 0.0
    assert third.timings["train"] > 0 and third.timings["correct"] > 0
    assert third.timings["evaluate"] > 0
    # the old run was replaced whole; no scratch folder is left behind
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["quick", "recommended"]
    assert stage_timings(tmp_path)["train"] == pytest.approx(third.timings["train"])
