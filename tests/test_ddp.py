"""DistributedDataParallel: sharding arithmetic, and 2 gloo processes under torchrun reproduce
the single-process validation curve with the same global batch."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
from test_preprocess import make_tiny_cube

from smlib.method.ddp import DistContext, shard
from smlib.method.train import load_checkpoint, train

torch.set_num_threads(1)

# dropout 0 so that per-rank dropout masks cannot differ; 250 samples / batch 64 leaves a
# short last batch (58) that the ranks split 29 / 29
TINY = (
    "model.hidden_size=8",
    "model.dense=[8, 4]",
    "model.dropout=0.0",
    "train.batch_size=64",
    "train.max_samples_per_epoch=250",
    "train.max_epochs=4",
    "train.patience=10",
    "train.num_threads=1",
    "train.device=cpu",
)


def test_shard_splits_a_global_batch_and_weights_it():
    batch = torch.arange(10)
    parts = [shard(batch, DistContext(r, 3)) for r in range(3)]
    assert torch.equal(torch.cat([p for p, _ in parts]), batch)
    # weights m * world / n: the average over ranks of weight * mean_r = global mean
    assert [w for _, w in parts] == [4 * 3 / 10, 3 * 3 / 10, 3 * 3 / 10]
    vals = torch.linspace(0, 1, 10)
    avg = sum(w * vals[p].mean() for p, w in parts) / 3
    assert torch.isclose(avg, vals.mean())
    assert shard(batch, DistContext()) == (batch, 1.0)


def test_shard_gives_an_empty_rank_a_zero_weight_placeholder():
    local, w = shard(torch.tensor([5]), DistContext(1, 2))
    assert local.tolist() == [5] and w == 0.0


@pytest.mark.slow
def test_two_gloo_processes_match_single_process(tmp_path):
    ds, _ = make_tiny_cube(n_ismn=4, n_days=45, rain_days=(20,))
    cube = tmp_path / "cube.nc"
    ds.to_netcdf(cube)
    single = train(ds, tmp_path / "single", profile="quick", overrides=TINY)
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
        "-m", "smlib.method.ddp", str(cube), "--out", str(tmp_path / "ddp"), "--profile", "quick",
        "--backend", "gloo",
    ]  # fmt: skip
    for o in TINY:
        cmd += ["--set", o]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = tmp_path / "ddp"
    info = json.loads((run / "run.json").read_text())
    assert info["world_size"] == 2 and info["status"] == "finished"
    m1 = pd.read_csv(single / "metrics.csv")
    m2 = pd.read_csv(run / "metrics.csv")
    assert list(m2.epoch) == [0, 1, 2, 3]
    np.testing.assert_allclose(m2.val_loss, m1.val_loss, rtol=1e-4)
    np.testing.assert_allclose(m2.train_loss, m1.train_loss, rtol=1e-4)
    assert m1.val_loss.iloc[-1] < m1.val_loss.iloc[0]  # it learnt, so the match is not trivial
    # rank 0 wrote plain (unwrapped) weights, loadable without DDP
    best = load_checkpoint(run / "best.pt")
    assert not any(k.startswith("module.") for k in best["model_state"])
    assert len(load_checkpoint(run / "last.pt")["torch_rng_ranks"]) == 2
