"""Correction: batch output schema, streaming == batch, end-to-end skill on a held-out twin."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import xarray as xr
from test_preprocess import make_tiny_cube

from smlib.config import PreprocessConfig
from smlib.method.correct import StreamingCorrector, correct, correct_file
from smlib.method.decomposition import moving_average
from smlib.method.runfolder import load_model
from smlib.method.screens import rain_flags
from smlib.method.train import CheckpointError, train

torch.set_num_threads(1)

SMALL = (
    "train.batch_size=64",
    "train.max_epochs=25",
    "train.patience=6",
    "train.max_samples_per_epoch=2048",
    "train.num_threads=1",
    "train.device=cpu",
)
RAIN = (9, 37, 65, 93)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    ds, _ = make_tiny_cube(n_ismn=8, n_days=110, seed=0, rain_days=RAIN)
    return train(ds, tmp_path_factory.mktemp("runs") / "small", profile="quick", overrides=SMALL)


@pytest.fixture(scope="module")
def held_out():
    return make_tiny_cube(n_ismn=5, n_days=60, seed=1, rain_days=RAIN[:2])


def _hf_corr(a: np.ndarray, b: np.ndarray, skip: np.ndarray) -> np.ndarray:
    a, b = a - moving_average(a), b - moving_average(b)
    r = []
    for i in range(a.shape[0]):
        ok = np.isfinite(a[i]) & np.isfinite(b[i]) & ~skip[i]
        r.append(np.corrcoef(a[i, ok], b[i, ok])[0, 1])
    return np.array(r)


@pytest.mark.slow
def test_lstm_beats_raw_and_fourier_on_held_out_dielectric_stations(run_dir, held_out):
    cube, truth = held_out
    out = correct(cube, run_dir, methods=("lstm", "fft"))
    # diurnal skill on rain-free days (every screen united), as in the paper's evaluation
    wet = rain_flags(cube, PreprocessConfig(rain_screen="strict"))["insitu"]
    dielectric = ~cube.is_reference.values & (cube.kind.values == "ismn")
    r = {
        v: _hf_corr(out[v].values, truth.values, wet)[dielectric]
        for v in ("sm", "sm_lstm", "sm_fft")
    }
    assert np.median(r["sm_lstm"]) > np.median(r["sm"]) + 0.3
    assert np.median(r["sm_lstm"]) > np.median(r["sm_fft"])


def test_output_schema_nan_margins_and_file(run_dir, held_out, tmp_path):
    cube, _ = held_out
    path = tmp_path / "corrected.nc"
    res = correct_file(cube, run_dir, out=path, methods=("lstm", "fft"), fft_product="era5")
    assert {"sm", "ts", "sm_lstm", "sm_fft"} <= set(res.data_vars)
    for v in ("sm", "sm_lstm", "sm_fft"):
        assert res[v].attrs["units"] == "m3 m-3"
        assert res[v].attrs["standard_name"] == "volume_fraction_of_condensed_water_in_soil"
    lstm = res.sm_lstm.values
    assert np.isnan(lstm[:, : 12 + 17]).all()  # no complete window yet (LF 12 h + 17 h)
    assert (
        np.isfinite(lstm[:, 12 + 17 : -11]).mean() > 0.95
    )  # all stations, towers and references too
    assert np.nanmin(lstm) >= 0
    with xr.open_dataset(path) as back:
        np.testing.assert_array_equal(back.sm_lstm.values, lstm)
        assert list(back.station.values) == list(cube.station.values)
    assert not list(tmp_path.glob("*.tmp"))
    with pytest.raises(ValueError, match="needs a trained model"):
        correct(cube, None, methods=("lstm",))


def test_streaming_equals_batch(run_dir, held_out):
    cube, _ = held_out
    cube = cube.isel(time=slice(0, 24 * 6))
    batch = correct(cube, run_dir, methods=("lstm",)).sm_lstm
    sc = StreamingCorrector(run_dir, cube)
    assert sc.latency_h == 11
    pieces, start = [], 0
    for size in (5, 30, 1, 1, 40, 17, 200):
        chunk = cube.isel(time=slice(start, start + size))
        start += chunk.sizes["time"]
        if chunk.sizes["time"]:
            pieces.append(sc.update(chunk))
    streamed = xr.concat(pieces, dim="time")
    # every hour up to the last one minus the latency is released exactly once
    assert streamed.sizes["time"] == cube.sizes["time"] - 11
    np.testing.assert_array_equal(streamed.time.values, cube.time.values[:-11])
    np.testing.assert_allclose(
        streamed.values, batch.values[:, :-11], rtol=1e-5, atol=1e-7, equal_nan=True
    )
    assert np.isfinite(streamed.values).sum() > 0.5 * streamed.size


def test_streaming_equals_batch_with_the_lf_carried_across_run_ends(run_dir, held_out):
    """preprocess.lf_hold_h: hours at the ends of SM runs get a value, streamed as in batch."""
    import dataclasses

    cube, _ = held_out
    cube = cube.isel(time=slice(0, 24 * 8)).copy(deep=True)
    cube["sm"][0, 70:90] = np.nan  # SM runs that end and start inside the record
    cube["sm"][2, 120:126] = np.nan
    lm = load_model(run_dir)
    pc = dataclasses.replace(lm.config.preprocess, lf_hold_h=12)
    held = dataclasses.replace(lm, config=dataclasses.replace(lm.config, preprocess=pc))
    plain = correct(cube, run_dir, methods=("lstm",)).sm_lstm.values
    batch = correct(cube, held, methods=("lstm",)).sm_lstm
    gained = np.isfinite(batch.values) & np.isnan(plain)
    # the hours whose centred 24-h window reaches into the gap: 11 before, 12 after it
    assert gained[0, 59:70].all() and gained[0, 90:102].all()
    assert not gained[0, :59].any() and not gained[0, 102:].any()
    both = np.isfinite(plain)
    np.testing.assert_array_equal(batch.values[both], plain[both])  # nothing else changes
    sc = StreamingCorrector(held, cube)
    assert sc.latency_h == 11 + 2 * 12
    pieces, start = [], 0
    for size in (5, 30, *[1] * 60, 40, 17, 200):
        chunk = cube.isel(time=slice(start, start + size))
        start += chunk.sizes["time"]
        if chunk.sizes["time"]:
            pieces.append(sc.update(chunk))
    streamed = xr.concat(pieces, dim="time")
    n = cube.sizes["time"] - sc.latency_h
    np.testing.assert_array_equal(streamed.time.values, cube.time.values[:n])
    np.testing.assert_allclose(
        streamed.values, batch.values[:, :n], rtol=1e-5, atol=1e-7, equal_nan=True
    )
    # the bare network series carries the batch file's carried-LF mark as a coordinate
    mark = correct(cube, held, methods=("lstm",))["sm_lstm_net_lf_carried"].values[:, :n]
    assert mark[0].sum() == 23 and mark[2].sum() > 0
    np.testing.assert_array_equal(streamed["sm_lstm_net_lf_carried"].values, mark)


def test_carried_lf_hours_are_marked_and_do_not_move_the_default_product(run_dir, held_out):
    """The network's values at run ends (carried LF) are served and marked; the product's fit
    takes the network where its LF is a complete mean, so it does not depend on the hold."""
    import dataclasses

    from smlib.config import get_profile
    from smlib.evaluation.signal_ablation import signal_ablation

    cube, _ = held_out
    cube = cube.isel(time=slice(0, 24 * 30)).copy(deep=True)
    cube["sm"][0, 200:230] = np.nan
    lm = load_model(run_dir)
    out = {}
    for hold in (0, 12):
        pc = dataclasses.replace(lm.config.preprocess, lf_hold_h=hold)
        cfg = dataclasses.replace(
            lm.config, preprocess=pc, correct=get_profile("recommended").correct
        )
        out[hold] = correct(cube, dataclasses.replace(lm, config=cfg), methods=("lstm",))
    assert "sm_lstm_net_lf_carried" not in out[0]
    mark = out[12]["sm_lstm_net_lf_carried"].values.astype(bool)
    gained = np.isfinite(out[12].sm_lstm_net.values) & np.isnan(out[0].sm_lstm_net.values)
    np.testing.assert_array_equal(mark, gained)
    assert mark[0, 189:200].all() and mark[0, 230:242].all()  # 11 h before, 12 h after
    np.testing.assert_array_equal(out[12].sm_lstm.values, out[0].sm_lstm.values)
    np.testing.assert_array_equal(out[12].sm_lstm_flag.values, out[0].sm_lstm_flag.values)
    # the signal ablation reproduces the product from the file (it masks the same hours)
    abl = signal_ablation(cube, out[12], get_profile("recommended").correct)
    assert abl.attrs["max_abs_difference_all"] <= 1e-6


def test_streamed_product_marks_the_carried_lf_hours_as_batch(run_dir, held_out, tmp_path):
    """With the stored coefficients and a model that carries the LF, the streamed network
    series and its carried-LF mark equal the batch file's."""
    import dataclasses

    from smlib.config import get_profile

    cube, _ = held_out
    cube = cube.isel(time=slice(0, 24 * 12)).copy(deep=True)
    cube["sm"][0, 100:130] = np.nan
    lm = load_model(run_dir)
    pc = dataclasses.replace(lm.config.preprocess, lf_hold_h=12)
    cfg = dataclasses.replace(lm.config, preprocess=pc, correct=get_profile("recommended").correct)
    held = dataclasses.replace(lm, config=cfg)
    batch = correct_file(cube, held, out=tmp_path / "c.nc", methods=("lstm",))
    sc = StreamingCorrector(held, cube, coefficients=tmp_path / "c.coefficients.json")
    pieces, start = [], 0
    for size in (7, 50, *[1] * 40, 30, 300):
        chunk = cube.isel(time=slice(start, start + size))
        start += chunk.sizes["time"]
        if chunk.sizes["time"]:
            pieces.append(sc.update(chunk))
    streamed = xr.concat(pieces, dim="time")
    n = streamed.sizes["time"]
    assert n > 24 * 6
    mark = batch["sm_lstm_net_lf_carried"].values[:, :n]
    assert mark[0].sum() == 23  # 11 h before the gap, 12 after
    np.testing.assert_array_equal(streamed["sm_lstm_net_lf_carried"].values, mark)
    np.testing.assert_allclose(
        streamed.sm_lstm_net.values, batch.sm_lstm_net.values[:, :n], rtol=1e-5, atol=1e-7,
        equal_nan=True,
    )  # fmt: skip


def test_load_model_refuses_damaged_checkpoint(run_dir, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    lm = load_model(copy)
    assert len(lm.scaler.features) == 14 and not lm.model.training
    data = (copy / "best.pt").read_bytes()
    (copy / "best.pt").write_bytes(data[:1000])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_model(copy)


@pytest.mark.parametrize("provisional", [False, True])
def test_streaming_product_equals_batch_product(run_dir, held_out, tmp_path, provisional):
    """With the stored coefficients the streamed product (values and flags) is the book's."""
    cube, _ = held_out
    cube = cube.isel(time=slice(0, 24 * 20)).copy(deep=True)
    cube["ts"][1, 100:130] = np.nan  # a long TS gap: the LF after it is borrowed from later
    cube["sm"][0, 60:66] = np.nan
    out = tmp_path / "c.nc"
    batch = correct_file(cube, run_dir, out=out, methods=("lstm",), product="flagged")
    assert set(np.unique(batch.sm_lstm_flag.values)) >= {0, 1, 3, 4}
    sc = StreamingCorrector(
        run_dir, cube, coefficients=tmp_path / "c.coefficients.json",
        provisional_flags=provisional,
    )  # fmt: skip
    pieces, start, lags = [], 0, []
    # hour by hour across the TS gap, where the LF is borrowed from up to 12 h later
    for size in (5, 30, 1, 1, 40, 17, 3, *[1] * 60, 24, 50, 200, 300):
        chunk = cube.isel(time=slice(start, start + size))
        start += chunk.sizes["time"]
        if chunk.sizes["time"]:
            got = sc.update(chunk)
            pieces.append(got)
            if got.sizes["time"]:
                lags.append(
                    int((chunk.time.values[-1] - got.time.values[-1]) // np.timedelta64(1, "h"))
                )
    streamed = xr.concat(pieces, dim="time")
    n = streamed.sizes["time"]
    np.testing.assert_array_equal(streamed.time.values, cube.time.values[:n])
    np.testing.assert_allclose(
        streamed.sm_lstm.values, batch.sm_lstm.values[:, :n], rtol=0, atol=1e-7, equal_nan=True
    )
    np.testing.assert_allclose(
        streamed.sm_lstm_net.values, batch.sm_lstm_net.values[:, :n], rtol=1e-5, atol=1e-7,
        equal_nan=True,
    )  # fmt: skip
    if provisional:
        assert 12 <= min(lags) and max(lags) <= 27 and n >= cube.sizes["time"] - 27
    else:  # flags settle at the end of the next local day (strict screen, widened by a day)
        np.testing.assert_array_equal(
            streamed.sm_lstm_flag.values, batch.sm_lstm_flag.values[:, :n]
        )
        assert 24 <= min(lags) and max(lags) <= 24 * 2 + 23
    assert n > cube.sizes["time"] - 72
