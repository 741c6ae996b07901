"""Which hours may train and which are rain-affected: the R(SM, TS) training filter and the rain
screens (paper section 3.1.1).

The paper's rain screen: an in-situ local day is rainy when its daily SM tendency, the
difference of its daily mean from the previous day's,

.. math:: \\Delta\\overline{SM}_d = \\overline{SM}_d - \\overline{SM}_{d-1}
          > k\\,\\sigma(\\Delta\\overline{SM}) ,\\qquad k = 0.5,

with :math:`\\sigma` taken over the station's record; a reanalysis day is rainy when that
product's daily precipitation exceeds 0.1 mm. Each screen masks only its own source (in-situ SM
and TS; ERA5-Land variables; MERRA-2 variables). The ``strict`` option unites every screen (and
an in-situ gauge ``precip`` where present), widens it by ``widen_days`` on each side and masks
every variable. The training filter keeps target local days with R(SM, TS) < -0.34.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import xarray as xr

from smlib.config import PreprocessConfig
from smlib.timeutils import (
    days_to_hours,
    hourly_index,
    local_day_index,
    local_days,
    solar_offset_hours,
)

__all__ = [
    "daily_correlation_kernel",
    "daily_correlation",
    "insitu_rain_days",
    "precip_rain_days",
    "rain_flags",
    "station_array",
    "source_of",
]

log = logging.getLogger(__name__)

_SOURCES = {"insitu": ("sm", "ts"), "era5": ("era5_",), "merra2": ("merra2_",)}


def _check_hourly(time: np.ndarray) -> pd.DatetimeIndex:
    return hourly_index(time, "station cube", hint="reindex the cube first")


def daily_correlation_kernel(a_days: np.ndarray, b_days: np.ndarray) -> np.ndarray:
    """Pearson correlation of two series within each day.

    .. math:: R_d = \\frac{\\sum_h (a_h-\\bar a)(b_h-\\bar b)}
              {\\sqrt{\\sum_h (a_h-\\bar a)^2 \\sum_h (b_h-\\bar b)^2}}

    Parameters
    ----------
    a_days, b_days : numpy.ndarray, shape (..., day, 24)

    Returns
    -------
    numpy.ndarray, shape (..., day)
        NaN where a day is incomplete (any non-finite hour in either series) or either series
        is constant over the day.
    """
    a = np.asarray(a_days, dtype=np.float64)
    b = np.asarray(b_days, dtype=np.float64)
    complete = np.isfinite(a).all(-1) & np.isfinite(b).all(-1)
    am = a - a.mean(-1, keepdims=True)
    bm = b - b.mean(-1, keepdims=True)
    den = np.sqrt((am * am).sum(-1) * (bm * bm).sum(-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (am * bm).sum(-1) / den
    r[~complete | ~(den > 0)] = np.nan
    return r


def _daily_r_station(
    a: np.ndarray, b: np.ndarray, offs: np.ndarray, *, day0: np.ndarray
) -> np.ndarray:
    index = day0[None, :] - offs.reshape(-1)[:, None]
    index = index[:, :, None] + np.arange(24)
    lead = a.shape[:-1]
    n_t = a.shape[-1]
    a2, b2 = a.reshape(-1, n_t), b.reshape(-1, n_t)
    bad = (index < 0) | (index >= n_t)
    idx = np.clip(index, 0, n_t - 1).reshape(a2.shape[0], -1)
    ad = np.take_along_axis(a2.astype(np.float64), idx, 1).reshape(index.shape)
    bd = np.take_along_axis(b2.astype(np.float64), idx, 1).reshape(index.shape)
    ad[bad] = np.nan
    return daily_correlation_kernel(ad, bd).reshape(*lead, index.shape[1])


def daily_correlation(
    sm: xr.DataArray, ts: xr.DataArray, lon: xr.DataArray | None = None
) -> xr.DataArray:
    """R(SM, TS) (or any pair) per station and local solar day.

    Parameters
    ----------
    sm, ts : xarray.DataArray, dims (station, time)
        Hourly UTC series on a gap-free axis; dask-backed input is handled per station chunk.
    lon : xarray.DataArray, dims (station,), optional
        Longitudes (default: the ``lon`` coordinate of ``sm``).

    Returns
    -------
    xarray.DataArray, dims (station, day)
        Correlation over the 24 hours of each local solar day (``day`` = local date); NaN where
        the day is incomplete or a series is constant.
    """
    if lon is None:
        if "lon" not in sm.coords:
            raise KeyError(
                "daily_correlation needs station longitudes: pass lon= or a 'lon' coordinate"
            )
        lon = sm["lon"]
    t = _check_hourly(sm["time"].values)
    offs = xr.DataArray(solar_offset_hours(np.asarray(lon)), dims=lon.dims, coords=lon.coords)
    _, dates = local_day_index(t, offs.values.reshape(-1))
    t0 = t[0].to_datetime64().astype("datetime64[h]")
    day0 = (dates.astype("datetime64[h]") - t0).astype(np.int64)
    r = xr.apply_ufunc(
        _daily_r_station,
        sm,
        ts,
        offs,
        input_core_dims=[["time"], ["time"], []],
        output_core_dims=[["day"]],
        kwargs={"day0": day0},
        dask="parallelized",
        output_dtypes=[np.float64],
        dask_gufunc_kwargs={"output_sizes": {"day": len(dates)}},
    )
    r = r.assign_coords(day=("day", dates.astype("datetime64[ns]")))
    r.attrs = {
        "units": "1",
        "long_name": f"correlation of {sm.name or 'x'} and {ts.name or 'y'} over each local solar day",
    }
    return r


# --------------------------------------------------------------------------- rain screening
def _daily_mean(days: np.ndarray, min_hours: int = 18) -> np.ndarray:
    n = np.isfinite(days).sum(-1)
    with np.errstate(invalid="ignore"):
        m = np.nanmean(np.where(n[..., None] > 0, days, 0.0), axis=-1)
    m[n < min_hours] = np.nan
    return m


def insitu_rain_days(sm_days: np.ndarray, threshold_sd: float = 0.5) -> np.ndarray:
    """Rainy local days from the in-situ SM tendency (Han et al. 2026 screen).

    Parameters
    ----------
    sm_days : numpy.ndarray, shape (station, day, 24)
    threshold_sd : float
        Days with :math:`\\Delta\\overline{SM}_d > k\\,\\sigma_s(\\Delta\\overline{SM})` are rainy.

    Returns
    -------
    numpy.ndarray of bool, shape (station, day)
        Days whose tendency is undefined (a daily mean from fewer than 18 hours) are not flagged.
    """
    mean = _daily_mean(sm_days)
    tend = np.full_like(mean, np.nan)
    tend[:, 1:] = mean[:, 1:] - mean[:, :-1]
    with np.errstate(invalid="ignore"):
        sd = np.nanstd(np.where(np.isfinite(tend), tend, np.nan), axis=1, keepdims=True)
        return np.nan_to_num(tend > threshold_sd * sd, nan=False).astype(bool)


def precip_rain_days(precip_days: np.ndarray, threshold_mm: float = 0.1) -> np.ndarray:
    """Local days whose precipitation total (mm h-1 summed over the day) exceeds ``threshold_mm``."""
    total = np.nansum(precip_days, axis=-1)
    return total > threshold_mm


def rain_flags(ds: xr.Dataset, cfg: PreprocessConfig) -> dict[str, np.ndarray]:
    """Hourly rain masks per source group.

    Parameters
    ----------
    ds : xarray.Dataset
        Station cube, dims (station, time).
    cfg : PreprocessConfig
        ``rain_screen``, thresholds and ``widen_days``.

    Returns
    -------
    dict of str to numpy.ndarray of bool, shape (station, time)
        Keys ``insitu``, ``era5``, ``merra2``; True = hour removed before decomposition. Under
        ``strict`` all three hold the same widened union. Under ``none`` all are False.

    Notes
    -----
    The in-situ screen uses the station's own rain gauge (``precip``: ISMN ``p`` or tower P)
    on every local day the gauge covers (:data:`smlib.data.rain.GAUGE_MIN_HOURS` hourly values),
    and the SM tendency on the other days; :func:`smlib.data.rain.insitu_rain_source` records that
    choice per station-day in the cube (``insitu_rain_source``).
    """
    from smlib.data import rain_source_days

    time = ds["time"].values
    n_st, n_t = ds.sizes["station"], ds.sizes["time"]
    lon = ds["lon"].values
    if cfg.rain_screen == "none":
        z = np.zeros((n_st, n_t), dtype=bool)
        return {"insitu": z, "era5": z, "merra2": z}
    sm_days, _, index = local_days(station_array(ds, "sm"), time, lon)
    tendency = insitu_rain_days(sm_days, cfg.insitu_tendency_sd)
    gauge_days = local_days(station_array(ds, "precip"), time, lon)[0] if "precip" in ds else None
    source = rain_source_days(sm_days, gauge_days)
    if gauge_days is not None:
        gauge = precip_rain_days(gauge_days, cfg.precip_mm_per_day)
        day_flags = {"insitu": np.where(source == 2, gauge, tendency)}
    else:
        day_flags = {"insitu": tendency}
    counts = {"insitu": int(day_flags["insitu"].sum())}
    log.info(
        "in-situ rain screen: %d station-days screened by the gauge, %d by the SM tendency",
        int((source == 2).sum()),
        int((source == 1).sum()),
    )
    for prod in ("era5", "merra2"):
        var = f"{prod}_precip"
        if var in ds:
            pdays, _, _ = local_days(station_array(ds, var), time, lon)
            day_flags[prod] = precip_rain_days(pdays, cfg.precip_mm_per_day)
        else:
            day_flags[prod] = np.zeros_like(day_flags["insitu"])
        counts[prod] = int(day_flags[prod].sum())
    if cfg.rain_screen == "strict":
        union = day_flags["insitu"] | day_flags["era5"] | day_flags["merra2"]
        if gauge_days is not None:  # in-situ gauge (towers, some ISMN stations), any day
            union |= precip_rain_days(gauge_days, cfg.precip_mm_per_day)
        wide = union.copy()
        for k in range(1, cfg.widen_days + 1):
            wide[:, k:] |= union[:, :-k]
            wide[:, :-k] |= union[:, k:]
        hourly = days_to_hours(wide, index, n_t)
        log.info("strict rain screen: %d station-days masked (from %s)", int(wide.sum()), counts)
        return {"insitu": hourly, "era5": hourly, "merra2": hourly}
    log.info("paper rain screen, rainy station-days per source: %s", counts)
    return {k: days_to_hours(v, index, n_t) for k, v in day_flags.items()}


def station_array(ds: xr.Dataset, var: str) -> np.ndarray:
    """A float32 (station, time) *copy* of ``ds[var]`` (callers mask it in place)."""
    return np.array(ds[var].transpose("station", "time").values, dtype=np.float32, copy=True)


def source_of(var: str) -> str:
    for src, prefixes in _SOURCES.items():
        if var in prefixes or any(var.startswith(p) for p in prefixes if p.endswith("_")):
            return src
    return "insitu"
