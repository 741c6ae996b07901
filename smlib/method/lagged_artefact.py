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
from smlib.method.lagged_fit import DistributedLagFit, distributed_lag_fit
from smlib.method.night_candidates import (
    NIGHT_SLOPE_MARGIN,
    prefer_element_kernel,
    prefer_night_slope,
)
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
    "table_lags_h",
    "ANCHOR_CHOICES",
    "NIGHT_SLOPE_MARGIN",
]

#: ``correct.network_anchor`` values the distributed-lag product takes.
ANCHOR_CHOICES = (
    "none", "select", "select_nights", "select_nights_slope", "select_nights_kernel"
)  # fmt: skip


def table_lags_h(max_lag_h: int, kernel_lags_h: int = 0) -> int:
    """Largest lag of the station table, hours: the free fits' window ``max_lag_h`` or, where
    the element kernel may be kept (``correct.element_kernel_lags_h``), its longer memory;
    0 where there is no distributed lag (the tendency artefact).

    >>> table_lags_h(6, 12), table_lags_h(6), table_lags_h(0, 12)
    (12, 6, 0)
    """
    return 0 if max_lag_h <= 0 else max(max_lag_h, kernel_lags_h)


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
    night_kernel: bool = False,
    max_window_h: int | None = None,
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
    little can carry a wrong diurnal shape. With ``night_kernel`` too, the element kernel of
    the nights alone (a delay and a first-order response, one gain:
    :func:`smlib.method.night_candidates.prefer_element_kernel`) then replaces the kept fit
    unless that leaves the composite correlation lower by more than its own margin
    (:data:`smlib.method.night_candidates.KERNEL_MARGIN`, 0.10).

    Parameters
    ----------
    raw_hf, ts_hf, network_hf : numpy.ndarray, shape (station, time)
        HF of the measured SM (m3 m-3), of TS (K) and of the network's series as it enters the
        fit (m3 m-3).
    fit_hours : numpy.ndarray of bool, shape (station, time)
    fit : DistributedLagFit
        The free fit (its ``n_signals``: 1 where the network entered it).
    max_lag_h, ridge, min_hours, cv_tolerance, max_window_h
        As :func:`distributed_lag_fit` (``max_lag_h``: the width of ``fit.weights``).
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
        max_window_h=max_window_h,
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
            night=nights_alone.subset(rows), cv_tolerance=cv_tolerance, max_window_h=max_window_h,
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
            prefer_night_slope(fit, rows, raw_hf, ts_hf, fit_hours, nights_alone, ridge, min_hours)
        if night_kernel:
            prefer_element_kernel(fit, rows, raw_hf, ts_hf, fit_hours, nights_alone)
    return fit


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
    kernel_lags_h: int = 0,
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
        Largest window of the free fits per station, hours.
    min_hours, lf_window_h, smoothing_days, ridge
        As in :func:`distributed_lag_fit` and the guided compensation.
    level_interaction : bool
        Let the weights change with the raw SM LF (:func:`distributed_lag_fit`'s ``level``):
        an artefact gain that grows as the soil dries.
    network_anchor : {"none", "select", "select_nights", "select_nights_slope", \
"select_nights_kernel"}
        ``select``: where ``signal`` holds one estimate and it is the network
        (``network_first``, no reanalysis), keep per station the free fit or the fit anchored
        on it, as the guided product does (:func:`anchor_lagged_on_network`);
        ``select_nights``: the fit of the night equations alone is a third candidate (with
        ``night``; else as ``select``); ``select_nights_slope``: their single slope is a fourth
        (:func:`anchor_lagged_on_network`, ``night_slope``), and wherever else the fit is
        kept (the nights alone where no estimate is left, the fit guided by the reanalysis)
        it replaces that fit by the same rule; ``select_nights_kernel``: as
        ``select_nights_slope``, and the element kernel of the nights alone
        (:mod:`smlib.method.night_candidates`) is a fifth candidate, preferred unless the kept
        fit's composite correlation is lower by more than its margin, in the anchor and where
        no estimate is left; ignored with ``level_interaction``.
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
    kernel_lags_h : int
        With ``select_nights_kernel`` and ``night``: the element kernel's weights span lags
        ``0 .. max(max_lag_h, kernel_lags_h)``, and so does every station's row of the
        returned weights (:func:`table_lags_h`). The free fits choose their window in
        ``0 .. max_lag_h``, or in the kernel's span where no estimate but the network guides
        them (in situ: the nights carry the fit, so the day's true cycle cannot be taken for
        a late artefact as where the reanalysis or a tower's evaporation guides). A
        first-order element of a 3-6 h time constant keeps 14-37 % of its response beyond
        6 h, which a kernel cut there rescales into a wrong shape
        (``correct.element_kernel_lags_h``).

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
    with_nights = night is not None and level is None
    kernel = network_anchor == "select_nights_kernel" and with_nights
    width = table_lags_h(max_lag_h, kernel_lags_h if kernel else 0)
    network_alone = len(sig_hf) == 1 and network_first
    # no estimate but the network (in situ), or none: the nights carry the fit, and they need
    # no estimate of the true SM, so its free lags take the kernel's memory too
    window = width if network_alone or not sig_hf else max_lag_h

    def nights(n_estimates: int, rows=slice(None)) -> NightEquations | None:
        if night is None:
            return None
        rule = night.subset(rows)
        alone = network_first and n_estimates == len(sig_hf)  # the network still in the fit
        return rule.equations(raw[rows], ts[rows], n_estimates, alone)

    fit = distributed_lag_fit(
        raw_hf, ts_hf, sig_hf, fit_hours, width, ridge, min_hours, level=level,
        night=nights(len(sig_hf)), cv_tolerance=cv_tolerance, max_window_h=window,
    )  # fmt: skip
    fit.n_signals = np.where(fit.window_h >= 0, len(sig_hf), -1)
    for subset in (sig_hf[1:], []):
        retry = fit.window_h < 0
        if not retry.any() or len(subset) == len(sig_hf):
            continue
        part = distributed_lag_fit(
            raw_hf[retry], ts_hf[retry], [a[retry] for a in subset], fit_hours[retry],
            width, ridge, min_hours, level=None if level is None else level[retry],
            night=nights(len(subset), retry), cv_tolerance=cv_tolerance, max_window_h=window,
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
    rows = np.flatnonzero(fit.n_signals == 0 if network_alone else fit.n_signals >= 0)
    slope = network_anchor in ("select_nights_slope", "select_nights_kernel") and with_nights
    if slope and rows.size:
        prefer_night_slope(fit, rows, raw_hf, ts_hf, fit_hours, nights(0), ridge, min_hours)
    if kernel:  # the element kernel where no estimate is left
        alone = np.flatnonzero(fit.n_signals == 0)
        prefer_element_kernel(fit, alone, raw_hf, ts_hf, fit_hours, nights(0))
    if network_anchor != "none" and network_alone and level is None:
        alone = network_anchor.startswith("select_nights") and night is not None
        fit = anchor_lagged_on_network(
            raw_hf, ts_hf, sig_hf[0], fit_hours, fit, width, ridge, min_hours,
            night=nights(1), nights_alone=nights(0) if alone else None,
            cv_tolerance=cv_tolerance, night_slope=slope, night_kernel=kernel,
            max_window_h=window,
        )  # fmt: skip
    if water_balance is not None and level is None:
        same = {
            "max_lag_h": max_lag_h, "min_hours": min_hours, "lf_window_h": lf_window_h,
            "smoothing_days": smoothing_days, "ridge": ridge, "network_anchor": network_anchor,
            "night": night, "network_first": network_first, "kernel_lags_h": kernel_lags_h,
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
        kernel_lags_h=args["kernel_lags_h"],
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
    kernel_lags_h: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The flagged product with the distributed-lag artefact, fitted once on ``signal`` (no
    towers' wetness gain, no network purge: :func:`smlib.method.product.fit_product_table`).

    ``network_anchor``, ``night``, ``network_first``, ``water_balance``,
    ``tower_cv_tolerance``, ``kernel_lags_h``: as :func:`distributed_lag_compensation`
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
    weights : numpy.ndarray, shape (station, K + 1)
        :math:`w_k` of :math:`T_{HF}(t-k)`, m3 m-3 K-1 (``K``: :func:`table_lags_h`).
    """
    from smlib.method.compensation import apply_guided_kernel

    _, fit = distributed_lag_compensation(
        raw, ts, signal, ~rain, max_lag_h, min_hours, smoothing_days=smoothing_days,
        network_anchor=network_anchor, night=night, network_first=network_first,
        water_balance=water_balance, tower_cv_tolerance=tower_cv_tolerance,
        kernel_lags_h=kernel_lags_h,
    )  # fmt: skip
    # applied as every path applies a station table (smlib.method.product.fit_product_table)
    terms = artefact_terms(fit.weights.shape[1] - 1)
    product, flag = apply_guided_kernel(raw, ts, fit.weights, rain, terms=terms)
    return product, flag, fit.weights
