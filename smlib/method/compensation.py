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

The distributed-lag artefact model (``correct.artefact_lags_h`` > 0) is in
:mod:`smlib.method.lagged_artefact`.

All are numpy kernels on ``(station, time)`` arrays.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from smlib.method.artefact_terms import distributed_lag_artefact, lag_window
from smlib.method.decomposition import held_high_frequency, high_frequency, moving_average
from smlib.method.preprocess import fill_short_gaps

#: The artefact's coefficients are fitted only where what the other regressors leave of its
#: standardised regressors is at least 1 / MAX_CONDITION (:func:`fit_coefficients`): for one
#: regressor, a correlation |r| with the others below 0.9999995.
MAX_CONDITION = 1e3

__all__ = [
    "same_hour_mean",
    "temperature_regressors",
    "fit_coefficients",
    "apply_coefficients",
    "fitted_hours",
    "fit_inputs",
    "guided_fit",
    "fit_with_fallback",
    "apply_guided_kernel",
    "flagged_product",
    "guided_compensation",
    "linear_compensation_kernel",
    "MAX_CONDITION",
]

log = logging.getLogger(__name__)


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
    y: np.ndarray,
    regressors: list[np.ndarray],
    keep: np.ndarray,
    min_hours: int = 240,
    n_determined: int | None = None,
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
    n_determined : int, optional
        The first ``n_determined`` regressors (the artefact's; default all) must be
        determined: where, over a station's hours, they are collinear with each other or with
        the others (what the others leave of them is below 1 / :data:`MAX_CONDITION` of their
        standardised size), the station gets NaN, since least squares would split them at
        random (e.g. a signal estimate whose diurnal cycle is a fixed multiple of TS's). The
        guided fit then falls back to fewer estimates (:func:`fit_with_fallback`); the
        stations are logged. Collinearity among the others alone is harmless and allowed.

    Returns
    -------
    numpy.ndarray, shape (station, len(regressors))
        Slopes (the intercept is dropped: it is absorbed by the LF).
    """
    n_st = y.shape[0]
    k = len(regressors)
    coef = np.full((n_st, k), np.nan)
    collinear: list[int] = []
    ok = keep & np.isfinite(y)
    for r in regressors:
        ok &= np.isfinite(r)
    for s in range(n_st):
        m = ok[s]
        if m.sum() < max(min_hours, k + 2):
            continue
        a = np.column_stack([np.ones(int(m.sum()))] + [r[s, m] for r in regressors])
        a = a.astype(np.float64)
        if _undetermined(a[:, 1:], k if n_determined is None else n_determined):
            collinear.append(s)
            continue
        sol, *_ = np.linalg.lstsq(a, y[s, m].astype(np.float64), rcond=None)
        coef[s] = sol[1:]
    if collinear:
        log.warning(
            "%d station(s) (row %s first) have collinear regressors (condition > %g): not "
            "fitted with these %d regressors", len(collinear), collinear[0], MAX_CONDITION, k,
        )  # fmt: skip
    return coef


def _undetermined(cols: np.ndarray, n_first: int) -> bool:
    """Whether the first ``n_first`` columns, standardised, keep less than 1 / MAX_CONDITION
    of their size (smallest singular value) once the other columns are projected out."""
    if n_first == 0:
        return False
    c = cols - cols.mean(axis=0)
    sd = c.std(axis=0)
    if (sd[:n_first] == 0).any():
        return True
    c = c / np.where(sd > 0, sd, 1.0)
    first, rest = c[:, :n_first], c[:, n_first:]
    if rest.shape[1]:
        first = first - rest @ np.linalg.lstsq(rest, first, rcond=None)[0]
    sv = np.linalg.svd(first / np.sqrt(len(first)), compute_uv=False)
    return bool(sv[-1] < 1.0 / MAX_CONDITION)


def apply_coefficients(
    sm: np.ndarray, regressors: list[np.ndarray], coef: np.ndarray
) -> np.ndarray:
    """``sm - sum_k coef[:, k] * regressors[k]``, clipped at 0 m3 m-3 (NaN where any is NaN)."""
    out = np.asarray(sm, dtype=np.float64).copy()
    for j, r in enumerate(regressors):
        out -= coef[:, j : j + 1] * r
    return np.maximum(out, 0.0).astype(np.float32)


def fitted_hours(y: np.ndarray, regressors: list[np.ndarray], keep: np.ndarray) -> np.ndarray:
    """Hours per station that :func:`fit_coefficients` would use (same mask), shape (station,)."""
    ok = keep & np.isfinite(y)
    for r in regressors:
        ok &= np.isfinite(r)
    return ok.sum(axis=1).astype(np.int64)


def guided_fit(
    raw: np.ndarray,
    ts: np.ndarray,
    signal: list[np.ndarray],
    fit_hours: np.ndarray,
    min_hours: int = 240,
    lf_window_h: int = 24,
    smoothing_days: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-station temperature-artefact coefficients of the guided product.

    The fit of :func:`smlib.method.correct.guided_compensation` (its docstring gives the
    model): the raw HF regressed on TS HF, its tendency and the HF of the signal estimates,
    over ``fit_hours``. A station where the fit with every estimate lacks ``min_hours``
    hours is fitted again without the first estimate (the network), then with the
    temperature terms alone.

    Parameters
    ----------
    raw, ts : numpy.ndarray, shape (station, time)
        Measured SM (m3 m-3) and TS (degC).
    signal : list of numpy.ndarray, each shape (station, time)
        Signal estimates (m3 m-3), the network first.
    fit_hours : numpy.ndarray of bool, shape (station, time)
    min_hours, lf_window_h, smoothing_days
        As :func:`smlib.method.correct.guided_compensation`.

    Returns
    -------
    coef : numpy.ndarray of float64, shape (station, 2)
        ``b1`` (m3 m-3 K-1), ``b2`` (m3 m-3 h K-1); NaN where no fit had ``min_hours``.
    n_hours : numpy.ndarray of int64, shape (station,)
        Hours that entered the fit kept for the station (0 where not fitted).
    n_signals : numpy.ndarray of int64, shape (station,)
        Signal estimates in that fit: ``len(signal)``, ``len(signal) - 1`` (without the
        first), 0 (temperature terms alone); -1 where not fitted. The estimates used are
        always the last ``n_signals`` of ``signal``.
    """
    y, regs, sig_hf, _ = fit_inputs(
        raw, ts, signal, fit_hours, min_hours, lf_window_h, smoothing_days
    )
    coef, n_hours, n_signals = fit_with_fallback(y, regs, sig_hf, fit_hours, min_hours)
    return coef[:, : len(regs)], n_hours, n_signals


def _fallback_subsets(signal_hf: list) -> list[list]:
    """The estimates of :func:`fit_with_fallback`'s fits in turn: all, without the first (the
    network), none (with more than one estimate)."""
    tail = [[]] if len(signal_hf) > 1 else []
    return [signal_hf] + ([signal_hf[1:]] if signal_hf else []) + tail


def _fallback_level(y, temperature, signal_hf, fit_hours, min_hours: int) -> np.ndarray:
    """Per station, the index of the first of :func:`_fallback_subsets` whose fit has
    ``min_hours`` hours (their number where none has), shape (station,)."""
    subsets = _fallback_subsets(signal_hf)
    level = np.full(y.shape[0], len(subsets), dtype=np.int64)
    for i, subset in enumerate(subsets):
        n = fitted_hours(y, list(temperature) + list(subset), fit_hours)
        enough = n >= max(min_hours, len(temperature) + len(subset) + 2)
        level = np.where((level == len(subsets)) & enough, i, level)
    return level


def fit_inputs(
    raw: np.ndarray,
    ts: np.ndarray,
    signal: list[np.ndarray],
    fit_hours: np.ndarray,
    min_hours: int = 240,
    lf_window_h: int = 24,
    smoothing_days: int = 0,
) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray], np.ndarray]:
    """What the guided fit regresses (arguments as :func:`guided_fit`).

    The HF of SM and of the estimates is taken against the 24-h centred mean, undefined within
    half a day of a gap, and ISMN's complete-day rule makes every gap a day or more. A station
    whose fit with complete windows would have fewer estimates than offered, or none, for lack
    of ``min_hours`` (:func:`fit_with_fallback`) takes them with the LF held across gaps
    (:func:`smlib.method.decomposition.held_high_frequency`, as TS always was) where that
    gives it a fit with more estimates; other stations are unchanged.

    Returns
    -------
    y, temperature, signal_hf
        HF of the raw SM (m3 m-3), :func:`temperature_regressors`, HF of the estimates as
        their running diurnal composite (:func:`same_hour_mean`); each (station, time).
    held : numpy.ndarray of bool, shape (station,)
        Stations decomposed with the LF held.
    """
    regs = list(temperature_regressors(ts, lf_window_h))
    y = high_frequency(raw, lf_window_h)
    sig_hf = [same_hour_mean(high_frequency(a, lf_window_h), smoothing_days) for a in signal]
    held = np.zeros(y.shape[0], dtype=bool)
    strict = _fallback_level(y, regs, sig_hf, fit_hours, min_hours)
    rows = np.flatnonzero(strict > 0)
    if rows.size:
        y_h = held_high_frequency(np.asarray(raw)[rows], lf_window_h)
        sig_h = [
            same_hour_mean(held_high_frequency(np.asarray(a)[rows], lf_window_h), smoothing_days)
            for a in signal
        ]
        level = _fallback_level(y_h, [r[rows] for r in regs], sig_h, fit_hours[rows], min_hours)
        better = level < strict[rows]
        take = rows[better]
        if take.size:
            y = np.array(y, copy=True)
            y[take] = y_h[better]
            sig_hf = [np.array(a, copy=True) for a in sig_hf]
            for a, b in zip(sig_hf, sig_h, strict=True):
                a[take] = b[better]
            held[take] = True
    return y, regs, sig_hf, held


def fit_with_fallback(
    y: np.ndarray,
    temperature: list[np.ndarray],
    signal_hf: list[np.ndarray],
    fit_hours: np.ndarray,
    min_hours: int = 240,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`fit_coefficients` of ``y`` on the temperature terms and the signal estimates,
    falling back per station to fewer estimates where the full fit lacks ``min_hours``: without
    the first estimate (the network), then the temperature terms alone.

    Returns
    -------
    coef : numpy.ndarray of float64, shape (station, len(temperature) + len(signal_hf))
        Slopes; the columns of estimates a station was not fitted with are NaN, and every
        column is NaN where no fit had ``min_hours``.
    n_hours, n_signals : numpy.ndarray of int64, shape (station,)
        As :func:`guided_fit`.
    """
    n_st, n_temp, n_sig = y.shape[0], len(temperature), len(signal_hf)
    coef = np.full((n_st, n_temp + n_sig), np.nan)
    n_hours = np.zeros(n_st, dtype=np.int64)
    n_signals = np.full(n_st, -1, dtype=np.int64)
    for subset in _fallback_subsets(signal_hf):
        todo = ~np.isfinite(coef[:, 0])
        if not todo.any():
            break
        rows = [r[todo] for r in temperature] + [a[todo] for a in subset]
        part = fit_coefficients(y[todo], rows, fit_hours[todo], min_hours, n_temp)
        done = np.isfinite(part[:, 0])
        idx = np.flatnonzero(todo)[done]
        coef[idx, :n_temp] = part[done, :n_temp]
        # the estimates used are always the last len(subset) of signal_hf
        coef[idx, n_temp + n_sig - len(subset) :] = part[done, n_temp:]
        n_hours[idx] = fitted_hours(y[todo], rows, fit_hours[todo])[done]
        n_signals[idx] = len(subset)
    return coef, n_hours, n_signals


def apply_guided_kernel(
    raw: np.ndarray,
    ts: np.ndarray,
    coef: np.ndarray,
    rain: np.ndarray | None = None,
    lf_window_h: int = 24,
    centering: str = "centred",
    max_gap_h: int = 3,
    terms: tuple[str, ...] = ("ts_hf", "ts_hf_tendency"),
    wetness: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The guided product from stored coefficients: raw SM minus the fitted artefact.

    .. math:: \\theta_{corr} = \\max(\\theta - b_1 T_{HF} - b_2\\,\\partial_t T_{HF},\\ 0)

    or, with the distributed-lag terms (:func:`smlib.method.lagged_artefact.artefact_terms`),
    :math:`\\max(\\theta - \\sum_k w_k T_{HF}(t - k), 0)`.

    Parameters
    ----------
    raw, ts : numpy.ndarray, shape (station, time)
        Measured SM (m3 m-3) and TS (degC), on a gap-free hourly axis (NaN = missing).
    coef : numpy.ndarray, shape (station, 2)
        ``b1`` (m3 m-3 K-1) and ``b2`` (m3 m-3 h K-1); a row of NaN leaves the station raw.
    rain : numpy.ndarray of bool, shape (station, time), optional
        Rain-affected hours (flag 1 instead of 0); default none.
    lf_window_h, centering, max_gap_h
        The regressors' definition (:func:`temperature_regressors`).
    terms : tuple of str
        The artefact's regressors (:func:`smlib.method.lagged_artefact.artefact_terms`); ``coef`` has one column each.
    wetness : tuple of numpy.ndarray, each shape (station,), optional
        ``(slope, level_mean)`` of a gain that follows the soil's wetness (lagged terms only):
        the artefact times :func:`smlib.method.wetness_level.wetness_factor`.

    Returns
    -------
    product : numpy.ndarray of float32, shape (station, time)
        m3 m-3; raw where the artefact cannot be removed (no TS HF, no coefficients).
    flag : numpy.ndarray of int8, shape (station, time)
        0 corrected, 1 corrected on a rain-affected hour, 3 left raw, 4 no value
        (:data:`smlib.method.correct.FLAG_MEANINGS`).

    Notes
    -----
    Latency: the value at hour ``t`` needs TS up to ``t + 15`` with the defaults (the 24-h
    centred LF reaches 11 h ahead, the tendency one hour more, a gap of up to ``max_gap_h``
    hours is filled only once it has closed); within 12 h after a TS gap that breaks the
    moving average, the LF is taken from the next defined one, up to 12 h later
    (:func:`smlib.method.settled.regressors_final` tells which hours are settled).
    """
    raw = np.asarray(raw)
    regs = list(temperature_regressors(ts, lf_window_h, centering, max_gap_h))
    coef = np.asarray(coef, dtype=np.float64)
    if lag_window(terms) >= 0:  # TS HF lags; a weight of 0 (beyond a station's window): no lag
        artefact = distributed_lag_artefact(regs[0], coef)
        if wetness is not None:
            from smlib.method.wetness_level import wetness_factor

            artefact = artefact * wetness_factor(raw, *wetness)
        corrected = np.maximum(raw.astype(np.float64) - artefact, 0.0).astype(np.float32)
    elif wetness is not None:
        raise ValueError("a wetness-dependent gain needs the distributed-lag artefact terms")
    else:
        corrected = apply_coefficients(raw, regs, coef)
    have = np.isfinite(raw)
    done = have & np.isfinite(corrected)
    rain = np.zeros(raw.shape, dtype=bool) if rain is None else np.asarray(rain, dtype=bool)
    product = np.where(done, corrected, raw).astype(np.float32)
    flag = np.where(done, np.where(rain, 1, 0), np.where(have, 3, 4)).astype(np.int8)
    return product, flag


def flagged_product(
    raw: np.ndarray,
    method: np.ndarray,
    rain: np.ndarray,
    ts: np.ndarray | None,
    rule: str = "artefact",
    min_rule_hours: int = 240,
    lf_window_h: int = 24,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Combine a method's series with the rain-hour rule into a product usable as a whole.

    Parameters
    ----------
    raw, method : numpy.ndarray, shape (station, time)
        Measured and corrected SM, m3 m-3 (``method`` NaN where it has no input).
    rain : numpy.ndarray of bool, shape (station, time)
        Rain-affected hours: never taken from ``method``.
    ts : numpy.ndarray, shape (station, time), optional
        Soil temperature (degC) for the ``artefact`` rule.
    rule : {"artefact", "raw"}
        See :class:`smlib.config.CorrectConfig`.
    min_rule_hours : int
        Fewest method hours a station needs for its rule coefficients.
    lf_window_h : int

    Returns
    -------
    product : numpy.ndarray of float32, shape (station, time)
    flag : numpy.ndarray of int8, shape (station, time)
        Keys of :data:`smlib.method.product.FLAG_MEANINGS`.
    coef : numpy.ndarray, shape (station, 2)
        Rule coefficients (m3 m-3 K-1, m3 m-3 h K-1); NaN where not fitted.
    """
    have = np.isfinite(raw)
    use = have & np.isfinite(method) & ~rain
    product = np.where(use, method, raw).astype(np.float32)
    flag = np.where(use, 0, np.where(have, 3, 4)).astype(np.int8)
    coef = np.full((raw.shape[0], 2), np.nan)
    if rule == "artefact" and ts is not None:
        regs = list(temperature_regressors(ts, lf_window_h))
        raw_hf = high_frequency(raw, lf_window_h)
        met_hf = high_frequency(method, lf_window_h)
        coef = fit_coefficients(raw_hf - met_hf, regs, use, min_rule_hours)
        ruled = apply_coefficients(raw, regs, coef)
        take = have & ~use & np.isfinite(ruled)
        product[take] = ruled[take]
        flag[take & rain] = 1
        flag[take & ~rain] = 2
    return product, flag, coef


def guided_compensation(
    raw: np.ndarray,
    ts: np.ndarray,
    signal: list[np.ndarray],
    fit_hours: np.ndarray,
    rain: np.ndarray,
    min_hours: int = 240,
    lf_window_h: int = 24,
    smoothing_days: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Remove the temperature artefact with coefficients guided by estimates of the signal.

    Per station, over the rain-free hours ``fit_hours``, the least-squares fit

    .. math::

        \theta_{HF} = b_1 T_{HF} + b_2\\,\\partial_t T_{HF}
                       + \\sum_k c_k\\, s_{k,HF} + \varepsilon

    where :math:`s_k` are independent estimates of the true diurnal SM signal (the LSTM's
    corrected series, the reanalysis SM). With the signal on the right-hand side, the
    temperature coefficients are no longer biased by the part of the true cycle that covaries
    with temperature -- the weakness of a plain per-probe compensation. The product is

    .. math:: \theta_{corr} = \\max(\theta - b_1 T_{HF} - b_2\\,\\partial_t T_{HF},\\ 0),

    i.e. the measured series with its artefact removed at every hour with TS, rain included.

    Parameters
    ----------
    raw, ts : numpy.ndarray, shape (station, time)
        Measured SM (m3 m-3) and TS (degC).
    signal : list of numpy.ndarray, each shape (station, time)
        Signal estimates (m3 m-3); NaN hours are left out of the fit.
    fit_hours : numpy.ndarray of bool, shape (station, time)
        Hours allowed in the fit (rain-free).
    rain : numpy.ndarray of bool, shape (station, time)
        Rain-affected hours (flag 1 instead of 0).
    min_hours : int
        Fewest fitted hours per station; stations below stay raw (flag 3).
    lf_window_h : int
    smoothing_days : int
        The HF of each signal estimate enters the fit as its running diurnal composite over
        ``2 * smoothing_days + 1`` days (:func:`same_hour_mean`): the day-to-day
        errors of an estimate act like noise in a regressor and bias the temperature
        coefficients toward the plain per-probe fit (errors-in-variables attenuation);
        averaging them out keeps the seasonal evolution of the cycle. 0 uses them as they are.
    The fit anchored on the network, for stations where it is the only estimate, is in
    :mod:`smlib.method.network_anchor`.

    Returns
    -------
    product : numpy.ndarray of float32, shape (station, time)
    flag : numpy.ndarray of int8, shape (station, time)
        Keys of :data:`smlib.method.product.FLAG_MEANINGS`.
    coef : numpy.ndarray, shape (station, 2)
        ``b1`` (m3 m-3 K-1) and ``b2`` (m3 m-3 h K-1).
    """
    coef, _, _ = guided_fit(raw, ts, signal, fit_hours, min_hours, lf_window_h, smoothing_days)
    product, flag = apply_guided_kernel(raw, ts, coef, rain, lf_window_h)
    return product, flag, coef


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
    sm_hf = high_frequency(sm, lf_window_h)
    coef = fit_coefficients(sm_hf, [ts_hf], rain_free, min_hours)
    return apply_coefficients(sm, [ts_hf], coef), coef[:, 0]
