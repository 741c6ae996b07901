"""The artefact's regressors by name, and the distributed-lag artefact as numpy kernels.

A leaf module (numpy only): :mod:`smlib.method.compensation` applies stored coefficients of
either artefact model with it, :mod:`smlib.method.lagged_artefact` fits the lags.
"""

from __future__ import annotations

import numpy as np

__all__ = ["artefact_terms", "lag_window", "lagged_copies", "distributed_lag_artefact"]


def artefact_terms(max_lag_h: int = 0) -> tuple[str, ...]:
    """Names of the artefact's regressors: TS HF and its tendency (``max_lag_h`` 0), or the
    TS HF lags 0 .. ``max_lag_h`` h (the distributed-lag artefact).

    >>> artefact_terms(), artefact_terms(2)
    (('ts_hf', 'ts_hf_tendency'), ('ts_hf_lag0h', 'ts_hf_lag1h', 'ts_hf_lag2h'))
    """
    if max_lag_h <= 0:
        return ("ts_hf", "ts_hf_tendency")
    return tuple(f"ts_hf_lag{k}h" for k in range(max_lag_h + 1))


def lag_window(terms: tuple[str, ...]) -> int:
    """The largest lag (h) of distributed-lag ``terms``; -1 for the default terms.

    Raises
    ------
    ValueError
        Terms that are neither (a station table of another smlib).
    """
    terms = tuple(terms)
    if terms == artefact_terms(0):
        return -1
    if terms and terms == artefact_terms(len(terms) - 1):
        return len(terms) - 1
    raise ValueError(f"unknown artefact terms {list(terms)}; expected {list(artefact_terms(0))} "
                     "or ts_hf_lag0h .. ts_hf_lagKh")  # fmt: skip


def lagged_copies(x: np.ndarray, max_lag_h: int) -> list[np.ndarray]:
    """``[x(t), x(t-1), ..., x(t-max_lag_h)]`` along the last axis, NaN where undefined.

    Parameters
    ----------
    x : numpy.ndarray, shape (station, time)
    max_lag_h : int
        Largest lag, hours (>= 0).

    Returns
    -------
    list of numpy.ndarray, each shape (station, time), float32

    Examples
    --------
    >>> [c[0].tolist() for c in lagged_copies(np.array([[1.0, 2.0, 3.0]]), 1)]
    [[1.0, 2.0, 3.0], [nan, 1.0, 2.0]]
    """
    if max_lag_h < 0:
        raise ValueError(f"max_lag_h must be >= 0, got {max_lag_h}")
    x = np.asarray(x, dtype=np.float32)
    out = [x]
    for k in range(1, max_lag_h + 1):
        c = np.full_like(x, np.nan)
        c[..., k:] = x[..., :-k]
        out.append(c)
    return out


def distributed_lag_artefact(
    ts_hf: np.ndarray,
    weights: np.ndarray,
    level_weights: np.ndarray | None = None,
    level_anomaly: np.ndarray | None = None,
) -> np.ndarray:
    """:math:`\\sum_k (w_k + v_k \\Delta L)\\, T_{HF}(t-k)` (m3 m-3), shape (station, time).

    Parameters
    ----------
    ts_hf : numpy.ndarray, shape (station, time)
        K.
    weights : numpy.ndarray, shape (station, K + 1)
        :math:`w_k`, m3 m-3 K-1.
    level_weights : numpy.ndarray, shape (station, K + 1), optional
        :math:`v_k` (with ``level_anomaly``).
    level_anomaly : numpy.ndarray, shape (station, time), optional
        :math:`\\Delta L = L - \\bar L`, m3 m-3.

    Returns
    -------
    numpy.ndarray of float64
        NaN where a lag with a non-zero weight (or the level) is missing, or the station has
        no weights.
    """
    lags = lagged_copies(ts_hf, weights.shape[1] - 1)
    out = np.zeros(np.shape(ts_hf), dtype=np.float64)
    inter = level_weights is not None and level_anomaly is not None
    for k, r in enumerate(lags):
        w = weights[:, k : k + 1]
        if inter:
            w = w + level_weights[:, k : k + 1] * level_anomaly
        out += np.where(w == 0, 0.0, w * r)
    out[~np.isfinite(weights).all(axis=1)] = np.nan
    return out
