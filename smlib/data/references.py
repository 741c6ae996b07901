"""Reference stations (cosmic-ray, TDR, TDT or an explicit list) and the table of references and
rain gauges shown in notebook 01.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

__all__ = [
    "read_reference_ids",
    "reference_and_gauge_table",
]


def read_reference_ids(reference: str | os.PathLike | Iterable[str]) -> list[str]:
    """Station ids from a text file (one per line, ``#`` comments) or an iterable of ids."""
    if isinstance(reference, (str, os.PathLike)):
        path = Path(reference)
        if not path.is_file():
            raise FileNotFoundError(f"reference list {path} does not exist")
        ids = []
        for line in path.read_text().splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                ids.append(line)
        return ids
    return [str(r).strip() for r in reference]


def reference_and_gauge_table(cube: xr.Dataset) -> pd.DataFrame:
    """Per station: reference role, SM-only, rain gauge and which source screens its days.

    Returns
    -------
    pandas.DataFrame
        Index ``station``; ``kind``, ``sensor_type``, ``is_reference``, ``sm_only`` (no TS:
        a reference station without a temperature sensor), ``gauge`` (has its own rain gauge),
        ``days_gauge`` / ``days_sm_tendency`` (local days whose rain screen uses that source).
    """
    ts_any = np.isfinite(cube["ts"].transpose("station", "time").values).any(axis=1)
    if "precip" in cube:
        gauge = np.isfinite(cube["precip"].transpose("station", "time").values).any(axis=1)
    else:
        gauge = np.zeros(cube.sizes["station"], dtype=bool)
    if "insitu_rain_source" in cube:
        src = cube["insitu_rain_source"].transpose("station", "time").values
        days_gauge, days_sm = (src == 2).sum(axis=1) // 24, (src == 1).sum(axis=1) // 24
    else:
        days_gauge = days_sm = np.full(cube.sizes["station"], -1)
    return pd.DataFrame(
        {
            "kind": cube["kind"].values.astype(str),
            "sensor_type": cube["sensor_type"].values.astype(str),
            "is_reference": cube["is_reference"].values.astype(bool),
            "sm_only": ~ts_any & (cube["kind"].values.astype(str) == "ismn"),
            "gauge": gauge,
            "days_gauge": days_gauge,
            "days_sm_tendency": days_sm,
        },
        index=pd.Index(cube["station"].values.astype(str), name="station"),
    )
