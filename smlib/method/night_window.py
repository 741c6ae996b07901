"""Night windows: where the true SM is known up to a straight line (Chanzy et al. 2012).

After sunset evaporation stops and the top soil's water content changes only by slow
drainage and redistribution, close to a straight line over a night; the soil keeps cooling
all night. Chanzy, Gaudu & Marloie (2012, *Sensors* 12:9773) estimate a probe's temperature
slope from such a window of the diurnal cycle: what the measured series does beyond the
assumed water-content course is attributed to temperature. Here the same premise gives the
artefact fit equations that need no estimate of the true SM: within each night, the raw SM
and the TS regressors with their own straight line removed,

.. math:: \\tilde\\theta(t) = \\sum_k w_k\\, \\tilde T(t - k) + \\varepsilon,
   \\qquad t \\in \\text{night } n,

where :math:`\\tilde x = x - a_n - b_n t` (least squares per night). A temperature-coherent
true diurnal cycle (evaporation by day) does not enter them, which is what biases a
regression over whole days without a signal estimate (the ``lin`` baseline,
:mod:`smlib.method.compensation`).

Numpy kernels on ``(station, time)`` arrays; the hour of day is local solar time
(:func:`smlib.timeutils.local_solar_hour`). A fixed window of local solar time holds daylight
where summer nights are short (at 55 N in June the sun is up from 03:15 to 20:45): with the
station latitudes given, :func:`night_index` keeps only the window's *dark* hours
(:func:`dark_hours`: the sun below the horizon over the hour), so a night too short to carry
the equations drops out instead of bringing the morning's evaporation into them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from smlib.method.artefact_terms import lagged_copies
from smlib.timeutils import solar_geometry, solar_offset_hours

log = logging.getLogger(__name__)

__all__ = [
    "NIGHT_START_H",
    "NIGHT_LENGTH_H",
    "MIN_NIGHTS",
    "dark_hours",
    "night_index",
    "night_min_hours",
    "detrend_within_nights",
    "thermistor_noise_var",
    "NightEquations",
    "NightRule",
]

#: First hour of the night window, local solar time (an hour after a summer sunset).
NIGHT_START_H = 20
#: Length of the night window, hours (20:00 .. 05:00 local solar time).
NIGHT_LENGTH_H = 10
#: Fewest usable nights for a station's night equations to enter a fit.
MIN_NIGHTS = 10


def night_min_hours(length_h: int = NIGHT_LENGTH_H) -> int:
    """Fewest usable hours of a night of a ``length_h``-hour window: all but two, at least 3
    (a line and one residual).

    >>> night_min_hours(10), night_min_hours(4)
    (8, 3)
    """
    return max(int(length_h) - 2, 3)


def dark_hours(time: np.ndarray, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Hours whose whole hour (ending at the stamp) passed with the sun below the horizon.

    Parameters
    ----------
    time : numpy.ndarray of datetime64, shape (time,)
        Hourly UTC stamps, each ending the hour it stands for.
    lat, lon : numpy.ndarray, shape (station,)
        Degrees north and east.

    Returns
    -------
    numpy.ndarray of bool, shape (station, time)
        True where the solar elevation at the hour's start, middle and end is below 0
        (:func:`smlib.timeutils.solar_geometry`, equation of time included); False where the
        latitude is missing.

    Examples
    --------
    >>> t = np.arange("2020-06-21T00", "2020-06-22T00", dtype="datetime64[h]")
    >>> dark = dark_hours(t, np.array([45.0, 65.0]), np.array([0.0, 0.0]))
    >>> np.flatnonzero(dark[0]).tolist()
    [0, 1, 2, 3, 4, 21, 22, 23]
    >>> int(dark[1].sum())  # a 2.9-h night at 65 N: two whole hours dark
    2
    """
    stamps = pd.DatetimeIndex(np.asarray(time, dtype="datetime64[ns]"))
    lat = np.asarray(lat, float)
    lon = np.asarray(lon, float)
    dark = np.ones((lat.size, stamps.size), dtype=bool)
    for shift in (-30, 0, 30):  # solar_geometry looks at the middle of the hour
        cosz, _, _ = solar_geometry(stamps + pd.Timedelta(minutes=shift), lat, lon)
        dark &= cosz < 0
    return dark


def night_index(
    time: np.ndarray,
    lon: np.ndarray,
    start_h: int = NIGHT_START_H,
    length_h: int = NIGHT_LENGTH_H,
    lat: np.ndarray | None = None,
) -> np.ndarray:
    """Number of the night each hour belongs to, -1 outside the night window.

    Parameters
    ----------
    time : numpy.ndarray of datetime64, shape (time,)
        Hourly UTC time stamps.
    lon : numpy.ndarray, shape (station,)
        Station longitudes, degrees east (local solar time: ``round(lon / 15)`` hours).
    start_h : int
        First hour of the window, local solar time (0-23).
    length_h : int
        Hours in the window (1-23); a window may run past midnight.
    lat : numpy.ndarray, shape (station,), optional
        Station latitudes, degrees north: hours of the window that are not dark
        (:func:`dark_hours`) are left out (-1). A station without a latitude keeps the whole
        window (logged).

    Returns
    -------
    numpy.ndarray of int64, shape (station, time)
        0, 1, 2, ... counting the windows from the first time stamp's (0: the window it lies
        in, or the one before it); -1 outside.

    Examples
    --------
    >>> t = np.arange("2020-06-01T00", "2020-06-03T00", dtype="datetime64[h]")
    >>> n = night_index(t, np.array([0.0]), start_h=22, length_h=4)
    >>> n[0, :3].tolist(), n[0, 20:27].tolist()
    ([0, 0, -1], [-1, -1, 1, 1, 1, 1, -1])
    """
    if not (0 <= start_h < 24 and 1 <= length_h < 24):
        raise ValueError(f"night window start_h={start_h}, length_h={length_h}: need 0-23, 1-23")
    hours = np.asarray(time, dtype="datetime64[h]").astype(np.int64)  # hours since 1970
    local = hours[None, :] + solar_offset_hours(np.asarray(lon, float))[:, None]
    since_start = local - start_h
    rel = since_start % 24
    night = since_start // 24
    night = night - night[:, :1]  # the window of the first stamp (begun or to come) is 0
    inside = rel < length_h
    if lat is not None:
        lat = np.asarray(lat, float)
        missing = ~np.isfinite(lat)
        if missing.any():
            log.warning(
                "%d station(s) (row %d first) have no latitude: their night window keeps "
                "every hour of %02d:00 + %d h, lit or dark", missing.sum(),
                np.flatnonzero(missing)[0], start_h, length_h,
            )  # fmt: skip
        lit = ~dark_hours(time, np.where(missing, 0.0, lat), lon)
        inside &= ~lit | missing[:, None]
    return np.where(inside, night, -1).astype(np.int64)


def detrend_within_nights(
    columns: list[np.ndarray], night: np.ndarray, usable: np.ndarray, min_hours: int
) -> tuple[list[np.ndarray], np.ndarray]:
    """Each column less its own least-squares straight line within each night (one station).

    Parameters
    ----------
    columns : list of numpy.ndarray, each shape (time,)
        Series of one station (e.g. raw SM HF and the lagged TS HF).
    night : numpy.ndarray of int, shape (time,)
        :func:`night_index` of the station.
    usable : numpy.ndarray of bool, shape (time,)
        Hours allowed (rain-free, every column finite).
    min_hours : int
        Fewest usable hours of a night that enters (at least 3: a line and one residual).

    Returns
    -------
    residuals : list of numpy.ndarray of float64, each shape (n,)
        The detrended columns at the ``n`` hours of the nights kept.
    rows : numpy.ndarray of int, shape (n,)
        Time indices of those hours.

    Examples
    --------
    >>> n = np.array([0, 0, 0, 0, -1, 1, 1, 1, 1])
    >>> x = np.array([1.0, 2, 3, 5, 9, 0, 0, 0, 4])
    >>> (r,), rows = detrend_within_nights([x], n, np.ones(9, bool), 4)
    >>> rows.tolist(), np.round(r, 2).tolist()
    ([0, 1, 2, 3, 5, 6, 7, 8], [0.2, -0.1, -0.4, 0.3, 0.8, -0.4, -1.6, 1.2])
    """
    min_hours = max(int(min_hours), 3)
    m = usable & (night >= 0)
    ids = night[m]
    if ids.size == 0:
        return [np.empty(0) for _ in columns], np.empty(0, dtype=np.int64)
    _, group, size = np.unique(ids, return_inverse=True, return_counts=True)
    keep = size[group] >= min_hours
    rows = np.flatnonzero(m)[keep]
    group = np.unique(group[keep], return_inverse=True)[1]
    tau = rows.astype(np.float64)
    count = np.bincount(group).astype(np.float64)
    t_mean = np.bincount(group, tau) / count
    dt = tau - t_mean[group]
    sxx = np.bincount(group, dt * dt)
    out = []
    for col in columns:
        x = np.asarray(col, dtype=np.float64)[rows]
        x_mean = np.bincount(group, x) / count
        slope = np.bincount(group, dt * (x - x_mean[group])) / sxx
        out.append(x - x_mean[group] - slope[group] * dt)
    return out, rows


def thermistor_noise_var(ts: np.ndarray, night: np.ndarray, min_runs: int = 48) -> float:
    """Variance of a thermistor's white noise (its quantisation included), from its nights.

    The fourth difference :math:`\\Delta^4 T(t) = \\sum_{j=0}^{4} (-1)^j \\binom{4}{j} T(t-j)` of
    white noise of variance :math:`\\sigma^2` has variance :math:`70\\sigma^2`; a smooth night's
    cooling has almost none (a 24-h harmonic of amplitude :math:`A` gives
    :math:`A^2 (2\\sin(\\omega/2))^8/2`, 0.003 % of a 0.1 K noise's for :math:`A` = 2 K). So
    :math:`\\hat\\sigma^2 = \\overline{(\\Delta^4 T)^2} / 70` over the five-hour runs inside one
    night window. Where a night's TS varies little (a small diurnal range, a sensor at depth)
    this noise is a large part of what the night equations see of TS, and the least-squares
    slope on it is attenuated by :math:`\\mathrm{var}(T)/(\\mathrm{var}(T) + \\sigma^2)` (errors in
    variables); the nights' fit corrects for it (:meth:`NightEquations.noise_gram`).

    Parameters
    ----------
    ts : numpy.ndarray, shape (time,)
        Measured soil temperature of one station, degC (NaN: missing).
    night : numpy.ndarray of int, shape (time,)
        :func:`night_index` of the station.
    min_runs : int
        Fewest complete fourth differences; fewer give 0 (no correction).

    Returns
    -------
    float
        K^2.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> t = np.arange(24 * 200)
    >>> ts = 15 + 2 * np.sin(2 * np.pi * t / 24) + 0.1 * rng.standard_normal(t.size)
    >>> n = night_index(t.astype("datetime64[h]"), np.array([0.0]))[0]
    >>> round(thermistor_noise_var(ts, n) / 0.01, 1)  # 0.1 K of noise
    1.0
    """
    x = np.asarray(ts, dtype=np.float64)
    n = np.asarray(night)
    d4 = x[4:] - 4 * x[3:-1] + 6 * x[2:-2] - 4 * x[1:-3] + x[:-4]
    same = n[4:] >= 0
    for j in range(1, 5):
        same &= n[4 - j : n.size - j] == n[4:]
    ok = same & np.isfinite(d4)
    if ok.sum() < min_runs:
        return 0.0
    return float(np.mean(d4[ok] ** 2) / 70.0)


@dataclass
class NightEquations:
    """The night equations of a set of stations, ready to stack under a fit's hours.

    They are written on the measured series, not their HF: within a night the straight line
    removes the level, and the 24-h mean's own curvature (it takes in the next day) stays out.

    Attributes
    ----------
    night : numpy.ndarray of int, shape (station, time)
        :func:`night_index`.
    sm : numpy.ndarray, shape (station, time)
        Measured SM, m3 m-3.
    ts : numpy.ndarray, shape (station, time)
        Measured soil temperature, degC.
    weight : float
        Weight of one night equation relative to one hour of the fit it joins.
    min_hours : int
        Fewest usable hours of a night that enters.
    days : bool
        False: the fit takes the night equations alone (where no signal estimate guides the
        fit, the whole-day equations would take a true diurnal cycle for artefact).
    errors_in_variables : bool
        Correct a single slope (no lags) for the thermistor's noise in the night equations'
        regressor (:func:`thermistor_noise_var`; :meth:`noise_gram`; applied by
        :func:`smlib.method.lagged_artefact.distributed_lag_fit` with ``max_lag_h=0``).
    gain_errors_in_variables : bool
        Correct the gain of every other fit (lags, or day equations beside the nights) for
        the thermistor's noise along the fitted shape only (:meth:`shape_noise`): the
        weights' direction stays that of least squares and their scale is divided by the
        reliability of the fitted artefact regressor in the fit's equations, then multiplied
        by its reliability over every hour where the artefact is removed (the best linear
        predictor from the measured TS).
    """

    night: np.ndarray
    sm: np.ndarray
    ts: np.ndarray
    weight: float = 1.0
    min_hours: int = NIGHT_LENGTH_H - 2
    days: bool = True
    errors_in_variables: bool = False
    gain_errors_in_variables: bool = False

    def subset(self, rows: np.ndarray) -> NightEquations:
        """The same equations for the stations ``rows`` (an index or a boolean mask)."""
        return replace(self, night=self.night[rows], sm=self.sm[rows], ts=self.ts[rows])

    def rows(
        self, s: int, keep: np.ndarray, max_lag_h: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """Station ``s``'s weighted equations on the hours ``keep`` (shape (time,)).

        Returns
        -------
        (y, lags, hours) or None
            ``y`` shape (n,), m3 m-3; ``lags`` shape (n, max_lag_h + 1), the detrended
            :math:`T(t-k)`, K; ``hours`` the time indices. None where fewer than
            :data:`MIN_NIGHTS` nights are usable.
        """
        lags = [c[0] for c in lagged_copies(self.ts[s : s + 1], max_lag_h)]
        sm = np.asarray(self.sm[s], dtype=np.float64)
        usable = keep & np.isfinite(sm) & np.all([np.isfinite(c) for c in lags], axis=0)
        cols, hours = detrend_within_nights([sm, *lags], self.night[s], usable, self.min_hours)
        if hours.size == 0 or np.unique(self.night[s][hours]).size < MIN_NIGHTS:
            return None
        w = np.sqrt(self.weight)
        return w * cols[0], w * np.column_stack(cols[1:]), hours

    def noise_gram(self, s: int, hours: np.ndarray) -> float:
        """What the thermistor's noise adds to each diagonal element of the lag block of the
        normal matrix of station ``s``'s night equations at ``hours`` (a subset of those of
        :meth:`rows`), K^2 times the weight: :math:`w\\,\\hat\\sigma^2 \\sum_n (m_n - 2)` over
        the nights :math:`n` with :math:`m_n` of those hours (each night's straight line takes
        two degrees of freedom of its noise). The noise of the lagged copies is uncorrelated,
        so it adds nothing off the diagonal. 0 without ``errors_in_variables``.
        """
        if not self.errors_in_variables or hours.size == 0:
            return 0.0
        var = thermistor_noise_var(self.ts[s], self.night[s])
        _, size = np.unique(self.night[s][hours], return_counts=True)
        return self.weight * var * float(np.sum(np.maximum(size - 2, 0)))

    def noise_var(self, s: int) -> float:
        """:func:`thermistor_noise_var` of station ``s``'s TS, K^2."""
        return thermistor_noise_var(self.ts[s], self.night[s])

    def shape_noise(self, s: int, hours: np.ndarray, n_day_hours: int) -> float:
        """What the thermistor's noise adds to :math:`\\lVert A_T \\mathbf{w} \\rVert^2` per unit
        :math:`\\lVert \\mathbf{w} \\rVert^2`, for station ``s``'s fit of ``n_day_hours`` day
        equations (on the TS HF, whose 24-h mean takes 1/24 of the noise) and the night
        equations at ``hours``, K^2: :math:`\\hat\\sigma^2 (\\tfrac{23}{24} n_{day} + w
        \\sum_n (m_n - 2))`. White noise is uncorrelated between lags, so a weighted sum of the
        lagged TS carries :math:`\\hat\\sigma^2 \\sum_k w_k^2` of it per equation. 0 without
        ``gain_errors_in_variables``.

        Examples
        --------
        >>> night = np.repeat(np.arange(20), 10)[None, :]
        >>> ts = 0.1 * np.random.default_rng(1).standard_normal((1, 200))
        >>> eq = NightEquations(night, ts, ts, 2.0, gain_errors_in_variables=True)
        >>> noise = thermistor_noise_var(ts[0], night[0])
        >>> round(eq.shape_noise(0, np.arange(200), 48) / noise, 1)  # 46 + 2 * 20 * 8
        366.0
        """
        if not self.gain_errors_in_variables:
            return 0.0
        var = self.noise_var(s)
        _, size = np.unique(self.night[s][hours], return_counts=True)
        night_dof = self.weight * float(np.sum(np.maximum(size - 2, 0)))
        return var * (n_day_hours * 23.0 / 24.0 + night_dof)


@dataclass(frozen=True)
class NightRule:
    """How much the night equations weigh in a station's artefact fit, by what guides it.

    Attributes
    ----------
    night : numpy.ndarray of int, shape (station, time)
        :func:`night_index`.
    weight : float
        Weight of a night equation (relative to a fit hour) where an estimate other than the
        network guides the fit (reanalysis): the estimate carries the diurnal shape, the
        nights hold the gain.
    weight_network_only : float
        The same where the network is the fit's only estimate: an in-situ network's series is
        a function of the probe's own TS and cannot on its own tell the true cycle from the
        artefact, so the nights carry the fit and the network breaks the ties.
    min_hours : int
        Fewest usable hours of a night that enters (:func:`night_min_hours` of the window).
    errors_in_variables : bool
        The night equations of a fit without estimates (the nights alone) correct a single
        slope for the thermistor's noise (:meth:`NightEquations.noise_gram`). Beside the
        estimates' day equations, and with lags, it was measured worse (benchmarks/README.md),
        and is not applied there.
    gain_errors_in_variables : bool
        Every fit with night equations corrects its gain for the thermistor's noise along the
        fitted shape (:attr:`NightEquations.gain_errors_in_variables`).

    Where no estimate is left (the temperature-only fallback) the nights alone fit the
    artefact. The values of the ``recommended`` profiles were chosen on the skill benchmark
    (``correct.night_weight``, ``correct.night_weight_network_only``).
    """

    night: np.ndarray
    weight: float
    weight_network_only: float
    min_hours: int = night_min_hours()
    errors_in_variables: bool = False
    gain_errors_in_variables: bool = False

    def equations(
        self, sm: np.ndarray, ts: np.ndarray, n_estimates: int, network_alone: bool
    ) -> NightEquations:
        """The night equations of a fit with ``n_estimates`` signal estimates.

        Parameters
        ----------
        sm, ts : numpy.ndarray, shape (station, time)
            Measured SM (m3 m-3) and TS (degC).
        n_estimates : int
            Signal estimates in the fit.
        network_alone : bool
            The one estimate is the network.
        """
        if n_estimates == 0:
            eiv = self.errors_in_variables
            return NightEquations(
                self.night, sm, ts, 1.0, self.min_hours, False, eiv, self.gain_errors_in_variables
            )
        weight = self.weight_network_only if network_alone and n_estimates == 1 else self.weight
        return NightEquations(
            self.night, sm, ts, weight, self.min_hours,
            gain_errors_in_variables=self.gain_errors_in_variables,
        )  # fmt: skip

    def subset(self, rows: np.ndarray) -> NightRule:
        """The rule for the stations ``rows``."""
        return replace(self, night=self.night[rows])
