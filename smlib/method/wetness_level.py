"""Kernels of a gain that follows the soil's wetness: the wetness level and the factor on the
artefact (:mod:`smlib.method.wetness_gain` fits the slope; every path that applies a station
table multiplies its artefact by :func:`wetness_factor`).

Numpy kernels on ``(station, time)`` arrays, no imports from the method: the product's
application (:func:`smlib.method.compensation.apply_guided_kernel`) uses them.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "WETNESS_WINDOW_H",
    "WETNESS_MIN_HOURS",
    "FACTOR_RANGE",
    "wetness_level",
    "wetness_factor",
]

#: Hours of the trailing mean that stands for the soil's wetness.
WETNESS_WINDOW_H = 24
#: Fewest measured hours in that window for a level (else the factor is 1 there).
WETNESS_MIN_HOURS = 12
#: Bounds of the factor on the artefact (a gain that changes more than twofold is not trusted).
FACTOR_RANGE = (0.5, 2.0)


def wetness_level(
    raw: np.ndarray, window_h: int = WETNESS_WINDOW_H, min_hours: int = WETNESS_MIN_HOURS
) -> np.ndarray:
    """The raw SM's trailing mean over ``window_h`` hours, ending at each hour.

    Parameters
    ----------
    raw : numpy.ndarray, shape (station, time)
        Measured SM, m3 m-3 (NaN = missing).
    window_h : int
        Hours averaged: ``t - window_h + 1 .. t``.
    min_hours : int
        Fewest finite hours in the window; fewer give NaN.

    Returns
    -------
    numpy.ndarray of float64, shape (station, time)
        m3 m-3.

    Examples
    --------
    >>> x = np.array([[0.1, 0.2, np.nan, 0.4]])
    >>> np.round(wetness_level(x, window_h=2, min_hours=1), 3).tolist()
    [[0.1, 0.15, 0.2, 0.4]]
    >>> wetness_level(x, window_h=2, min_hours=2)[0, 1:].round(3).tolist()
    [0.15, nan, nan]
    """
    x = np.asarray(raw, dtype=np.float64)
    have = np.isfinite(x)
    pad = np.zeros(x.shape[:-1] + (1,))
    s = np.concatenate([pad, np.cumsum(np.where(have, x, 0.0), axis=-1)], axis=-1)
    n = np.concatenate([pad, np.cumsum(have, axis=-1)], axis=-1)
    end = np.arange(1, x.shape[-1] + 1)
    start = np.maximum(end - int(window_h), 0)
    total = s[..., end] - s[..., start]
    count = n[..., end] - n[..., start]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count >= max(int(min_hours), 1), total / count, np.nan)


def wetness_factor(raw: np.ndarray, slope: np.ndarray, level_mean: np.ndarray) -> np.ndarray:
    """The factor :math:`\\mathrm{clip}(1 + \\rho (L(t) - \\bar L), 0.5, 2)` on the artefact.

    Parameters
    ----------
    raw : numpy.ndarray, shape (station, time)
        Measured SM, m3 m-3 (its :func:`wetness_level` is :math:`L`).
    slope : numpy.ndarray, shape (station,)
        :math:`\\rho`, per m3 m-3; NaN: no wetness term (factor 1).
    level_mean : numpy.ndarray, shape (station,)
        :math:`\\bar L`, m3 m-3.

    Returns
    -------
    numpy.ndarray of float64, shape (station, time)
        1 where the station has no slope or the hour no level.

    Examples
    --------
    >>> raw = np.full((3, 30), 0.30)
    >>> f = wetness_factor(raw, np.array([-2.0, -10.0, np.nan]), np.full(3, 0.20))
    >>> np.round(f[:, -1], 3).tolist()
    [0.8, 0.5, 1.0]
    """
    slope = np.asarray(slope, dtype=np.float64)[:, None]
    mean = np.asarray(level_mean, dtype=np.float64)[:, None]
    f = 1.0 + slope * (wetness_level(raw) - mean)
    return np.clip(np.where(np.isfinite(f), f, 1.0), *FACTOR_RANGE)
