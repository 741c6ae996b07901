"""A standard uncertainty for every corrected hour of the default product.

The guided product removes a fitted temperature artefact from the measured series
(:func:`smlib.method.correct.guided_compensation`):
:math:`\\theta_{corr}(t) = \\theta(t) - \\mathbf{b}^\\top \\mathbf{x}(t)` with the temperature
regressors :math:`\\mathbf{x}(t) = (T_{HF}(t), \\partial_t T_{HF}(t))`. Its diurnal error against the
true soil moisture is the artefact the fit missed plus the probe's own noise. Three parts of it
can be estimated from the station's record alone, without a truth:

1. **What the fit leaves unexplained** -- the mean square of the fit's residual
   :math:`r = \\theta_{HF} - \\mathbf{b}^\\top\\mathbf{x} - \\sum_k c_k s_{k,HF}` over the station's
   rain-free fitted hours, per hour of the day (:func:`residual_ms_by_hour`). It holds the
   probe's noise and whatever the artefact model and the signal estimates cannot represent at
   that hour (a delayed sensing element, a signal estimate with the wrong phase), so it is an
   upper bound on noise alone and grows where the model fits badly.
2. **How well the coefficients are determined** -- a delete-a-group jackknife over blocks of
   whole days (:func:`jackknife_artefact_var`): few fitted hours, collinear regressors or a weak
   TS cycle give coefficients that move when a tenth of the days is left out. Blocks of days keep
   the hourly autocorrelation of the residual inside a block, where an OLS covariance would
   treat every hour as independent and be far too narrow.
3. **How much the artefact depends on the guidance** -- the spread of the fitted artefact over
   fits guided by different subsets of the signal estimates: all of them, without the first (the
   network), the first alone (:func:`guidance_spread_var`). Where the network and the
   reanalysis disagree about the true diurnal cycle, the fit's answer depends on which it
   follows. This stands in for an ensemble of network seeds at a fraction of the cost.

The standard uncertainty is :math:`\\sigma(t) = \\sqrt{\\overline{r^2}(h(t)) + \\sigma^2_{jk}(t)
+ \\sigma^2_{guide}(t)}` for hours whose artefact was removed (flags 0-2); hours left raw
(flag 3) carry the root mean square of the raw HF at that hour of the day (the artefact is
still in them); hours with no value (flag 4) carry NaN. A 90 % interval is
:math:`\\pm 1.645\\,\\sigma` (Gaussian errors assumed).

What it does **not** cover: the low-frequency part (a calibration offset or drift of the probe is
not a diurnal error and is not corrected), an artefact that the rain-free fitted hours never
show (a regime the station did not meet), and errors of the rain screen itself. Where the
product's fit takes the night equations (``correct.night_weight``,
:mod:`smlib.method.night_window`), sigma is still that of the guided equations refitted here: the
nights take the product closer to the truth than that fit (measured on the skill benchmark's 24
worlds: 0.835-0.990 of rain-free hours inside the 90 % interval, median 0.95; 0.998 in the tests'
tiny world). A sigma described by the product's own fit (its residual and a jackknife refitting
it) was tried and is wider in the in-situ-only worlds, where the residual holds the network's
own error (benchmarks/README.md). Its calibration
is measured, not assumed: the skill benchmark and the book report the share of rain-free hours
whose true HF lies inside the 90 % interval (:func:`smlib.evaluation.calibration.interval_coverage`).
"""

from __future__ import annotations

import numpy as np

from smlib.method.compensation import (
    fit_coefficients,
    fit_inputs,
    fit_with_fallback,
    temperature_regressors,
)
from smlib.method.decomposition import high_frequency

__all__ = [
    "Z90",
    "residual_ms_by_hour",
    "jackknife_artefact_var",
    "guidance_spread_var",
    "product_uncertainty",
    "guided_uncertainty",
    "linear_uncertainty",
    "UNCERTAINTY_ATTRS",
]

#: CF attributes of a product's uncertainty variable (``long_name`` is added per product).
UNCERTAINTY_ATTRS = {
    "units": "m3 m-3",
    "standard_name": "volume_fraction_of_condensed_water_in_soil standard_error",
    "comment": (
        "standard uncertainty (1 sigma) of the diurnal correction at each hour: what the "
        "per-station artefact fit leaves unexplained at that hour of the day, the day-block "
        "jackknife variance of the fitted artefact, and its spread over the signal estimates "
        "that guide it; hours left raw carry the rms of the raw HF at that hour. A 90 % "
        "interval is +-1.645 sigma. Not covered: low-frequency (calibration) errors. See "
        "smlib.method.uncertainty."
    ),
}

#: Half-width of a central 90 % interval of a standard normal variable.
Z90 = 1.6448536269514722


def _artefact(regs: list[np.ndarray], coef: np.ndarray) -> np.ndarray:
    """``sum_j coef[:, j] * regs[j]`` for the temperature regressors, shape (station, time)."""
    out = np.zeros(regs[0].shape, dtype=np.float64)
    for j, r in enumerate(regs):
        out += coef[:, j : j + 1] * r
    return out


def residual_ms_by_hour(
    raw_hf: np.ndarray,
    regressors: list[np.ndarray],
    coef: np.ndarray,
    fit_hours: np.ndarray,
    period_h: int = 24,
    min_per_hour: int = 10,
) -> np.ndarray:
    """Mean square of the fit's residual at each hour of the day, per station.

    Parameters
    ----------
    raw_hf : numpy.ndarray, shape (station, time)
        HF of the measured SM, m3 m-3.
    regressors : list of numpy.ndarray, each shape (station, time)
        Every regressor of the fit, temperature terms first, then the signal estimates' HF;
        none (with ``coef`` of shape (station, 0)): the mean square of ``raw_hf`` itself.
    coef : numpy.ndarray, shape (station, len(regressors))
        Fitted slopes (NaN rows: station not fitted).
    fit_hours : numpy.ndarray of bool, shape (station, time)
        Hours the fit used.
    period_h : int
        Hours per day; hour ``t`` of the record is hour ``t % period_h`` of its day (a
        station's time-zone offset only relabels the hours).
    min_per_hour : int
        Fewest residuals an hour of the day needs; fewer give the station's all-hour value.

    Returns
    -------
    numpy.ndarray of float64, shape (station, period_h)
        (m3 m-3)^2, the residual's mean removed; NaN for stations not fitted.

    Examples
    --------
    >>> t = np.arange(24 * 30)
    >>> x = np.sin(2 * np.pi * t / 24)[None, :]
    >>> noise = np.where(t % 2 == 0, 0.01, -0.01)[None, :]
    >>> ms = residual_ms_by_hour(2 * x + noise, [x], np.array([[2.0]]), np.ones((1, t.size), bool))
    >>> np.allclose(ms, 1e-4)
    True
    """
    n_st, n_t = raw_hf.shape
    res = raw_hf - _artefact(regressors, coef) if regressors else raw_hf
    ok = fit_hours & np.isfinite(res)
    hour = np.arange(n_t) % period_h
    out = np.full((n_st, period_h), np.nan)
    for s in range(n_st):
        if not np.isfinite(coef[s]).all() or not ok[s].any():
            continue
        r = res[s, ok[s]]
        r = r - r.mean()
        h = hour[ok[s]]
        total = np.bincount(h, weights=r * r, minlength=period_h)
        count = np.bincount(h, minlength=period_h)
        overall = float(np.mean(r * r))
        with np.errstate(invalid="ignore", divide="ignore"):
            out[s] = np.where(count >= min_per_hour, total / count, overall)
    return out


def jackknife_artefact_var(
    raw_hf: np.ndarray,
    regressors: list[np.ndarray],
    n_temperature: int,
    fit_hours: np.ndarray,
    min_hours: int,
    n_blocks: int = 10,
    period_h: int = 24,
) -> np.ndarray:
    """Delete-a-group jackknife variance of the fitted artefact at every hour.

    Day ``d`` of the record belongs to group ``d % n_blocks``; each group is left out in turn,
    the fit is repeated, and the variance of the artefact :math:`\\mathbf{b}^\\top\\mathbf{x}(t)`
    over the refits is

    .. math:: \\sigma^2_{jk}(t) = \\frac{G-1}{G} \\sum_g \\left(a_g(t) - \\bar a(t)\\right)^2 .

    Parameters
    ----------
    raw_hf : numpy.ndarray, shape (station, time)
    regressors : list of numpy.ndarray, each shape (station, time)
        Temperature terms first (``n_temperature`` of them), then the signal estimates.
    n_temperature : int
        How many leading regressors make up the artefact.
    fit_hours : numpy.ndarray of bool, shape (station, time)
    min_hours : int
        Fewest hours of a refit (scaled by ``(G - 1) / G`` from the full fit's minimum).
    n_blocks : int
        Groups of days ``G``.

    Returns
    -------
    numpy.ndarray of float64, shape (station, time)
        (m3 m-3)^2; NaN where fewer than two refits succeeded or a regressor is missing.
    """
    n_t = raw_hf.shape[1]
    group = (np.arange(n_t) // period_h) % n_blocks
    temps = regressors[:n_temperature]
    arts = []
    for g in range(n_blocks):
        keep = fit_hours & (group != g)[None, :]
        coef = fit_coefficients(
            raw_hf, regressors, keep, int(min_hours * (n_blocks - 1) / n_blocks), n_temperature
        )
        arts.append(_artefact(temps, coef[:, :n_temperature]))
    stack = np.array(arts)  # (G, station, time)
    done = np.isfinite(stack).sum(axis=0)
    finite = np.isfinite(stack)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(finite, stack, 0.0).sum(axis=0) / done
        ss = np.where(finite, (stack - mean[None]) ** 2, 0.0).sum(axis=0)
    var = (done - 1) / np.maximum(done, 1) * ss
    return np.where(done >= 2, var, np.nan)


def guidance_spread_var(
    raw_hf: np.ndarray,
    temperature: list[np.ndarray],
    signal_hf: list[np.ndarray],
    fit_hours: np.ndarray,
    min_hours: int,
) -> np.ndarray:
    """Variance of the fitted artefact over fits guided by different signal estimates.

    The subsets are: all estimates; all but the first; the first alone. The plain temperature
    fit (no estimate) is not one of them: it is biased wherever the true cycle covaries with
    temperature, so its distance from the guided fit says nothing about the guided fit's
    error. Duplicates (one estimate only) count once; a subset whose fit lacks hours at a
    station is left out there.

    Returns
    -------
    numpy.ndarray of float64, shape (station, time)
        (m3 m-3)^2; 0 where only one subset could be fitted, NaN where none could.
    """
    subsets: list[tuple[int, ...]] = []
    k = len(signal_hf)
    for sub in (tuple(range(k)), tuple(range(1, k)), (0,) if k else ()):
        if sub and sub not in subsets:
            subsets.append(sub)
    arts = []
    for sub in subsets:
        coef = fit_coefficients(
            raw_hf, temperature + [signal_hf[i] for i in sub], fit_hours, min_hours,
            len(temperature),
        )  # fmt: skip
        arts.append(_artefact(temperature, coef[:, : len(temperature)]))
    if not arts:  # no signal estimate: nothing to disagree
        return np.zeros(raw_hf.shape)
    stack = np.array(arts)
    finite = np.isfinite(stack)
    n = finite.sum(axis=0)
    with np.errstate(invalid="ignore"):
        mean = np.nansum(np.where(finite, stack, 0.0), axis=0) / np.maximum(n, 1)
        var = np.nansum(np.where(finite, (stack - mean[None]) ** 2, 0.0), axis=0) / np.maximum(n, 1)
    return np.where(n >= 1, var, np.nan)


def product_uncertainty(
    raw_hf: np.ndarray,
    temperature: list[np.ndarray],
    signal_hf: list[np.ndarray],
    fit_hours: np.ndarray,
    flag: np.ndarray,
    min_hours: int = 240,
    n_blocks: int = 10,
    anchored: np.ndarray | None = None,
    gain: np.ndarray | None = None,
) -> np.ndarray:
    """Standard uncertainty (1 sigma) of the diurnal correction at every hour (module docstring).

    Parameters
    ----------
    raw_hf : numpy.ndarray, shape (station, time)
        HF of the measured SM, m3 m-3.
    temperature : list of numpy.ndarray, each shape (station, time)
        The artefact's regressors (K, K h-1), as fitted.
    signal_hf : list of numpy.ndarray, each shape (station, time)
        HF of the signal estimates that guided the fit (m3 m-3), the network's first.
    fit_hours : numpy.ndarray of bool, shape (station, time)
        Rain-free hours the fit used.
    flag : numpy.ndarray of int, shape (station, time)
        The product's flags (:data:`smlib.method.correct.FLAG_MEANINGS`).
    min_hours : int
        Fewest fitted hours, as in the fit.
    n_blocks : int
        Day groups of the jackknife.
    anchored : numpy.ndarray of bool, shape (station,), optional
        Stations whose product comes from the fit anchored on the network
        (:func:`smlib.method.network_anchor.select_network_anchor`). There the residual and the
        jackknife are those of the anchored fit (the residual holds the network's own error,
        so it errs on the wide side), and the guidance spread is the disagreement of the
        anchored and the free fit, half their difference squared.
    gain : numpy.ndarray, shape (station, time), optional
        The factor on the product's fitted artefact at each hour (the towers' wetness gain,
        :func:`smlib.method.wetness_level.wetness_factor`; 1 elsewhere). The artefact's
        uncertainties (jackknife, guidance spread) scale with it; the residual does not.

    Returns
    -------
    numpy.ndarray of float32, shape (station, time)
        m3 m-3; NaN where the product has no value.
    """
    n_st, n_t = raw_hf.shape
    hour = np.arange(n_t) % 24
    n_temp = len(temperature)
    coef, _, _ = fit_with_fallback(raw_hf, temperature, signal_hf, fit_hours, min_hours)
    fitted = np.isfinite(coef[:, :n_temp]).all(axis=1)
    ms = np.full((n_st, 24), np.nan)
    jk = np.full((n_st, n_t), np.nan)
    # stations fitted with the same estimates share one pass of the residual and the jackknife
    used = np.isfinite(coef[:, n_temp:])
    for pattern in {tuple(u) for u in used[fitted]}:
        rows = fitted & (used == np.array(pattern, dtype=bool)).all(axis=1)
        cols = list(range(n_temp)) + [n_temp + i for i, on in enumerate(pattern) if on]
        regs = [(temperature + signal_hf)[c][rows] for c in cols]
        ms[rows] = residual_ms_by_hour(
            raw_hf[rows], regs, coef[np.ix_(rows, cols)], fit_hours[rows]
        )
        jk[rows] = jackknife_artefact_var(
            raw_hf[rows], regs, n_temp, fit_hours[rows], min_hours, n_blocks
        )
    spread = guidance_spread_var(raw_hf, temperature, signal_hf, fit_hours, min_hours)
    rows = fitted & (np.zeros(n_st, bool) if anchored is None else np.asarray(anchored, bool))
    if rows.any() and signal_hf:
        y = raw_hf[rows] - signal_hf[0][rows]
        temp = [t[rows] for t in temperature]
        keep = fit_hours[rows] & np.isfinite(signal_hf[0][rows])
        c_anch = fit_coefficients(y, temp, keep, min_hours)
        ms[rows] = residual_ms_by_hour(y, temp, c_anch, keep)
        jk[rows] = jackknife_artefact_var(y, temp, n_temp, keep, min_hours, n_blocks)
        diff = _artefact(temp, c_anch) - _artefact(temp, coef[rows, :n_temp])
        spread[rows] = 0.5 * diff**2
    g2 = 1.0 if gain is None else np.asarray(gain, dtype=np.float64) ** 2
    var = ms[:, hour] + g2 * (np.nan_to_num(jk) + np.nan_to_num(spread))
    # hours left raw keep their artefact: the rms of the raw HF at that hour of the day
    raw_ms = residual_ms_by_hour(raw_hf, [], np.zeros((n_st, 0)), fit_hours)
    var = np.where(flag == 3, raw_ms[:, hour], var)
    sigma = np.sqrt(var)
    return np.where(flag == 4, np.nan, sigma).astype(np.float32)


def guided_uncertainty(
    raw: np.ndarray,
    ts: np.ndarray,
    signal: list[np.ndarray],
    fit_hours: np.ndarray,
    flag: np.ndarray,
    min_hours: int = 240,
    lf_window_h: int = 24,
    smoothing_days: int = 0,
    max_lag_h: int = 0,
    anchored: np.ndarray | None = None,
    wetness: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """:func:`product_uncertainty` of :func:`smlib.method.correct.guided_compensation`'s product.

    Takes the same arguments as the fit (raw SM and TS, the signal estimates, the fitted hours,
    ``min_hours``, ``lf_window_h``, ``smoothing_days``) and its flags; returns sigma in m3 m-3,
    shape (station, time). With ``max_lag_h`` > 0 (the distributed-lag artefact,
    :mod:`smlib.method.lagged_artefact`) the temperature terms are the TS HF lags
    ``0 .. max_lag_h``, refitted here by least squares over the whole window: an approximation of
    the product's ridge fit with a per-station window, which the jackknife then describes.
    ``anchored``: as :func:`product_uncertainty`. ``wetness``: ``(slope, level_mean)`` per
    station of the towers' wetness gain (:mod:`smlib.method.wetness_gain`), whose factor
    scales the artefact's uncertainties (``gain`` of :func:`product_uncertainty`).
    """
    raw_hf, temperature, signal_hf, _ = fit_inputs(
        raw, ts, signal, fit_hours, min_hours, lf_window_h, smoothing_days
    )
    if max_lag_h > 0:
        from smlib.method.lagged_artefact import lagged_copies

        temperature = lagged_copies(temperature[0], max_lag_h)
    gain = None
    if wetness is not None:
        from smlib.method.wetness_level import wetness_factor

        gain = wetness_factor(raw, *wetness)
    return product_uncertainty(
        raw_hf, temperature, signal_hf, fit_hours, flag, min_hours, anchored=anchored, gain=gain
    )


def linear_uncertainty(
    raw: np.ndarray,
    ts: np.ndarray,
    fit_hours: np.ndarray,
    flag: np.ndarray,
    min_hours: int = 240,
    lf_window_h: int = 24,
) -> np.ndarray:
    """:func:`product_uncertainty` of the per-probe linear compensation (``lin``): one regressor,
    :math:`T_{HF}`, no signal estimate (so no guidance spread). Sigma in m3 m-3."""
    ts_hf, _ = temperature_regressors(ts, lf_window_h)
    return product_uncertainty(
        high_frequency(raw, lf_window_h), [ts_hf], [], fit_hours, flag, min_hours
    )
