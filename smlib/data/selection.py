"""Which sensors and days a station keeps: the (SM, TS) sensor pair nearest in depth and the
complete local days (QC rules ``depth``, ``one_sensor`` and ``complete_local_days``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from smlib.io.ismn import IsmnSeries
from smlib.io.sensors import (
    SensorTable,
    default_sensor_table,
)
from smlib.timeutils import local_day_view, solar_offset_hours

__all__ = [
    "select_sensor_pair",
    "within_depth",
    "complete_day_mask",
    "count_days_with_data",
]


# --------------------------------------------------------------------------------------------
# Sensor choice and local days
# --------------------------------------------------------------------------------------------
def within_depth(s: IsmnSeries, max_depth: float, table: SensorTable | None = None) -> bool:
    if s.variable == "sm" and (table or default_sensor_table()).technique(s.sensor) == "cosmic-ray":
        return s.depth_from <= max_depth + 1e-9
    return s.depth_to <= max_depth + 1e-9


def select_sensor_pair(
    sm: Sequence[IsmnSeries], ts: Sequence[IsmnSeries]
) -> tuple[IsmnSeries, IsmnSeries]:
    """Choose one SM and one TS sensor of a station (rule 3 of the module docs).

    Parameters
    ----------
    sm, ts : sequence of IsmnSeries
        Candidate sensors (already within the depth limit, each with at least one G value).

    Returns
    -------
    (IsmnSeries, IsmnSeries)
        The pair whose mid-depths are nearest; ties broken by shallower SM, shallower TS,
        more common hours, then names -- fully deterministic.
    """

    def key(pair: tuple[IsmnSeries, IsmnSeries]) -> tuple:
        a, b = pair
        gap = abs(0.5 * (a.depth_from + a.depth_to) - 0.5 * (b.depth_from + b.depth_to))
        common = np.intersect1d(a.time, b.time, assume_unique=True).size
        return (
            round(gap, 6),
            a.depth_to,
            a.depth_from,
            b.depth_to,
            b.depth_from,
            -common,
            a.sensor,
            b.sensor,
            a.source,
            b.source,
        )

    return min(((a, b) for a in sm for b in ts), key=key)


def complete_day_mask(*series: np.ndarray, lon: np.ndarray, hour0: int = 0) -> np.ndarray:
    """Hours that belong to complete local days of all given variables.

    Parameters
    ----------
    *series : numpy.ndarray, shape (n_station, n_time)
        Hourly values on a common UTC axis (NaN = missing).
    lon : numpy.ndarray, shape (n_station,)
        Longitudes (degrees east) giving the local solar offsets.
    hour0 : int
        UTC hour of the first time step.

    Returns
    -------
    numpy.ndarray of bool, shape (n_station, n_time)
        True on every hour of a local day on which all 24 values of every series are finite.
    """
    finite = np.logical_and.reduce([np.isfinite(x) for x in series])
    n_st, n_t = finite.shape
    days, first = local_day_view(finite.astype(np.float32), solar_offset_hours(lon), hour0)
    complete = (days == 1.0).all(axis=-1)
    keep = np.zeros((n_st, n_t), dtype=bool)
    for f in np.unique(first):
        rows = np.flatnonzero(first == f)
        nd = (n_t - int(f)) // 24
        keep[rows, f : f + nd * 24] = np.repeat(complete[rows, :nd], 24, axis=1)
    return keep


def count_days_with_data(x: np.ndarray, lon: np.ndarray, hour0: int) -> np.ndarray:
    """Local days with at least one finite value, per station, shape (n_station,)."""
    days, _ = local_day_view(np.isfinite(x).astype(np.float32), solar_offset_hours(lon), hour0)
    return (days == 1.0).any(axis=-1).sum(axis=-1)
