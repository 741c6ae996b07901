"""Temperature compensation of a probe: the practitioner's baseline and the rain-hour rule.

Two corrections that remove a *temperature-coherent* part from the measured soil moisture and
keep everything else (rain steps, drainage) as measured:

``lin`` -- per-probe linear compensation (baseline)
    What a practitioner tries first, in the manner of Cobos & Campbell (2007, *Correcting
    temperature sensitivity of ECH2O soil moisture sensors*, Decagon application note 800-12)
    and Rosenbaum et al. (2011, *Vadose Zone J.* 10:582, per-unit temperature coefficients):
    for each station, the slope :math:`b` of the least-squares fit of the SM high-frequency part
    on the soil-temperature high-frequency part over the station's own rain-free days, and

    .. math:: \\theta_{lin}(t) = \\theta(t) - b\\, T_{HF}(t).

    The fit cannot tell the artefact from a true diurnal SM cycle that covaries with
    temperature, so :math:`b` is biased low where evaporation dries the soil by day; that is
    the baseline's known weakness, kept on purpose.

``artefact`` rule -- the LSTM product's rule for rain-affected and input-less hours
    Where the network corrected a station, the difference between the raw and the corrected
    HF *is* the network's estimate of the artefact. Regressing it on :math:`T_{HF}` and its
    tendency :math:`\\partial_t T_{HF}` (a first-order thermal lag :math:`\\tau` of the sensing
    element gives :math:`T_{el} \\approx T - \\tau\\,\\partial_t T`) yields per-station
    coefficients that are applied on the hours the network is not trusted with:

    .. math:: \\theta_{rule}(t) = \\theta(t) - b_1 T_{HF}(t) - b_2\\, \\partial_t T_{HF}(t).

Both are numpy kernels on ``(station, time)`` arrays.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from smlib.method.decomposition import moving_average
from smlib.method.preprocess import fill_short_gaps

__all__ = [
    "same_hour_mean",
    "temperature_regressors",
    "fit_coefficients",
    "apply_coefficients",
    "linear_compensation_kernel",
]


def same_hour_mean(x: np.ndarray, half_width_days: int) -> np.ndarray:
    """Mean of each hour and the same hour of the ``half_width_days`` days on either side.

    A running diurnal composite: it keeps the slow evolution of a diurnal cycle (season,
    wetness) and averages out what differs from day to day (noise, a model's daily errors).

    Parameters
    ----------
    x : numpy.ndarray, shape (station, time)
        Hourly series (NaN = missing, ignored).
    half_width_days : int
        0 returns ``x``.

    Returns
    -------
    numpy.ndarray of float32, shape (station, time)
        NaN where no day in the window has a value.

    Examples
    --------
    >>> same_hour_mean(np.repeat(np.arange(3.0), 24)[None, :], 1)[0, ::24]
    array([0.5, 1. , 1.5], dtype=float32)
    """
    if half_width_days <= 0:
        return x
    n = x.shape[-1]
    total = np.zeros(x.shape, dtype=np.float64)
    count = np.zeros(x.shape, dtype=np.int32)
    for k in range(-half_width_days, half_width_days + 1):
        shift = 24 * k
        if abs(shift) >= n:
            continue
        src = x[..., max(shift, 0) : n + min(shift, 0)]
        ok = np.isfinite(src)
        dst = slice(max(-shift, 0), n - max(shift, 0))
        total[..., dst] += np.where(ok, src, 0.0)
        count[..., dst] += ok
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / count, np.nan).astype(np.float32)


def temperature_regressors(
    ts: np.ndarray, lf_window_h: int = 24, centering: str = "centred", max_gap_h: int = 3
) -> tuple[np.ndarray, np.ndarray]:
    """HF of soil temperature and its centred hourly tendency.

    Parameters
    ----------
    ts : numpy.ndarray, shape (station, time)
        Soil temperature, degC (NaN = missing).
    lf_window_h, centering
        As :func:`smlib.method.decomposition.moving_average`.
    max_gap_h : int
        Short gaps filled first (:func:`smlib.method.preprocess.fill_short_gaps`).

    Returns
    -------
    ts_hf, ts_dhf : numpy.ndarray of float32, shape (station, time)
        K and K h-1.
    """
    ts = fill_short_gaps(np.asarray(ts, dtype=np.float32), max_gap_h)
    lf = moving_average(ts, lf_window_h, centering)
    # next to a gap the 24-h mean is undefined; the daily mean temperature changes slowly, so
    # the nearest defined LF (at most half a window away) stands in for it there
    reach = lf_window_h // 2
    lf = pd.DataFrame(lf.T).ffill(limit=reach).bfill(limit=reach).to_numpy().T
    hf = ts - lf
    dhf = np.full_like(hf, np.nan)
    dhf[:, 1:-1] = 0.5 * (hf[:, 2:] - hf[:, :-2])
    dhf[:, 1:-1] = np.where(np.isnan(dhf[:, 1:-1]), hf[:, 2:] - hf[:, 1:-1], dhf[:, 1:-1])
    dhf[:, 1:-1] = np.where(np.isnan(dhf[:, 1:-1]), hf[:, 1:-1] - hf[:, :-2], dhf[:, 1:-1])
    return hf.astype(np.float32), dhf.astype(np.float32)


def fit_coefficients(
    y: np.ndarray, regressors: list[np.ndarray], keep: np.ndarray, min_hours: int = 240
) -> np.ndarray:
    """Per-station least-squares coefficients of ``y`` on ``regressors`` (with an intercept).

    Parameters
    ----------
    y : numpy.ndarray, shape (station, time)
    regressors : list of numpy.ndarray, each shape (station, time)
    keep : numpy.ndarray of bool, shape (station, time)
        Hours that enter the fit (all of ``y`` and the regressors must be finite there too).
    min_hours : int
        Stations with fewer usable hours get NaN coefficients.

    Returns
    -------
    numpy.ndarray, shape (station, len(regressors))
        Slopes (the intercept is dropped: it is absorbed by the LF).
    """
    n_st = y.shape[0]
    k = len(regressors)
    coef = np.full((n_st, k), np.nan)
    ok = keep & np.isfinite(y)
    for r in regressors:
        ok &= np.isfinite(r)
    for s in range(n_st):
        m = ok[s]
        if m.sum() < max(min_hours, k + 2):
            continue
        a = np.column_stack([np.ones(int(m.sum()))] + [r[s, m] for r in regressors])
        sol, *_ = np.linalg.lstsq(a.astype(np.float64), y[s, m].astype(np.float64), rcond=None)
        coef[s] = sol[1:]
    return coef


def apply_coefficients(
    sm: np.ndarray, regressors: list[np.ndarray], coef: np.ndarray
) -> np.ndarray:
    """``sm - sum_k coef[:, k] * regressors[k]``, clipped at 0 m3 m-3 (NaN where any is NaN)."""
    out = np.asarray(sm, dtype=np.float64).copy()
    for j, r in enumerate(regressors):
        out -= coef[:, j : j + 1] * r
    return np.maximum(out, 0.0).astype(np.float32)


def linear_compensation_kernel(
    sm: np.ndarray,
    ts: np.ndarray,
    rain_free: np.ndarray,
    lf_window_h: int = 24,
    min_hours: int = 240,
) -> tuple[np.ndarray, np.ndarray]:
    """The per-probe linear compensation ``lin`` (module docstring).

    Parameters
    ----------
    sm : numpy.ndarray, shape (station, time)
        Measured SM, m3 m-3.
    ts : numpy.ndarray, shape (station, time)
        Soil temperature of the same probe, degC.
    rain_free : numpy.ndarray of bool, shape (station, time)
        Hours of the station's rain-free days (the fit uses only these).
    lf_window_h : int
        Moving-average length separating LF and HF, hours.
    min_hours : int
        Fewest fitted hours; stations below keep NaN.

    Returns
    -------
    sm_lin : numpy.ndarray of float32, shape (station, time)
        Compensated SM, m3 m-3; NaN where TS HF or the station's coefficient is missing.
    b : numpy.ndarray, shape (station,)
        Fitted temperature coefficients, m3 m-3 K-1.

    Examples
    --------
    >>> t = np.arange(24 * 40)
    >>> ts = (20 + 8 * np.sin(2 * np.pi * t / 24))[None, :]
    >>> sm = 0.25 + 0.002 * (ts - 20)             # a pure artefact of 0.002 m3 m-3 K-1
    >>> out, b = linear_compensation_kernel(sm, ts, np.ones_like(sm, bool))
    >>> round(float(b[0]), 4), round(float(np.nanstd(out)), 5)
    (0.002, 0.0)
    """
    sm = np.asarray(sm, dtype=np.float32)
    ts_hf, _ = temperature_regressors(ts, lf_window_h)
    sm_hf = sm - moving_average(sm, lf_window_h, "centred")
    coef = fit_coefficients(sm_hf, [ts_hf], rain_free, min_hours)
    return apply_coefficients(sm, [ts_hf], coef), coef[:, 0]
