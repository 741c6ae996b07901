"""Parts of ``smlib evaluate``'s report that read the corrected file beside other inputs: the
network's coverage, the signal ablation and the calibration of the uncertainty
(:mod:`smlib.report.evaluate` runs them; each records its tables, figures and summary keys on
the report, or a skip with its reason).
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path
from typing import Any

import pandas as pd
import xarray as xr

from smlib.errors import reading_netcdf

__all__ = [
    "open_input",
    "finite_or_none",
    "network_coverage_part",
    "signal_ablation_part",
    "reference_calibration_part",
    "calibration_part",
]

log = logging.getLogger("smlib.report.evaluate")


def open_input(obj: str | os.PathLike[str] | xr.Dataset, what: str) -> xr.Dataset:
    if isinstance(obj, xr.Dataset):
        return obj
    path = Path(obj)
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}")
    with reading_netcdf(path):  # a truncated or damaged file: one line naming it
        return xr.open_dataset(path)


def finite_or_none(v: Any) -> float | None:
    if v is None:
        return None
    f = float(v)
    return f if math.isfinite(f) else None


def network_coverage_part(ds: xr.Dataset, cube: Any, model_dir: Any, report: Any) -> None:
    """Hours with a network value by kind, and why not (cube, run: paths or None)."""
    from smlib.method.coverage import coverage_summary

    if "sm_lstm_net" not in ds and cube is None:
        return report.skip("network_coverage", "needs sm_lstm_net or the cube (--cube)")
    c = None if cube is None else open_input(cube, "station cube")
    cov, scope, table = coverage_summary(ds, c, model_dir)
    if table is not None:
        report.table(table.reset_index(), "network_coverage")
    report.summary["network_coverage"], report.summary["network_coverage_scope"] = cov, scope


def signal_ablation_part(ds, truth, cube, report: Any, model_dir, corrected) -> None:
    """The default product refitted without each signal estimate (smlib.evaluation.signal_ablation)."""
    from smlib.evaluation import signal_ablation as sa

    c, path = (
        open_input(cube, "station cube"),
        None if isinstance(corrected, xr.Dataset) else corrected,
    )
    try:
        abl = sa.signal_ablation(c, ds, sa.correct_config_of(model_dir, path))
    except ValueError as err:  # no guided product, or one this refit does not reproduce
        return report.skip("signal_ablation", str(err))
    table = sa.score_signal_ablation(abl, ds, truth, c)
    report.table(table.reset_index(), "signal_ablation")
    report.summary["signal_ablation"] = sa.ablation_summary(table)
    log.info("evaluate: %s", report.summary["signal_ablation"]["verdict"])


def reference_calibration_part(ds: xr.Dataset, report: Any, max_km: float) -> None:
    """Coverage of the 90 % intervals against nearby reference stations (real data included)."""
    from smlib.evaluation.calibration import reference_coverage

    table = reference_coverage(ds, max_km=max_km)
    if table.empty:
        report.skip(
            "calibration_vs_reference",
            f"no product with an uncertainty, or no station with a reference within {max_km:g} km",
        )
        return
    report.table(table.rename_axis("product").reset_index(), "calibration_reference")
    report.summary["calibration_vs_reference"] = {
        var: {k: finite_or_none(v) for k, v in row.items()}
        for var, row in table.to_dict("index").items()
    }


def calibration_part(
    ds: xr.Dataset, truth: xr.Dataset, cube: str | os.PathLike[str] | xr.Dataset,
    report: Any,
) -> None:  # fmt: skip
    """Coverage of the products' 90 % intervals against the truth (smlib.evaluation.calibration)."""
    from smlib.evaluation.calibration import coverage_kernel, product_errors, reliability_table
    from smlib.report import plots

    parts = product_errors(ds, truth, open_input(cube, "station cube"))
    if not parts:
        report.skip("calibration", "no product of this file carries an uncertainty")
        return
    table = pd.DataFrame.from_dict(
        {var: coverage_kernel(*p) for var, p in parts.items()}, orient="index"
    )
    report.table(table.rename_axis("product").reset_index(), "calibration")
    report.summary["calibration"] = {
        var: {k: finite_or_none(v) for k, v in row.items()}
        for var, row in table.to_dict("index").items()
    }
    reliability, spread_skill = reliability_table(parts)
    report.table(reliability, "calibration_reliability")
    report.table(spread_skill, "calibration_spread_skill")
    report.figure(plots.plot_calibration(reliability, spread_skill), "calibration")
