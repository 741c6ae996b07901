"""Stations whose only signal estimate is the network (no reanalysis): the guided fit anchored on
the network's series, chosen per station against the free fit (issue 18).

Where no reanalysis guides the fit, the network's series (fed with TS and the time of day) is
itself a function of the temperature, so the free regression of the raw HF on the temperature
terms and that series cannot tell the artefact from the signal. :func:`select_network_anchor`
keeps, per station, the free fit or the fit that takes the network's HF as the signal
(coefficient 1), by the sign of the diurnal SM-TS coupling each leaves
(:func:`composite_correlation`). Numpy kernels on ``(station, time)`` arrays; ``smlib correct``
uses :func:`anchor_single_network` under ``correct.network_anchor="select"`` (the default).
"""

from __future__ import annotations

import numpy as np

from smlib.method.compensation import fit_coefficients, fit_inputs

__all__ = ["composite_correlation", "select_network_anchor", "anchor_single_network"]


def composite_correlation(x_hf: np.ndarray, ts_hf: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Correlation of the mean diurnal cycles (24-h composites) of ``x_hf`` and ``ts_hf``.

    The composite of a series is its mean at each hour of the day over the hours ``keep``
    where both series are finite. Hours are counted along the time axis (``index % 24``),
    which permutes the bins of local solar time the same way for both series and so leaves
    the correlation unchanged.

    Parameters
    ----------
    x_hf, ts_hf : numpy.ndarray, shape (station, time)
        HF of soil moisture (m3 m-3) and of soil temperature (K), hourly.
    keep : numpy.ndarray of bool, shape (station, time)
        Hours allowed (rain-free).

    Returns
    -------
    numpy.ndarray of float64, shape (station,)
        NaN where an hour of the day has no value or a composite is flat.

    Examples
    --------
    >>> t = np.arange(72.0)
    >>> ts = np.sin(2 * np.pi * t / 24)[None, :]
    >>> round(float(composite_correlation(-0.01 * ts, ts, np.ones((1, 72), bool))[0]), 6)
    -1.0
    """
    ok = keep & np.isfinite(x_hf) & np.isfinite(ts_hf)
    n_st, n_t = x_hf.shape
    hour = np.arange(n_t) % 24
    comp = np.zeros((2, n_st, 24))
    count = np.zeros((n_st, 24))
    for h in range(24):
        m = ok & (hour == h)[None, :]
        count[:, h] = m.sum(axis=1)
        comp[0, :, h] = np.where(m, x_hf, 0.0).sum(axis=1)
        comp[1, :, h] = np.where(m, ts_hf, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        comp = comp / count[None]
        a = comp[0] - comp[0].mean(axis=1, keepdims=True)
        b = comp[1] - comp[1].mean(axis=1, keepdims=True)
        r = (a * b).sum(axis=1) / np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    return np.where((count > 0).all(axis=1), r, np.nan)


def select_network_anchor(
    y_hf: np.ndarray,
    temperature: list[np.ndarray],
    network_hf: np.ndarray,
    fit_hours: np.ndarray,
    coef_free: np.ndarray,
    network_used: np.ndarray,
    min_hours: int = 240,
) -> tuple[np.ndarray, np.ndarray]:
    """Per station, the free guided fit or the fit anchored on the network, whichever leaves
    the more negative diurnal coupling of SM and TS.

    Where the network is the only signal estimate (a station without reanalysis), its series
    is itself a function of TS and the time of day, so the free fit
    :math:`\\theta_{HF} = b \\cdot T + c\\, s_{net} + \\varepsilon` cannot tell the artefact from
    the signal: ``c`` is poorly determined, can turn negative and leave the station near raw
    although the network corrected it. The *anchored* fit fixes :math:`c = 1`, i.e. takes the
    network's HF as the signal and regresses the network's artefact estimate
    :math:`\\theta_{HF} - s_{net}` on the temperature terms. Neither is always right (the
    anchored fit inherits a wrong network; the free one undoes a right one), so per station
    the fit is kept whose corrected series has the more negative correlation of its rain-free
    mean diurnal cycle with that of TS (:func:`composite_correlation`): the paper's premise
    (its training filter keeps days with R(SM, TS) < -0.34) is that the true diurnal SM cycle
    of a rain-free day falls as the soil warms.

    Parameters
    ----------
    y_hf : numpy.ndarray, shape (station, time)
        HF of the measured SM, m3 m-3.
    temperature : list of numpy.ndarray, each shape (station, time)
        The artefact's regressors (:func:`temperature_regressors`).
    network_hf : numpy.ndarray, shape (station, time)
        HF of the network's series as it enters the fit, m3 m-3.
    fit_hours : numpy.ndarray of bool, shape (station, time)
    coef_free : numpy.ndarray, shape (station, len(temperature))
        The free fit's temperature coefficients.
    network_used : numpy.ndarray of bool, shape (station,)
        Stations whose free fit used the network (others keep ``coef_free``).
    min_hours : int

    Returns
    -------
    coef : numpy.ndarray of float64, shape (station, len(temperature))
    anchored : numpy.ndarray of bool, shape (station,)
        True where the anchored fit was kept.
    """
    n_temp = len(temperature)
    coef = np.array(coef_free[:, :n_temp], dtype=np.float64)
    anchored = np.zeros(coef.shape[0], dtype=bool)
    rows = np.flatnonzero(network_used & np.isfinite(coef).all(axis=1))
    if rows.size == 0:
        return coef, anchored
    temp = [t[rows] for t in temperature]
    keep = fit_hours[rows] & np.isfinite(network_hf[rows])
    coef_anch = fit_coefficients(y_hf[rows] - network_hf[rows], temp, keep, min_hours)

    def corrected(c: np.ndarray) -> np.ndarray:
        out = np.asarray(y_hf[rows], dtype=np.float64).copy()
        for j, t in enumerate(temp):
            out -= c[:, j : j + 1] * t
        return out

    r_free = composite_correlation(corrected(coef[rows]), temp[0], fit_hours[rows])
    r_anch = composite_correlation(corrected(coef_anch), temp[0], fit_hours[rows])
    take = np.isfinite(coef_anch).all(axis=1) & np.isfinite(r_anch)
    take &= ~(r_free <= r_anch)  # NaN r_free: the anchored fit is the defined one
    coef[rows[take]] = coef_anch[take]
    anchored[rows[take]] = True
    return coef, anchored


def anchor_single_network(
    raw: np.ndarray,
    ts: np.ndarray,
    signal: list[np.ndarray],
    fit_hours: np.ndarray,
    coef: np.ndarray,
    n_signals: np.ndarray,
    min_hours: int = 240,
    lf_window_h: int = 24,
    smoothing_days: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`select_network_anchor` for a :func:`guided_fit` whose only estimate is the network.

    Parameters
    ----------
    raw, ts, signal, fit_hours, min_hours, lf_window_h, smoothing_days
        As :func:`guided_fit`.
    coef, n_signals
        Its results.

    Returns
    -------
    coef : numpy.ndarray of float64, shape (station, 2)
    anchored : numpy.ndarray of bool, shape (station,)
        All False unless ``signal`` holds the network alone.
    """
    coef = np.array(coef, dtype=np.float64)
    if len(signal) != 1:
        return coef, np.zeros(coef.shape[0], dtype=bool)
    y_hf, regs, (net_hf,), _ = fit_inputs(
        raw, ts, signal, fit_hours, min_hours, lf_window_h, smoothing_days
    )
    return select_network_anchor(y_hf, regs, net_hf, fit_hours, coef, n_signals == 1, min_hours)
