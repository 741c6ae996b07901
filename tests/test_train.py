"""Training: leak-free split, run directory, resume, checkpoints, divergence."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from test_preprocess import make_tiny_cube

import smlib.method.train as train_mod
from smlib.method.train import (
    CheckpointError,
    TrainingDivergedError,
    WindowBatcher,
    load_checkpoint,
    split_samples,
    train,
)

torch.set_num_threads(1)

TINY = (
    "model.hidden_size=8",
    "model.dense=[8, 4]",
    "train.batch_size=64",
    "train.max_samples_per_epoch=256",
    "train.max_epochs=4",
    "train.patience=10",
    "train.num_threads=1",
    "train.device=cpu",
)


@pytest.fixture(scope="module")
def cube():
    ds, _ = make_tiny_cube(n_ismn=4, n_days=45, rain_days=(20,))
    return ds


@pytest.mark.parametrize("split", ["time", "station"])
def test_split_never_shares_a_window_hour(split):
    rng = np.random.default_rng(0)
    time = pd.date_range("2020-01-01", periods=24 * 90, freq="h").values
    cand = rng.random((5, len(time))) < 0.5
    cand[:, :17] = False
    tr, va = split_samples(
        cand, time, window=18, val_fraction=0.3, split=split, block_days=7, seed=1
    )
    assert len(tr) and len(va) and not set(tr) & set(va)
    cover = np.zeros((2, 5 * len(time)), dtype=bool)
    for k, idx in enumerate((tr, va)):
        for lag in range(18):
            cover[k, idx - lag] = True
    assert not (cover[0] & cover[1]).any()
    assert cand.reshape(-1)[tr].all() and cand.reshape(-1)[va].all()
    frac = len(va) / (len(tr) + len(va))
    assert 0.15 < frac < 0.45


def test_batcher_gathers_the_window_ending_at_t():
    x = np.arange(2 * 40 * 3, dtype=np.float32).reshape(2, 40, 3)
    b = WindowBatcher(x, np.zeros((2, 40)), np.zeros((2, 40)), 18, torch.device("cpu"))
    xb, _, _ = b.batch(torch.tensor([1 * 40 + 25]))
    np.testing.assert_array_equal(xb[0].numpy(), x[1, 8:26])


def test_run_directory_contents(cube, tmp_path):
    run = train(cube, tmp_path / "run", profile="quick", overrides=TINY)
    for name in ("config.yaml", "scaler.json", "metrics.csv", "best.pt", "last.pt", "run.json"):
        assert (run / name).exists(), name
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "finished" and info["seed"] == 0 and info["smlib_version"]
    assert info["stations_trained"] == ["NET/S0", "NET/S1", "NET/S2"]  # no reference, no tower
    metrics = pd.read_csv(run / "metrics.csv")
    assert list(metrics.epoch) == [0, 1, 2, 3] and np.isfinite(metrics.val_loss).all()
    best = load_checkpoint(run / "best.pt")
    assert best["epoch"] == int(metrics.val_loss.idxmin())
    with pytest.raises(FileExistsError, match="resume"):
        train(cube, run, profile="quick", overrides=TINY)


def test_resume_equals_uninterrupted(cube, tmp_path):
    full = train(cube, tmp_path / "full", profile="quick", overrides=TINY)
    part = train(cube, tmp_path / "part", profile="quick", overrides=TINY, stop_after=2)
    assert json.loads((part / "run.json").read_text())["status"] == "interrupted"
    with pytest.raises(ValueError, match="change the configuration"):
        train(cube, part, overrides=("train.lr=0.1",), resume=True)
    train(cube, part, resume=True)
    a, b = load_checkpoint(full / "last.pt"), load_checkpoint(part / "last.pt")
    for k, v in a["model_state"].items():
        torch.testing.assert_close(b["model_state"][k], v, rtol=0, atol=0)
    ma, mb = pd.read_csv(full / "metrics.csv"), pd.read_csv(part / "metrics.csv")
    pd.testing.assert_frame_equal(ma.drop(columns="seconds"), mb.drop(columns="seconds"))


def test_truncated_and_foreign_checkpoints_are_refused(cube, tmp_path):
    run = train(cube, tmp_path / "r", profile="quick", overrides=TINY, stop_after=1)
    data = (run / "last.pt").read_bytes()
    (run / "last.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        train(cube, run, resume=True)
    torch.save({"state_dict": {}}, run / "last.pt")
    with pytest.raises(CheckpointError, match="foreign"):
        load_checkpoint(run / "last.pt")


def test_nan_loss_stops_with_batch_and_keeps_best(cube, tmp_path, monkeypatch):
    calls = {"n": 0}
    real = train_mod._loss_fn

    def flaky(pred, target):
        calls["n"] += 1
        loss = real(pred, target)
        return loss * float("nan") if calls["n"] == 4 + 3 else loss  # epoch 1, batch 2

    monkeypatch.setattr(train_mod, "_loss_fn", flaky)
    run = tmp_path / "nan"
    four_batches = (*TINY, "train.batch_size=32", "train.max_samples_per_epoch=128")
    with pytest.raises(TrainingDivergedError, match="epoch 1, batch 2"):
        train(cube, run, profile="quick", overrides=four_batches)
    assert load_checkpoint(run / "best.pt")["epoch"] == 0
    assert json.loads((run / "run.json").read_text())["diverged_at"] == {"epoch": 1, "batch": 2}


def test_insitu_feature_set_trains_and_corrects_without_reanalysis(cube, tmp_path):
    from smlib.method.correct import correct

    bare = cube.drop_vars([v for v in cube.data_vars if v.startswith(("era5_", "merra2_"))])
    with pytest.raises(KeyError, match="feature_set=insitu"):
        train(bare, tmp_path / "fails", profile="quick", overrides=TINY)
    run = train(
        bare,
        tmp_path / "insitu",
        profile="quick",
        overrides=(*TINY, "preprocess.feature_set=insitu"),
    )
    assert json.loads((run / "run.json").read_text())["features"] == [
        "ts_lf",
        "ts_hf",
        "tod_sin",
        "tod_cos",
    ]
    out = correct(bare, run, methods=("lstm",))
    assert "sm_fft" not in out and np.isfinite(out.sm_lstm.values).mean() > 0.8


def test_bf16_autocast_is_opt_in_and_tracks_fp32(cube, tmp_path):
    """``train.precision=bf16`` trains under autocast; fp32 stays the default (the paper)."""
    fp32 = train(cube, tmp_path / "fp32", profile="quick", overrides=TINY)
    bf16 = train(
        cube, tmp_path / "bf16", profile="quick", overrides=(*TINY, "train.precision=bf16")
    )
    a = pd.read_csv(fp32 / "metrics.csv")
    b = pd.read_csv(bf16 / "metrics.csv")
    assert np.isfinite(b.train_loss).all() and np.isfinite(b.val_loss).all()
    assert not np.array_equal(a.train_loss.to_numpy(), b.train_loss.to_numpy())
    np.testing.assert_allclose(b.train_loss, a.train_loss, rtol=0.2)
    weights = load_checkpoint(bf16 / "best.pt")["model_state"]
    assert all(w.dtype == torch.float32 for w in weights.values())
    with pytest.raises(ValueError, match="train.precision"):
        train(cube, tmp_path / "bad", profile="quick", overrides=(*TINY, "train.precision=fp8"))
