"""Network coverage: which measured hours get a network value, and the first reason for the rest.

The cube has gaps placed so that every count is known by hand (centred 24-h LF: the LF at ``t``
needs ``t-12 .. t+11``; an 18-h window ending at ``t`` needs the features on ``t-17 .. t``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from smlib.config import PreprocessConfig
from smlib.method.coverage import (
    coverage_by_kind,
    coverage_counts,
    feature_source,
    network_coverage,
)
from smlib.method.preprocess import prepare

N_T = 144  # six days
CFG = PreprocessConfig(max_gap_h=3)  # paper14, centred 24-h LF, 18-h window


def _cube() -> xr.Dataset:
    t = np.arange(N_T)
    time = pd.date_range("2021-06-01", periods=N_T, freq="h")
    wave = np.sin(2 * np.pi * t / 24)
    base = {
        "sm": 0.25 + 0.01 * wave,
        "ts": 20 + 5 * wave,
        "era5_sm": 0.26 + 0.01 * wave,
        "era5_ts": 21 + 5 * wave,
        "era5_lh": 100 + 80 * wave,
        "merra2_sm": 0.24 + 0.01 * wave,
        "merra2_ts": 19 + 5 * wave,
        "merra2_lh": 90 + 80 * wave,
    }
    data = {k: np.tile(v, (2, 1)).astype(np.float32) for k, v in base.items()}
    # station 0 (tower): a 4-h TS gap (longer than max_gap_h, so not filled)
    data["ts"][0, 70:74] = np.nan
    # station 1 (ismn): a 5-h SM gap, a 2-h SM gap (filled), a 5-h ERA5-Land TS gap
    data["sm"][1, 60:65] = np.nan
    data["sm"][1, 110:112] = np.nan
    data["era5_ts"][1, 100:105] = np.nan
    ds = xr.Dataset(
        {k: (("station", "time"), v) for k, v in data.items()},
        coords={
            "station": ["FLUXNET/US-Aaa", "NET/ST-1"],
            "time": time,
            "lon": ("station", [0.0, 0.0]),
            "kind": ("station", ["tower", "ismn"]),
            "is_reference": ("station", [False, False]),
        },
    )
    return ds


def test_counts_known_by_hand():
    table = network_coverage(_cube(), CFG)
    tower = table.loc["FLUXNET/US-Aaa"]
    # LF finite on 12..132; TS LF missing on 59..85, so TS windows fail on 12..28 and 59..102
    assert tower["kind"] == "tower"
    assert tower["hours_sm"] == 144 and tower["no_insitu_sm"] == 0
    assert tower["sm_lf_incomplete"] == 12 + 11
    assert tower["window_insitu_ts"] == 17 + 44
    assert tower["window_era5"] == 0 and tower["window_merra2"] == 0
    assert tower["hours_network"] == 60
    ismn = table.loc["NET/ST-1"]
    # SM LF missing on 49..76 (5-h gap; 23 of those hours measured) and at the edges (23);
    # the 2-h gap is filled; ERA5 TS LF missing on 89..116, so ERA5 windows fail on 89..133
    assert ismn["hours_sm"] == 144 - 7 and ismn["no_insitu_sm"] == 7
    assert ismn["sm_lf_incomplete"] == 23 + 23
    assert ismn["window_insitu_ts"] == 17
    assert ismn["window_era5"] == 132 - 89 + 1 - 2  # the 2 unmeasured hours 110, 111
    assert ismn["window_merra2"] == 0
    assert ismn["hours_network"] == (48 - 29 + 1) + (88 - 77 + 1)
    reasons = ["sm_lf_incomplete", "window_insitu_ts", "window_era5", "window_merra2"]
    assert (table["hours_network"] + table[reasons].sum(axis=1) == table["hours_sm"]).all()


def test_network_hours_are_valid_end_hours():
    ds = _cube()
    table = network_coverage(ds, CFG)
    prep = prepare(ds, CFG, training=False)
    filled = (prep.valid_end & np.isfinite(ds["sm"].values)).sum(1)
    np.testing.assert_array_equal(table["hours_network"].to_numpy(), filled)


def test_lookahead_shifts_the_windows():
    cfg = PreprocessConfig(max_gap_h=3, lookahead_h=9)
    ds = _cube()
    table = network_coverage(ds, cfg)
    prep = prepare(ds, cfg, training=False)
    filled = (prep.valid_end & np.isfinite(ds["sm"].values)).sum(1)
    np.testing.assert_array_equal(table["hours_network"].to_numpy(), filled)
    # row t holds the inputs of t+9: the TS windows now fail on 12..19, 50..93 and 124..132
    tower = table.loc["FLUXNET/US-Aaa"]
    assert tower["window_insitu_ts"] == 8 + 44 + 9 and tower["hours_network"] == 60


def test_by_kind_leading_reason():
    table = network_coverage(_cube(), CFG)
    summary = coverage_by_kind(table, CFG)
    assert summary["tower"]["share_network"] == round(60 / 144, 4)
    assert summary["tower"]["leading_reason"] == "window_insitu_ts"
    assert summary["ismn"]["leading_reason"] == "sm_lf_incomplete"
    assert "3 h" in summary["ismn"]["leading_reason_text"]
    assert summary["ismn"]["reasons"]["window_era5"] == round(42 / 137, 4)


def test_kernel_order_of_reasons():
    observed = np.ones((1, 6), dtype=bool)
    lf_ok = np.array([[False, True, True, True, True, True]])
    feat = np.ones((1, 6, 2), dtype=bool)
    feat[0, 3, 1] = False  # source b missing at hour 3: windows ending at 3 and 4 fail
    c = coverage_counts(observed, lf_ok, feat, ["a", "b"], window_h=2)
    assert c["sm_lf_incomplete"][0] == 1  # hour 0 (its window is incomplete too: LF first)
    assert c["window_a"][0] == 0 and c["window_b"][0] == 2
    assert c["hours_network"][0] == 3
    with pytest.raises(ValueError, match="expected"):
        coverage_counts(observed, lf_ok, feat, ["a"], window_h=2)


def test_feature_source():
    assert [feature_source(f) for f in ("ts_hf", "era5_lh_lf", "merra2_sm_hf", "tod_cos")] == [
        "insitu_ts", "era5", "merra2", "time_of_day",
    ]  # fmt: skip
