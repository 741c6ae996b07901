"""Self-training (train.target=product): the network learns from the stage-1 product."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

from smlib.method.self_training import STAGE1_DIR, product_target_cube


def _pair(n_t: int = 6):
    t = np.arange("2020-06-01T00", f"2020-06-01T{n_t:02d}", dtype="datetime64[h]")
    sm = np.array([[0.20, 0.21, 0.22, np.nan, 0.24, 0.25][:n_t], [0.30] * n_t])
    cube = xr.Dataset(
        {"sm": (("station", "time"), sm.astype(np.float32)), "ts": (("station", "time"), sm)},
        coords={"station": ["A", "B"], "time": t},
    )
    prod = sm - 0.01
    flag = np.array([[0, 1, 2, 4, 0, 3][:n_t], [3] * n_t])  # station B left raw
    corr = xr.Dataset(
        {"sm_lstm": (("station", "time"), prod), "sm_lstm_flag": (("station", "time"), flag)},
        coords={"station": ["A", "B"], "time": t},
    )
    return cube, corr


def test_product_target_keeps_the_corrected_hours_only():
    cube, corr = _pair()
    target, share = product_target_cube(cube, corr)
    got = target["sm"].values
    np.testing.assert_allclose(got[0, [0, 1, 2, 4]], [0.19, 0.20, 0.21, 0.23], atol=1e-6)
    assert np.isnan(got[0, [3, 5]]).all()  # no value; an hour left raw
    assert np.isnan(got[1]).all()  # a station the product left raw teaches nothing
    assert share == pytest.approx(4 / 11)
    # the inputs are untouched, the measured cube too
    np.testing.assert_array_equal(target["ts"].values, cube["ts"].values)
    assert cube["sm"].values[0, 0] == pytest.approx(0.20)
    assert "stage-1 corrected product" in target["sm"].attrs["comment"]


def test_product_target_follows_the_cube_s_dimension_order():
    cube, corr = _pair()
    target, _ = product_target_cube(cube, corr.transpose("time", "station"))
    np.testing.assert_allclose(target["sm"].values[0, 0], 0.19, atol=1e-6)


def test_train_target_is_validated():
    from smlib.config import get_profile, validate

    assert get_profile("paper").train.target == "measured"
    with pytest.raises(ValueError, match="train.target"):
        validate(get_profile("recommended", ["train.target=truth"]))


@pytest.fixture(scope="module")
def self_trained(tmp_path_factory):
    import torch
    from test_preprocess import TINY_TRAIN, make_tiny_cube

    from smlib.method.train import train

    torch.set_num_threads(1)
    cube, truth = make_tiny_cube(n_ismn=6, n_days=60, seed=3, rain_days=(9, 23, 41))
    run = train(
        cube, tmp_path_factory.mktemp("runs") / "self", profile="recommended",
        overrides=(*TINY_TRAIN, "train.max_epochs=2", "correct.min_rule_hours=120",
                   "train.target=product"),
    )  # fmt: skip
    return cube, truth, run


def test_a_self_trained_run_holds_its_stage_one_and_records_it(self_trained):
    from smlib.config import load_config
    from smlib.method.runfolder import load_model

    cube, _, run = self_trained
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "finished" and info["target"] == "product"
    assert info["stage1"] == STAGE1_DIR and 0.2 < info["target_share"] <= 1.0
    stage1 = run / STAGE1_DIR
    first = json.loads((stage1 / "run.json").read_text())
    assert first["status"] == "finished" and "target" not in first
    assert load_config(stage1 / "config.yaml").train.target == "measured"
    assert load_config(run / "config.yaml").train.target == "product"
    # the same configuration otherwise: stage 1 is the run with the paper's target
    a, b = load_config(stage1 / "config.yaml"), load_config(run / "config.yaml")
    assert (a.model, a.preprocess, a.correct) == (b.model, b.preprocess, b.correct)
    # stage 2 trains on every rain-free corrected hour: more samples than the R-filtered stage 1
    assert info["n_train_samples"] > first["n_train_samples"]
    net1 = load_model(stage1, "cpu").model.state_dict()
    net2 = load_model(run, "cpu").model.state_dict()
    assert any(not np.allclose(net1[k].numpy(), net2[k].numpy()) for k in net1)


def test_a_self_trained_run_corrects_and_resumes_as_finished(self_trained):
    from smlib.method.correct import correct
    from smlib.method.train import train

    cube, truth, run = self_trained
    out = correct(cube, run, ("lstm",))
    assert "sm_lstm_net" in out and np.isfinite(out["sm_lstm"].values).mean() > 0.8
    before = (run / "best.pt").stat().st_mtime_ns
    assert train(cube, run, resume=True) == run  # finished: nothing is retrained
    assert (run / "best.pt").stat().st_mtime_ns == before
