"""Station-level quality control: the thresholds of the rules, the bookkeeping of what each rule
removed (``qc_summary``), and the tables of what the ingest left out or could not classify.

The rules themselves are listed in :mod:`smlib.data`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import xarray as xr

__all__ = [
    "MAX_DEPTH_M",
    "MIN_DAYS",
    "QCReport",
    "skipped_inputs",
    "sensor_notes",
]


MAX_DEPTH_M = 0.10
MIN_DAYS = 92


# --------------------------------------------------------------------------------------------
# QC bookkeeping
# --------------------------------------------------------------------------------------------
@dataclass
class QCReport:
    """What every QC rule removed: stations (with reasons), station-days and values."""

    rules: dict[str, dict] = field(default_factory=dict)

    def add(
        self,
        rule: str,
        description: str,
        *,
        stations: dict[str, str] | None = None,
        days: int = 0,
        values: int = 0,
        detail: dict | None = None,
    ) -> None:
        """Add removals to ``rule`` (created on first use)."""
        r = self.rules.setdefault(
            rule,
            {
                "description": description,
                "stations_removed": 0,
                "days_removed": 0,
                "values_removed": 0,
                "reasons": {},
            },
        )
        stations = stations or {}
        r["stations_removed"] += len(stations)
        r["reasons"].update(stations)
        r["days_removed"] += int(days)
        r["values_removed"] += int(values)
        if detail:
            d = r.setdefault("detail", {})
            for k, v in detail.items():
                d[k] = d.get(k, 0) + v
        # keep insertion order of rules stable

    def to_json(self) -> str:
        """JSON text of the report (stored as the cube's ``qc_summary`` attribute)."""
        return json.dumps(self.rules, sort_keys=False)

    def table(self) -> str:
        """One line per rule, for the log."""
        lines = [f"{'rule':<22} {'stations':>8} {'days':>9} {'values':>11}"]
        for name, r in self.rules.items():
            lines.append(
                f"{name:<22} {r['stations_removed']:>8} {r['days_removed']:>9} "
                f"{r['values_removed']:>11}"
            )
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------------
# What the ingest left out or could not classify (tables for notebook 01)
# --------------------------------------------------------------------------------------------
def skipped_inputs(cube: xr.Dataset) -> pd.DataFrame:
    """Every input file the ingest skipped as unreadable, with its station and reason.

    Returns
    -------
    pandas.DataFrame
        Columns ``source`` (ismn, era5, merra2, fluxnet), ``station`` (empty for reanalysis
        files: no station is lost, their cells come from other files or stay NaN), ``file``
        (name only), ``line`` and ``reason``.
    """
    rows = json.loads(cube.attrs.get("skipped_inputs", "[]") or "[]")
    frame = pd.DataFrame(rows, columns=["source", "station", "file", "line", "reason"])
    frame["file"] = [Path(str(f).split("!")[-1]).name for f in frame["file"]]
    frame["line"] = frame["line"].astype("Int64")
    return frame


def sensor_notes(cube: xr.Dataset) -> pd.DataFrame:
    """Stations whose instrument is ``n.s.`` or not in the instrument table (technique unknown).

    Returns
    -------
    pandas.DataFrame
        Index ``station``; ``sensor`` (as in the source) and ``note``. Map them with
        ``smlib ingest --sensor-map FILE`` (:mod:`smlib.io.sensors`).
    """
    notes = json.loads(cube.attrs.get("sensor_notes", "{}") or "{}")
    sensors = dict(zip(cube["station"].values, cube["sensor"].values, strict=True))
    frame = pd.DataFrame(
        [{"station": k, "sensor": sensors.get(k, ""), "note": v} for k, v in notes.items()],
        columns=["station", "sensor", "note"],
    )
    return frame.set_index("station")
