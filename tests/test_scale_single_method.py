"""``scale.correct_lazy`` with one method (the archive case) equals the in-memory path."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_preprocess import make_tiny_cube

from smlib import scale
from smlib.correct import correct, load_model
from smlib.train import train

torch.set_num_threads(1)

TINY = (
    "model.hidden_size=8",
    "model.dense=[8, 4]",
    "train.batch_size=64",
    "train.max_samples_per_epoch=256",
    "train.max_epochs=1",
    "train.num_threads=1",
    "train.device=cpu",
)


@pytest.fixture(scope="module")
def cube():
    ds, _ = make_tiny_cube(n_ismn=5, n_days=30, rain_days=(12,))
    return ds


@pytest.fixture(scope="module")
def run_dir(cube, tmp_path_factory):
    return train(cube, tmp_path_factory.mktemp("single") / "run", profile="quick", overrides=TINY)


@pytest.mark.parametrize("method", ["lstm", "fft"])
def test_correct_lazy_one_method_equals_in_memory(cube, run_dir, method):
    model = run_dir if method == "lstm" else None
    ref = correct(cube, load_model(run_dir, device="cpu") if model else None, (method,))
    got = scale.correct_lazy(cube.chunk({"station": 3}), model, (method,)).compute()
    assert set(got.data_vars) >= {"sm", "ts", f"sm_{method}"}
    assert f"sm_{'fft' if method == 'lstm' else 'lstm'}" not in got
    np.testing.assert_array_equal(got[f"sm_{method}"].values, ref[f"sm_{method}"].values)
    assert np.isfinite(got[f"sm_{method}"].values).any()
    assert got[f"sm_{method}"].attrs == ref[f"sm_{method}"].attrs
