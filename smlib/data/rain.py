"""Which source screens each station-day for rain: the station's gauge on days it covers, the SM
tendency elsewhere (the cube's ``insitu_rain_source``).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

__all__ = [
    "GAUGE_MIN_HOURS",
    "RAIN_SOURCE_FLAGS",
    "rain_source_days",
    "insitu_rain_source",
]


# --------------------------------------------------------------------------------------------
# Which source screens each station-day for rain
# --------------------------------------------------------------------------------------------
#: A local day is screened by the station's gauge when it has at least this many hourly values.
GAUGE_MIN_HOURS = 20
#: Values of ``insitu_rain_source``.
RAIN_SOURCE_FLAGS: dict[int, str] = {0: "none", 1: "sm_tendency", 2: "gauge"}


def rain_source_days(
    sm_days: np.ndarray, gauge_days: np.ndarray | None, min_hours: int = GAUGE_MIN_HOURS
) -> np.ndarray:
    """Which in-situ source screens each local day for rain.

    Parameters
    ----------
    sm_days : numpy.ndarray, shape (station, day, 24)
        In-situ SM (m3 m-3) cut into local days (:func:`smlib.timeutils.local_days`).
    gauge_days : numpy.ndarray or None, shape (station, day, 24)
        The station's gauge (mm h-1) on the same days, or None without any gauge.
    min_hours : int
        Hourly gauge values a day needs for the gauge to screen it.

    Returns
    -------
    numpy.ndarray of int8, shape (station, day)
        2 (``gauge``) where the gauge covers the day, else 1 (``sm_tendency``) where the day
        has an SM daily mean (at least 18 hours, as the tendency screen needs), else 0.
    """
    sm_ok = np.isfinite(sm_days).sum(axis=-1) >= 18
    out = np.where(sm_ok, 1, 0).astype(np.int8)
    if gauge_days is not None:
        out[np.isfinite(gauge_days).sum(axis=-1) >= min_hours] = 2
    return out


def insitu_rain_source(ds: xr.Dataset) -> xr.DataArray:
    """Per station-hour record of the source that screens its local day for rain.

    The in-situ rain screen (:func:`smlib.method.preprocess.rain_flags`) uses the station's own
    gauge (``precip``) on every local day the gauge covers and the SM tendency elsewhere; this
    is that choice, stored in the cube so that every screened day can be traced.

    Parameters
    ----------
    ds : xarray.Dataset
        Station cube with ``sm``, optional ``precip``, ``lon`` and an hourly ``time``.

    Returns
    -------
    xarray.DataArray of int8, dims (station, time)
        Flags ``RAIN_SOURCE_FLAGS`` with CF ``flag_values`` / ``flag_meanings``.
    """
    from smlib.timeutils import local_days

    time, lon = ds["time"].values, ds["lon"].values
    sm = ds["sm"].transpose("station", "time").values
    sm_days, _, index = local_days(sm, time, lon)
    gauge_days = None
    if "precip" in ds:
        gauge_days, _, _ = local_days(ds["precip"].transpose("station", "time").values, time, lon)
    per_day = rain_source_days(sm_days, gauge_days)
    out = np.zeros(sm.shape, dtype=np.int8)
    ok = index >= 0
    rows = np.broadcast_to(np.arange(sm.shape[0])[:, None, None], index.shape)
    out[rows[ok], index[ok]] = np.broadcast_to(per_day[..., None], index.shape)[ok]
    return xr.DataArray(
        out,
        dims=("station", "time"),
        coords={"station": ds["station"], "time": ds["time"]},
        attrs={
            "long_name": "in-situ source that screens the local day for rain",
            "flag_values": np.array(list(RAIN_SOURCE_FLAGS), dtype=np.int8),
            "flag_meanings": " ".join(RAIN_SOURCE_FLAGS.values()),
            "comment": f"gauge where it has >= {GAUGE_MIN_HOURS} hourly values on the local "
            "day, else the SM tendency screen (Han et al. 2026)",
        },
    )
