"""The distributed-lag artefact as an option of the default product (correct.artefact_lags_h)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import xarray as xr
from test_preprocess import TINY_TRAIN, make_tiny_cube

from smlib.method.correct import correct, correct_file
from smlib.method.lagged_artefact import lagged_product
from smlib.method.train import train

torch.set_num_threads(1)


def test_lagged_product_flags_and_weights_on_a_delayed_artefact():
    """A 2-h delayed artefact of a non-sinusoidal TS, the true SM as the signal estimate: the
    product recovers the truth on the fitted hours; rain hours are flagged 1, missing SM 4."""
    rng = np.random.default_rng(0)
    t = np.arange(24 * 60)
    day = 2 * np.pi * t / 24
    ts = 20 + 6 * np.sin(day) + 2 * np.sin(2 * day + 0.4) + rng.normal(0, 0.1, t.size)
    truth = 0.25 - 0.004 * np.sin(day + 0.5)
    ts_late = np.roll(ts, 2)
    raw = truth + 0.003 * (ts_late - ts_late.mean())
    raw, ts, truth = raw[None], ts[None], truth[None]
    rain = np.zeros(raw.shape, bool)
    rain[0, 24 * 10 : 24 * 11] = True
    raw[0, :5] = np.nan
    prod, flag, weights = lagged_product(raw, ts, [truth], rain, max_lag_h=4, min_hours=240)
    assert weights.shape == (1, 5)
    assert np.argmax(np.abs(weights[0])) == 2  # the delay is found
    assert (flag[0, :5] == 4).all() and (flag[rain] == 1).all()
    ok = flag == 0
    hf = lambda x: x - np.convolve(x[0], np.ones(24) / 24, "same")[None]  # noqa: E731
    inner = ok & (np.arange(t.size) > 48)[None] & (np.arange(t.size) < t.size - 48)[None]
    err = np.abs(hf(prod) - hf(truth))[inner]
    assert np.percentile(err, 95) < 0.0005


@pytest.fixture(scope="module")
def lag_run(tmp_path_factory):
    cube, truth = make_tiny_cube(n_ismn=5, n_days=50, seed=2, rain_days=(9, 23))
    run = train(cube, tmp_path_factory.mktemp("runs") / "lag", profile="recommended",
                overrides=(*TINY_TRAIN, "correct.min_rule_hours=120",
                           "correct.artefact_lags_h=3"))  # fmt: skip
    return cube, run


def test_an_in_situ_product_says_the_network_was_its_only_estimate(tmp_path):
    """Without reanalysis in the cube the product's history names what guided its fit."""
    cube, _ = make_tiny_cube(n_ismn=5, n_days=50, seed=2, rain_days=(9, 23))
    bare = cube.drop_vars([v for v in cube.data_vars if v.startswith(("era5_", "merra2_"))])
    run = train(bare, tmp_path / "insitu", profile="recommended",
                overrides=(*TINY_TRAIN, "correct.min_rule_hours=120",
                           "preprocess.feature_set=insitu"))  # fmt: skip
    out = correct(bare, run, methods=("lstm",))
    how = out["sm_lstm"].attrs["product"]
    assert "the network as the only signal estimate" in how and "reanalysis as" not in how
    assert "TS HF lags 0-6 h, in situ 0-12 h" in how  # the free fits take the kernel's memory
    assert out["sm_lstm"].attrs["signal_estimates"] == "sm_lstm_net"


def test_correct_with_lags_writes_lag_weights_and_an_uncertainty(lag_run, tmp_path):
    cube, run = lag_run
    path = tmp_path / "cube.nc"
    cube.to_netcdf(path)
    out = correct_file(path, run, out=tmp_path / "c.nc", methods=("lstm",))
    # the free fits' windows 0-3 h, the table 0-12 h: recommended's element kernel memory
    lags = tuple(f"ts_hf_lag{k}h" for k in range(13))
    assert tuple(out["rule_coefficient"]["regressor"].values) == lags
    assert "distributed-lag" in out["sm_lstm"].attrs["product"]
    assert "the network and the reanalysis as signal estimates" in out["sm_lstm"].attrs["product"]
    assert "TS HF lags 0-3 h, the kernel 0-12 h" in out["sm_lstm"].attrs["product"]
    # recommended: the network's series guided the fit less the artefact share its nights carry
    assert "its nights carry" in out["sm_lstm"].attrs["product"]
    flag = out["sm_lstm_flag"].values
    sigma = out["sm_lstm_uncertainty"].values
    assert np.isfinite(sigma[flag == 0]).all() and np.isnan(sigma[flag == 4]).all()
    # the station table holds the lag weights, so every operational path gives this product
    from smlib.method.correct import StreamingCorrector
    from smlib.method.product import apply_product, read_coefficients

    table = read_coefficients(tmp_path / "c.coefficients.json")
    assert table.terms == lags
    np.testing.assert_array_equal(table.coef.astype(np.float32), out["rule_coefficient"].values)
    # the tower's gain follows the wetness (recommended: correct.tower_wetness_gain), the
    # other stations have one gain; every path below applies it
    tower = np.asarray(cube["kind"].values).astype(str) == "tower"
    assert np.isfinite(table.wetness_slope[tower]).all()
    assert np.isnan(table.wetness_slope[~tower]).all()
    applied = apply_product(cube, table)
    np.testing.assert_array_equal(applied["sm_lstm"].values, out["sm_lstm"].values)
    np.testing.assert_array_equal(applied["sm_lstm_flag"].values, flag)
    assert list(applied["rule_coefficient"]["regressor"].values) == list(table.terms)
    # the corrected file carries the wetness term (CF units), the table's values, as do the
    # applied table and correct() from the stored table
    slope = np.asarray(table.wetness_slope, np.float32)
    for ds in (out, applied):
        np.testing.assert_array_equal(ds["rule_wetness_slope"].values, slope)
        np.testing.assert_array_equal(
            ds["rule_wetness_level_mean"].values, np.asarray(table.wetness_level_mean, np.float32)
        )
        assert ds["rule_wetness_slope"].attrs["units"] == "m-3 m3"
        assert ds["rule_wetness_level_mean"].attrs["units"] == "m3 m-3"
    # applied through correct() from the stored table: the same
    again = correct(cube, run, ("lstm",), coefficients=tmp_path / "c.coefficients.json")
    np.testing.assert_array_equal(again["sm_lstm"].values, out["sm_lstm"].values)
    np.testing.assert_array_equal(again["rule_wetness_slope"].values, slope)
    # streamed in chunks of every size, across a TS gap: the whole record's product, flags too
    gappy = cube.isel(time=slice(0, 24 * 20)).copy(deep=True)
    gappy["ts"][1, 100:130] = np.nan
    whole = apply_product(gappy, table)
    sc = StreamingCorrector(None, gappy, coefficients=table)
    pieces, start = [], 0
    for size in (5, 30, 1, 1, 40, 17, 3, *[1] * 60, 24, 50, 200, 300):
        chunk = gappy.isel(time=slice(start, start + size))
        start += chunk.sizes["time"]
        if chunk.sizes["time"]:
            pieces.append(sc.update(chunk))
    streamed = xr.concat(pieces, dim="time")
    n = streamed.sizes["time"]
    assert n > gappy.sizes["time"] - 72
    np.testing.assert_allclose(
        streamed["sm_lstm"].values, whole["sm_lstm"].values[:, :n], rtol=0, atol=1e-7,
        equal_nan=True,
    )  # fmt: skip
    np.testing.assert_array_equal(
        streamed["sm_lstm_flag"].values, whole["sm_lstm_flag"].values[:, :n]
    )
