"""The artefact fits of the nights alone that compete with a network-guided fit (issue 18).

Where no reanalysis guides the artefact fit (an in-situ-only station) the network's series is
a function of the probe's own TS history, and the night equations
(:mod:`smlib.method.night_window`) are the one source that needs no estimate of the true SM.
Two fits of the nights alone compete with the network-guided fits
(:func:`smlib.method.lagged_artefact.anchor_lagged_on_network`), each kept at a station by
the SM-TS composite correlation of what it leaves:

* the **single slope** (lag 0, one coefficient per probe, corrected for the thermistor's noise;
  :func:`prefer_night_slope`): the per-probe compensation fitted where the true SM is known
  up to a line;
* the **element kernel** (:func:`fit_element_kernel`, :func:`prefer_element_kernel`): the
  sensing element sees TS through a transport delay :math:`d` and a first-order response of
  time constant :math:`\\tau` (heat conducted from the thermistor's depth to the sensing
  volume, through a probe body with its own heat capacity),

  .. math:: a(t) = g \\int_0^\\infty h_{d,\\tau}(s)\\, T_{HF}(t - s)\\, ds, \\qquad
     h_{d,\\tau}(s) = \\frac{1}{\\tau}\\, e^{-(s - d)/\\tau}\\ (s \\ge d),

  a pure delay where :math:`\\tau = 0`. Per station :math:`(d, \\tau)` is chosen on a grid by
  two-fold cross-validation over alternating blocks of days of the night equations and the gain
  :math:`g` fitted by least squares corrected for the thermistor's noise (errors in variables).
  The free distributed lag of the nights alone has seven collinear weights that the nights'
  smooth TS cannot pin down, and its daytime shape can be wrong; the single slope cannot
  follow a delayed element. Two shape parameters can do both: the kernel is the slope where
  :math:`d = \\tau = 0`.

The kernel is stored as distributed-lag weights :math:`g\\, h_k` (:math:`k = 0 .. K`), so
every path applies it as it applies any station table.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from smlib.method.artefact_terms import distributed_lag_artefact
from smlib.method.lagged_fit import DistributedLagFit, distributed_lag_fit
from smlib.method.night_window import NightEquations

log = logging.getLogger(__name__)

__all__ = [
    "NIGHT_SLOPE_MARGIN",
    "KERNEL_MARGIN",
    "ELEMENT_DELAYS_H",
    "ELEMENT_TAUS_H",
    "element_kernel",
    "ElementKernelFit",
    "fit_element_kernel",
    "prefer_night_slope",
    "prefer_element_kernel",
]

#: The single night slope replaces the kept fit only where its SM-TS composite correlation is
#: lower by more than this (chosen on the skill benchmark: 0.02 to 0.10 kept the same stations
#: in its in-situ worlds; with 0 a lagged element lost to it).
NIGHT_SLOPE_MARGIN = 0.05
#: The element kernel replaces the kept fit unless that fit leaves the SM-TS composite
#: correlation lower by more than this. Wider than the slope's margin: the composite is biased
#: towards an in-phase fit, which also removes part of the evaporation's cycle -- on a probe
#: whose element sees TS 2 h late a lag-0 fit leaves it 0.08 lower than the right kernel
#: (tests/test_night_candidates.py). Measured on the skill benchmark's in-situ worlds against
#: the slope's 0.05 (benchmarks/README.md).
KERNEL_MARGIN = 0.10
#: Transport delays of the element kernel's grid, hours (3-9 cm between thermistor and
#: sensing volume: 1-3 h, :mod:`smlib.synth.scenarios`), at most the lag window.
ELEMENT_DELAYS_H = tuple(np.arange(0.0, 4.01, 0.5))
#: First-order time constants of the element kernel's grid, hours (0: a pure delay).
ELEMENT_TAUS_H = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0)


def element_kernel(delay_h: float, tau_h: float, max_lag_h: int) -> np.ndarray:
    """Distributed-lag shape of a delay ``delay_h`` followed by a first-order response
    ``tau_h`` (hours), on the hourly lags ``0 .. max_lag_h``, summing to 1.

    The continuous impulse response is integrated against the hat function of each hourly lag
    (TS linearly interpolated between hours), so a fractional delay splits between its two
    hours; what lies beyond ``max_lag_h`` is cut and the rest rescaled.

    Returns
    -------
    numpy.ndarray, shape (max_lag_h + 1,)

    Examples
    --------
    >>> element_kernel(1.5, 0.0, 3).round(3).tolist()
    [0.0, 0.5, 0.5, 0.0]
    >>> w = element_kernel(0.0, 2.0, 6)  # a 2-h first-order element: decaying weights
    >>> round(float(w.sum()), 12), bool(np.all(np.diff(w[1:]) < 0))
    (1.0, True)
    """
    lags = np.arange(max_lag_h + 1, dtype=float)
    if tau_h <= 0:
        w = np.maximum(0.0, 1.0 - np.abs(lags - min(delay_h, max_lag_h)))
    else:
        s = np.linspace(0.0, max_lag_h, 200 * max_lag_h + 1)
        h = np.where(s >= delay_h, np.exp(-(s - delay_h) / tau_h), 0.0)
        hat = np.maximum(0.0, 1.0 - np.abs(s[None, :] - lags[:, None]))
        w = (hat * h[None, :]).sum(axis=1)  # a uniform grid: its step cancels below
    if w.sum() <= 0:  # a delay beyond the window: the last lag
        w = np.zeros_like(lags)
        w[-1] = 1.0
    return w / w.sum()


def _grid(max_lag_h: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The kernels of the grid (shape (n, max_lag_h + 1)) and their delays and time
    constants; a delay at most the window."""
    pairs = [(d, t) for d in ELEMENT_DELAYS_H if d <= max_lag_h for t in ELEMENT_TAUS_H]
    shapes = np.array([element_kernel(d, t, max_lag_h) for d, t in pairs])
    return shapes, np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])


@dataclass
class ElementKernelFit:
    """Per-station element kernels fitted on the nights alone.

    Attributes
    ----------
    weights : numpy.ndarray, shape (station, max_lag_h + 1)
        :math:`g\\, h_k`, m3 m-3 K-1; NaN where not fitted.
    delay_h, tau_h : numpy.ndarray, shape (station,)
        Chosen delay and time constant, hours; NaN where not fitted.
    gain : numpy.ndarray, shape (station,)
        :math:`g`, m3 m-3 K-1.
    cv_rmse : numpy.ndarray, shape (station,)
        Cross-validated RMSE of the night equations at the chosen shape (the thermistor noise's
        share taken off), m3 m-3.
    n_hours : numpy.ndarray of int, shape (station,)
        Night hours that entered the fit.
    """

    weights: np.ndarray
    delay_h: np.ndarray
    tau_h: np.ndarray
    gain: np.ndarray
    cv_rmse: np.ndarray
    n_hours: np.ndarray


def fit_element_kernel(
    nights: NightEquations, keep: np.ndarray, max_lag_h: int, block_days: int = 7
) -> ElementKernelFit:
    """Fit the element kernel of every station on its night equations.

    Parameters
    ----------
    nights : NightEquations
        The equations of a fit without estimates (:meth:`NightRule.equations` with 0
        estimates); with ``errors_in_variables`` the gain and the cross-validated errors are
        corrected for the thermistor's noise (:meth:`NightEquations.noise_gram`, scaled by
        :math:`\\sum_k h_k^2`, what a kernel's averaging leaves of it).
    keep : numpy.ndarray of bool, shape (station, time)
        Rain-free hours allowed.
    max_lag_h : int
        Lag window of the stored weights, hours.
    block_days : int
        Length of the alternating blocks of days of the two-fold cross-validation.

    Returns
    -------
    ElementKernelFit
        Stations with fewer usable nights than the night equations need are not fitted.
    """
    shapes, delays, taus = _grid(max_lag_h)
    spread = (shapes**2).sum(axis=1)
    n_st, n_t = np.shape(keep)
    out = ElementKernelFit(
        np.full((n_st, max_lag_h + 1), np.nan), np.full(n_st, np.nan), np.full(n_st, np.nan),
        np.full(n_st, np.nan), np.full(n_st, np.nan), np.zeros(n_st, dtype=np.int64),
    )  # fmt: skip
    fold = (np.arange(n_t) // (24 * block_days)) % 2 == 0
    for s in range(n_st):
        rows = nights.rows(s, keep[s], max_lag_h)
        if rows is None:
            continue
        y, lags, hours = rows
        x = lags @ shapes.T  # (hour, kernel)
        parts = (fold[hours], ~fold[hours], np.ones(hours.size, dtype=bool))
        noise = [spread * nights.noise_gram(s, hours[m]) for m in parts]
        best = _best_kernel(y, x, fold[hours], noise, nights.night[s][hours], delays + taus)
        if best is None:
            continue
        j, g, err = best
        out.weights[s] = g * shapes[j]
        out.delay_h[s], out.tau_h[s], out.gain[s] = delays[j], taus[j], g
        out.cv_rmse[s] = np.sqrt(max(err, 0.0) / y.size)
        out.n_hours[s] = y.size
    return out


def _gain(x: np.ndarray, y: np.ndarray, m: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """Least-squares gain of ``y`` on each column of ``x`` over the rows ``m``, the regressor's
    noise (``noise``, its sum of squares) taken off the denominator, at most half of it."""
    xx = (x[m] ** 2).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (x[m] * y[m, None]).sum(axis=0) / (xx - np.minimum(noise, 0.5 * xx))


def _best_kernel(
    y: np.ndarray,
    x: np.ndarray,
    fold: np.ndarray,
    noise: list[np.ndarray],
    night: np.ndarray,
    memory: np.ndarray,
) -> tuple[int, float, float] | None:
    """Index, gain and cross-validated squared error of the kernel column of ``x`` kept.

    ``noise``: what the thermistor's noise adds to each column's sum of squares in the first
    fold, the second, and both. The held-out error is taken as if TS were noise-free
    (:math:`g^2` times the held-out noise off, spread evenly over the held-out hours), or a
    kernel that averages more lags would be chosen for its smaller noise rather than its
    shape. Of the kernels whose error is within one standard error of the smallest (the
    standard error of the difference, from its sums over nights, ``night`` the night of each
    equation), the one of the shortest ``memory`` (its mean lag, :math:`d + \tau`) is kept:
    the nights' smooth TS lets a delayed kernel fit them almost as well as the right one.
    None where a fold is empty.
    """
    sq = np.zeros_like(x)
    for train in (0, 1):
        m = fold if train == 0 else ~fold
        if m.sum() < 2 or (~m).sum() < 2:
            return None
        g = _gain(x, y, m, noise[train])
        sq[~m] = (y[~m, None] - x[~m] * g) ** 2 - g**2 * noise[1 - train] / (~m).sum()
    _, inverse = np.unique(night, return_inverse=True)
    per_night = np.zeros((inverse.max() + 1, x.shape[1]))
    np.add.at(per_night, inverse, sq)
    err = per_night.sum(axis=0)
    err = np.where(np.isfinite(err), err, np.inf)
    if not np.isfinite(err).any():
        return None
    best = int(np.argmin(err))
    diff = per_night - per_night[:, [best]]
    se = np.sqrt(diff.shape[0] * np.nan_to_num(diff.var(axis=0)))
    near = np.flatnonzero(err <= err[best] + se)
    j = int(near[np.lexsort((err[near], memory[near]))[0]])
    return j, float(_gain(x, y, np.ones(y.size, dtype=bool), noise[2])[j]), float(err[j])


def _kept_r(raw_hf, ts_hf, fit_hours, weights) -> np.ndarray:
    """SM-TS composite correlation of ``raw_hf`` less the distributed-lag artefact."""
    from smlib.method.network_anchor import composite_correlation

    art = distributed_lag_artefact(ts_hf, weights)
    return composite_correlation(raw_hf - art, ts_hf, fit_hours)


def _replace(fit: DistributedLagFit, idx: np.ndarray, weights, window, cv, n_hours) -> None:
    """Stations ``idx`` of ``fit`` take a fit of the nights alone (in place)."""
    fit.weights[idx], fit.window_h[idx], fit.cv_rmse[idx] = weights, window, cv
    for name, value in (("n_hours", n_hours), ("n_signals", 0), ("anchored", False)):
        if getattr(fit, name) is not None:
            getattr(fit, name)[idx] = value


def prefer_night_slope(fit, rows, raw_hf, ts_hf, fit_hours, nights_alone, ridge, min_hours):
    """The single night slope in place of ``fit`` at the stations ``rows`` where it leaves the
    SM-TS composite correlation lower by more than :data:`NIGHT_SLOPE_MARGIN` (in place)."""
    one = distributed_lag_fit(
        raw_hf[rows], ts_hf[rows], [], fit_hours[rows], 0, ridge, min_hours,
        night=nights_alone.subset(rows),
    )  # fmt: skip
    weights = np.zeros_like(fit.weights[rows])
    weights[:, 0] = one.weights[:, 0]  # NaN where the nights could not be fitted
    r_one = _kept_r(raw_hf[rows], ts_hf[rows], fit_hours[rows], weights)
    r_kept = _kept_r(raw_hf[rows], ts_hf[rows], fit_hours[rows], fit.weights[rows])
    take = (one.window_h >= 0) & np.isfinite(r_one) & (r_one < r_kept - NIGHT_SLOPE_MARGIN)
    _replace(fit, rows[take], weights[take], 0, one.cv_rmse[take], one.n_hours[take])


def prefer_element_kernel(
    fit: DistributedLagFit,
    rows: np.ndarray,
    raw_hf: np.ndarray,
    ts_hf: np.ndarray,
    fit_hours: np.ndarray,
    nights_alone: NightEquations,
) -> None:
    """The element kernel in place of ``fit`` at the stations ``rows``, unless the kept fit
    leaves the SM-TS composite correlation lower by more than :data:`KERNEL_MARGIN`, where
    the kernel has a delay (a kernel at lag 0 is the single slope, left to
    :func:`prefer_night_slope`; in place; logged with the chosen delays and time constants).

    Parameters
    ----------
    fit : DistributedLagFit
        The kept fits (weights of shape (station, max_lag_h + 1)).
    rows : numpy.ndarray of int
        Stations that may take the kernel.
    raw_hf, ts_hf : numpy.ndarray, shape (station, time)
        HF of the measured SM (m3 m-3) and of TS (K).
    fit_hours : numpy.ndarray of bool, shape (station, time)
    nights_alone : NightEquations
        The night equations of a fit without estimates.
    """
    if rows.size == 0:
        return
    max_lag_h = fit.weights.shape[1] - 1
    kern = fit_element_kernel(nights_alone.subset(rows), fit_hours[rows], max_lag_h)
    r_kern = _kept_r(raw_hf[rows], ts_hf[rows], fit_hours[rows], kern.weights)
    r_kept = _kept_r(raw_hf[rows], ts_hf[rows], fit_hours[rows], fit.weights[rows])
    fitted = np.isfinite(kern.gain) & np.isfinite(r_kern)
    delayed = kern.delay_h + kern.tau_h > 0  # lag 0: the single slope, under its own rule
    take = fitted & delayed & ~(r_kept < r_kern - KERNEL_MARGIN)
    window = np.array([np.flatnonzero(w)[-1] if np.any(w) else 0 for w in kern.weights[take]])
    _replace(fit, rows[take], kern.weights[take], window, kern.cv_rmse[take], kern.n_hours[take])
    if take.any():
        log.info(
            "element kernel of the nights alone kept at %d of %d station(s): delay %s h, "
            "time constant %s h (median)", take.sum(), rows.size,
            np.median(kern.delay_h[take]), np.median(kern.tau_h[take]),
        )  # fmt: skip
