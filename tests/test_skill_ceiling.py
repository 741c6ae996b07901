"""The noise ceiling: the truth plus the probe's own noise, scored like a method (issue 18)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from smlib.evaluation.diagnostics import hf_correlation
from smlib.evaluation.skill import (
    add_ceiling_shares,
    noise_ceiling_kernel,
    score_against_truth,
    with_noise_ceiling,
)


def _world(sigma: float, n_days: int = 400, amp: float = 0.004, seed: int = 0):
    """Three ISMN stations whose true SM is a pure 24-h sine of amplitude ``amp`` (m3 m-3) and
    whose probe noise is white with sd ``sigma``; the raw reading misses two days."""
    rng = np.random.default_rng(seed)
    time = pd.date_range("2020-01-01", periods=24 * n_days, freq="h")
    t = np.arange(time.size)
    n = 3
    true = 0.25 + amp * np.sin(2 * np.pi * t / 24) + np.zeros((n, 1))
    noise = rng.normal(0, sigma, true.shape)
    raw = np.where((t >= 24 * 100) & (t < 24 * 102), np.nan, true + noise)
    coords = {
        "station": [f"N/S{i}" for i in range(n)],
        "time": time,
        "lon": ("station", np.zeros(n)),
        "lat": ("station", np.full(n, 45.0)),
        "kind": ("station", ["ismn"] * n),
        "is_reference": ("station", np.zeros(n, bool)),
        "sensor_type": ("station", ["capacitance"] * n),
    }
    dims = ("station", "time")
    cube = xr.Dataset(
        {"sm": (dims, raw), "ts": (dims, 20 + 5 * np.sin(2 * np.pi * (t - 9) / 24) + 0 * true)},
        coords=coords,
    )
    truth = xr.Dataset({"sm": (dims, true), "sm_noise": (dims, noise)}, coords=coords)
    return cube, truth


def _expected_r(amp: float, sigma: float) -> float:
    """HF R of sine + white noise vs the sine: a 24-h sine passes the 24-h moving-average
    high-pass whole, white noise keeps (1 - 1/24) of its variance."""
    s2 = amp**2 / 2
    return s2 / np.sqrt(s2 * (s2 + sigma**2 * (1 - 1 / 24)))


def test_kernel_adds_noise_only_where_the_probe_measured():
    got = noise_ceiling_kernel(np.full((1, 3), 0.2), np.array([[0.01, -0.02, 0.03]]),
                               np.array([[True, True, False]]))  # fmt: skip
    np.testing.assert_allclose(got[0, :2], [0.21, 0.18], rtol=1e-6)
    assert np.isnan(got[0, 2]) and got.dtype == np.float32


@pytest.mark.parametrize("sigma", [0.001, 0.003])
def test_ceiling_hf_r_matches_the_signal_to_noise_formula(sigma):
    cube, truth = _world(sigma)
    both = with_noise_ceiling(cube, truth)
    ceiling = both["sm_ceiling"]
    assert ceiling.attrs["units"] == "m3 m-3"
    assert np.array_equal(np.isnan(ceiling.values), np.isnan(cube["sm"].values))
    r = hf_correlation(ceiling, truth["sm"])
    np.testing.assert_allclose(r.values, _expected_r(0.004, sigma), atol=0.01)
    # scored like any method: the same number comes out of score_against_truth
    scores = score_against_truth(both, truth, cube, {"raw": "sm", "ceiling": "sm_ceiling"})
    assert scores["ceiling"]["hf_r"] == pytest.approx(_expected_r(0.004, sigma), abs=0.01)
    # the raw reading here is exactly the ceiling (no artefact): a share of 1
    add_ceiling_shares(scores)
    assert scores["raw"]["hf_r_share_of_ceiling"] == pytest.approx(1.0, abs=1e-3)


def test_shares_of_the_ceiling_and_missing_values():
    scores = {"ceiling": {"hf_r": 0.8}, "a": {"hf_r": 0.4}, "b": {"hf_r": None}, "_scope": {}}
    add_ceiling_shares(scores)
    assert scores["a"]["hf_r_share_of_ceiling"] == 0.5
    assert scores["b"]["hf_r_share_of_ceiling"] is None
    assert "hf_r_share_of_ceiling" not in scores["ceiling"] and scores["_scope"] == {}
    assert add_ceiling_shares({"a": {"hf_r": 0.4}})["a"]["hf_r_share_of_ceiling"] is None


def test_truth_without_noise_is_a_clear_error():
    cube, truth = _world(0.001, n_days=3)
    with pytest.raises(KeyError, match="no sm_noise"):
        with_noise_ceiling(cube, truth.drop_vars("sm_noise"))
