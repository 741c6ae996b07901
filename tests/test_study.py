"""Tables and figures of the book's sections (smlib.report.study) on tiny inputs with known answers."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from matplotlib.figure import Figure

from smlib.config import dump_config, get_profile
from smlib.report import study

STATIONS = ["NET/IMP-1", "NET/TDR-1", "FLUXNET/T-1"]
QC = {
    "depth": {
        "description": "shallow only",
        "stations_removed": 1,
        "days_removed": 0,
        "values_removed": 0,
        "reasons": {"NET/DEEP-1": "no SM sensor above 0.1 m"},
    },
    "flag_good": {
        "description": "G only",
        "stations_removed": 0,
        "days_removed": 0,
        "values_removed": 7,
        "reasons": {},
        "detail": {"D01": 5, "C03": 2},
    },
}


@pytest.fixture
def cube() -> xr.Dataset:
    """Six days at lon 0 (local solar day = UTC day): SM in phase (IMP) or anti-phase (TDR) with TS."""
    time = pd.date_range("2020-07-01", periods=6 * 24, freq="h")
    hour = np.arange(time.size) % 24
    ts = 20 + 5 * np.sin(2 * np.pi * (hour - 9) / 24)
    cycle = 0.01 * np.sin(2 * np.pi * (hour - 9) / 24)
    sm = np.stack([0.20 + cycle, 0.30 - cycle, 0.25 - cycle])
    sm[0, -24:] = np.nan  # the last day of the first station is incomplete
    return xr.Dataset(
        {
            "sm": (("station", "time"), sm.astype(np.float32)),
            "ts": (("station", "time"), np.tile(ts, (3, 1)).astype(np.float32)),
        },
        coords={
            "station": STATIONS,
            "time": time,
            "lat": ("station", [45.0, 45.1, 45.2]),
            "lon": ("station", [0.0, 0.0, 0.0]),
            "elevation": ("station", [100.0, 100.0, 100.0]),
            "network": ("station", ["NET", "NET", "FLUXNET"]),
            "sensor": ("station", ["ThetaProbe", "TDR-100", "SWC_F_MDS_1"]),
            "sensor_type": ("station", ["impedance", "tdr", "unknown"]),
            "depth_from": ("station", [0.0, 0.05, np.nan]),
            "depth_to": ("station", [0.05, 0.05, np.nan]),
            "is_reference": ("station", [False, True, False]),
            "kind": ("station", ["ismn", "ismn", "tower"]),
        },
        attrs={
            "qc_summary": json.dumps(QC),
            "source": "ISMN",
            "n_source_files": 4,
            "reference_designation": "sensor physics",
            "qc_min_days": 5,
            "qc_max_depth_m": 0.1,
        },
    )


def test_qc_tables_list_every_rule_and_reason(cube: xr.Dataset) -> None:
    table = study.qc_table(cube)
    assert list(table.index) == ["depth", "flag_good"]
    assert table.loc["flag_good", "values_removed"] == 7
    assert table.loc["flag_good", "detail"] == "D01: 5, C03: 2"
    reasons = study.qc_reasons(cube)
    assert reasons.to_dict("records") == [
        {"rule": "depth", "station": "NET/DEEP-1", "reason": "no SM sensor above 0.1 m"}
    ]
    with pytest.raises(ValueError, match="qc_summary"):
        study.qc_table(cube.drop_attrs())


def test_station_table_counts_complete_days(cube: xr.Dataset) -> None:
    table = study.station_table(cube)
    assert table.loc["NET/IMP-1", "complete_days"] == 5
    assert table.loc["NET/TDR-1", "complete_days"] == 6
    assert table.loc["NET/IMP-1", "depth_cm"] == "0-5"
    assert table.loc["FLUXNET/T-1", "depth_cm"] == ""
    assert table.loc["NET/TDR-1", "sm_mean"] == pytest.approx(0.30, abs=1e-3)
    assert table.loc["NET/IMP-1", "last_day"] == "2020-07-05"
    findings = study.reader_findings(cube)
    assert findings.loc["ISMN stations kept", "value"] == "2"
    assert findings.loc["flux towers kept", "value"] == "1"


def test_daily_r_has_the_sign_of_the_phase(cube: xr.Dataset) -> None:
    r = study.daily_r(cube, "raw")
    assert list(r["station"].values) == STATIONS[:2]  # towers left out
    imp, tdr = r.sel(station="NET/IMP-1").values, r.sel(station="NET/TDR-1").values
    assert np.nanmin(imp) > 0.99 and np.nanmax(tdr) < -0.99
    assert np.isfinite(imp).sum() == 5 and np.isfinite(tdr).sum() == 6
    with pytest.raises(KeyError, match="sm_lstm"):
        study.daily_r(cube, "lstm")


def test_day_summary_shares(cube: xr.Dataset) -> None:
    summary = study.r_sm_ts_day_summary(cube, ["raw"])
    assert list(summary.index) == ["impedance", "tdr", "all"]
    raw = summary["raw"]
    assert raw.loc["impedance", "share_positive"] == 1.0
    assert raw.loc["tdr", "share_below_threshold"] == 1.0
    assert raw.loc["all", "days"] == 11
    assert raw.loc["all", "share_positive"] == pytest.approx(5 / 11)


def test_example_station_is_the_one_with_the_spurious_cycle(cube: xr.Dataset) -> None:
    assert study.example_station(cube) == "NET/IMP-1"
    fig = study.plot_decomposition(cube, "NET/IMP-1", days=3)
    assert isinstance(fig, Figure) and len(fig.axes) == 4  # three panels and a twin axis


def test_run_directory_tables(tmp_path) -> None:
    cfg = get_profile("quick", ["train.max_epochs=2"])
    dump_config(cfg, tmp_path / "config.yaml")
    diff = study.config_differences(tmp_path)
    assert diff.loc["train.max_epochs", "paper"] == "500"
    assert diff.loc["train.max_epochs", "this run"] == "2"
    pd.DataFrame(
        {
            "epoch": [0, 1, 2],
            "train_loss": [0.3, 0.2, 0.1],
            "val_loss": [0.4, 0.25, 0.3],
            "best": [1, 1, 0],
            "n_batches": [2, 2, 2],
            "seconds": [0.1, 0.1, 0.1],
        }
    ).to_csv(tmp_path / "metrics.csv", index=False)
    fig = study.plot_learning_curves(tmp_path)
    assert len(fig.axes[0].lines) == 4  # training, validation, best marker, best epoch line
    (tmp_path / "run.json").write_text(json.dumps({"status": "finished", "n_train_samples": 9}))
    info = study.run_summary(tmp_path)
    assert info.loc["training samples (windows)", "value"] == "9"


def test_sensitivity_shares_split_hf_and_lf(tmp_path) -> None:
    lags = np.arange(18)
    values = np.zeros((3, 18))
    values[0, :3] = 1.0  # ts_hf: all within 3 h
    values[1, :] = 0.5  # era5_sm_lf: flat over 18 h
    values[2, 17] = 0.0  # merra2_lh_hf: nothing
    feature = ["ts_hf", "era5_sm_lf", "merra2_lh_hf"]
    table = pd.DataFrame(values, columns=[f"lag_{k}h" for k in lags]).assign(feature=feature)
    table[["feature", *table.columns[:-1]]].to_csv(tmp_path / "lag_sensitivity.csv", index=False)
    (tmp_path / "summary.json").write_text(json.dumps({"lag_sensitivity_windows": 12}))
    s = study.read_sensitivity(tmp_path)
    assert s.dims == ("feature", "lag") and s.attrs["n_windows"] == 12
    shares = study.sensitivity_shares(s, recent_hours=6)
    assert shares.loc["ts_hf", "share"] == pytest.approx(3 / 12)
    assert shares.loc["era5_sm_lf", "share"] == pytest.approx(9 / 12)
    assert shares.loc["ts_hf", "recent_share"] == 1.0
    assert shares.loc["era5_sm_lf", "recent_share"] == pytest.approx(6 / 18)
    assert shares.loc["ts_hf", "mean_lag_h"] == pytest.approx(1.0)
    assert tuple(shares.loc["era5_sm_lf", ["source", "variable", "part"]]) == (
        "ERA5-Land",
        "SM",
        "LF",
    )
    assert tuple(shares.loc["ts_hf", ["source", "part"]]) == ("in situ", "HF")
    assert isinstance(study.plot_sensitivity_by_part(s), Figure)
    text = study.describe_sensitivity(shares).data
    assert "HF features hold **25%**" in text and "`era5_sm_lf` (75%" in text


def test_read_coupling_and_missing_tables(tmp_path) -> None:
    pd.DataFrame(
        {
            "station": ["T-1", "T-1", "T-2", "T-2"],
            "method": ["raw", "lstm", "raw", "lstm"],
            "r_sm_lh": [0.1, -0.4, 0.2, -0.3],
            "sigma_lh": [50.0, 50.0, 40.0, 40.0],
            "tci": [5.0, -20.0, 8.0, -12.0],
        }
    ).to_csv(tmp_path / "land_coupling.csv", index=False)
    (tmp_path / "summary.json").write_text(json.dumps({"skipped": {"skill_vs_truth": "no truth"}}))
    coupling = study.read_coupling(tmp_path)
    assert list(coupling["product"].values) == ["raw", "lstm"]
    assert float(coupling["tci"].sel(station="T-2", product="lstm")) == -12.0
    with pytest.raises(FileNotFoundError, match="no truth"):
        study.read_table(tmp_path, "skill_truth")
    note = study.show_or_explain(study.read_table, tmp_path, "skill_truth")
    assert isinstance(note, study.Unavailable) and not note
    assert "no truth" in note._repr_markdown_()
    # an unavailable input short-circuits the next step with the same reason
    assert study.show_or_explain(pytest.fail, note) is note
    table = study.coupling_table(coupling)
    assert list(table.columns.get_level_values("product")[:2]) == ["raw", "lstm"]
    assert table.loc["T-1", ("r_sm_lh", "lstm")] == -0.4
    text = study.describe_coupling(coupling).data
    assert "2 of 2 towers" in text and "lstm **-0.35**" in text
    headline = study.headline_table(
        {"methods": ["raw", "lstm"], "median_hf_r_vs_truth": {"raw": 0.1, "lstm": 0.8}}
    )
    assert headline.loc["median HF R vs truth", "lstm"] == 0.8
    assert len(headline) == 1


def _extras(days_gauge, days_sm):
    return pd.DataFrame(
        {
            "is_reference": [True, True, False, False],
            "sm_only": [True, False, False, False],
            "gauge": [False, True, True, False],
            "days_gauge": days_gauge,
            "days_sm_tendency": days_sm,
        },
        index=pd.Index(["N/R1", "N/R2", "N/D1", "N/D2"], name="station"),
    )


def test_reference_and_gauge_sentence_counts():
    text = study.describe_references_and_gauges(_extras([0, 300, 1200, 0], [365, 65, 0, 365])).data
    assert text.startswith("**2** reference stations, of which **1** with SM only; **2** stations")
    assert "screens **1,500** station-days" in text and "tendency screens **795**" in text


def test_reference_and_gauge_sentence_never_sums_unrecorded_days():
    text = study.describe_references_and_gauges(_extras([-1] * 4, [-1] * 4)).data
    assert "does not record" in text and "-4" not in text
