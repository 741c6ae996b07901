"""Local solar time, local days and seasons for hourly UTC series.

Everything in smlib keeps time in UTC on an hourly axis. Diurnal statistics, however, are
defined on *local* days (the paper's "complete 24-hour records") and composites are drawn in
local solar time. Both are derived here from the station longitude:

.. math::

    t_\\mathrm{solar} = t_\\mathrm{UTC} + \\frac{\\lambda}{15^\\circ\\,\\mathrm{h}^{-1}}

The equation of time (at most about 16 minutes) is neglected: at hourly resolution it never
moves a sample by more than one step, and ignoring it keeps every station's day a block of 24
consecutive hourly samples. Local days start at local solar midnight rounded to the whole hour,
``offset = round(lon / 15)`` hours east of UTC. Where the sun's position itself matters (the
twin's radiation, which night hours are dark) :func:`solar_geometry` computes it with the
equation of time and the station's latitude.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = [
    "SOLAR_CONSTANT",
    "solar_geometry",
    "hourly_index",
    "solar_offset_hours",
    "local_solar_hour",
    "local_day_view",
    "local_day_start",
    "warm_season_mask",
    "local_day_index",
    "local_days",
    "days_to_hours",
]


def hourly_index(
    time: np.ndarray | pd.DatetimeIndex, name: str = "series", hint: str = ""
) -> pd.DatetimeIndex:
    """The time axis as a ``DatetimeIndex``, checked to be hourly and gap-free.

    The one check every module uses before it treats positions as hours.

    Parameters
    ----------
    time : array of datetime64 or DatetimeIndex, shape (time,)
        UTC time stamps.
    name : str
        What the axis belongs to (a file, a variable), named in the error.
    hint : str
        Advice appended to the error, e.g. ``"reindex the cube first"``.

    Raises
    ------
    ValueError
        At the first step that is not one hour, naming ``name``, the step and where it is.

    Examples
    --------
    >>> hourly_index(np.array(["2020-01-01T00", "2020-01-01T01"], dtype="datetime64[h]")).size
    2
    >>> hourly_index(np.array(["2020-01-01T00", "2020-01-01T03"], dtype="datetime64[h]"), "sm")
    Traceback (most recent call last):
    ...
    ValueError: sm: time axis must be hourly and gap-free (UTC); a step of 3 h after 2020-01-01 00:00
    """
    t = pd.DatetimeIndex(time)
    step = np.diff(t.values.astype("datetime64[s]")).astype(np.int64)
    bad = np.flatnonzero(step != 3600)
    if bad.size:
        k = int(bad[0])
        why = f"a step of {step[k] / 3600:g} h after {t[k]:%Y-%m-%d %H:%M}"
        raise ValueError(
            f"{name}: time axis must be hourly and gap-free (UTC); {why}"
            + (f"; {hint}" if hint else "")
        )
    return t


def solar_offset_hours(lon: float | np.ndarray) -> np.ndarray:
    """Whole-hour offset of local solar time from UTC.

    Parameters
    ----------
    lon : float or array_like
        Longitude in degrees east, in [-180, 360).

    Returns
    -------
    numpy.ndarray of int
        ``round(lon / 15)`` wrapped to [-12, 12], hours to add to UTC.
    """
    lon = np.asarray(lon, dtype=float)
    lon = ((lon + 180.0) % 360.0) - 180.0
    return np.clip(np.rint(lon / 15.0), -12, 12).astype(int)


def local_solar_hour(time: np.ndarray | pd.DatetimeIndex, lon: float) -> np.ndarray:
    """Local solar hour of day (0-23, whole hours) of UTC time stamps at longitude ``lon``."""
    hours = pd.DatetimeIndex(time).hour.to_numpy()
    return (hours + int(solar_offset_hours(lon))) % 24


def local_day_start(time0: np.datetime64, lon: float) -> int:
    """Index of the first local midnight on an hourly UTC axis starting at ``time0``.

    Parameters
    ----------
    time0 : numpy.datetime64
        First time stamp of the hourly UTC axis.
    lon : float
        Station longitude, degrees east.

    Returns
    -------
    int
        Smallest index ``i >= 0`` such that ``time0 + i h`` is local solar midnight.
    """
    hour0 = pd.Timestamp(time0).hour
    return int((-(hour0 + int(solar_offset_hours(lon)))) % 24)


def local_day_view(
    x: np.ndarray, offsets: np.ndarray | int, hour0: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Cut hourly series into complete local days.

    Parameters
    ----------
    x : numpy.ndarray, shape (n_station, n_time)
        Hourly values on a common UTC axis whose first sample is at UTC hour ``hour0``.
    offsets : int or array_like of int, shape (n_station,)
        Local solar offsets in hours (:func:`solar_offset_hours`).
    hour0 : int
        UTC hour of day of the first sample.

    Returns
    -------
    days : numpy.ndarray, shape (n_station, n_day, 24)
        ``days[s, d, h]`` is the value at local hour ``h`` of local day ``d``; local day 0 is the
        first local day that starts on or after the first sample. Partial days at either end
        are padded with NaN, so a day is complete only if all 24 values are finite.
    first_index : numpy.ndarray of int, shape (n_station,)
        Index into the time axis of ``days[s, 0, 0]``.

    Notes
    -----
    Stations with different offsets are realigned by one copy of the array; the result for one
    station is a reshaped view of its (shifted) series.
    """
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"expected (station, time) array, got shape {x.shape}")
    n_st, n_t = x.shape
    offs = np.broadcast_to(np.asarray(offsets, dtype=int), (n_st,))
    first = (-(hour0 + offs)) % 24
    n_day = max((n_t - int(first.min())) // 24, 0)
    out = np.full((n_st, n_day, 24), np.nan, dtype=np.result_type(x.dtype, np.float32))
    for f in np.unique(first):
        rows = np.flatnonzero(first == f)
        nd = (n_t - f) // 24
        out[rows, :nd, :] = x[rows, f : f + nd * 24].reshape(len(rows), nd, 24)
    return out, first


def warm_season_mask(time: np.ndarray | pd.DatetimeIndex, lat: float) -> np.ndarray:
    """Hemispheric warm season: May-September north of the equator, November-March south.

    Parameters
    ----------
    time : array_like of datetime64
        Time stamps (UTC).
    lat : float
        Latitude in degrees north.

    Returns
    -------
    numpy.ndarray of bool
        True where the time stamp falls in the warm season (MJJAS or NDJFM).
    """
    month = pd.DatetimeIndex(time).month.to_numpy()
    if lat >= 0:
        return (month >= 5) & (month <= 9)
    return (month >= 11) | (month <= 3)


def local_day_index(time: pd.DatetimeIndex, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index into ``time`` of hour ``h`` of common local day ``d`` for each station.

    ``time`` is the hourly UTC axis (:func:`hourly_index`), ``offsets`` each station's solar
    offset in hours (:func:`solar_offset_hours`).

    Returns ``index`` of shape (station, day, 24) (``-1`` outside the record) and the local
    dates (datetime64[D]) of the day axis.
    """
    t0 = time[0].to_datetime64().astype("datetime64[h]")
    n_t = len(time)
    offs = np.asarray(offsets, dtype=np.int64)
    first_local = (t0 + np.timedelta64(int(offs.min()), "h")).astype("datetime64[D]")
    last_local = (t0 + np.timedelta64(n_t - 1 + int(offs.max()), "h")).astype("datetime64[D]")
    dates = np.arange(first_local, last_local + np.timedelta64(1, "D"), dtype="datetime64[D]")
    # UTC index of local midnight of each date at each station
    day0 = (dates.astype("datetime64[h]") - t0).astype(np.int64)  # (day,)
    start = day0[None, :] - offs[:, None]  # (station, day)
    index = start[:, :, None] + np.arange(24)[None, None, :]
    index[(index < 0) | (index >= n_t)] = -1
    return index, dates


def local_days(
    x: np.ndarray, time: np.ndarray, lon: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cut ``(station, time)`` hourly UTC series into local solar days on a common date axis.

    Parameters
    ----------
    x : numpy.ndarray, shape (station, time)
    time : array_like of datetime64, shape (time,)
        Hourly, gap-free UTC axis.
    lon : array_like, shape (station,)
        Longitudes, degrees east (local day = local solar day, see :mod:`smlib.timeutils`).

    Returns
    -------
    days : numpy.ndarray, shape (station, day, 24)
        ``days[s, d, h]`` = value at local solar hour ``h`` of local date ``dates[d]``; NaN
        outside the record.
    dates : numpy.ndarray of datetime64[D], shape (day,)
    index : numpy.ndarray of int, shape (station, day, 24)
        Index into the time axis of each entry, ``-1`` outside the record.
    """
    x = np.asarray(x)
    t = hourly_index(np.asarray(time), "station cube", hint="reindex the cube first")
    index, dates = local_day_index(t, solar_offset_hours(np.atleast_1d(lon)))
    days = np.take_along_axis(
        x.astype(np.result_type(x.dtype, np.float32)),
        np.clip(index, 0, None).reshape(len(x), -1),
        1,
    ).reshape(index.shape)
    days[index < 0] = np.nan
    return days, dates, index


def days_to_hours(flags: np.ndarray, index: np.ndarray, n_time: int) -> np.ndarray:
    """Scatter a (station, day) boolean back to (station, time) through ``index``."""
    out = np.zeros((index.shape[0], n_time), dtype=bool)
    per_hour = np.broadcast_to(flags[:, :, None], index.shape)
    s = np.broadcast_to(np.arange(index.shape[0])[:, None, None], index.shape)
    ok = index >= 0
    out[s[ok], index[ok]] = per_hour[ok]
    return out


#: Total solar irradiance at 1 AU, W m-2.
SOLAR_CONSTANT = 1361.0


def solar_geometry(time: pd.DatetimeIndex, lat: np.ndarray, lon: np.ndarray):
    """Cosine of the solar zenith angle and local solar hour at hour-centres ``time - 0.5 h``.

    Parameters
    ----------
    time : pandas.DatetimeIndex, shape (n_time,)
        UTC stamps (each ends the hour it represents).
    lat, lon : numpy.ndarray, shape (n_col,)
        Degrees north / east.

    Returns
    -------
    cos_zenith, solar_hour, toa : numpy.ndarray, shape (n_col, n_time)
        :math:`\\cos Z` (may be negative), local solar hour in [0, 24) and top-of-atmosphere
        irradiance on a horizontal plane (W m-2, >= 0).
    """
    tc = time - pd.Timedelta(minutes=30)
    doy = tc.day_of_year.to_numpy().astype(float)
    hour = (tc.hour + tc.minute / 60.0).to_numpy()
    g = 2 * np.pi * (doy - 1) / 365.0
    eot = 229.18 * (
        0.000075 + 0.001868 * np.cos(g) - 0.032077 * np.sin(g)
        - 0.014615 * np.cos(2 * g) - 0.040849 * np.sin(2 * g)
    )  # fmt: skip
    decl = np.radians(23.44) * np.sin(2 * np.pi * (284 + doy) / 365.0)
    lat_r = np.radians(np.asarray(lat, float))[:, None]
    solar_hour = (hour[None, :] + np.asarray(lon, float)[:, None] / 15.0 + eot / 60.0) % 24.0
    omega = np.radians(15.0 * (solar_hour - 12.0))
    cosz = np.sin(lat_r) * np.sin(decl) + np.cos(lat_r) * np.cos(decl) * np.cos(omega)
    toa = SOLAR_CONSTANT * (1 + 0.033 * np.cos(2 * np.pi * doy / 365.0)) * np.maximum(cosz, 0)
    return cosz, solar_hour, toa
