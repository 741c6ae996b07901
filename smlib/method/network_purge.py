"""The share of the probe's artefact that the network's series carries, found on the nights and
removed before the series guides the product's fit.

The network is trained on the HF of the *measured* SM (paper section 3.1), which holds the
probe's temperature artefact, so its series carries part of it: on three of the skill
benchmark's twin worlds (arid, default, temperate_maritime) the network's error projects onto
the true artefact with a median of 0.10-0.27 of it over the stations, above 0.4 at a quarter of
temperate_maritime's.
As a signal estimate in the guided fit (:func:`smlib.method.lagged_artefact.distributed_lag_fit`)
that part is taken for signal, and the fitted artefact comes out short by it: in the twin's
temperate_maritime the product held 0.87 of the true artefact with the network and 0.92
without it, and the network "hurt".

Within a night the true SM is close to a straight line (no evaporation, little drainage over
ten hours), so what a series shares with the product's fitted artefact :math:`\\hat a` there,
each night detrended, is artefact. Per station,

.. math:: \\kappa = \\frac{\\sum_n \\sum_{t \\in n} \\tilde N(t)\\, \\tilde a(t)}
   {\\sum_n \\sum_{t \\in n} \\tilde a(t)^2}

(:math:`\\tilde{\\;}`: the residual of a straight line fitted within night :math:`n`;
:func:`night_share`), and the network's series guides the fit as :math:`N - \\kappa \\hat a_{HF}`
where :math:`0 < \\kappa`, :math:`\\kappa` held at 1 (:func:`purge_network`). Where
:math:`\\kappa \\le 0` the network's night content does not look like this probe's artefact (a
probe that reads lower when warm, beside a network that learned the majority's sign) and its
series is left as it is. The fitted artefact gives the shape, lags included, so a sensing
element that lags its thermistor is handled as the product handles it.

Numpy kernels on ``(station, time)`` arrays; :func:`smlib.method.product.fit_product_table`
applies it under ``correct.network_night_purge``.
"""

from __future__ import annotations

import numpy as np

from smlib.method.night_window import detrend_within_nights, night_index, night_min_hours

__all__ = ["night_share", "purge_network", "purged_signals"]


def night_share(
    y_hf: np.ndarray,
    x_hf: np.ndarray,
    night: np.ndarray,
    keep: np.ndarray,
    min_hours: int = night_min_hours(),
) -> np.ndarray:
    """Slope of ``y_hf`` on ``x_hf`` over the night hours, each night's straight line removed.

    Parameters
    ----------
    y_hf, x_hf : numpy.ndarray, shape (station, time)
        Hourly series (HF parts); NaN: missing.
    night : numpy.ndarray of int, shape (station, time)
        Night number of each hour, -1 outside the window
        (:func:`smlib.method.night_window.night_index`).
    keep : numpy.ndarray of bool, shape (station, time)
        Hours allowed (rain-free).
    min_hours : int
        Fewest hours with both series for a night to count (default: the window's hours less
        two, as the product's night equations ask).

    Returns
    -------
    numpy.ndarray of float64, shape (station,)
        NaN where no night counts or ``x_hf`` has no variation left.

    Examples
    --------
    >>> t = np.arange(48.0)
    >>> night = np.where(t % 24 < 10, t // 24, -1).astype(int)[None, :]
    >>> x = np.sin(t / 3)[None, :]
    >>> y = 0.4 * x + 0.01 * t[None, :]  # a trend within each night is not shared
    >>> round(float(night_share(y, x, night, np.ones((1, 48), bool))[0]), 6)
    0.4
    """
    y = np.asarray(y_hf, dtype=np.float64)
    x = np.asarray(x_hf, dtype=np.float64)
    usable = np.asarray(keep, bool) & np.isfinite(y) & np.isfinite(x)
    out = np.full(y.shape[0], np.nan)
    for s in range(y.shape[0]):
        (r_y, r_x), _ = detrend_within_nights([y[s], x[s]], night[s], usable[s], min_hours)
        den = float(r_x @ r_x)
        if den > 0:
            out[s] = float(r_y @ r_x) / den
    return out


def purge_network(
    network: np.ndarray,
    artefact_hf: np.ndarray,
    night: np.ndarray,
    fit_hours: np.ndarray,
    lf_window_h: int = 24,
    min_hours: int = night_min_hours(),
) -> tuple[np.ndarray, np.ndarray]:
    """The network's series less the share of the fitted artefact its nights carry.

    Parameters
    ----------
    network : numpy.ndarray, shape (station, time)
        The network's SM series as it guides the fit, m3 m-3 (NaN: no value).
    artefact_hf : numpy.ndarray, shape (station, time)
        The product's fitted artefact (the measured SM minus the product, its HF), m3 m-3;
        NaN or 0 where a station has none.
    night : numpy.ndarray of int, shape (station, time)
        :func:`smlib.method.night_window.night_index` of the product's night window.
    fit_hours : numpy.ndarray of bool, shape (station, time)
        The product's fitted (rain-free) hours.
    lf_window_h : int
        The HF decomposition's window (the network's HF is taken with it).
    min_hours : int
        Fewest usable hours of a night that enters (:func:`night_share`).

    Returns
    -------
    purged : numpy.ndarray of float32, shape (station, time)
        :math:`N - \\kappa \\hat a_{HF}` at stations with :math:`\\kappa > 0` (held at 1),
        ``network`` elsewhere; NaN where ``network`` is.
    kappa : numpy.ndarray of float64, shape (station,)
        The share applied (0 where none).
    """
    from smlib.method.decomposition import high_frequency

    net = np.asarray(network, dtype=np.float32)
    art = np.asarray(artefact_hf, dtype=np.float64)
    share = night_share(high_frequency(net, lf_window_h), art, night, fit_hours, min_hours)
    kappa = np.where(np.isfinite(share) & (share > 0), np.minimum(share, 1.0), 0.0)
    purged = net - (kappa[:, None] * np.nan_to_num(art)).astype(np.float32)
    return np.where(np.isfinite(net), purged, np.nan).astype(np.float32), kappa


def purged_signals(
    ds,
    raw: np.ndarray,
    ts: np.ndarray,
    signal: list[np.ndarray],
    rain: np.ndarray,
    cc,
) -> tuple[list[np.ndarray], np.ndarray | None]:
    """The product's signal estimates with the network's (the first) purged, or as given.

    The product is fitted once as given (:func:`smlib.method.product.fit_product_table`), its
    artefact found, and the network's series purged of the share its nights carry
    (:func:`purge_network`); the caller fits the product again with the list returned. As given
    where ``cc.network_night_purge`` is off, the artefact is not the distributed lag
    (``cc.artefact_lags_h`` 0) or there is no signal estimate.

    Parameters
    ----------
    ds : xarray.Dataset
        The cube (``time``, ``lon``; the rain screen's series).
    raw, ts : numpy.ndarray, shape (station, time)
        Measured SM (m3 m-3) and TS (degC), as the product takes them.
    signal : list of numpy.ndarray, each shape (station, time)
        The signal estimates, the network's series first (m3 m-3).
    rain : numpy.ndarray of bool, shape (station, time)
        Rain-affected hours (:func:`smlib.method.correct.rain_affected_hours`).
    cc : smlib.config.CorrectConfig

    Returns
    -------
    signal : list of numpy.ndarray
        The network's series purged, the others as given.
    kappa : numpy.ndarray of float64, shape (station,), or None
        The share removed per station (None: nothing done).
    """
    from smlib.method.decomposition import high_frequency
    from smlib.method.product import (
        artefact_temperature,
        fit_product_table,
        night_rule,
        product_fit_hours,
    )

    if not cc.network_night_purge or cc.artefact_lags_h <= 0 or not signal:
        return list(signal), None
    prod, _, _, _ = fit_product_table(ds, raw, ts, signal, rain, cc)
    artefact = high_frequency(np.asarray(raw, np.float32) - prod)
    rule = night_rule(ds, cc)  # the product's nights (window, dark hours); None: no weights
    if rule is None:
        start, length = cc.night_window_h
        night = night_index(ds["time"].values, np.asarray(ds["lon"].values, float), start, length)
        min_hours = night_min_hours(length)
    else:
        night, min_hours = rule.night, rule.min_hours
    free = product_fit_hours(
        ds, raw, artefact_temperature(ds, ts), rain, cc.rain_screen, cc.min_rule_hours
    )
    purged, kappa = purge_network(signal[0], artefact, night, free, min_hours=min_hours)
    return [purged, *signal[1:]], kappa
