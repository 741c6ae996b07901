"""Preprocessing of the station cube for the LSTM (paper section 3.1.1).

Steps, each a numpy kernel on ``(station, time)`` arrays with a thin xarray wrapper where it is
useful on its own:

1. **Rain screening** (:func:`rain_flags`). The paper's screen: an in-situ local day is rainy
   when its daily SM tendency, the difference of its daily mean from the previous day's,

   .. math:: \\Delta\\overline{SM}_d = \\overline{SM}_d - \\overline{SM}_{d-1}
             > k\\,\\sigma(\\Delta\\overline{SM}) ,\\qquad k = 0.5,

   with :math:`\\sigma` taken over the station's record; a reanalysis day is rainy when that
   product's daily precipitation exceeds 0.1 mm. Each screen masks only its own source (in-situ
   SM and TS; ERA5-Land variables; MERRA-2 variables). The ``strict`` option of the
   configuration unites every screen (and an in-situ gauge ``precip`` where present), widens it
   by ``widen_days`` on each side and masks every variable (docs/architecture.md and the project brief, "a pitfall worth
   measuring").
2. **Frequency separation** (:func:`moving_average`, :func:`decompose`): LF is a 24-h moving
   average, HF = x - LF. An even window has no centre sample; ``centred`` (the default) averages
   ``x[t-12 .. t+11]`` like ``pandas.Series.rolling(24, center=True)``, ``symmetric`` is the
   2x24 average (25 taps, half weight at ``t-12`` and ``t+12``), ``trailing`` the causal mean of
   ``x[t-23 .. t]``. All three remove a 24-h periodic signal exactly. LF is NaN unless the whole
   window is finite, so screened days widen into ~12-h NaN margins.
3. **Features** in the paper's order (:data:`FEATURE_SETS`): ``paper14`` = ISMN TS LF/HF,
   ERA5-Land SM, TS, LH LF/HF, MERRA-2 SM, TS, LH LF/HF; ``insitu`` = ISMN TS LF/HF and the local
   solar time of day as sine/cosine; ablation sets and ``preprocess.drop_features``.
4. **Training filter** (:func:`daily_correlation`): target local days with R(SM, TS) < -0.34.
5. **Min-max scaling** (:class:`MinMaxScaler`) fitted on training windows only.
6. **Windows** (:func:`window_view`): 18-h input sequences ``t-17 .. t`` as strided views.
"""

from __future__ import annotations

import json
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import bottleneck as bn
import numpy as np
import pandas as pd
import xarray as xr

from smlib.config import PreprocessConfig
from smlib.timeutils import hourly_index, solar_offset_hours

__all__ = [
    "FEATURE_SETS",
    "moving_average",
    "lf_reach",
    "decompose",
    "local_days",
    "daily_correlation_kernel",
    "daily_correlation",
    "rain_flags",
    "fill_short_gaps",
    "feature_names",
    "Prepared",
    "prepare",
    "training_stations",
    "MinMaxScaler",
    "window_view",
]

log = logging.getLogger(__name__)

_PAPER14 = (
    "ts_lf", "ts_hf",
    "era5_sm_lf", "era5_sm_hf", "era5_ts_lf", "era5_ts_hf", "era5_lh_lf", "era5_lh_hf",
    "merra2_sm_lf", "merra2_sm_hf", "merra2_ts_lf", "merra2_ts_hf", "merra2_lh_lf", "merra2_lh_hf",
)  # fmt: skip

#: Named feature sets; each entry is ``<cube variable>_lf|_hf`` or ``tod_sin``/``tod_cos``.
FEATURE_SETS: dict[str, tuple[str, ...]] = {
    "paper14": _PAPER14,
    "insitu": ("ts_lf", "ts_hf", "tod_sin", "tod_cos"),
    "paper14_tod": (*_PAPER14, "tod_sin", "tod_cos"),
    "no_era5": tuple(f for f in _PAPER14 if not f.startswith("era5_")),
    "no_merra2": tuple(f for f in _PAPER14 if not f.startswith("merra2_")),
    "hf_only": tuple(f for f in _PAPER14 if f.endswith("_hf")),
    "no_lh": tuple(f for f in _PAPER14 if "_lh_" not in f),
}

_SOURCES = {"insitu": ("sm", "ts"), "era5": ("era5_",), "merra2": ("merra2_",)}


def feature_names(cfg: PreprocessConfig) -> tuple[str, ...]:
    """Feature names of ``cfg.feature_set`` minus ``cfg.drop_features``, in model input order."""
    if cfg.feature_set not in FEATURE_SETS:
        raise KeyError(
            f"unknown feature set {cfg.feature_set!r}; choose one of {sorted(FEATURE_SETS)}"
        )
    base = FEATURE_SETS[cfg.feature_set]
    unknown = set(cfg.drop_features) - set(base)
    if unknown:
        raise KeyError(f"drop_features {sorted(unknown)} not in feature set {cfg.feature_set!r}")
    names = tuple(f for f in base if f not in cfg.drop_features)
    if not names:
        raise ValueError("every feature was dropped")
    return names


# --------------------------------------------------------------------------- decomposition
def lf_reach(window: int = 24, centering: str = "centred") -> tuple[int, int]:
    """Hours before and after ``t`` that the moving average at ``t`` uses.

    Returns
    -------
    (back, forward) : tuple of int
        ``(12, 11)`` for ``centred``, ``(12, 12)`` for ``symmetric``, ``(23, 0)`` for
        ``trailing`` with a 24-h window. ``forward`` is the latency of a streaming correction.
    """
    if centering == "centred":
        return window // 2, window - 1 - window // 2
    if centering == "symmetric":
        return window // 2, window // 2
    if centering == "trailing":
        return window - 1, 0
    raise ValueError(f"unknown centering {centering!r}")


def moving_average(x: np.ndarray, window: int = 24, centering: str = "centred") -> np.ndarray:
    """Moving average along the last axis; NaN unless every sample of the window is finite.

    Parameters
    ----------
    x : numpy.ndarray, shape (..., time)
        Hourly values.
    window : int
        Window length, hours.
    centering : {"centred", "symmetric", "trailing"}
        See the module docstring; :func:`lf_reach` gives the reach of each.

    Returns
    -------
    numpy.ndarray, same shape and dtype as ``x`` (float)
        Computed in float64 with :func:`bottleneck.move_mean`, vectorised over leading axes.

    Examples
    --------
    >>> t = np.arange(96.0)
    >>> lf = moving_average(np.sin(2 * np.pi * t / 24) + 3.0)
    >>> bool(np.allclose(lf[12:-12], 3.0))
    True
    """
    x = np.asarray(x)
    out_dtype = np.result_type(x.dtype, np.float32)
    if x.shape[-1] < window:  # no complete window anywhere
        return np.full(x.shape, np.nan, dtype=out_dtype)
    trailing = bn.move_mean(x.astype(np.float64), window=window, min_count=window, axis=-1)
    out = np.full(x.shape, np.nan, dtype=np.float64)
    n = x.shape[-1]
    if centering == "trailing":
        out = trailing
    else:
        back, fwd = lf_reach(window, "centred")
        # trailing[t + fwd] averages x[t - back .. t + fwd]
        if n > fwd:
            out[..., : n - fwd] = trailing[..., fwd:]
        if centering == "symmetric" and window % 2 == 0:
            # mean of the windows ending at t+fwd and t+fwd+1 = 2 x window average
            nxt = np.full(x.shape, np.nan, dtype=np.float64)
            if n > fwd + 1:
                nxt[..., : n - fwd - 1] = trailing[..., fwd + 1 :]
            out = 0.5 * (out + nxt)
        elif centering not in ("centred", "symmetric"):
            raise ValueError(f"unknown centering {centering!r}")
    return out.astype(out_dtype)


def decompose(
    da: xr.DataArray, window: int = 24, centering: str = "centred"
) -> tuple[xr.DataArray, xr.DataArray]:
    """Split a ``(..., time)`` DataArray into low- and high-frequency parts.

    .. math:: x_\\mathrm{LF} = \\overline{x}^{(24\\,\\mathrm{h})},\\qquad x_\\mathrm{HF} = x - x_\\mathrm{LF}

    Dask-backed input is processed chunk by chunk along the other dimensions (``time`` must be
    a single chunk).
    """
    lf = xr.apply_ufunc(
        moving_average,
        da,
        input_core_dims=[["time"]],
        output_core_dims=[["time"]],
        kwargs={"window": window, "centering": centering},
        dask="parallelized",
        output_dtypes=[np.result_type(da.dtype, np.float32)],
    )
    units = da.attrs.get("units", "")
    name = da.attrs.get("long_name", da.name or "x")
    lf.attrs = {
        "units": units,
        "long_name": f"low-frequency part ({window}-h {centering} mean) of {name}",
    }
    hf = da - lf
    hf.attrs = {"units": units, "long_name": f"high-frequency part (x - LF) of {name}"}
    return lf, hf


# --------------------------------------------------------------------------- local days
def _check_hourly(time: np.ndarray) -> pd.DatetimeIndex:
    return hourly_index(time, "station cube", hint="reindex the cube first")


def _day_index(time: pd.DatetimeIndex, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index into ``time`` of hour ``h`` of common local day ``d`` for each station.

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
    t = _check_hourly(np.asarray(time))
    index, dates = _day_index(t, solar_offset_hours(np.atleast_1d(lon)))
    days = np.take_along_axis(
        x.astype(np.result_type(x.dtype, np.float32)),
        np.clip(index, 0, None).reshape(len(x), -1),
        1,
    ).reshape(index.shape)
    days[index < 0] = np.nan
    return days, dates, index


def _days_to_hours(flags: np.ndarray, index: np.ndarray, n_time: int) -> np.ndarray:
    """Scatter a (station, day) boolean back to (station, time) through ``index``."""
    out = np.zeros((index.shape[0], n_time), dtype=bool)
    per_hour = np.broadcast_to(flags[:, :, None], index.shape)
    s = np.broadcast_to(np.arange(index.shape[0])[:, None, None], index.shape)
    ok = index >= 0
    out[s[ok], index[ok]] = per_hour[ok]
    return out


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
    _, dates = _day_index(t, offs.values.reshape(-1))
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
    on every local day the gauge covers (:data:`smlib.cube.GAUGE_MIN_HOURS` hourly values),
    and the SM tendency on the other days; :func:`smlib.cube.insitu_rain_source` records that
    choice per station-day in the cube (``insitu_rain_source``).
    """
    from smlib.cube import rain_source_days

    time = ds["time"].values
    n_st, n_t = ds.sizes["station"], ds.sizes["time"]
    lon = ds["lon"].values
    if cfg.rain_screen == "none":
        z = np.zeros((n_st, n_t), dtype=bool)
        return {"insitu": z, "era5": z, "merra2": z}
    sm_days, _, index = local_days(_arr(ds, "sm"), time, lon)
    tendency = insitu_rain_days(sm_days, cfg.insitu_tendency_sd)
    gauge_days = local_days(_arr(ds, "precip"), time, lon)[0] if "precip" in ds else None
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
            pdays, _, _ = local_days(_arr(ds, var), time, lon)
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
        hourly = _days_to_hours(wide, index, n_t)
        log.info("strict rain screen: %d station-days masked (from %s)", int(wide.sum()), counts)
        return {"insitu": hourly, "era5": hourly, "merra2": hourly}
    log.info("paper rain screen, rainy station-days per source: %s", counts)
    return {k: _days_to_hours(v, index, n_t) for k, v in day_flags.items()}


def fill_short_gaps(x: np.ndarray, max_gap: int) -> np.ndarray:
    """Linearly interpolate NaN runs of at most ``max_gap`` hours along the last axis.

    Only gaps with a finite value on both sides are filled; longer gaps, leading and trailing
    NaN stay NaN.

    Parameters
    ----------
    x : numpy.ndarray, shape (..., time)
    max_gap : int
        Longest run of missing hours that is filled; 0 returns ``x`` unchanged.

    Returns
    -------
    numpy.ndarray
        Same shape and dtype as ``x`` (a copy when anything was filled).

    Examples
    --------
    >>> fill_short_gaps(np.array([1.0, np.nan, 3.0, np.nan, np.nan, np.nan, 7.0]), 2)
    array([ 1.,  2.,  3., nan, nan, nan,  7.])
    """
    if max_gap <= 0:
        return x
    flat = x.reshape(-1, x.shape[-1])
    out = flat.copy()
    n_t = flat.shape[1]
    idx = np.arange(n_t)
    for i in np.flatnonzero(np.isnan(flat).any(1) & np.isfinite(flat).any(1)):
        row = flat[i]
        ok = np.isfinite(row)
        # index of the previous / next finite sample of every hour
        prev = np.maximum.accumulate(np.where(ok, idx, -1))
        nxt = np.minimum.accumulate(np.where(ok, idx, n_t)[::-1])[::-1]
        gap = ~ok & (prev >= 0) & (nxt < n_t) & (nxt - prev - 1 <= max_gap)
        if gap.any():
            out[i, gap] = np.interp(idx[gap], idx[ok], row[ok])
    return out.reshape(x.shape)


def _arr(ds: xr.Dataset, var: str) -> np.ndarray:
    """A float32 (station, time) *copy* of ``ds[var]`` (callers mask it in place)."""
    return np.array(ds[var].transpose("station", "time").values, dtype=np.float32, copy=True)


def _source(var: str) -> str:
    for src, prefixes in _SOURCES.items():
        if var in prefixes or any(var.startswith(p) for p in prefixes if p.endswith("_")):
            return src
    return "insitu"


# --------------------------------------------------------------------------- prepared data
@dataclass
class Prepared:
    """Model-ready arrays of one cube (unscaled).

    Attributes
    ----------
    station : numpy.ndarray of str, shape (station,)
    time : pandas.DatetimeIndex, shape (time,)
    features : tuple of str
        Names of the last axis of ``x``.
    x : numpy.ndarray of float32, shape (station, time, feature), C-contiguous
    sm, sm_lf, sm_hf : numpy.ndarray of float32, shape (station, time)
        Target SM (m3 m-3) after screening, its LF and HF.
    valid_end : numpy.ndarray of bool, shape (station, time)
        Hours ``t`` whose whole input window is finite and whose SM LF is finite: the hours the
        model can correct. With ``lookahead_h = L`` row ``t`` of ``x`` holds the inputs of hour
        ``t + L``, so the window "ending at" ``t`` covers hours ``t-window_h+1+L .. t+L``.
    r_ok : numpy.ndarray of bool, shape (station, time)
        Hours on local days with R(SM, TS) < ``r_threshold`` (training filter).
    window_h : int
    """

    station: np.ndarray
    time: pd.DatetimeIndex
    features: tuple[str, ...]
    x: np.ndarray
    sm: np.ndarray
    sm_lf: np.ndarray
    sm_hf: np.ndarray
    valid_end: np.ndarray
    r_ok: np.ndarray
    window_h: int

    def training_mask(self) -> np.ndarray:
        """End hours usable as training samples: valid window, finite HF target, R filter."""
        return self.valid_end & np.isfinite(self.sm_hf) & self.r_ok


def training_stations(ds: xr.Dataset) -> np.ndarray:
    """Boolean (station,) mask of stations used for training: ISMN and not a reference."""
    kind = ds["kind"].values.astype(str) if "kind" in ds.coords or "kind" in ds else None
    ref = (
        ds["is_reference"].values.astype(bool)
        if "is_reference" in ds.coords or "is_reference" in ds
        else None
    )
    if kind is None or ref is None:
        raise KeyError("the cube needs 'kind' and 'is_reference' station coordinates")
    return (kind == "ismn") & ~ref


def prepare(ds: xr.Dataset, cfg: PreprocessConfig, *, training: bool) -> Prepared:
    """Screen, decompose and stack the features of a station cube.

    Parameters
    ----------
    ds : xarray.Dataset
        Station cube (docs/architecture.md): dims (station, time), hourly UTC, coordinate ``lon``.
    cfg : PreprocessConfig
    training : bool
        Apply the rain screen (always in training; at inference only if
        ``cfg.screen_at_inference``) and compute the R(SM, TS) filter.

    Returns
    -------
    Prepared

    Raises
    ------
    KeyError
        A variable the feature set needs is missing from the cube (the message lists them).
    """
    names = feature_names(cfg)
    needed = {"sm", "ts"} | {f.rsplit("_", 1)[0] for f in names if not f.startswith("tod_")}
    missing = sorted(v for v in needed if v not in ds)
    if missing:
        raise KeyError(
            f"the cube lacks {missing} needed by feature set {cfg.feature_set!r}; "
            "without reanalysis use --set preprocess.feature_set=insitu"
        )
    if "lon" not in ds.coords and "lon" not in ds:
        raise KeyError("the cube needs a 'lon' station coordinate")
    time = _check_hourly(ds["time"].values)
    lon = ds["lon"].values
    n_st, n_t = ds.sizes["station"], ds.sizes["time"]
    screen = training or cfg.screen_at_inference
    flags = rain_flags(ds, cfg) if screen else None

    def screened(var: str) -> np.ndarray:
        a = _arr(ds, var)
        if flags is not None:
            a[flags[_source(var)]] = np.nan
        return fill_short_gaps(a, cfg.max_gap_h)

    x = np.empty((n_st, n_t, len(names)), dtype=np.float32)
    cache: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    hour_local = None
    for j, name in enumerate(names):
        if name.startswith("tod_"):
            if hour_local is None:
                offs = solar_offset_hours(lon)
                hour_local = (time.hour.to_numpy()[None, :] + offs[:, None]) % 24
            ang = 2 * np.pi * hour_local / 24.0
            x[:, :, j] = np.sin(ang) if name == "tod_sin" else np.cos(ang)
            continue
        var, part = name.rsplit("_", 1)
        if var not in cache:
            a = screened(var)
            lf = moving_average(a, cfg.lf_window_h, cfg.lf_centering)
            cache[var] = (lf, a - lf)
        x[:, :, j] = cache[var][0] if part == "lf" else cache[var][1]
    observed = np.isfinite(_arr(ds, "sm"))
    sm = screened("sm")
    sm_lf = moving_average(sm, cfg.lf_window_h, cfg.lf_centering)
    sm_hf = sm - sm_lf
    sm_hf[~observed] = np.nan  # interpolated hours are inputs to the LF, never targets
    if cfg.lookahead_h:
        lead = cfg.lookahead_h
        x[:, :-lead] = x[:, lead:]
        x[:, n_t - lead :] = np.nan
    # a window ending at t is complete when every feature is finite on t-w+1 .. t
    finite = np.isfinite(x).all(-1)
    w = cfg.window_h
    if n_t >= w:
        complete = bn.move_sum(finite.astype(np.float32), window=w, min_count=w, axis=1) == w
    else:
        complete = np.zeros((n_st, n_t), dtype=bool)
    valid_end = complete & np.isfinite(sm_lf)
    if training:
        ts = screened("ts")
        r_days, _, index = local_days(sm, time.values, lon)
        ts_days, _, _ = local_days(ts, time.values, lon)
        r = daily_correlation_kernel(r_days, ts_days)
        good = np.nan_to_num(r < cfg.r_threshold, nan=False)
        if cfg.min_ts_range_k > 0:
            with warnings.catch_warnings():  # all-NaN days: range NaN, day dropped
                warnings.simplefilter("ignore", RuntimeWarning)
                rng_k = np.nanmax(ts_days, axis=-1) - np.nanmin(ts_days, axis=-1)
            good &= np.nan_to_num(rng_k >= cfg.min_ts_range_k, nan=False)
        r_ok = _days_to_hours(good, index, n_t)
    else:
        r_ok = np.ones((n_st, n_t), dtype=bool)
    return Prepared(
        station=ds["station"].values.astype(str),
        time=time,
        features=names,
        x=np.ascontiguousarray(x),
        sm=sm,
        sm_lf=sm_lf,
        sm_hf=sm_hf,
        valid_end=valid_end,
        r_ok=r_ok,
        window_h=w,
    )


# --------------------------------------------------------------------------- scaling, windows
@dataclass
class MinMaxScaler:
    """Min-max scaling of features and of the SM HF target, fitted on training data only.

    .. math:: x' = \\frac{x - x_\\min}{x_\\max - x_\\min}

    Attributes
    ----------
    features : tuple of str
    x_min, x_max : numpy.ndarray, shape (feature,)
    y_min, y_max : float
        Range of the SM HF target, m3 m-3.
    """

    features: tuple[str, ...]
    x_min: np.ndarray
    x_max: np.ndarray
    y_min: float
    y_max: float

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray, features: tuple[str, ...]) -> MinMaxScaler:
        """Fit on rows ``x`` of shape (n, feature) and targets ``y`` of shape (n,) (finite)."""
        if len(y) == 0:
            raise ValueError("cannot fit the scaler on an empty training set")
        x_min, x_max = np.nanmin(x, axis=0), np.nanmax(x, axis=0)
        flat = ~(x_max > x_min)
        if flat.any():
            log.warning(
                "constant features %s: scaled by 1",
                [f for f, c in zip(features, flat, strict=True) if c],
            )
            x_max = np.where(flat, x_min + 1.0, x_max)
        y_min, y_max = float(np.min(y)), float(np.max(y))
        if not y_max > y_min:
            y_max = y_min + 1.0
        return cls(
            tuple(features), x_min.astype(np.float64), x_max.astype(np.float64), y_min, y_max
        )

    def transform(self, x: np.ndarray) -> np.ndarray:
        """Scale features along the last axis (float32)."""
        return ((x - self.x_min) / (self.x_max - self.x_min)).astype(np.float32)

    def transform_target(self, y: np.ndarray) -> np.ndarray:
        """Scale SM HF (m3 m-3) to the normalised target."""
        return ((y - self.y_min) / (self.y_max - self.y_min)).astype(np.float32)

    def inverse_target(self, y: np.ndarray) -> np.ndarray:
        """Normalised target back to SM HF in m3 m-3."""
        return (np.asarray(y, dtype=np.float64) * (self.y_max - self.y_min) + self.y_min).astype(
            np.float32
        )

    def to_dict(self) -> dict:
        """JSON-ready dict."""
        return {
            "features": list(self.features),
            "x_min": [float(v) for v in self.x_min],
            "x_max": [float(v) for v in self.x_max],
            "y_min": self.y_min,
            "y_max": self.y_max,
        }

    @classmethod
    def from_dict(cls, d: dict) -> MinMaxScaler:
        """Inverse of :meth:`to_dict`."""
        return cls(
            tuple(d["features"]),
            np.asarray(d["x_min"]),
            np.asarray(d["x_max"]),
            float(d["y_min"]),
            float(d["y_max"]),
        )

    def save(self, path: str | Path) -> None:
        """Write JSON atomically."""
        from smlib.atomic import atomic_write_text

        atomic_write_text(Path(path), json.dumps(self.to_dict(), indent=1))

    @classmethod
    def load(cls, path: str | Path) -> MinMaxScaler:
        """Read a scaler written by :meth:`save`."""
        path = Path(path)
        try:
            return cls.from_dict(json.loads(path.read_text()))
        except (KeyError, json.JSONDecodeError) as err:
            raise ValueError(f"{path}: not a scaler file ({err})") from err


def window_view(x: np.ndarray, window: int = 18) -> np.ndarray:
    """Input windows as a strided view (no copy).

    Parameters
    ----------
    x : numpy.ndarray, shape (station, time, feature)
    window : int

    Returns
    -------
    numpy.ndarray, shape (station, time - window + 1, window, feature)
        ``view[s, t - window + 1]`` holds ``x[s, t - window + 1 .. t]``: the window *ending* at
        hour ``t``. Read-only view sharing memory with ``x``.
    """
    v = np.lib.stride_tricks.sliding_window_view(x, window, axis=1)  # (s, n, f, w)
    return np.moveaxis(v, -1, 2)
