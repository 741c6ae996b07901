"""The distributed-lag artefact as an option of the default product (correct.artefact_lags_h)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
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


def test_correct_with_lags_writes_lag_weights_and_an_uncertainty(lag_run, tmp_path):
    cube, run = lag_run
    path = tmp_path / "cube.nc"
    cube.to_netcdf(path)
    out = correct_file(path, run, out=tmp_path / "c.nc", methods=("lstm",))
    assert list(out["rule_coefficient"]["regressor"].values) == [
        "ts_hf_lag0h", "ts_hf_lag1h", "ts_hf_lag2h", "ts_hf_lag3h"
    ]  # fmt: skip
    assert "distributed-lag" in out["sm_lstm"].attrs["product"]
    flag = out["sm_lstm_flag"].values
    sigma = out["sm_lstm_uncertainty"].values
    assert np.isfinite(sigma[flag == 0]).all() and np.isnan(sigma[flag == 4]).all()
    # the stored-coefficient table holds b1, b2 only: none is written, and none is accepted
    assert not (tmp_path / "c.coefficients.json").exists()
    plain = tmp_path / "plain.coefficients.json"
    from smlib.method.product import ProductCoefficients, write_coefficients

    table = ProductCoefficients(
        station=np.asarray(cube["station"].values).astype(object),
        coef=np.zeros((cube.sizes["station"], 2)),
        fitted_hours=np.zeros(cube.sizes["station"], int),
        n_signals=np.zeros(cube.sizes["station"], int),
        rain_tendency_sd=np.ones(cube.sizes["station"]),
        signal_estimates=(),
        min_hours=120,
        smoothing_days=0,
    )
    write_coefficients(table, plain)
    with pytest.raises(ValueError, match="distributed-lag"):
        correct(cube, run, ("lstm",), coefficients=plain)
