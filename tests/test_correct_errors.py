"""Error paths of training and correction, and a Physics Constraint Layer test that can fail.

``correct`` clamps the network series at zero after the fact, so a test on its output cannot
see the constraint; these tests look at LF + predicted HF *before* that clamp, on a cube so
dry that an unconstrained network goes negative.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_preprocess import make_tiny_cube

from smlib.config import PreprocessConfig
from smlib.method.correct import correct, predict_hf
from smlib.method.preprocess import prepare
from smlib.method.runfolder import load_model
from smlib.method.train import train

torch.set_num_threads(1)

TINY = (
    "train.max_epochs=1",
    "model.hidden_size=8",
    "train.batch_size=64",
    "train.max_samples_per_epoch=512",
    "train.max_val_samples=256",
    "train.num_threads=1",
    "train.device=cpu",
)


@pytest.fixture(scope="module")
def cube():
    return make_tiny_cube(n_ismn=4, n_days=40, seed=2)[0]


@pytest.fixture(scope="module")
def run_dir(cube, tmp_path_factory):
    return train(cube, tmp_path_factory.mktemp("runs") / "tiny", profile="quick", overrides=TINY)


def test_unknown_method_and_missing_model(cube, run_dir):
    with pytest.raises(ValueError, match="unknown correction methods \\['spline'\\]"):
        correct(cube, run_dir, methods=("lstm", "spline"))
    with pytest.raises(ValueError, match="needs a trained model"):
        correct(cube, None, methods=("lstm",))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_model(run_dir.parent / "absent")


def test_feature_mismatch_is_named(cube, run_dir):
    lm = load_model(run_dir)
    other = prepare(cube, PreprocessConfig(feature_set="insitu"), training=False)
    with pytest.raises(ValueError, match="differ from the model's"):
        predict_hf(lm, other)
    no_reanalysis = cube.drop_vars([v for v in cube.data_vars if v.startswith("era5_")])
    with pytest.raises(KeyError, match="era5_"):
        correct(no_reanalysis, run_dir, methods=("lstm",))


def test_no_samples_to_train_on(cube, tmp_path):
    refs = cube.assign_coords(is_reference=("station", np.ones(cube.sizes["station"], bool)))
    with pytest.raises(ValueError, match="no non-reference ISMN station to train on"):
        train(refs, tmp_path / "a", profile="quick", overrides=TINY)
    short = cube.isel(time=slice(0, 24 * 2))  # two days: no complete window survives
    with pytest.raises(ValueError, match="no training .* or validation .* samples"):
        train(short, tmp_path / "b", profile="quick", overrides=TINY)


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is present")
def test_cuda_without_a_gpu_is_a_clear_error(cube, run_dir, tmp_path):
    over = [o for o in TINY if not o.startswith("train.device")] + ["train.device=cuda"]
    with pytest.raises(ValueError, match="no CUDA device"):
        train(cube, tmp_path / "c", profile="quick", overrides=over)
    with pytest.raises(ValueError, match="no CUDA device"):
        load_model(run_dir, device="cuda")


def test_physics_constraint_keeps_lf_plus_hf_non_negative(cube, run_dir):
    dry = cube.copy()
    dry["sm"] = dry["sm"] * 0.01  # LF of a few 1e-3 m3 m-3: any negative HF breaks SM >= 0
    lm = load_model(run_dir)
    prep = prepare(dry, lm.config.preprocess, training=False)
    ok = prep.valid_end
    assert ok.sum() > 100
    recon = prep.sm_lf + predict_hf(lm, prep)
    assert np.nanmin(recon[ok]) >= -1e-6
    # the negative control: the same network without its constraint layer goes below zero,
    # so the assertion above is a real test of the layer
    lm.model.constraint = None
    bare = prep.sm_lf + predict_hf(lm, prep)
    assert np.nanmin(bare[ok]) < -1e-4
