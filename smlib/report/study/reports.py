"""Report files of a study run: summary and tables, and results that a data set cannot give."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

log = logging.getLogger(__name__)


def read_summary(report_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """``summary.json`` of a report folder written by :func:`smlib.report.evaluate.evaluate`."""
    path = Path(report_dir) / "summary.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: run smlib.report.pipeline.run_pipeline first")
    return json.loads(path.read_text())


#: Report table -> the part of :func:`smlib.report.evaluate.evaluate` that writes it.
_TABLE_PART = {
    "r_sm_ts_station": "r_sm_ts",
    "r_sm_ts_by_sensor": "r_sm_ts",
    "hf_r_reference": "reference_pairs",
    "land_coupling": "land_coupling",
    "skill_truth": "skill_vs_truth",
    "skill_truth_by_sensor": "skill_vs_truth",
    "lag_sensitivity": "lag_sensitivity",
    "calibration": "calibration",
    "calibration_reliability": "calibration",
    "calibration_spread_skill": "calibration",
    "network_coverage": "network_coverage",
}


def read_table(report_dir: str | os.PathLike[str], name: str) -> pd.DataFrame:
    """One CSV table of a report folder (``name`` without ``.csv``).

    Raises
    ------
    FileNotFoundError
        The table was not written; the message gives the reason the evaluation recorded for
        skipping the part that writes it.
    """
    path = Path(report_dir) / f"{name}.csv"
    if not path.is_file():
        skipped = read_summary(report_dir).get("skipped", {})
        part = _TABLE_PART.get(name)
        if part in skipped:
            why = skipped[part]
        else:
            why = "; ".join(f"{k}: {v}" for k, v in skipped.items()) or "no reason recorded"
        log.info("%s not found", path)
        raise FileNotFoundError(f"the evaluation wrote no {path.name} ({why})")
    return pd.read_csv(path)


class Unavailable:
    """A result that could not be computed for this data, with the reason.

    Displays as a short italic note in a notebook and is falsy; passed on to
    :func:`show_or_explain` it is returned again without calling anything, so a chain of
    steps that starts from a missing table shows the first reason once per step.
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"Unavailable({self.reason!r})"

    def _repr_markdown_(self) -> str:
        return f"*Not available for this data: {self.reason}*"


def show_or_explain(make: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Return ``make(*args, **kwargs)``, or an :class:`Unavailable` saying why not.

    For the parts of a section that need data a data set may lack (reference stations within
    reach, flux towers, the truth of the twin): the notebook shows the reason instead of
    failing. Only ``ValueError``, ``KeyError`` and ``FileNotFoundError`` are caught, and each
    is logged. If an argument is already :class:`Unavailable`, it is returned unchanged.
    """
    for value in (*args, *kwargs.values()):
        if isinstance(value, Unavailable):
            return value
    try:
        return make(*args, **kwargs)
    except (ValueError, KeyError, FileNotFoundError) as err:
        log.warning("not available: %s", err)
        return Unavailable(str(err))
