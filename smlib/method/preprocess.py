"""Preprocessing of the station cube for the LSTM (paper section 3.1.1): the features and
the prepared arrays (:func:`prepare`), built from the screens, the decomposition and the scaling
in their own modules.

Steps, each a numpy kernel on ``(station, time)`` arrays with a thin xarray wrapper where it is
useful on its own:

1. **Rain screening** (:func:`~smlib.method.screens.rain_flags`). The paper's screen: an in-situ local day is rainy
   when its daily SM tendency, the difference of its daily mean from the previous day's,

   .. math:: \\Delta\\overline{SM}_d = \\overline{SM}_d - \\overline{SM}_{d-1}
             > k\\,\\sigma(\\Delta\\overline{SM}) ,\\qquad k = 0.5,

   with :math:`\\sigma` taken over the station's record; a reanalysis day is rainy when that
   product's daily precipitation exceeds 0.1 mm. Each screen masks only its own source (in-situ
   SM and TS; ERA5-Land variables; MERRA-2 variables). The ``strict`` option of the
   configuration unites every screen (and an in-situ gauge ``precip`` where present), widens it
   by ``widen_days`` on each side and masks every variable (docs/architecture.md and the
   project brief, "a pitfall worth measuring").
2. **Frequency separation** (:mod:`~smlib.method.decomposition`): LF is a 24-h moving
   average, HF = x - LF. An even window has no centre sample; ``centred`` (the default) averages
   ``x[t-12 .. t+11]`` like ``pandas.Series.rolling(24, center=True)``, ``symmetric`` is the
   2x24 average (25 taps, half weight at ``t-12`` and ``t+12``), ``trailing`` the causal mean of
   ``x[t-23 .. t]``. All three remove a 24-h periodic signal exactly. LF is NaN unless the whole
   window is finite, so screened days widen into ~12-h NaN margins.
3. **Features** in the paper's order (:data:`FEATURE_SETS`): ``paper14`` = ISMN TS LF/HF,
   ERA5-Land SM, TS, LH LF/HF, MERRA-2 SM, TS, LH LF/HF; ``insitu`` = ISMN TS LF/HF and the local
   solar time of day as sine/cosine; ablation sets and ``preprocess.drop_features``.
4. **Training filter** (:func:`~smlib.method.screens.daily_correlation`): target local days with R(SM, TS) < -0.34.
5. **Min-max scaling** (:class:`~smlib.method.scaling.MinMaxScaler`) fitted on training windows only.
6. **Windows** (:func:`~smlib.method.scaling.window_view`): 18-h input sequences ``t-17 .. t`` as strided views.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import bottleneck as bn
import numpy as np
import pandas as pd
import xarray as xr

from smlib.config import PreprocessConfig
from smlib.method.decomposition import moving_average
from smlib.method.screens import daily_correlation_kernel, rain_flags, source_of, station_array
from smlib.timeutils import (
    days_to_hours,
    hourly_index,
    local_days,
    solar_offset_hours,
)

__all__ = [
    "FEATURE_SETS",
    "fill_short_gaps",
    "hold_lf",
    "feature_names",
    "Prepared",
    "prepare",
    "training_stations",
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


def hold_lf(lf: np.ndarray, sm: np.ndarray, max_h: int) -> np.ndarray:
    """Extend a low-frequency part to the hours near the ends of an SM run, along its own slope.

    An hour ``t`` with a finite ``sm`` but a NaN ``lf`` (its moving-average window reaches
    past the end of an SM run) takes the ``lf`` of the nearest hour ``u`` with a finite
    ``lf``, when ``|t - u| <= max_h`` and ``sm`` is finite on every hour between them (never
    across a gap, where a rain step may hide); ties take the earlier hour. The LF is a 24-h
    mean: the nearest complete mean estimates it without the diurnal bias that a mean over a
    partial window has. It is extrapolated along the slope of the LF over the ``max_h`` hours
    on the run's side of ``u`` (``u`` to ``u + max_h`` at a run's start, ``u - max_h`` to ``u``
    at its end), where those hours are in the same run with a finite LF; else carried flat. A
    flat LF leaves a ramp where the soil dries or wets, and records that are cut at day
    boundaries (ISMN's complete-day rule) lock that ramp to the time of day: on the skill
    benchmark's worlds it cost the network's series up to 0.28 of its HF correlation.

    Parameters
    ----------
    lf, sm : numpy.ndarray, shape (..., time)
        Low-frequency part and the (gap-filled) series it was computed from.
    max_h : int
        Farthest hour an LF is carried; 0 returns ``lf`` unchanged. The value of hour ``t``
        may depend on the LF up to ``2 * max_h`` hours ahead.

    Returns
    -------
    numpy.ndarray
        Same shape and dtype as ``lf``.

    Examples
    --------
    >>> sm = np.array([np.nan, 1.0, 1.0, 1.0, 1.0, 1.0, np.nan, 1.0])
    >>> lf = np.array([np.nan, np.nan, 2.0, 3.0, np.nan, np.nan, np.nan, np.nan])
    >>> hold_lf(lf, sm, 1)
    array([nan,  1.,  2.,  3.,  4., nan, nan, nan])
    >>> hold_lf(np.array([np.nan, np.nan, 2.0, np.nan]), np.ones(4), 1)  # no slope: flat
    array([nan,  2.,  2.,  2.])
    """
    if max_h <= 0:
        return lf
    shape = lf.shape
    lf2 = lf.reshape(-1, shape[-1])
    sm2 = sm.reshape(-1, shape[-1])
    out = lf2.copy()
    n_t = shape[-1]
    idx = np.arange(n_t)
    todo = np.isnan(lf2) & np.isfinite(sm2)
    for i in np.flatnonzero(todo.any(1) & np.isfinite(lf2).any(1)):
        ok = np.isfinite(lf2[i])
        run = np.cumsum(~np.isfinite(sm2[i]))  # one id per run of finite SM
        prev = np.maximum.accumulate(np.where(ok, idx, -1))
        nxt = np.minimum.accumulate(np.where(ok, idx, n_t)[::-1])[::-1]
        p_ok = (prev >= 0) & (idx - prev <= max_h)
        p_ok[p_ok] &= run[prev[p_ok]] == run[p_ok]
        n_ok = (nxt < n_t) & (nxt - idx <= max_h)
        n_ok[n_ok] &= run[nxt[n_ok]] == run[n_ok]
        use_prev = p_ok & (~n_ok | (idx - prev <= nxt - idx))
        use_next = n_ok & ~use_prev
        for take, step in ((todo[i] & use_prev, -max_h), (todo[i] & use_next, max_h)):
            t = np.flatnonzero(take)
            src = prev[t] if step < 0 else nxt[t]
            far = src + step
            inside = (far >= 0) & (far < n_t)
            slope = np.zeros(t.size)
            fi = far[inside]
            sloped = np.isfinite(lf2[i, fi]) & (run[fi] == run[src[inside]])
            slope[np.flatnonzero(inside)[sloped]] = (
                lf2[i, src[inside][sloped]] - lf2[i, fi[sloped]]
            ) / -step
            out[i, t] = lf2[i, src] + slope * (t - src)
    return out.reshape(shape)


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
    lf_carried : numpy.ndarray of bool, shape (station, time)
        Hours whose ``sm_lf`` was carried from a run's nearest complete mean
        (``lf_hold_h``, :func:`hold_lf`); all False without it.
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
    lf_carried: np.ndarray | None = None

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
    time = hourly_index(ds["time"].values, "station cube", hint="reindex the cube first")
    lon = ds["lon"].values
    n_st, n_t = ds.sizes["station"], ds.sizes["time"]
    screen = training or cfg.screen_at_inference
    flags = rain_flags(ds, cfg) if screen else None

    def screened(var: str) -> np.ndarray:
        a = station_array(ds, var)
        if flags is not None:
            a[flags[source_of(var)]] = np.nan
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
    observed = np.isfinite(station_array(ds, "sm"))
    sm = screened("sm")
    sm_lf = moving_average(sm, cfg.lf_window_h, cfg.lf_centering)
    lf_carried = np.zeros(sm_lf.shape, dtype=bool)
    if not training and cfg.lf_hold_h:
        lf_carried = ~np.isfinite(sm_lf)
        sm_lf = hold_lf(sm_lf, sm, cfg.lf_hold_h)
        lf_carried &= np.isfinite(sm_lf)
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
        r_ok = days_to_hours(good, index, n_t)
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
        lf_carried=lf_carried,
    )
