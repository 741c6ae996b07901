"""Network coverage where a user sees it: summary.json of `smlib evaluate` and the book's line."""

from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from test_coverage import _cube as coverage_cube  # gaps with hand-counted hours
from test_evaluate import _world

from smlib.config import get_profile
from smlib.method.preprocess import prepare
from smlib.report.evaluate import _Report, evaluate
from smlib.report.evaluate_parts import network_coverage_part as _network_coverage_part
from smlib.report.study import describe_network_coverage, network_coverage_sentence


def test_summary_share_from_the_network_series(tmp_path):
    corrected, _ = _world(2)
    net = corrected["sm_lstm"].copy()
    net[-1, :100] = np.nan  # the tower: 100 of its 720 measured hours without a network value
    net[0, :] = np.nan  # an ISMN station without any
    summary = evaluate(corrected.assign(sm_lstm_net=net), out=tmp_path)
    cov = summary["network_coverage"]
    assert cov["tower"] == {"hours_sm": 720, "share_network": round(620 / 720, 4)}
    n_ismn = int(np.isfinite(corrected["sm"].values[:-1]).sum())
    assert cov["ismn"]["share_network"] == round((n_ismn - 720) / n_ismn, 4)
    assert "network_coverage" not in summary["skipped"]
    # without the network's series and without a cube there is nothing to count
    summary = evaluate(corrected, out=tmp_path / "none")
    assert "network_coverage" in summary["skipped"] and "network_coverage" not in summary


def test_summary_reasons_from_the_cube(tmp_path):
    cube = coverage_cube()
    cube.to_netcdf(tmp_path / "cube.nc")
    cfg = get_profile("recommended")  # max_gap_h = 3, as the hand counts of test_coverage
    prep = prepare(cube, cfg.preprocess, training=False)
    ok = prep.valid_end & np.isfinite(cube["sm"].values)
    corrected = cube.assign(sm_lstm_net=cube["sm"].where(ok))
    report = _Report(tmp_path)
    _network_coverage_part(corrected, tmp_path / "cube.nc", None, report)
    cov = report.summary["network_coverage"]
    assert cov["tower"]["share_network"] == round(60 / 144, 4)
    assert cov["tower"]["leading_reason"] == "window_insitu_ts"
    assert "soil temperature" in cov["tower"]["leading_reason_text"]
    # recommended carries the SM LF to a run's ends (preprocess.lf_hold_h): no hour lacks it;
    # the tower's 23 such hours (test_coverage's hand count) miss their TS window as well
    assert cov["tower"]["reasons"]["sm_lf_incomplete"] == 0.0
    assert cov["ismn"]["reasons"]["sm_lf_incomplete"] == 0.0
    assert cov["ismn"]["leading_reason"] == "window_era5"
    assert "recommended profile" in report.summary["network_coverage_scope"]
    # an in-situ-only cube for a paper14 model: the share stays, the scope says why no reasons
    report = _Report(tmp_path / "insitu")
    lean = corrected.drop_vars([v for v in corrected if v.startswith(("era5", "merra2"))])
    lean.to_netcdf(tmp_path / "lean.nc")
    _network_coverage_part(lean, tmp_path / "lean.nc", None, report)
    assert report.summary["network_coverage"]["tower"] == {
        "hours_sm": 144, "share_network": round(60 / 144, 4)
    }  # fmt: skip
    assert "no reasons: the cube lacks" in report.summary["network_coverage_scope"]
    table = pd.read_csv(tmp_path / "network_coverage.csv")
    assert list(table["hours_network"]) == [60, 55]  # [60, 32] without the carried LF


SUMMARY = {
    "tower": {
        "hours_sm": 5400, "share_network": 0.8502, "stations": 5,
        "leading_reason": "sm_lf_incomplete",
        "leading_reason_text": "the in-situ SM low-frequency part is incomplete",
        "reasons": {"sm_lf_incomplete": 0.1448, "window_insitu_ts": 0.005},
    },
    "ismn": {"hours_sm": 40584, "share_network": 0.808},
}  # fmt: skip


def test_sentence_from_the_numbers():
    text = network_coverage_sentence(SUMMARY)
    assert text.startswith(
        "The network gives a value to **85 %** of the 5,400 tower hours with SM at 5 towers "
        "(ISMN stations: 81 %). Most of the other hours have none because the in-situ SM "
        "low-frequency part is incomplete (14.5 % of the hours)."
    )
    assert "rests on part of the towers' records" in text  # below 90 %
    full = {"tower": {**SUMMARY["tower"], "share_network": 0.97}}
    text = network_coverage_sentence(full)
    assert "**97 %**" in text and "rests on part" not in text and "ISMN" not in text
    short = {"tower": {"hours_sm": 100, "share_network": 1.0}}
    assert network_coverage_sentence(short) == (
        "The network gives a value to **100 %** of the 100 tower hours with SM."
    )
    with pytest.raises(ValueError, match="no tower"):
        network_coverage_sentence({"ismn": SUMMARY["ismn"]})


def test_describe_reads_the_report(tmp_path):
    (tmp_path / "summary.json").write_text(json.dumps({"network_coverage": SUMMARY}))
    assert "**85 %**" in describe_network_coverage(tmp_path).data
    (tmp_path / "summary.json").write_text(json.dumps({"skipped": {"network_coverage": "why"}}))
    with pytest.raises(ValueError, match=r"no network coverage \(why\)"):
        describe_network_coverage(tmp_path)
