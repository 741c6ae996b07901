"""Lag sensitivity (the paper's Eq. 1) against models with known gradients."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
import xarray as xr

from smlib.evaluation.sensitivity import (
    lag_sensitivity,
    lag_sensitivity_array,
    lag_sensitivity_from_run,
)

torch.set_num_threads(1)

L, F = 18, 4


class _Linear(torch.nn.Module):
    """y = sum_{l,f} w[l, f] x[l, f]: the gradient is w for every window."""

    def __init__(self, w: np.ndarray) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.as_tensor(w, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x * self.w).sum(dim=(1, 2))


class _Square(torch.nn.Module):
    """y = x[t, 0]^2 + shift: gradient 2 x at lag 0 of feature 0, only."""

    def forward(self, x: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
        return x[:, -1, 0] ** 2 + shift


def test_linear_model_sensitivity_is_weights_times_sigma():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(L, F))
    sigma = np.array([0.5, 1.0, 2.0, 3.0])
    windows = rng.normal(size=(37, L, F)).astype(np.float32)
    s, n = lag_sensitivity_array(_Linear(w), windows, sigma, batch_size=8)
    assert n == 37 and s.shape == (F, L)
    expected = np.abs(w[::-1, :]).T * sigma[:, None]  # lag 0 is the last window step
    np.testing.assert_allclose(s, expected, rtol=1e-5)


def test_nonlinear_model_with_extra_input_and_nan_windows():
    windows = np.zeros((6, L, F), dtype=np.float32)
    windows[:, -1, 0] = [1, -2, 3, -4, 5, np.nan]
    shift = np.arange(6, dtype=np.float32)
    s = lag_sensitivity(
        _Square(),
        windows,
        sigma=np.ones(F),
        extra=(shift,),
        batch_size=4,
        feature_names=["a", "b", "c", "d"],
        output_scale=0.1,
        units="m3 m-3",
    )
    # mean |2x| over the 5 finite windows = 2 * 15 / 5 = 6, times output_scale
    assert float(s.sel(feature="a", lag=0)) == pytest.approx(0.6, rel=1e-6)
    assert float(abs(s).sum()) == pytest.approx(0.6, rel=1e-6)
    assert s.attrs["n_windows"] == 5 and s.attrs["units"] == "m3 m-3"
    assert s.dims == ("feature", "lag") and list(s["lag"].values) == list(range(L))


def test_lstm_gradients_respect_causality_and_dropout_restored():
    torch.manual_seed(0)

    class _Lstm(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lstm = torch.nn.LSTM(F, 8, num_layers=2, batch_first=True, dropout=0.5)
            self.head = torch.nn.Linear(8, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h, _ = self.lstm(x)
            return self.head(h[:, -1]).squeeze(-1)

    model = _Lstm().train()
    windows = torch.randn(16, L, F)
    s1, _ = lag_sensitivity_array(model, windows, np.ones(F), batch_size=5)
    s2, _ = lag_sensitivity_array(model, windows, np.ones(F), batch_size=16)
    assert model.training  # mode restored
    np.testing.assert_allclose(s1, s2, rtol=1e-5)  # deterministic: dropout off, batch-invariant
    assert (s1 > 0).all()


def test_input_validation():
    model = _Linear(np.ones((L, F)))
    with pytest.raises(ValueError, match="sigma"):
        lag_sensitivity_array(model, np.zeros((2, L, F)), np.ones(F + 1))
    with pytest.raises(ValueError, match="shape"):
        lag_sensitivity_array(model, np.zeros((L, F)), np.ones(F))
    with pytest.raises(ValueError, match="finite"):
        lag_sensitivity_array(model, np.full((2, L, F), np.nan), np.ones(F))
    with pytest.raises(ValueError, match="feature names"):
        lag_sensitivity(model, np.zeros((2, L, F)), np.ones(F), feature_names=["x"])


def _tiny_cube(n_days: int = 6) -> xr.Dataset:
    n = 24 * n_days
    h = np.arange(n)
    rng = np.random.default_rng(0)
    ts = 20 + 5 * np.cos(2 * np.pi * (h - 15) / 24) + 0.1 * rng.normal(size=(3, n))
    sm = 0.25 - 0.01 * np.cos(2 * np.pi * (h - 15) / 24) + 0.0005 * rng.normal(size=(3, n))
    return xr.Dataset(
        {"sm": (("station", "time"), sm), "ts": (("station", "time"), ts)},
        coords={
            "station": ["N/REF", "N/A", "N/B"],
            "time": pd.date_range("2021-07-01", periods=n, freq="h"),
            "lat": ("station", [40.0, 40.1, 40.2]),
            "lon": ("station", [0.0, 0.0, 0.0]),
            "is_reference": ("station", [True, False, False]),
            "kind": ("station", ["ismn"] * 3),
        },
    )


def test_lag_sensitivity_from_run_on_reference_windows():
    from pathlib import Path

    from smlib.config import get_profile
    from smlib.method.model import build_model
    from smlib.method.preprocess import feature_names, prepare
    from smlib.method.runfolder import LoadedModel
    from smlib.method.scaling import MinMaxScaler

    torch.manual_seed(0)
    cfg = get_profile(
        "quick",
        ["preprocess.feature_set=insitu", "preprocess.rain_screen=none", "model.hidden_size=8"],
    )
    features = feature_names(cfg.preprocess)
    cube = _tiny_cube()
    prep = prepare(cube, cfg.preprocess, training=False)
    x = prep.x.reshape(-1, len(features))
    scaler = MinMaxScaler.fit(x[np.isfinite(x).all(1)], np.array([-0.02, 0.02]), features)
    model = build_model(cfg.model, len(features), scaler.y_min, scaler.y_max)
    lm = LoadedModel(model.eval(), cfg, scaler, Path("."), torch.device("cpu"))

    s = lag_sensitivity_from_run(lm, cube, batch_size=16)
    n_ref_windows = int(prep.valid_end[0].sum())
    assert s.attrs["n_windows"] == n_ref_windows and s.attrs["stations"] == 1
    assert list(s["feature"].values) == list(features)
    assert s.shape == (len(features), 18) and s.attrs["units"] == "m3 m-3"
    assert np.isfinite(s.values).all() and (s.values >= 0).all() and s.values.max() > 0
    sub = lag_sensitivity_from_run(lm, cube, max_windows=10)
    assert sub.attrs["n_windows"] == 10

    # the same numbers from the explicit windows, the training sigma and the target range
    from smlib.method.scaling import window_view

    train = prepare(cube.isel(station=[1, 2]), cfg.preprocess, training=True)
    sigma = np.nanstd(scaler.transform(train.x[train.training_mask()]).astype(float), axis=0)
    ends = np.flatnonzero(prep.valid_end[0])
    win = window_view(scaler.transform(prep.x[:1]), 18)[0, ends - 17]
    direct = lag_sensitivity(
        model, win, sigma, extra=(prep.sm_lf[0, ends],), output_scale=scaler.y_max - scaler.y_min
    )
    np.testing.assert_allclose(s.values, direct.values, rtol=1e-5)

    with pytest.raises(ValueError, match="reference"):
        lag_sensitivity_from_run(lm, cube.assign_coords(is_reference=("station", [False] * 3)))
