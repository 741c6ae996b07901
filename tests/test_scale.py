"""Station-chunked dask path equals the in-memory path; a 2-worker LocalCluster runs it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_preprocess import TINY_TRAIN as TINY
from test_preprocess import make_tiny_cube

from smlib.config import get_profile
from smlib.method.correct import correct
from smlib.method.preprocess import prepare
from smlib.method.runfolder import load_model
from smlib.method.train import train
from smlib.ops import scale

torch.set_num_threads(1)

FIELDS = ("x", "sm_lf", "sm_hf", "valid_end", "r_ok")


@pytest.fixture(scope="module")
def cube():
    ds, _ = make_tiny_cube(n_ismn=5, n_days=30, rain_days=(12,))
    return ds


@pytest.fixture(scope="module")
def run_dir(cube, tmp_path_factory):
    return train(cube, tmp_path_factory.mktemp("scale") / "run", profile="quick", overrides=TINY)


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("feature_set", ["paper14", "insitu"])
def test_prepare_lazy_equals_in_memory(cube, training, feature_set):
    cfg = get_profile("quick", [f"preprocess.feature_set={feature_set}"]).preprocess
    ref = prepare(cube, cfg, training=training)
    lazy = scale.prepare_lazy(cube.chunk({"station": 2}), cfg, training=training)
    assert lazy["x"].chunks[0] == (2, 2, 2)  # really chunked by station
    got = lazy.compute()
    assert list(got["feature"].values) == list(ref.features)
    for name in FIELDS:
        np.testing.assert_array_equal(got[name].values, getattr(ref, name), err_msg=name)
    assert got["sm_hf"].attrs["units"] == "m3 m-3"


def test_prepare_lazy_names_missing_variables(cube):
    cfg = get_profile("quick").preprocess
    with pytest.raises(KeyError, match="era5_lh"):
        scale.prepare_lazy(cube.drop_vars("era5_lh"), cfg, training=False)


def test_correct_lazy_equals_in_memory(cube, run_dir):
    lm = load_model(run_dir, device="cpu")
    ref = correct(cube, lm, ("lstm", "fft"))
    lazy = scale.correct_lazy(cube.chunk({"station": 3}), run_dir, ("lstm", "fft"))
    assert lazy["sm_lstm"].chunks is not None
    got = lazy.compute()
    for v in ("sm", "ts", "sm_lstm", "sm_fft"):
        np.testing.assert_array_equal(got[v].values, ref[v].values, err_msg=v)
        assert got[v].attrs == ref[v].attrs
    assert np.isfinite(got["sm_lstm"].values).any()


def test_station_summary_counts(cube):
    cfg = get_profile("quick").preprocess
    ref = prepare(cube, cfg, training=True)
    s = scale.station_summary(scale.prepare_lazy(cube.chunk({"station": 4}), cfg, training=True))
    np.testing.assert_array_equal(s["n_valid"].values, ref.valid_end.sum(1))
    np.testing.assert_allclose(s["sm_hf_std"].values, np.nanstd(ref.sm_hf, axis=1), rtol=1e-5)


@pytest.mark.slow
def test_local_cluster_two_workers(cube, run_dir):
    distributed = pytest.importorskip("dask.distributed")
    cfg = get_profile("quick").preprocess
    ref = prepare(cube, cfg, training=True)
    # the product (flagged or paper) follows the model run's configuration, so the reference
    # is the in-memory correction with the same run
    ref_fft = correct(cube, load_model(run_dir, "cpu"), ("lstm", "fft"))
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        assert len(client.scheduler_info()["workers"]) == 2
        lazy = scale.prepare_lazy(cube.chunk({"station": 2}), cfg, training=True)
        got = lazy.compute()
        corr = scale.correct_lazy(cube.chunk({"station": 2}), run_dir, ("lstm", "fft")).compute()
    for name in FIELDS:
        np.testing.assert_array_equal(got[name].values, getattr(ref, name), err_msg=name)
    np.testing.assert_array_equal(corr["sm_fft"].values, ref_fft["sm_fft"].values)
    # the network on the cluster gives the in-memory product, value for value, flag for flag
    for name in ("sm_lstm", "sm_lstm_flag"):
        np.testing.assert_allclose(
            corr[name].values, ref_fft[name].values, rtol=0, atol=1e-6, equal_nan=True,
            err_msg=name,
        )  # fmt: skip
    assert (np.isfinite(ref_fft["sm_lstm"].values) & np.isnan(cube["sm"].values)).sum() == 0


# the archive case: one method only (was `ValueError: axes don't match array`)
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


def test_correct_lazy_applies_stored_coefficients_like_the_batch_product(cube, tmp_path):
    """Blocks apply the station table of ``smlib correct`` (looked up by station, not by
    position): the lazy product equals the fitted batch product, flags included."""
    from smlib.method.correct import correct_file

    run = train(cube, tmp_path / "run", profile="quick",
                overrides=(*TINY, "correct.product=flagged"))  # fmt: skip
    out = tmp_path / "c.nc"
    ref = correct_file(cube, run, out=out, methods=("lstm",))
    assert ref.attrs["product"] == "flagged"
    table = tmp_path / "c.coefficients.json"
    got = scale.correct_lazy(cube.chunk({"station": 3}), run, ("lstm",), coefficients=table)
    got = got.compute()
    for v in ("sm_lstm", "sm_lstm_flag", "sm_lstm_net", "rule_coefficient"):
        np.testing.assert_array_equal(got[v].values, ref[v].values, err_msg=v)
    assert set(np.unique(got["sm_lstm_flag"].values)) >= {0, 1}
    # the same blocks in another station order still find their own coefficients
    flipped = cube.isel(station=slice(None, None, -1)).chunk({"station": 2})
    back = scale.correct_lazy(flipped, run, ("lstm",), coefficients=table).compute()
    np.testing.assert_array_equal(
        back["rule_coefficient"].values, ref["rule_coefficient"].values[::-1]
    )
