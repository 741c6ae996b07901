"""The night-slope baseline ``chanzy``: a per-probe temperature slope from the night window.

Chanzy, Gaudu & Marloie (2012, *Sensors* 12:9773) found the dielectric reading of a soil
linear in temperature at a given water content, with a slope that differs from probe to probe,
and estimated each probe's slope from its own diurnal cycle: over a window of the day in which
the water content's course can be assumed, what the reading does beyond it is the
temperature's part. This baseline takes the window where that assumption is safest for the top
soil -- the night (20:00-05:00 local solar time; evaporation has stopped and drainage is slow,
so the true SM is close to a straight line) -- and fits one slope per probe over all its
rain-free nights: the measured SM and TS, each less its own straight line within each night
(:func:`smlib.method.night_window.detrend_within_nights`), regressed through the origin,

.. math:: \\alpha = \\frac{\\sum_n \\sum_{t \\in n} \\tilde\\theta(t)\\,\\tilde T(t)}
                       {\\sum_n \\sum_{t \\in n} \\tilde T(t)^2},
   \\qquad \\theta_{chanzy}(t) = \\theta(t) - \\alpha\\, T_{HF}(t),

the pooled least-squares slope (each night weighted by its own temperature variance). As the
``lin`` baseline (:func:`smlib.method.compensation.linear_compensation_kernel`) it removes
:math:`\\alpha` times the TS HF at every hour with one, so the two differ only in where the
slope is estimated: ``lin`` regresses whole rain-free days and so takes a true diurnal cycle
that follows TS (evaporation by day) for artefact; the night slope does not see it, but sees
only the nights' weaker and differently shaped cooling, and a sensing element whose
temperature lags the soil's is outside both (one same-hour slope).

This is a baseline after the paper's idea, not its code: the window, the pooling over nights
and the HF form of the correction are ours. The default product's fit uses the same night
equations with lagged TS and beside the signal estimates (:mod:`smlib.method.lagged_artefact`).
"""

from __future__ import annotations

import logging

import numpy as np
import xarray as xr

from smlib.method.compensation import apply_coefficients, temperature_regressors
from smlib.method.night_window import (
    MIN_NIGHTS,
    NIGHT_LENGTH_H,
    NIGHT_START_H,
    detrend_within_nights,
    night_index,
    night_min_hours,
)

__all__ = ["night_slope_kernel", "night_slope_compensation"]

log = logging.getLogger(__name__)


def night_slope_kernel(
    sm: np.ndarray,
    ts: np.ndarray,
    night: np.ndarray,
    rain_free: np.ndarray,
    lf_window_h: int = 24,
    min_hours_per_night: int = night_min_hours(),
    min_nights: int = MIN_NIGHTS,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The night-slope compensation (module docstring).

    Parameters
    ----------
    sm : numpy.ndarray, shape (station, time)
        Measured SM, m3 m-3.
    ts : numpy.ndarray, shape (station, time)
        Soil temperature of the same probe, degC.
    night : numpy.ndarray of int, shape (station, time)
        :func:`smlib.method.night_window.night_index` (-1 outside the window).
    rain_free : numpy.ndarray of bool, shape (station, time)
        Hours of the station's rain-free days (only their nights enter).
    lf_window_h : int
        Moving-average length separating LF and HF, hours.
    min_hours_per_night : int
        Fewest usable hours of a night that enters.
    min_nights : int
        Fewest usable nights; stations below keep NaN (no slope).

    Returns
    -------
    sm_chanzy : numpy.ndarray of float32, shape (station, time)
        Compensated SM, m3 m-3; NaN where TS HF or the station's slope is missing.
    alpha : numpy.ndarray, shape (station,)
        Night slopes, m3 m-3 K-1 (NaN: too few nights, or no temperature change within them).
    n_nights : numpy.ndarray of int, shape (station,)
        Nights that entered.

    Examples
    --------
    A probe reading 0.002 m3 m-3 more per K on a soil that dries by day only (the ``lin``
    baseline takes part of the drying for artefact; the nights see the slope alone):

    >>> from smlib.method.night_window import night_index
    >>> t = np.arange("2020-06-01", "2020-07-11", dtype="datetime64[h]")
    >>> h = np.arange(t.size) % 24
    >>> ts = (20 + 8 * np.sin(2 * np.pi * (h - 9) / 24))[None, :]
    >>> day = (h >= 6) & (h < 18)
    >>> true = 0.30 - 0.0004 * np.cumsum(np.where(day, np.sin(np.pi * (h - 6) / 12), 0.0))
    >>> sm = (true + 0.002 * (ts[0] - 20))[None, :]
    >>> night = night_index(t, np.array([0.0]))
    >>> out, alpha, n = night_slope_kernel(sm, ts, night, np.ones_like(sm, bool))
    >>> round(float(alpha[0]), 5), int(n[0])
    (0.002, 39)
    >>> from smlib.method.compensation import linear_compensation_kernel
    >>> round(float(linear_compensation_kernel(sm, ts, np.ones_like(sm, bool))[1][0]), 5)
    0.00192
    """
    sm = np.asarray(sm, dtype=np.float32)
    ts = np.asarray(ts, dtype=np.float32)
    n_st = sm.shape[0]
    alpha = np.full(n_st, np.nan)
    n_nights = np.zeros(n_st, dtype=np.int64)
    for s in range(n_st):
        usable = np.asarray(rain_free[s], bool) & np.isfinite(sm[s]) & np.isfinite(ts[s])
        (r_sm, r_ts), rows = detrend_within_nights(
            [sm[s], ts[s]], night[s], usable, min_hours_per_night
        )
        n_nights[s] = np.unique(night[s][rows]).size if rows.size else 0
        sxx = float(r_ts @ r_ts)
        if n_nights[s] >= min_nights and sxx > 0:
            alpha[s] = float(r_sm @ r_ts) / sxx
    ts_hf, _ = temperature_regressors(ts, lf_window_h)
    return apply_coefficients(sm, [ts_hf], alpha[:, None]), alpha, n_nights


def night_slope_compensation(
    ds: xr.Dataset,
    rain_free: np.ndarray,
    window_h: tuple[int, int] = (NIGHT_START_H, NIGHT_LENGTH_H),
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`night_slope_kernel` of a station cube (wrapped as variables by
    :func:`smlib.method.baselines.per_probe_baseline`).

    Parameters
    ----------
    ds : xarray.Dataset
        Station cube (``sm``, ``ts``, ``lon``; dims station, time).
    rain_free : numpy.ndarray of bool, shape (station, time)
        Hours of rain-free days.
    window_h : (int, int)
        First hour (local solar time) and length of the night window, hours
        (``correct.night_window_h``).

    Returns
    -------
    sm_chanzy : numpy.ndarray of float32, shape (station, time)
        m3 m-3.
    alpha : numpy.ndarray, shape (station,)
        The slopes, m3 m-3 K-1 (NaN: fewer than :data:`~smlib.method.night_window.MIN_NIGHTS`
        usable nights; counted in the log).
    """
    sm = np.asarray(ds["sm"].transpose("station", "time").values, dtype=np.float32)
    ts = np.asarray(ds["ts"].transpose("station", "time").values, dtype=np.float32)
    start, length = window_h
    night = night_index(ds["time"].values, np.asarray(ds["lon"].values, float), start, length)
    out, alpha, _ = night_slope_kernel(
        sm, ts, night, rain_free, min_hours_per_night=night_min_hours(length)
    )
    if np.isnan(alpha).any():
        log.info(
            "chanzy: %d of %d stations have fewer than %d usable rain-free nights (or no TS "
            "change within them): no slope, left raw", int(np.isnan(alpha).sum()), alpha.size,
            MIN_NIGHTS,
        )  # fmt: skip
    return out, alpha
