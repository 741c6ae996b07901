"""Distillation: an ordinary run folder that reproduces the teacher and plugs into correct()."""

from __future__ import annotations

import hashlib
import json
import logging

import numpy as np
import pytest
import torch
import yaml
from test_preprocess import make_tiny_cube

from smlib.cli import main
from smlib.config import load_config
from smlib.method.correct import StreamingCorrector, correct, predict_hf
from smlib.method.preprocess import prepare
from smlib.method.runfolder import load_model
from smlib.method.train import train
from smlib.ops.distill import distill, student_config

torch.set_num_threads(1)

TEACHER = (
    "model.hidden_size=16",
    "model.dense=[16, 8]",
    "train.batch_size=64",
    "train.max_samples_per_epoch=2048",
    "train.max_epochs=4",
    "train.num_threads=1",
    "train.device=cpu",
)
FAST = ("train.max_epochs=12", "train.max_samples_per_epoch=4096", "train.num_threads=1")


@pytest.fixture(scope="module")
def cube():
    ds, _ = make_tiny_cube(n_ismn=5, n_days=40, rain_days=(12,))
    return ds


@pytest.fixture(scope="module")
def teacher(cube, tmp_path_factory):
    return train(cube, tmp_path_factory.mktemp("teacher") / "run", "quick", overrides=TEACHER)


@pytest.fixture(scope="module")
def student(cube, teacher, tmp_path_factory):
    out = tmp_path_factory.mktemp("student") / "op"
    return distill(teacher, out, cube=cube, overrides=FAST, max_samples=8192)


def test_student_run_folder_names_teacher_and_arch(student, teacher):
    text = (student / "config.yaml").read_text()
    assert f"teacher run: {teacher.resolve()}" in text
    assert "student architecture: gru_student" in text
    cfg = load_config(student / "config.yaml")
    assert cfg.model.name == "gru_student" and cfg.model.hidden_size == 32
    assert cfg.preprocess == load_config(teacher / "config.yaml").preprocess
    info = json.loads((student / "run.json").read_text())
    assert info["teacher_run"] == str(teacher.resolve()) and info["arch"] == "gru_student"
    assert info["status"] == "finished" and info["n_train_samples"] > 0
    assert (student / "metrics.csv").read_text().startswith("epoch,")
    assert yaml.safe_load(text)["model"]["name"] == "gru_student"  # comments stay comments


def test_student_reproduces_teacher_on_every_correctable_hour(cube, teacher, student):
    t, s = load_model(teacher, device="cpu"), load_model(student, device="cpu")
    prep = prepare(cube, t.config.preprocess, training=False)
    hf_t, hf_s = predict_hf(t, prep), predict_hf(s, prep)
    ok = prep.valid_end
    assert ok.sum() > prep.r_ok.sum() / 3  # rain days and all stations are correctable hours
    np.testing.assert_array_equal(np.isfinite(hf_s), ok)
    r = np.corrcoef(hf_t[ok], hf_s[ok])[0, 1]
    assert r > 0.9, r
    info = json.loads((student / "run.json").read_text())
    assert info["validation_agreement"]["hf_r_student_teacher"] > 0.9


def test_student_plugs_into_correct_and_streaming(cube, student):
    lm = load_model(student, device="cpu")
    # the student's network series: a value on exactly the hours it can correct, and a
    # correction there (not the raw series passed through)
    batch = correct(cube, lm, ("lstm",), product="paper")
    net = batch["sm_lstm"].transpose("station", "time").values
    ok = prepare(cube, lm.config.preprocess, training=False).valid_end
    np.testing.assert_array_equal(np.isfinite(net), ok)
    raw = cube["sm"].transpose("station", "time").values
    assert np.abs(net - raw)[ok].mean() > 1e-4
    one = cube.isel(station=[0])
    sc = StreamingCorrector(lm, one)
    pieces = [sc.update(one.isel(time=slice(i, i + 96))) for i in range(0, one.sizes["time"], 96)]
    streamed = np.concatenate([p.values[0] for p in pieces])
    ref = correct(one, lm, ("lstm",), product="paper")["sm_lstm"].values[0]
    n = len(streamed)
    np.testing.assert_allclose(streamed, ref[:n], rtol=0, atol=1e-6, equal_nan=True)
    assert np.isfinite(streamed).sum() > 24 * 10


def test_tcn_student_and_errors(cube, teacher, student, tmp_path):
    out = distill(
        teacher, tmp_path / "tcn", cube=cube, arch="tcn_student",
        overrides=("train.max_epochs=2", "train.num_threads=1"), max_samples=2048,
    )  # fmt: skip
    assert load_model(out, device="cpu").config.model.name == "tcn_student"
    with pytest.raises(FileExistsError):
        distill(teacher, student, cube=cube)
    # a teacher trained on an in-memory Dataset has no file to find again: one line, and how
    with pytest.raises(ValueError, match=r"does not record the cube .*--cube CUBE"):
        distill(teacher, tmp_path / "nocube")
    with pytest.raises(KeyError, match="unknown student architecture"):
        student_config(load_config(teacher / "config.yaml"), "transformer")


def _error_lines(caplog, argv) -> tuple[int, list[str]]:
    caplog.clear()
    with caplog.at_level(logging.ERROR):
        rc = main(argv)
    return rc, [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


def test_train_records_its_cube_and_distill_finds_it(cube, tmp_path, caplog):
    """``smlib train CUBE --out RUN`` then ``smlib distill RUN --out RUN_OP``, nothing else."""
    path = tmp_path / "cube.nc"
    cube.to_netcdf(path)
    run, op = tmp_path / "run", tmp_path / "op"
    teacher_set = [a for kv in TEACHER for a in ("--set", kv)]
    assert main(["train", str(path), "--out", str(run), "--profile", "quick", *teacher_set]) == 0
    info = json.loads((run / "run.json").read_text())
    assert info["cube"] == str(path.resolve())
    assert info["cube_bytes"] == path.stat().st_size
    assert info["cube_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()

    assert main(["distill", str(run), "--out", str(op)]) == 0
    student = json.loads((op / "run.json").read_text())
    assert student["cube"] == info["cube"] and student["cube_sha256"] == info["cube_sha256"]
    assert load_model(op, device="cpu").config.model.name == "gru_student"

    # the cube rewritten in place: refused in one line that says how to pass one
    cube.isel(station=slice(0, 4)).to_netcdf(path)
    rc, err = _error_lines(caplog, ["distill", str(run), "--out", str(tmp_path / "op2")])
    assert rc == 2 and len(err) == 1 and "\n" not in err[0]
    assert "has changed since" in err[0] and str(path.resolve()) in err[0]
    assert f"smlib distill {run} --cube CUBE" in err[0]
    # the cube gone
    path.unlink()
    rc, err = _error_lines(caplog, ["distill", str(run), "--out", str(tmp_path / "op3")])
    assert rc == 2 and len(err) == 1 and "no longer exists" in err[0] and "--cube CUBE" in err[0]
    assert not (tmp_path / "op2").exists() and not (tmp_path / "op3").exists()


def test_cli_distill(cube, teacher, tmp_path):
    path = tmp_path / "cube.nc"
    cube.to_netcdf(path)
    rc = main(
        ["distill", str(teacher), "--out", str(tmp_path / "op"), "--cube", str(path),
         "--set", "train.max_epochs=1", "--set", "train.num_threads=1"]
    )  # fmt: skip
    assert rc == 0
    assert load_model(tmp_path / "op", device="cpu").config.train.max_epochs == 1
