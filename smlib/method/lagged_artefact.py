"""The distributed-lag artefact model (``correct.artefact_lags_h`` > 0; issue 18).

The tendency term is a first-order Taylor step: it spans a short first-order lag of the
sensing element on a sinusoidal TS, but not a delay of hours on TS's real diurnal curve
(a fast morning rise, a slow evening decay; issue 18). The distributed-lag model puts the
artefact in the span of the recent TS history,

.. math:: a(t) = \\sum_{k=0}^{K} w_k\\, T_{HF}(t - k),

an FIR filter of TS HF: a pure delay :math:`d` is two non-zero weights, a first-order element
decaying ones. Per station the weights are fitted by ridge least squares on the rain-free hours
beside the signal estimates, the window :math:`K` chosen from ``0 .. max_lag_h`` by two-fold
cross-validation over alternating blocks of days (:func:`distributed_lag_fit`);
:func:`distributed_lag_compensation` is the guided compensation with this artefact model.

The guided equations hold only as far as the signal estimates explain the true diurnal cycle:
what they miss and what correlates with TS (evaporation by day) is taken for artefact. The
*night equations* (:mod:`smlib.method.night_window`) need no estimate: within a rain-free night
the true SM is a straight line. Stacked under the guided ones with the weight of
:class:`~smlib.method.night_window.NightRule` (``correct.night_weight``: 10 per night hour where
the reanalysis guides; ``night_weight_network_only``: 600 where an in-situ network is the only
estimate; the nights alone where none is left), they share the lag weights. The nights alone
give a single slope corrected for the thermistor's noise (``correct.night_errors_in_variables``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from smlib.method.artefact_terms import (
    artefact_terms,
    distributed_lag_artefact,
    lag_window,
    lagged_copies,
)
from smlib.method.compensation import fit_inputs
from smlib.method.decomposition import moving_average
from smlib.method.night_window import NightEquations, NightRule

__all__ = [
    "artefact_terms",
    "lag_window",
    "lagged_copies",
    "DistributedLagFit",
    "distributed_lag_fit",
    "distributed_lag_artefact",
    "distributed_lag_compensation",
    "anchor_lagged_on_network",
    "lagged_product",
    "ANCHOR_CHOICES",
]

#: ``correct.network_anchor`` values the distributed-lag product takes.
ANCHOR_CHOICES = ("none", "select", "select_nights", "select_nights_slope")
#: ``select_nights_slope``: the single night slope replaces the kept fit only where its SM-TS
#: composite correlation is lower by more than this (chosen on the skill benchmark: 0.02 to
#: 0.10 kept the same stations in its in-situ worlds; with 0 a lagged element lost to it).
NIGHT_SLOPE_MARGIN = 0.05


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
        (:func:`anchor_lagged_on_network`).
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
        Hours allowed in the fit (rain-free); hours where any lag up to ``max_lag_h``, any
        signal or the level is missing are left out for every window, so all windows see the
        same hours.
    max_lag_h : int
        Largest window tried, hours.
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
        must be empty); a station without a usable night is then not fitted.
    cv_tolerance : float
        Parsimony of the window: the shortest ``K`` whose cross-validated error is within
        this fraction of the smallest (0: the smallest error itself). Where windows differ by
        less than that, a longer one mostly lets the artefact take up part of the true cycle.

    Returns
    -------
    DistributedLagFit
    """
    lags = lagged_copies(ts_hf, max_lag_h)
    n_st, n_t = np.shape(y)
    weights = np.full((n_st, max_lag_h + 1), np.nan)
    level_w = None if level is None else np.full((n_st, max_lag_h + 1), np.nan)
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
        if m.sum() < max(min_hours, n_per_lag * (max_lag_h + 1) + len(signal) + 2):
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
        nights = None if night is None else night.rows(s, keep[s], max_lag_h)
        if night is not None and not night.days:  # the nights alone (no estimate to guide)
            if nights is None:
                continue
            ys, lag_cols, f, sig_cols = ys[:0], lag_cols[:0], f[:0], None
            inter_cols = None if inter_cols is None else inter_cols[:0]
        if nights is not None:
            f = np.concatenate([f, fold[nights[2]]])
            ys = np.concatenate([ys, nights[0]])
        errs = np.full(max_lag_h + 1, np.inf)
        for k in range(max_lag_h + 1):
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
        sol = _ridge_solve(a, ys, blocks, ridge, _noise(night, s, nights, np.ones(ys.size, bool)))
        weights[s] = 0.0
        weights[s, : k + 1] = sol[1 : k + 2]
        if level_w is not None:
            level_w[s] = 0.0
            level_w[s, : k + 1] = sol[k + 2 : 2 * k + 3]
        window[s] = k
        cv[s] = np.sqrt(errs[k] / ys.size)
        n_hours[s] = int(m.sum())
    return DistributedLagFit(weights, window, cv, level_w, level_mean, n_hours=n_hours)


def anchor_lagged_on_network(
    raw_hf: np.ndarray,
    ts_hf: np.ndarray,
    network_hf: np.ndarray,
    fit_hours: np.ndarray,
    fit: DistributedLagFit,
    max_lag_h: int,
    ridge: float = 1e-3,
    min_hours: int = 240,
    night: NightEquations | None = None,
    nights_alone: NightEquations | None = None,
    cv_tolerance: float = 0.0,
    night_slope: bool = False,
) -> DistributedLagFit:
    """The network anchor (:func:`smlib.method.network_anchor.select_network_anchor`) for the
    distributed-lag artefact.

    Where the network is a station's only signal estimate, its series is a function of the TS
    history, and so are the lagged TS regressors: the free fit cannot tell them apart. The
    anchored fit takes the network's HF as the signal (coefficient 1) and fits the lags to
    ``raw_hf - network_hf`` (window chosen by cross-validation, as the free fit). Per station
    the fit is kept whose corrected HF has the more negative correlation of its rain-free
    mean diurnal cycle with TS's (:func:`smlib.method.network_anchor.composite_correlation`).
    With ``nights_alone`` the fit of the night equations alone (no estimate of the true SM,
    what the product is without the network) is a third candidate under the same rule: a
    network that misleads the fit (one whose series carries the probe's own artefact) is
    then left out at that station rather than followed. With ``night_slope`` too, the fit of
    the nights alone with one weight (lag 0: one slope per probe, as the baseline of
    :mod:`smlib.method.night_slope`) is a fourth, kept where its composite correlation is lower
    than the kept fit's by more than :data:`NIGHT_SLOPE_MARGIN`: where the nights' TS is
    smooth their lags are nearly collinear, and a window that cross-validation prefers by
    little can carry a wrong diurnal shape.

    Parameters
    ----------
    raw_hf, ts_hf, network_hf : numpy.ndarray, shape (station, time)
        HF of the measured SM (m3 m-3), of TS (K) and of the network's series as it enters the
        fit (m3 m-3).
    fit_hours : numpy.ndarray of bool, shape (station, time)
    fit : DistributedLagFit
        The free fit (its ``n_signals``: 1 where the network entered it).
    max_lag_h, ridge, min_hours, cv_tolerance
        As :func:`distributed_lag_fit`.
    nights_alone : NightEquations, optional
        The night equations of a fit without estimates (``days=False``,
        :meth:`NightRule.equations` with 0 estimates).

    Returns
    -------
    DistributedLagFit
        ``fit`` with the anchored stations' weights, windows and CV RMSE replaced and
        ``anchored`` set; stations where the nights alone were kept get ``n_signals`` 0.
    """
    from smlib.method.network_anchor import composite_correlation

    anchored = np.zeros(len(fit.window_h), dtype=bool)
    used = fit.n_signals == 1 if fit.n_signals is not None else fit.window_h >= 0
    rows = np.flatnonzero(used & np.isfinite(fit.weights).all(axis=1))
    if rows.size == 0:
        fit.anchored = anchored
        return fit
    keep = fit_hours[rows] & np.isfinite(network_hf[rows])
    part = distributed_lag_fit(
        raw_hf[rows] - network_hf[rows], ts_hf[rows], [], keep, max_lag_h, ridge, min_hours,
        night=None if night is None else night.subset(rows), cv_tolerance=cv_tolerance,
    )  # fmt: skip

    def corrected(weights: np.ndarray) -> np.ndarray:
        return raw_hf[rows] - distributed_lag_artefact(ts_hf[rows], weights)

    r_free = composite_correlation(corrected(fit.weights[rows]), ts_hf[rows], fit_hours[rows])
    r_anch = composite_correlation(corrected(part.weights), ts_hf[rows], fit_hours[rows])
    take = (part.window_h >= 0) & np.isfinite(r_anch) & ~(r_free <= r_anch)
    fit.weights[rows[take]] = part.weights[take]
    fit.window_h[rows[take]] = part.window_h[take]
    fit.cv_rmse[rows[take]] = part.cv_rmse[take]
    if fit.n_hours is not None:
        fit.n_hours[rows[take]] = part.n_hours[take]
    anchored[rows[take]] = True
    fit.anchored = anchored
    if nights_alone is not None:
        alone = distributed_lag_fit(
            raw_hf[rows], ts_hf[rows], [], fit_hours[rows], max_lag_h, ridge, min_hours,
            night=nights_alone.subset(rows), cv_tolerance=cv_tolerance,
        )  # fmt: skip
        r_kept = np.where(take, r_anch, r_free)
        r_alone = composite_correlation(corrected(alone.weights), ts_hf[rows], fit_hours[rows])
        nights = (alone.window_h >= 0) & np.isfinite(r_alone) & ~(r_kept <= r_alone)
        idx = rows[nights]
        for name in ("weights", "window_h", "cv_rmse"):
            getattr(fit, name)[idx] = getattr(alone, name)[nights]
        if fit.n_hours is not None:
            fit.n_hours[idx] = alone.n_hours[nights]
        if fit.n_signals is not None:
            fit.n_signals[idx] = 0
        anchored[idx] = False
        if night_slope:
            _prefer_night_slope(fit, rows, raw_hf, ts_hf, fit_hours, nights_alone, ridge, min_hours)
    return fit


def _prefer_night_slope(fit, rows, raw_hf, ts_hf, fit_hours, nights_alone, ridge, min_hours):
    """The single night slope in place of ``fit`` at the stations ``rows`` where it leaves the
    SM-TS composite correlation lower by more than :data:`NIGHT_SLOPE_MARGIN` (in place)."""
    from smlib.method.network_anchor import composite_correlation

    one = distributed_lag_fit(
        raw_hf[rows], ts_hf[rows], [], fit_hours[rows], 0, ridge, min_hours,
        night=nights_alone.subset(rows),
    )  # fmt: skip
    weights = np.zeros_like(fit.weights[rows])
    weights[:, 0] = one.weights[:, 0]  # NaN where the nights could not be fitted

    def r(w: np.ndarray) -> np.ndarray:
        art = distributed_lag_artefact(ts_hf[rows], w)
        return composite_correlation(raw_hf[rows] - art, ts_hf[rows], fit_hours[rows])

    r_one = r(weights)
    take = (
        (one.window_h >= 0)
        & np.isfinite(r_one)
        & (r_one < r(fit.weights[rows]) - NIGHT_SLOPE_MARGIN)
    )
    idx = rows[take]
    fit.weights[idx], fit.window_h[idx], fit.cv_rmse[idx] = weights[take], 0, one.cv_rmse[take]
    for name, value in (("n_hours", one.n_hours[take]), ("n_signals", 0), ("anchored", False)):
        if getattr(fit, name) is not None:
            getattr(fit, name)[idx] = value


def distributed_lag_compensation(
    raw: np.ndarray,
    ts: np.ndarray,
    signal: list[np.ndarray],
    fit_hours: np.ndarray,
    max_lag_h: int,
    min_hours: int = 240,
    lf_window_h: int = 24,
    smoothing_days: int = 0,
    ridge: float = 1e-3,
    level_interaction: bool = False,
    network_anchor: str = "none",
    night: NightRule | None = None,
    network_first: bool = True,
    water_balance: np.ndarray | None = None,
    cv_tolerance: float = 0.0,
    tower_cv_tolerance: float | None = None,
) -> tuple[np.ndarray, DistributedLagFit]:
    """The guided compensation with the distributed-lag artefact model.

    As :func:`smlib.method.correct.guided_compensation` (the signal estimates' HF on the
    right-hand side as their running diurnal composite over ``2 * smoothing_days + 1`` days;
    stations whose full fit lacks hours fall back to fewer estimates: without the first, then
    none), with :math:`\\sum_{k \\le K} w_k T_{HF}(t-k)` in place of
    :math:`b_1 T_{HF} + b_2 \\partial_t T_{HF}`.

    Parameters
    ----------
    raw, ts : numpy.ndarray, shape (station, time)
        Measured SM (m3 m-3) and TS (degC).
    signal : list of numpy.ndarray, each shape (station, time)
        Signal estimates (m3 m-3).
    fit_hours : numpy.ndarray of bool, shape (station, time)
        Rain-free hours allowed in the fit.
    max_lag_h : int
        Largest window tried per station, hours.
    min_hours, lf_window_h, smoothing_days, ridge
        As in :func:`distributed_lag_fit` and the guided compensation.
    level_interaction : bool
        Let the weights change with the raw SM LF (:func:`distributed_lag_fit`'s ``level``):
        an artefact gain that grows as the soil dries.
    network_anchor : {"none", "select", "select_nights", "select_nights_slope"}
        ``select``: where ``signal`` holds one estimate and it is the network
        (``network_first``, no reanalysis), keep per station the free fit or the fit anchored
        on it, as the guided product does (:func:`anchor_lagged_on_network`);
        ``select_nights``: the fit of the night equations alone is a third candidate (with
        ``night``; else as ``select``); ``select_nights_slope``: their single slope is a fourth
        (:func:`anchor_lagged_on_network`, ``night_slope``), and wherever else the fit is
        kept (the nights alone where no estimate is left, the fit guided by the reanalysis)
        it replaces that fit by the same rule; ignored with ``level_interaction``.
    night : NightRule, optional
        Adds the night equations (:mod:`smlib.method.night_window`) to every fit, weighted by
        what guides it: ``night.weight`` with the reanalysis among the estimates,
        ``night.weight_network_only`` with the network alone, the nights alone where no
        estimate is left.
    network_first : bool
        ``signal[0]`` is the network (the product's order); False where it is not among them.
    water_balance : numpy.ndarray, shape (station, time), optional
        A tower's evaporative drying (:func:`smlib.method.water_balance.evaporative_drying`,
        m3 m-3; all NaN at stations without a latent heat flux). Stations that have it are
        refitted with it as the last signal estimate (an estimate other than the network,
        so the night equations take ``night.weight``); the others keep the fit without it.
    cv_tolerance : float
        Parsimony of every fit's lag window (:func:`distributed_lag_fit`).
    tower_cv_tolerance : float, optional
        The same for the refit with the water balance (default: ``cv_tolerance``). At a
        tower the true diurnal cycle is small beside the artefact and the evaporation's shape
        is close to that of lagged TS, so a window that CV barely prefers lets the artefact
        absorb part of the true drying (``correct.tower_lag_cv_tolerance``).

    Returns
    -------
    corrected : numpy.ndarray of float32, shape (station, time)
        ``max(raw - artefact, 0)`` (m3 m-3); NaN where the artefact is undefined (no TS
        history, or the station not fitted).
    fit : DistributedLagFit
    """
    raw = np.asarray(raw, np.float32)
    # the guided fit's inputs (the LF held across gaps where complete windows leave too few
    # hours: smlib.method.compensation.fit_inputs)
    raw_hf, (ts_hf, _), sig_hf, _ = fit_inputs(
        raw, ts, [np.asarray(a, np.float32) for a in signal], fit_hours, min_hours,
        lf_window_h, smoothing_days,
    )  # fmt: skip
    level = None
    if level_interaction:  # the raw LF, its gaps bridged like the TS LF's
        reach = lf_window_h // 2
        lf = moving_average(raw, lf_window_h, "centred")
        level = pd.DataFrame(lf.T).ffill(limit=reach).bfill(limit=reach).to_numpy().T
    if network_anchor not in ANCHOR_CHOICES:
        raise ValueError(f"network_anchor={network_anchor!r}; use one of {ANCHOR_CHOICES}")

    def nights(n_estimates: int, rows=slice(None)) -> NightEquations | None:
        if night is None:
            return None
        rule = night.subset(rows)
        alone = network_first and n_estimates == len(sig_hf)  # the network still in the fit
        return rule.equations(raw[rows], ts[rows], n_estimates, alone)

    fit = distributed_lag_fit(
        raw_hf, ts_hf, sig_hf, fit_hours, max_lag_h, ridge, min_hours, level=level,
        night=nights(len(sig_hf)), cv_tolerance=cv_tolerance,
    )  # fmt: skip
    fit.n_signals = np.where(fit.window_h >= 0, len(sig_hf), -1)
    for subset in (sig_hf[1:], []):
        retry = fit.window_h < 0
        if not retry.any() or len(subset) == len(sig_hf):
            continue
        part = distributed_lag_fit(
            raw_hf[retry], ts_hf[retry], [a[retry] for a in subset], fit_hours[retry],
            max_lag_h, ridge, min_hours, level=None if level is None else level[retry],
            night=nights(len(subset), retry), cv_tolerance=cv_tolerance,
        )  # fmt: skip
        fit.weights[retry] = part.weights
        fit.window_h[retry] = part.window_h
        fit.cv_rmse[retry] = part.cv_rmse
        fit.n_hours[retry] = part.n_hours
        fit.n_signals[retry] = np.where(part.window_h >= 0, len(subset), -1)
        if level is not None:
            fit.level_weights[retry] = part.level_weights
            fit.level_mean[retry] = part.level_mean
    fit.anchored = np.zeros(len(fit.window_h), dtype=bool)
    # the nights' single slope, by its margin: where no estimate is left, and where one other
    # than the network guides the fit (the network alone: in the anchor below)
    network_alone = len(sig_hf) == 1 and network_first
    rows = np.flatnonzero(fit.n_signals == 0 if network_alone else fit.n_signals >= 0)
    slope = network_anchor == "select_nights_slope" and night is not None and level is None
    if slope and rows.size:
        _prefer_night_slope(fit, rows, raw_hf, ts_hf, fit_hours, nights(0), ridge, min_hours)
    if network_anchor != "none" and network_alone and level is None:
        with_nights = network_anchor.startswith("select_nights") and night is not None
        fit = anchor_lagged_on_network(
            raw_hf, ts_hf, sig_hf[0], fit_hours, fit, max_lag_h, ridge, min_hours,
            night=nights(1), nights_alone=nights(0) if with_nights else None,
            cv_tolerance=cv_tolerance,
            night_slope=with_nights and network_anchor == "select_nights_slope",
        )  # fmt: skip
    if water_balance is not None and level is None:
        same = {
            "max_lag_h": max_lag_h, "min_hours": min_hours, "lf_window_h": lf_window_h,
            "smoothing_days": smoothing_days, "ridge": ridge, "network_anchor": network_anchor,
            "night": night, "network_first": network_first,
            "cv_tolerance": cv_tolerance if tower_cv_tolerance is None else tower_cv_tolerance,
        }  # fmt: skip
        _with_water_balance(fit, raw, ts, signal, fit_hours, water_balance, same)
    anomaly = None if level is None else level - fit.level_mean[:, None]
    artefact = distributed_lag_artefact(ts_hf, fit.weights, fit.level_weights, anomaly)
    corrected = np.maximum(np.asarray(raw, np.float64) - artefact, 0.0).astype(np.float32)
    return corrected, fit


def _with_water_balance(fit, raw, ts, signal, fit_hours, water_balance, args: dict) -> None:
    """Refit the stations that have a water balance with it as the last estimate (``args``:
    the other settings of :func:`distributed_lag_compensation`); ``fit`` changed in place."""
    rows = np.flatnonzero(np.isfinite(water_balance).any(axis=1))
    if rows.size == 0:
        return
    _, part = distributed_lag_compensation(
        raw[rows], ts[rows], [np.asarray(a)[rows] for a in signal] + [water_balance[rows]],
        fit_hours[rows], args["max_lag_h"], args["min_hours"], args["lf_window_h"],
        args["smoothing_days"], args["ridge"], network_anchor=args["network_anchor"],
        night=None if args["night"] is None else args["night"].subset(rows),
        network_first=args["network_first"], cv_tolerance=args["cv_tolerance"],
    )  # fmt: skip
    take = part.window_h >= 0
    for name in ("weights", "window_h", "cv_rmse", "n_hours", "n_signals", "anchored"):
        getattr(fit, name)[rows[take]] = getattr(part, name)[take]


def lagged_product(
    raw: np.ndarray,
    ts: np.ndarray,
    signal: list[np.ndarray],
    rain: np.ndarray,
    max_lag_h: int,
    min_hours: int = 240,
    smoothing_days: int = 0,
    network_anchor: str = "none",
    night: NightRule | None = None,
    network_first: bool = True,
    water_balance: np.ndarray | None = None,
    tower_cv_tolerance: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The flagged product with the distributed-lag artefact, fitted once on ``signal`` (no
    towers' wetness gain, no network purge: :func:`smlib.method.product.fit_product_table`).

    ``network_anchor``, ``night``, ``network_first``, ``water_balance``,
    ``tower_cv_tolerance``: as :func:`distributed_lag_compensation`
    (for the anchor ``signal`` must hold the network first; with it alone, the anchor may
    apply).

    Fitted on the rain-free hours (``~rain``); the artefact is removed at every hour with a TS
    history, rain included (flag 1 there, 0 elsewhere); stations not fitted stay raw (flag 3),
    hours without SM hold no value (flag 4), as in the guided product.

    Returns
    -------
    product : numpy.ndarray of float32, shape (station, time)
        m3 m-3.
    flag : numpy.ndarray of int8, shape (station, time)
    weights : numpy.ndarray, shape (station, max_lag_h + 1)
        :math:`w_k` of :math:`T_{HF}(t-k)`, m3 m-3 K-1.
    """
    from smlib.method.compensation import apply_guided_kernel

    _, fit = distributed_lag_compensation(
        raw, ts, signal, ~rain, max_lag_h, min_hours, smoothing_days=smoothing_days,
        network_anchor=network_anchor, night=night, network_first=network_first,
        water_balance=water_balance, tower_cv_tolerance=tower_cv_tolerance,
    )  # fmt: skip
    # applied as every path applies a station table (smlib.method.product.fit_product_table)
    product, flag = apply_guided_kernel(raw, ts, fit.weights, rain, terms=artefact_terms(max_lag_h))
    return product, flag, fit.weights
