"""The distributed-lag artefact fit of one set of equations, per station (issue 18).

The numpy kernel of :mod:`smlib.method.lagged_artefact`: per station, the ridge least squares
of the raw SM HF on the lagged TS HF (and the signal estimates, and the night equations of
:mod:`smlib.method.night_window` stacked below), the lag window chosen by two-fold
cross-validation over alternating blocks of days. :mod:`smlib.method.lagged_artefact` builds
the product's fits from it, and :mod:`smlib.method.night_candidates` the fits of the nights
alone that compete with them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from smlib.method.artefact_terms import lagged_copies
from smlib.method.night_window import NightEquations

__all__ = ["DistributedLagFit", "distributed_lag_fit"]

#: Largest share of the fitted artefact's squared norm taken for the thermistor's noise when
#: its gain is corrected along the fitted shape (:func:`_gain_along_shape`): the gain grows by
#: at most 1 / 0.85. With a noisy thermistor the least-squares weights of nearly collinear lags
#: also fit its noise, so the shape is not the artefact's alone, and a larger share overshoots
#: (a 1 K range read with 0.3 or 0.5 K of noise: 1.16 and 1.5 times the true gain at 0.5;
#: tests/test_thermistor_noise.py). In the skill benchmark's worlds no median moves between 0.5
#: and 0.15: the gains there come from corrections of a few percent.
GAIN_NOISE_SHARE_MAX = 0.15


@dataclass
class DistributedLagFit:
    """Per-station distributed-lag artefact weights.

    Attributes
    ----------
    weights : numpy.ndarray, shape (station, max_lag_h + 1)
        :math:`w_k` of :math:`T_{HF}(t-k)`, m3 m-3 K-1; 0 beyond the station's window, NaN
        for a station that could not be fitted.
    window_h : numpy.ndarray of int, shape (station,)
        Chosen window :math:`K` (hours; -1 where not fitted).
    cv_rmse : numpy.ndarray, shape (station,)
        Cross-validated RMSE of the fit at the chosen window, m3 m-3.
    level_weights : numpy.ndarray, shape (station, max_lag_h + 1), or None
        With a wetness level: :math:`v_k` of :math:`(L - \\bar L)\\, T_{HF}(t-k)`,
        K-1 (m3 m-3 per K per m3 m-3 of level).
    level_mean : numpy.ndarray, shape (station,), or None
        :math:`\\bar L`, the mean level over the fitted hours, m3 m-3.
    n_hours : numpy.ndarray of int, shape (station,), or None
        Hours that entered the fit kept for the station (0 where not fitted).
    n_signals : numpy.ndarray of int, shape (station,), or None
        Signal estimates in the fit kept for the station (the last ``n_signals`` of those
        given; fewer where the full fit lacked hours); -1 where not fitted.
    anchored : numpy.ndarray of bool, shape (station,), or None
        Stations whose weights come from the fit anchored on the network
        (:func:`smlib.method.lagged_artefact.anchor_lagged_on_network`).
    """

    weights: np.ndarray
    window_h: np.ndarray
    cv_rmse: np.ndarray
    level_weights: np.ndarray | None = None
    level_mean: np.ndarray | None = None
    n_signals: np.ndarray | None = None
    anchored: np.ndarray | None = None
    n_hours: np.ndarray | None = None


def _ridge_solve(
    a: np.ndarray, y: np.ndarray, blocks: list[np.ndarray], ridge: float, noise: float = 0.0
) -> np.ndarray:
    """Least squares of ``y`` on ``a`` with a ridge on each block of column indices.

    Each block's penalty is ``ridge`` times the mean diagonal of its part of ``a'a``, so it
    does not depend on the units or the number of hours. ``noise``: what the regressors' noise
    adds to each diagonal element of the first block (the lags), taken off first, at most half.
    """
    ata = a.T @ a
    aty = a.T @ y
    if noise > 0 and blocks:
        lag = blocks[0]
        ata[lag, lag] -= np.minimum(noise, 0.5 * ata[lag, lag])
    empty = np.flatnonzero(np.diag(ata) == 0)  # e.g. the intercept of the night equations alone
    ata[empty, empty] = 1.0
    if ridge > 0:
        for idx in blocks:
            if idx.size:
                ata[idx, idx] += ridge * float(np.mean(np.diag(ata)[idx]))
    try:
        return np.linalg.solve(ata, aty)
    except np.linalg.LinAlgError:
        return np.linalg.lstsq(ata, aty, rcond=None)[0]


def _noise(night, s: int, nights, train: np.ndarray) -> float:
    """:meth:`NightEquations.noise_gram` of the night rows (the last) of the row mask ``train``;
    a single slope only (with lags the noise-free normal matrix is near singular at night)."""
    if nights is None or nights[1].shape[1] > 1:
        return 0.0
    return night.noise_gram(s, nights[2][train[-nights[2].size :]])


def _gain_along_shape(
    a: np.ndarray, y: np.ndarray, sol: np.ndarray, lag: np.ndarray, noise: float
) -> np.ndarray:
    """``sol`` with its lag weights (the columns ``lag`` of ``a``) rescaled by the
    errors-in-variables slope of ``y`` less the other terms on the fitted artefact
    :math:`x = A_T \\mathbf{w}`, whose :math:`\\lVert x \\rVert^2` holds ``noise`` times
    :math:`\\lVert\\mathbf{w}\\rVert^2` of the thermistor's noise
    (:meth:`NightEquations.shape_noise`), taken off at most :data:`GAIN_NOISE_SHARE_MAX` of
    it. One scalar along the fitted shape: unlike the noise taken off each lag's diagonal, it
    cannot let the weights of a smooth night's nearly collinear lags run away.

    >>> a = np.column_stack([np.ones(4), [1.0, -1.0, 2.0, -2.0]])
    >>> y = 0.5 * a[:, 1]
    >>> sol = np.linalg.lstsq(a, y, rcond=None)[0]
    >>> round(float(_gain_along_shape(a, y, sol, np.array([1]), 0.5)[1]), 3)  # noise: 1/20 of |x|^2
    0.526
    >>> round(float(_gain_along_shape(a, y, sol, np.array([1]), 2.5)[1]), 3)  # 1/4: at most 0.15
    0.588
    """
    w = sol[lag]
    x = a[:, lag] @ w
    xx = float(x @ x)
    if noise <= 0 or xx <= 0:
        return sol
    other = np.setdiff1d(np.arange(a.shape[1]), lag)
    r = y - a[:, other] @ sol[other]
    out = sol.copy()
    out[lag] = w * float(x @ r) / (xx - min(noise * float(w @ w), GAIN_NOISE_SHARE_MAX * xx))
    return out


def _reliability(lags: np.ndarray, w: np.ndarray, noise_var: float) -> float:
    """The share of the fitted artefact :math:`x = \\sum_k w_k T_{HF}(t-k)` at the hours
    ``lags`` (shape (hour, K + 1)) that is not the thermistor's noise, at least one half:
    :math:`1 - \\tfrac{23}{24}\\hat\\sigma^2 \\lVert\\mathbf{w}\\rVert^2 / \\overline{x^2}`.

    The artefact is removed with the *measured* TS, so the best linear predictor of the true
    artefact from it is the unbiased gain times this reliability. Where TS varies by kelvins
    over a day it is within a percent of 1; it shrinks a fit whose weights alternate in sign
    (the differences of nearly collinear lags), whose output is mostly the thermistor's noise.

    >>> t = np.arange(240.0)
    >>> day = np.sin(2 * np.pi * t / 24)
    >>> lags = np.column_stack([day, 1.01 * day])
    >>> _reliability(lags, np.array([1.0, -1.0]), 0.01)  # x = -0.01 day: mostly noise
    0.5
    >>> round(_reliability(lags, np.array([1.0, 0.0]), 0.01), 4)  # 0.5 K2 of signal
    0.9808
    """
    x = lags @ w
    ms = float(np.mean(x * x)) if x.size else 0.0
    if noise_var <= 0 or ms <= 0:
        return 1.0
    return 1.0 - min(23.0 / 24.0 * noise_var * float(w @ w) / ms, 0.5)


def _design(
    k: int, lag_cols, inter_cols, sig_cols, nights=None
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Columns [1, T_HF(t-0..k), (L - mean) T_HF(t-0..k), signals] and the penalised blocks;
    with ``nights`` (:meth:`NightEquations.rows`) their equations below, 0 elsewhere."""
    parts = [np.ones((lag_cols.shape[0], 1)), lag_cols[:, : k + 1]]
    blocks = [np.arange(1, k + 2)]
    if inter_cols is not None:
        parts.append(inter_cols[:, : k + 1])
        blocks.append(np.arange(k + 2, 2 * k + 3))
    if sig_cols is not None:
        parts.append(sig_cols)
    a = np.hstack(parts)
    if nights is not None:
        below = np.zeros((nights[1].shape[0], a.shape[1]))
        below[:, 1 : k + 2] = nights[1][:, : k + 1]
        a = np.vstack([a, below])
    return a, blocks


def distributed_lag_fit(
    y: np.ndarray,
    ts_hf: np.ndarray,
    signal: list[np.ndarray],
    keep: np.ndarray,
    max_lag_h: int = 6,
    ridge: float = 1e-3,
    min_hours: int = 240,
    block_days: int = 7,
    level: np.ndarray | None = None,
    night: NightEquations | None = None,
    cv_tolerance: float = 0.0,
    max_window_h: int | None = None,
) -> DistributedLagFit:
    """Fit :math:`y = c + \\sum_{k\\le K} w_k T_{HF}(t-k) + \\sum_j c_j s_j + \\varepsilon` per
    station, choosing the window ``K`` by cross-validation.

    Parameters
    ----------
    y : numpy.ndarray, shape (station, time)
        Raw SM HF, m3 m-3.
    ts_hf : numpy.ndarray, shape (station, time)
        Soil temperature HF, K.
    signal : list of numpy.ndarray, each shape (station, time)
        HF of the signal estimates (m3 m-3), unpenalised regressors; may be empty.
    keep : numpy.ndarray of bool, shape (station, time)
        Hours allowed in the fit (rain-free); hours where any lag of the windows tried, any
        signal or the level is missing are left out for every window, so all windows see the
        same hours.
    max_lag_h : int
        Largest window tried, hours (unless ``max_window_h`` is shorter), and the width of the
        returned weights (``max_lag_h + 1``).
    ridge : float
        Relative ridge penalty on the lag weights (``ridge`` times the mean diagonal of their
        block of the normal matrix); the lags of a smooth diurnal curve are nearly collinear.
    min_hours : int
        Fewest usable hours; stations below get NaN weights and window -1.
    block_days : int
        Length of the alternating blocks of the two-fold cross-validation, days.
    level : numpy.ndarray, shape (station, time), optional
        A wetness level (e.g. the SM LF, m3 m-3): the weights become
        :math:`w_k + v_k (L - \\bar L)`, an artefact gain that changes with wetness (a dry
        soil's larger Maxwell-Wagner response).
    night : NightEquations, optional
        Adds the night equations (:mod:`smlib.method.night_window`) of the hours ``keep``:
        the measured SM and the lagged TS each less its straight line within a night. They
        share the lag weights, have no signal terms, and enter the cross-validation by the
        same blocks of days. With ``night.days`` False the fit takes them alone (``signal``
        must be empty); a station without a usable night is then not fitted. With
        ``night.gain_errors_in_variables`` the chosen fit's lag weights are rescaled for the
        thermistor's noise along their shape (:func:`_gain_along_shape`) and multiplied by
        the fitted artefact's reliability (:func:`_reliability`); a single slope already
        corrected on its diagonal (``night.errors_in_variables``) is left as it is.
    cv_tolerance : float
        Parsimony of the window: the shortest ``K`` whose cross-validated error is within
        this fraction of the smallest (0: the smallest error itself). Where windows differ by
        less than that, a longer one mostly lets the artefact take up part of the true cycle.
    max_window_h : int, optional
        Largest window tried where it is shorter than ``max_lag_h`` (the weights beyond it
        are 0, and the usable hours and nights are those of this window): a station table
        wider than the free fits, for the element kernel's longer memory
        (``correct.element_kernel_lags_h``).

    Returns
    -------
    DistributedLagFit
    """
    width = max_lag_h + 1  # the table's columns
    tried = max_lag_h if max_window_h is None else min(max_lag_h, max_window_h)
    lags = lagged_copies(ts_hf, tried)
    n_st, n_t = np.shape(y)
    weights = np.full((n_st, width), np.nan)
    level_w = None if level is None else np.full((n_st, width), np.nan)
    level_mean = None if level is None else np.full(n_st, np.nan)
    window = np.full(n_st, -1, dtype=int)
    cv = np.full(n_st, np.nan)
    n_hours = np.zeros(n_st, dtype=np.int64)
    ok = keep & np.isfinite(y)
    for r in (*lags, *signal, *([] if level is None else [level])):
        ok &= np.isfinite(r)
    fold = (np.arange(n_t) // (24 * block_days)) % 2 == 0
    n_per_lag = 1 if level is None else 2
    for s in range(n_st):
        m = ok[s]
        if m.sum() < max(min_hours, n_per_lag * (tried + 1) + len(signal) + 2):
            continue
        ys = np.asarray(y[s, m], dtype=np.float64)
        lag_cols = np.column_stack([r[s, m] for r in lags]).astype(np.float64)
        inter_cols = None
        if level is not None:
            lv = np.asarray(level[s, m], dtype=np.float64)
            level_mean[s] = lv.mean()
            inter_cols = lag_cols * (lv - lv.mean())[:, None]
        sig_cols = np.column_stack([r[s, m] for r in signal]).astype(np.float64) if signal else None
        f = fold[m]
        nights = None if night is None else night.rows(s, keep[s], tried)
        hours_lags = lag_cols  # the usable hours: a sample of those where the artefact is removed
        if night is not None and not night.days:  # the nights alone (no estimate to guide)
            if nights is None:
                continue
            ys, lag_cols, f, sig_cols = ys[:0], lag_cols[:0], f[:0], None
            inter_cols = None if inter_cols is None else inter_cols[:0]
        if nights is not None:
            f = np.concatenate([f, fold[nights[2]]])
            ys = np.concatenate([ys, nights[0]])
        errs = np.full(tried + 1, np.inf)
        for k in range(tried + 1):
            a, blocks = _design(k, lag_cols, inter_cols, sig_cols, nights)
            err = 0.0
            for train in (f, ~f):
                if train.sum() < a.shape[1] + 1 or (~train).sum() == 0:
                    err = np.inf
                    break
                noise = _noise(night, s, nights, train)
                sol = _ridge_solve(a[train], ys[train], blocks, ridge, noise)
                err += float(((a[~train] @ sol - ys[~train]) ** 2).sum())
            errs[k] = err
        if not np.isfinite(errs.min()):
            continue
        # the shortest window within cv_tolerance of the best: lags the data do not ask for
        # (a smooth night's TS has nearly collinear lags) only add variance
        k = int(np.flatnonzero(errs <= errs.min() * (1.0 + cv_tolerance))[0])
        a, blocks = _design(k, lag_cols, inter_cols, sig_cols, nights)
        noise = _noise(night, s, nights, np.ones(ys.size, bool))
        sol = _ridge_solve(a, ys, blocks, ridge, noise)
        if nights is not None and noise == 0 and night.gain_errors_in_variables:
            # the gain along the fitted shape, then the best predictor where it is removed
            lag, n_day = blocks[0], ys.size - nights[0].size
            sol = _gain_along_shape(a, ys, sol, lag, night.shape_noise(s, nights[2], n_day))
            sol[lag] *= _reliability(hours_lags[:, : k + 1], sol[lag], night.noise_var(s))
        weights[s] = 0.0
        weights[s, : k + 1] = sol[1 : k + 2]
        if level_w is not None:
            level_w[s] = 0.0
            level_w[s, : k + 1] = sol[k + 2 : 2 * k + 3]
        window[s] = k
        cv[s] = np.sqrt(errs[k] / ys.size)
        n_hours[s] = int(m.sum())
    return DistributedLagFit(weights, window, cv, level_w, level_mean, n_hours=n_hours)
