"""Rain flags of the default product outside the batch correction.

The in-situ rain screen flags a day whose SM tendency exceeds a share of the tendency's spread
over the record; a station table stores that spread (``rain_tendency_sd``) from the fitting
record, so new hours are flagged with the fitting record's threshold
(:func:`rain_hours_given_sd`), and a streaming correction releases an hour only once its flag
can no longer change (:func:`rain_hours_final`). Re-exported by :mod:`smlib.method.product`.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import xarray as xr

from smlib.config import PreprocessConfig

__all__ = ["rain_tendency_sd", "rain_hours_given_sd", "rain_hours_final", "product_fit_hours"]

log = logging.getLogger(__name__)


def _sm_days(ds: xr.Dataset):
    from smlib.method.screens import station_array
    from smlib.timeutils import local_days

    return local_days(station_array(ds, "sm"), ds["time"].values, ds["lon"].values)


def _daily_tendency(sm_days: np.ndarray) -> np.ndarray:
    """Daily-mean SM tendency (station, day); NaN where a day has fewer than 18 hours."""
    n = np.isfinite(sm_days).sum(-1)
    with np.errstate(invalid="ignore"):
        mean = np.nanmean(np.where(n[..., None] > 0, sm_days, 0.0), axis=-1)
    mean[n < 18] = np.nan
    tend = np.full_like(mean, np.nan)
    tend[:, 1:] = mean[:, 1:] - mean[:, :-1]
    return tend


def rain_tendency_sd(ds: xr.Dataset) -> np.ndarray:
    """Per station, the spread of the daily SM tendency that the in-situ rain screen scales
    (:func:`smlib.method.screens.insitu_rain_days`), m3 m-3; shape (station,)."""
    tend = _daily_tendency(_sm_days(ds)[0])
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a station without any tendency: NaN
        return np.nanstd(tend, axis=1).astype(np.float64)


def rain_hours_given_sd(ds: xr.Dataset, sd: np.ndarray, cfg: PreprocessConfig) -> np.ndarray:
    """Rain-affected hours as :func:`smlib.method.correct.rain_affected_hours`, with the in-situ
    screen's spread ``sd`` given (the fitting record's) instead of taken from ``ds``.

    On the record the table was fitted on, this equals ``rain_affected_hours(ds,
    cfg.rain_screen)`` (tested); on new hours it applies the same thresholds.

    Parameters
    ----------
    ds : xarray.Dataset
        Station cube (or a slice of hours), dims (station, time): ``sm``, ``lon`` and
        whichever of ``precip``, ``era5_precip``, ``merra2_precip`` it holds.
    sd : numpy.ndarray, shape (station,)
        m3 m-3 (NaN: the tendency screen flags nothing at that station).
    cfg : PreprocessConfig
        ``rain_screen`` (``strict``, ``paper`` or ``none``) and its thresholds.

    Returns
    -------
    numpy.ndarray of bool, shape (station, time)
    """
    from smlib.data import rain_source_days
    from smlib.method.screens import precip_rain_days, station_array
    from smlib.timeutils import days_to_hours, local_days

    n_st, n_t = ds.sizes["station"], ds.sizes["time"]
    if cfg.rain_screen == "none":
        return np.zeros((n_st, n_t), dtype=bool)
    sm_days, _, index = _sm_days(ds)
    tend = _daily_tendency(sm_days)
    with np.errstate(invalid="ignore"):
        tendency = np.nan_to_num(
            tend > cfg.insitu_tendency_sd * np.asarray(sd, dtype=np.float64)[:, None], nan=False
        ).astype(bool)
    time, lon = ds["time"].values, ds["lon"].values

    def precip_days(var: str) -> np.ndarray:
        return local_days(station_array(ds, var), time, lon)[0]

    gauge_days = precip_days("precip") if "precip" in ds else None
    insitu = tendency
    if gauge_days is not None:
        gauge = precip_rain_days(gauge_days, cfg.precip_mm_per_day)
        insitu = np.where(rain_source_days(sm_days, gauge_days) == 2, gauge, tendency)
    union = insitu.copy()
    for var in ("era5_precip", "merra2_precip"):
        if var in ds:
            union |= precip_rain_days(precip_days(var), cfg.precip_mm_per_day)
    if cfg.rain_screen == "strict":
        if gauge_days is not None:
            union |= gauge
        wide = union.copy()
        for k in range(1, cfg.widen_days + 1):
            wide[:, k:] |= union[:, :-k]
            wide[:, :-k] |= union[:, k:]
        union = wide
    return days_to_hours(union, index, n_t)


def rain_hours_final(ds: xr.Dataset, cfg: PreprocessConfig) -> np.ndarray:
    """Hours whose rain flag (:func:`rain_hours_given_sd`) no longer changes as hours arrive.

    A local day's flag is settled once the day is complete; under ``strict`` an hour's flag
    also waits for the ``widen_days`` days after its own (rain tomorrow flags today).

    Returns
    -------
    numpy.ndarray of bool, shape (station, time)
    """
    from smlib.timeutils import days_to_hours

    n_t = ds.sizes["time"]
    if cfg.rain_screen == "none":
        return np.ones((ds.sizes["station"], n_t), dtype=bool)
    _, _, index = _sm_days(ds)
    complete = index[:, :, -1] >= 0  # the day's last hour is in ds
    if cfg.rain_screen == "strict":
        for k in range(1, cfg.widen_days + 1):
            later = np.zeros_like(complete)
            later[:, :-k] = complete[:, k:]
            complete = complete & later
    return days_to_hours(complete, index, n_t)


def product_fit_hours(
    ds: xr.Dataset,
    raw: np.ndarray,
    ts: np.ndarray,
    rain: np.ndarray,
    screen: str,
    min_hours: int,
) -> np.ndarray:
    """The hours the product's artefact is fitted on: the rain-free hours of every source, or,
    at a station they leave too few, those of the station's own screen.

    The ``strict`` screen flags a day that any source calls rainy -- the station's gauge or
    SM tendency, and the reanalysis' precipitation over its cell -- and the days around it. In
    a wet climate the union of three sources can leave a station fewer than ``min_hours``
    rain-free hours, and a station with too few is left raw with its whole artefact (the twin's
    temperate_maritime: 192 hours at one station, 552 by its own screen). There the fit takes
    the hours that the station's own evidence (gauge, else SM tendency) calls rain-free, where
    that gives more; the flags of the product stay those of ``rain``. Logged per station.

    Parameters
    ----------
    ds : xarray.Dataset
        The cube (``sm``, ``lon``, the precipitation series of the screen).
    raw, ts : numpy.ndarray, shape (station, time)
        Measured SM (m3 m-3) and the artefact's TS (degC): an hour counts where both are finite.
    rain : numpy.ndarray of bool, shape (station, time)
        Rain-affected hours of every source (:func:`smlib.method.correct.rain_affected_hours`).
    screen : str
        The rain screen of ``rain`` (``correct.rain_screen``).
    min_hours : int
        Fewest fitted hours of a station (``correct.min_rule_hours``).

    Returns
    -------
    numpy.ndarray of bool, shape (station, time)
        ``~rain``, with the rows of such stations replaced.
    """
    from smlib.method.screens import rain_flags

    free = ~np.asarray(rain, dtype=bool)
    usable = np.isfinite(raw) & np.isfinite(ts)
    count = (free & usable).sum(axis=1)
    regional = [v for v in ("era5_precip", "merra2_precip") if v in ds]
    short = np.flatnonzero((count < min_hours) & usable.any(axis=1))
    if screen == "none" or not regional or short.size == 0:
        return free
    sub = ds.isel(station=short).drop_vars(regional)
    flags = rain_flags(sub, PreprocessConfig(rain_screen=screen))
    own = ~(flags["insitu"] | flags["era5"] | flags["merra2"])
    for row, s in enumerate(short):
        n_own = int((own[row] & usable[s]).sum())
        if n_own > count[s]:
            log.info(
                "station %s: the %s rain screen of every source leaves %d rain-free hours "
                "(fewer than %d); its artefact is fitted on the %d hours its own gauge or SM "
                "tendency calls rain-free (flags unchanged)",
                ds["station"].values[s], screen, count[s], min_hours, n_own,
            )  # fmt: skip
            free[s] = own[row]
    return free


# --------------------------------------------------------------------------- application
