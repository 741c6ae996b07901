"""Evaluate a corrected file: the paper's figures, metric tables and ``summary.json``.

``smlib evaluate corrected.nc [--truth truth.nc] --out reports/NAME`` calls :func:`evaluate`.
Each part of the evaluation needs certain data (temperature for R(SM, TS), reference stations
within 50 km for the pair evaluation, towers with ``lh`` for the coupling, ``truth.nc`` for the
skill against truth). A part whose data are absent is skipped; the reason is logged and listed
under ``"skipped"`` in ``summary.json``, never replaced by a made-up number.

Files written to ``out`` (figures as PNG and SVG)::

    fig1_r_sm_ts_raw         R(SM, TS) heatmap of the raw series (paper Fig. 1)
    fig3_r_sm_ts_lstm        the same for the default product (Fig. 3); fig3b_r_sm_ts_fft for FFT
    fig4_r_sm_ts_by_sensor   R(SM, TS) by sensor type and method (Fig. 4)
    fig5_station_pair        five days at the closest station-reference pair (Fig. 5)
    fig6a_composite_cycles   composite diurnal cycles of reference-paired stations (Fig. 6a)
    fig6b_hf_r_reference     their hourly R against the reference (Fig. 6b)
    fig7_lag_sensitivity     lag sensitivity over the reference windows (Fig. 7; needs --model, --cube)
    fig8_land_coupling       R(SM, LH), sigma(LH), TCI at towers (Fig. 8)
    map_stations             station map
    skill_vs_truth           skill against truth (twin only)
    calibration              reliability and spread-skill of the per-hour uncertainty (twin
                             only, with --cube; products that carry ``*_uncertainty``)
    r_sm_ts_station.csv, r_sm_ts_by_sensor.csv, hf_r_reference.csv, land_coupling.csv,
    calibration_reference.csv (coverage against reference stations: real data too),
    network_coverage.csv (with --cube: per station, the hours with SM, those with a network
    value and the others by first missing input, smlib.method.coverage),
    skill_truth.csv, skill_truth_by_sensor.csv, calibration.csv (and its figure's two tables
    calibration_reliability.csv, calibration_spread_skill.csv), signal_ablation.csv (twin, with
    --cube: the product refitted without each signal estimate), lag_sensitivity.csv, summary.json

Tower latent heat flux is read from the corrected file, or from the cube when the corrected
file has none. Land coupling uses, per tower, the warm-season hours where every method and LH
have an anomaly, so sigma(LH) is common to all methods.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from smlib import __version__
from smlib.atomic import atomic_path
from smlib.data import station_kind
from smlib.evaluation import diagnostics as dg
from smlib.report.evaluate_parts import (
    calibration_part,
    finite_or_none,
    network_coverage_part,
    open_input,
    reference_calibration_part,
    signal_ablation_part,
)
from smlib.timeutils import hourly_index

__all__ = ["evaluate", "REQUIRED_VARIABLES"]

log = logging.getLogger(__name__)

#: Variables and station coordinates every corrected file must have.
REQUIRED_VARIABLES = ("sm",)
REQUIRED_COORDS = ("lat", "lon", "sensor_type", "is_reference")


def evaluate(
    corrected: str | os.PathLike[str] | xr.Dataset,
    out: str | os.PathLike[str],
    truth: str | os.PathLike[str] | xr.Dataset | None = None,
    model_dir: str | os.PathLike[str] | None = None,
    cube: str | os.PathLike[str] | None = None,
    sensitivity: xr.DataArray | None = None,
    max_pair_km: float = 50.0,
    sensitivity_max_windows: int | None = None,
) -> dict[str, Any]:
    """Compute every diagnostic of a corrected file and write figures, tables and a summary.

    Parameters
    ----------
    corrected : path or xarray.Dataset
        Corrected output (docs/architecture.md): dims (station, time) hourly UTC, ``sm`` and optionally
        ``sm_fft``, ``sm_lstm``, ``ts``, ``lh``; station coordinates ``lat``, ``lon``,
        ``sensor_type``, ``is_reference`` and ``kind``.
    out : path
        Report folder (created).
    truth : path or xarray.Dataset, optional
        ``truth.nc`` of the synthetic twin (``sm`` on the same station ids).
    model_dir, cube : path, optional
        Run directory and station cube. The cube also supplies the towers' ``lh`` when the
        corrected file has none. With both, the lag sensitivity (Eq. 1) is computed over
        the reference stations' windows (:func:`smlib.evaluation.sensitivity.lag_sensitivity_from_run`).
    sensitivity : xarray.DataArray, optional
        A lag sensitivity (feature, lag) computed elsewhere, plotted and stored instead.
    max_pair_km : float
        Largest distance of a station-reference pair.
    sensitivity_max_windows : int, optional
        Random subset of reference windows for the sensitivity (default: all, as the paper).

    Raises
    ------
    ValueError
        The file holds no corrected series (none of ``sm_fft``, ``sm_lin``, ``sm_paper``,
        ``sm_lstm``): one line naming the file and those variables.

    Returns
    -------
    dict
        The content of ``summary.json``: headline medians (HF R against reference and truth per
        method, R(SM, TS) per sensor type and method, R(SM, LH) per method), counts, the files
        written and the parts skipped with their reasons.
    """
    out = Path(out)
    ds = open_input(corrected, "corrected file")
    _validate(ds, str(corrected) if not isinstance(corrected, xr.Dataset) else "dataset")
    methods = {m: v for m, v in dg.METHOD_VARIABLES.items() if v in ds}
    _require_corrected_series(ds, methods, _describe(corrected))
    out.mkdir(parents=True, exist_ok=True)
    if "lh" not in ds and cube is not None:
        ds = _with_lh_from_cube(ds, cube)
    report = _Report(out)
    report.summary.update(
        {
            "smlib_version": __version__,
            "corrected": _describe(corrected),
            "truth": _describe(truth) if truth is not None else None,
            "methods": list(methods),
            "n_stations": int(ds.sizes["station"]),
            "n_hours": int(ds.sizes["time"]),
            "period": [str(ds["time"].values[0])[:19], str(ds["time"].values[-1])[:19]],
        }
    )
    from smlib.report.plots.style import product_labels

    # the default product's figures are labelled by what made it in this file
    with product_labels(ds):
        kind = station_kind(ds)
        ismn = ds.isel(station=np.flatnonzero(kind == "ismn"))
        keep = _diurnal_hours(ds, cube, report)

        _r_sm_ts_part(ismn, methods, report)
        _reference_part(ds, methods, report, max_pair_km, keep)
        truth_ds = open_input(truth, "truth file") if truth is not None else None
        _coupling_part(ds, methods, report, kind, truth_ds)
        _map_part(ds, report)
        _coverage_part(ds, methods, kind, report)
        network_coverage_part(ds, cube, model_dir, report)
        reference_calibration_part(ds, report, max_pair_km)
        if truth_ds is not None:
            _truth_part(ds, truth_ds, methods, report, keep)
            if cube is not None:
                _scopes_part(ds, truth_ds, cube, methods, report)
                calibration_part(ds, truth_ds, cube, report)
                signal_ablation_part(ds, truth_ds, cube, report, model_dir, corrected)
        else:
            report.skip("skill_vs_truth", "no truth file given (only the synthetic twin has one)")
        if sensitivity is None and model_dir is not None and cube is not None:
            sensitivity = _sensitivity_from_run(model_dir, cube, sensitivity_max_windows, report)
        elif sensitivity is None:
            report.skip(
                "lag_sensitivity", "needs both a trained model (--model) and its cube (--cube)"
            )
        if sensitivity is not None:
            _sensitivity_part(sensitivity, report)
    report.write_summary()
    return report.summary


# --------------------------------------------------------------------------------------------
# parts
# --------------------------------------------------------------------------------------------
def _r_sm_ts_part(ismn: xr.Dataset, methods: dict[str, str], report: _Report) -> None:
    from smlib.report import plots

    if "ts" not in ismn:
        report.skip("r_sm_ts", "no soil temperature 'ts' in the corrected file")
        return
    if ismn.sizes["station"] == 0:
        report.skip("r_sm_ts", "no ISMN station")
        return
    table = pd.DataFrame(
        {
            "station": ismn["station"].values.astype(str),
            "sensor_type": ismn["sensor_type"].values.astype(str),
            "is_reference": ismn["is_reference"].values.astype(bool),
            "sm_climatology": np.asarray(ismn["sm"].mean("time").values, dtype=float),
        }
    )
    daily_r = {}
    for m, var in methods.items():
        daily = daily_r[m] = dg.daily_r_sm_ts(ismn, var).compute()
        table[m] = np.asarray(daily.mean("day", skipna=True).values)
        table[f"n_days_{m}"] = np.asarray(np.isfinite(daily).sum("day").values)
    report.table(table, "r_sm_ts_station")
    by_sensor = _median_by_sensor(table, list(methods))
    report.table(by_sensor, "r_sm_ts_by_sensor")
    report.summary["median_r_sm_ts"] = {m: _medians_dict(by_sensor, m) for m in methods}
    sm_clim = table["sm_climatology"].to_numpy()
    names = {"raw": "fig1_r_sm_ts_raw", "lstm": "fig3_r_sm_ts_lstm", "fft": "fig3b_r_sm_ts_fft"}
    for m, daily in daily_r.items():
        report.figure(
            plots.plot_daily_r_heatmap(daily, sm_clim, m), names.get(m, f"fig3_r_sm_ts_{m}")
        )
    report.figure(plots.plot_r_by_sensor_type(table, list(methods)), "fig4_r_sm_ts_by_sensor")


def _diurnal_hours(
    ds: xr.Dataset, cube: str | os.PathLike[str] | None, report: _Report
) -> xr.DataArray | None:
    """Rain-free hours for the diurnal-scale skill scores (:func:`dg.rain_free_hours`)."""
    if cube is None:
        report.summary["hf_hours"] = "all hours (no cube given to screen rain days)"
        log.warning("evaluate: HF skill over all hours, rain steps included (no --cube given)")
        return None
    c = open_input(cube, "station cube").sel(station=ds["station"].values).load()
    keep = dg.rain_free_hours(c).reindex(time=ds["time"].values, fill_value=False)
    report.summary["hf_hours"] = _hf_hours_text(c)
    report.summary["hf_hours_fraction"] = float(keep.mean())
    return keep


def _hf_hours_text(cube: xr.Dataset) -> str:
    """The hours the HF scores are taken over, naming only the rain sources the cube holds."""
    from smlib.config import PreprocessConfig
    from smlib.report.study.data import rain_screen_sources

    *first, last = rain_screen_sources(cube)
    sources = f"{', '.join(first)} and {last}" if first else last
    n = PreprocessConfig().widen_days
    widened = f", widened by {n} day{'s' if n != 1 else ''}" if n else ""
    return f"hours of rain-free days (strict screen: {sources}{widened})"


def _reference_part(
    ds: xr.Dataset,
    methods: dict[str, str],
    report: _Report,
    max_km: float,
    keep: xr.DataArray | None = None,
) -> None:
    from smlib.report import plots

    pairs = dg.reference_pairs(ds, max_km=max_km)
    report.summary["n_reference_pairs"] = len(pairs)
    if pairs.empty:
        report.skip(
            "reference_pairs", f"no non-reference station within {max_km:g} km of a reference"
        )
        return
    table = dg.hf_correlation_vs_reference(ds, pairs, methods, keep=keep)
    report.table(table, "hf_r_reference")
    report.summary["median_hf_r_vs_reference"] = {m: _median(table[m]) for m in methods}

    best = pairs.iloc[0]
    try:
        fig = plots.plot_station_pair(ds, best["station"], best["reference"])
    except ValueError as err:  # no complete 5-day window in the pair
        report.skip("fig5_station_pair", str(err))
    else:
        report.figure(fig, "fig5_station_pair")
        report.summary["fig5_pair"] = {
            k: finite_or_none(v) if isinstance(v, float) else str(v) for k, v in best.items()
        }

    stations = pairs["station"].to_numpy()
    ref = ds["sm"].sel(station=pairs["reference"].to_numpy())
    ref = ref.assign_coords(
        station=stations, lon=("station", ds["lon"].sel(station=stations).values)
    )
    mask = None if keep is None else keep.sel(station=stations)
    composites = {"reference": dg.diurnal_composite(ref, mask=mask)}
    for m, var in methods.items():
        composites[m] = dg.diurnal_composite(ds[var].sel(station=stations), mask=mask)
    report.figure(
        plots.plot_composite_cycles(
            composites,
            title=f"{len(stations)} stations within {max_km:g} km of a reference (mean, IQR)",
        ),
        "fig6a_composite_cycles",
    )
    report.figure(plots.plot_hf_r_distribution(table, list(methods)), "fig6b_hf_r_reference")


def _coupling_part(
    ds: xr.Dataset,
    methods: dict[str, str],
    report: _Report,
    kind: np.ndarray,
    truth: xr.Dataset | None = None,
) -> None:
    """Fig. 8; on the twin the towers' true SM is added as the benchmark (``truth``)."""
    from smlib.report import plots

    if "lh" not in ds:
        report.skip("land_coupling", "no latent heat flux 'lh' in the corrected file")
        return
    if not (kind == "tower").any():
        report.skip("land_coupling", "no flux tower (kind == 'tower') in the corrected file")
        return
    methods = dict(methods)
    towers = ds["station"].values[kind == "tower"]
    if truth is not None and "sm" in truth and np.isin(towers, truth["station"].values).all():
        true_sm = (
            truth["sm"]
            .reset_coords(drop=True)
            .reindex(station=ds["station"].values, time=ds["time"].values)
        )
        ds = ds.assign(sm_truth=true_sm)
        methods["truth"] = "sm_truth"
    coupling = dg.land_coupling(ds, methods).compute()
    frame = coupling.to_dataframe().reset_index()
    frame = frame[["station", "product", "r_sm_lh", "sigma_lh", "tci"]]
    report.table(frame.rename(columns={"product": "method"}), "land_coupling")
    report.summary["n_towers"] = int(coupling.sizes["station"])
    for var in ("r_sm_lh", "sigma_lh", "tci"):
        report.summary[f"median_{var}"] = {
            m: _median(coupling[var].sel({"product": m}).values) for m in methods
        }
    report.figure(plots.plot_coupling_violins(coupling), "fig8_land_coupling")


def _map_part(ds: xr.Dataset, report: _Report) -> None:
    from smlib.report import plots

    if "kind" not in ds.coords and "kind" not in ds:
        ds = ds.assign_coords(kind=("station", np.full(ds.sizes["station"], "ismn")))
    report.figure(plots.plot_station_map(ds), "map_stations")


def _truth_part(
    ds: xr.Dataset,
    truth: xr.Dataset,
    methods: dict[str, str],
    report: _Report,
    keep: xr.DataArray | None = None,
) -> None:
    from smlib.report import plots

    if "sm" not in truth:
        raise KeyError("truth file has no variable 'sm'")
    skill = dg.skill_vs_truth(ds, truth, methods, keep=keep)
    report.table(skill, "skill_truth")
    grouped = (
        skill.groupby(["method", "sensor_type"])[["hf_r", "composite_rmse", "phase_error_h"]]
        .median()
        .reset_index()
    )
    grouped["n_stations"] = skill.groupby(["method", "sensor_type"])["hf_r"].count().to_numpy()
    report.table(grouped, "skill_truth_by_sensor")
    corrected_only = skill[(skill["kind"] == "ismn") & ~skill["is_reference"]]
    report.summary["median_hf_r_vs_truth"] = {
        m: _median(corrected_only.loc[corrected_only["method"] == m, "hf_r"]) for m in methods
    }
    report.summary["median_composite_rmse_vs_truth"] = {
        m: _median(corrected_only.loc[corrected_only["method"] == m, "composite_rmse"])
        for m in methods
    }
    report.summary["median_abs_phase_error_h"] = {
        m: _median(np.abs(corrected_only.loc[corrected_only["method"] == m, "phase_error_h"]))
        for m in methods
    }
    report.summary["truth_scope"] = "non-reference ISMN stations"
    ismn_skill = skill[skill["kind"] == "ismn"]
    report.figure(plots.plot_skill_vs_truth(ismn_skill, list(methods)), "skill_vs_truth")


def _coverage_part(
    ds: xr.Dataset, methods: dict[str, str], kind: np.ndarray, report: _Report
) -> None:
    """Share of the hours with a raw value that each method corrects (per-hour flags)."""
    from smlib.method.correct import FLAG_CORRECTED, FLAG_MEANINGS

    raw = np.isfinite(np.asarray(ds["sm"].values))
    cov: dict[str, dict] = {}
    for m, var in methods.items():
        if m == "raw":
            continue
        fv = f"{var}_flag"
        flag = np.asarray(ds[fv].values) if fv in ds else np.where(np.isfinite(ds[var]), 0, 4)
        row: dict[str, Any] = {}
        for label, sel in (("stations", kind == "ismn"), ("towers", kind == "tower")):
            n = int(raw[sel].sum())
            if not n:
                continue
            row[label] = round(float((np.isin(flag, FLAG_CORRECTED) & raw)[sel].sum() / n), 4)
            row[f"{label}_by_flag"] = {
                FLAG_MEANINGS[int(k)]: round(float(((flag == k) & raw)[sel].sum() / n), 4)
                for k in FLAG_MEANINGS
                if k != 4
            }
        cov[m] = row
    report.summary["coverage"] = cov
    report.summary["coverage_scope"] = (
        "share of the hours with a raw SM value (QC passed) that hold a correction "
        "(flags corrected, rain_affected_*, no_method_input_*)"
    )


def _scopes_part(
    ds: xr.Dataset, truth: xr.Dataset, cube: str | os.PathLike[str] | xr.Dataset,
    methods: dict[str, str], report: _Report,
) -> None:  # fmt: skip
    """Skill against the truth on rain-free, all and rain-affected hours (smlib.evaluation.skill)."""
    from smlib.evaluation.skill import score_against_truth

    c = open_input(cube, "station cube")
    scores = score_against_truth(ds, truth, c, methods)
    report.summary["skill_by_scope"] = {
        m: {k: v for k, v in res.items() if not isinstance(v, dict)}
        for m, res in scores.items()
        if not m.startswith("_")
    }
    report.summary["skill_by_scope_scope"] = scores["_scope"]


def _sensitivity_from_run(
    model_dir: str | os.PathLike[str],
    cube: str | os.PathLike[str],
    max_windows: int | None,
    report: _Report,
) -> xr.DataArray | None:
    from smlib.evaluation.sensitivity import lag_sensitivity_from_run

    try:
        return lag_sensitivity_from_run(model_dir, cube, max_windows=max_windows)
    except ValueError as err:  # no reference station / no training sample / no finite window
        report.skip("lag_sensitivity", str(err))
        return None


def _sensitivity_part(sensitivity: xr.DataArray, report: _Report) -> None:
    from smlib.report import plots

    report.summary["lag_sensitivity_windows"] = sensitivity.attrs.get("n_windows")
    frame = sensitivity.to_pandas()
    frame.columns = [f"lag_{c}h" for c in frame.columns]
    report.table(frame.reset_index(), "lag_sensitivity")
    report.figure(plots.plot_lag_sensitivity(sensitivity), "fig7_lag_sensitivity")


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------
class _Report:
    """Collects files written and parts skipped; writes everything atomically."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.summary: dict[str, Any] = {"figures": [], "tables": [], "skipped": {}}

    def skip(self, part: str, reason: str) -> None:
        log.warning("evaluate: %s skipped: %s", part, reason)
        self.summary["skipped"][part] = reason

    def figure(self, fig: Any, name: str) -> None:
        from smlib.report.plots import save_figure

        paths = save_figure(fig, self.out / name)
        self.summary["figures"].extend(p.name for p in paths)
        log.info("wrote %s", ", ".join(str(p) for p in paths))

    def table(self, frame: pd.DataFrame, name: str) -> None:
        path = self.out / f"{name}.csv"
        _atomic_write(path, lambda fh: frame.to_csv(fh, index=False, float_format="%.6g"))
        self.summary["tables"].append(path.name)

    def write_summary(self) -> None:
        text = json.dumps(_jsonable(self.summary), indent=2, allow_nan=False)
        _atomic_write(self.out / "summary.json", lambda fh: fh.write(text + "\n"))


def _atomic_write(path: Path, write: Callable[[Any], Any]) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as fh:
        write(fh)


def _validate(ds: xr.Dataset, name: str) -> None:
    missing = [v for v in REQUIRED_VARIABLES if v not in ds]
    missing += [c for c in REQUIRED_COORDS if c not in ds.coords and c not in ds]
    if missing:
        raise KeyError(
            f"{name}: missing {', '.join(missing)} (see docs/architecture.md, the corrected output)"
        )
    if set(ds["sm"].dims) != {"station", "time"}:
        raise ValueError(f"{name}: 'sm' must have dims (station, time), has {ds['sm'].dims}")
    if ds.sizes["time"] < 48:
        raise ValueError(f"{name}: {ds.sizes['time']} hours; at least 48 are needed")
    hourly_index(ds["time"].values, name)


def _require_corrected_series(ds: xr.Dataset, methods: dict[str, str], name: str) -> None:
    """Refuse a file that holds no corrected series: its report would compare nothing."""
    if any(v != "sm" for v in methods.values()):
        return
    expected = [v for v in dg.METHOD_VARIABLES.values() if v != "sm"]
    held = ", ".join(map(str, ds.data_vars)) or "no variable"
    raise ValueError(
        f"{name} holds no corrected series (only {held}); expected at least one of "
        f"{', '.join(expected)} (write them with smlib correct CUBE --model RUN --out FILE)"
    )


def _with_lh_from_cube(ds: xr.Dataset, cube: str | os.PathLike[str]) -> xr.Dataset:
    """Take the towers' latent heat flux from the cube when the corrected file lacks it."""
    c = open_input(cube, "station cube")
    try:
        if "lh" not in c:
            return ds
        lh = c["lh"].reset_coords(drop=True).reindex(station=ds["station"], time=ds["time"])
        log.info("latent heat flux 'lh' taken from the station cube %s", _describe(cube))
        return ds.assign(lh=lh.load())
    finally:
        if not isinstance(cube, xr.Dataset):  # close only what was opened here
            c.close()


def _median_by_sensor(table: pd.DataFrame, methods: list[str]) -> pd.DataFrame:
    rows = []
    for sensor, group in table.groupby("sensor_type", sort=True):
        row: dict[str, Any] = {"sensor_type": sensor}
        for m in methods:
            vals = group[m].to_numpy(dtype=float)
            row[f"median_{m}"] = _median(vals)
            row[f"n_{m}"] = int(np.isfinite(vals).sum())
        rows.append(row)
    return pd.DataFrame(rows)


def _medians_dict(by_sensor: pd.DataFrame, m: str) -> dict[str, float | None]:
    return {
        str(s): finite_or_none(v)
        for s, v in zip(by_sensor["sensor_type"], by_sensor[f"median_{m}"], strict=True)
    }


def _median(values: Any) -> float | None:
    a = np.asarray(values, dtype=float).ravel()
    a = a[np.isfinite(a)]
    return float(np.median(a)) if a.size else None


def _describe(obj: Any) -> str:
    return "in-memory Dataset" if isinstance(obj, xr.Dataset) else str(obj)


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj
