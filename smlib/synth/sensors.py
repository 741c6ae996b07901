"""Sensors of the twin: the temperature artefact of dielectric probes, noise, flags and gaps.

Dielectric probes (impedance, capacitance, FDR; weakly TDR and TDT) read

.. math::

    \\theta_{obs} = \\theta + o + \\beta(\\theta)\\,(T_e - T_{cal}) + \\varepsilon,
    \\qquad
    \\beta(\\theta) = \\beta_0\\,\\frac{1 + k_d (1 - S) + k_w S}{1 + (k_d + k_w)/2},

the Maxwell-Wagner polarisation of the bound-water / soil-matrix interfaces: the apparent
permittivity rises with temperature, more in dry soil (:math:`S` = relative saturation of the
sensor layer, :math:`k_d \\in [1, 2.5]`, :math:`k_w = 0` in the embedded twin). A positive
:math:`k_w` makes the artefact grow with wetness instead, as for low-frequency probes whose
reading follows the bulk electrical conductivity (about +2 % per K for the pore water, Hayashi
2004, Environ. Monit. Assess. 96:119) and with it the water content. :math:`o` is the
calibration offset, :math:`T_e` the temperature of the sensing element: the soil temperature
:math:`T` at the probe, or, with a thermal lag :math:`\\tau_e > 0` (:func:`sensing_element_temperature`),
its first-order lag, and/or with a pure delay :math:`d_e > 0`
(:func:`delayed_temperature`) :math:`T(t - d_e)`: the land model's soil temperature shifted by
hours, keeping its non-sinusoidal diurnal shape (a fast morning rise, a slow evening decay),
which no combination of :math:`T` and :math:`\\partial_t T` spans. :math:`T_{cal}` is the
calibration temperature (15-25 degC), :math:`\\varepsilon \\sim N(0, \\sigma^2)` noise; the
reading is quantised to the probe's resolution. Coefficients per technique (log-normal, sigma 0.35, median :math:`\\beta_0` in m3 m-3 K-1): impedance 0.0022, capacitance 0.0018, FDR
0.0028; a "weak" dielectric probe and TDR 0.0003, TDT 0.0002; cosmic-ray 0. A share of the
dielectric units may carry a *negative* coefficient (:attr:`SensorPhysics.negative_share`):
in laboratory tests some commercial capacitance probes report decreasing and others increasing
water content with temperature (MethodsX 2024, doi:10.1016/j.mex.2024.103100).

The noise :math:`\\varepsilon` plus the quantisation error -- the reading minus its noise-free
value :math:`\\theta + o + \\beta(\\theta)(T_e - T_{cal})` -- is returned beside the reading
(:func:`dielectric_reading_and_noise`): the truth plus it is the best any correction can do
(the noise ceiling of :mod:`smlib.evaluation.skill`).

Cosmic-ray probes integrate over the footprint and depth: :math:`0.45\\,\\bar\\theta_1 +
0.55\\,\\theta_2`, where :math:`\\bar\\theta_1` is a 6-h trailing mean of the sensor layer
(neighbouring fields wet and dry out of step), plus counting noise of 0.012 m3 m-3.

Flags follow the ISMN quality-control codes: ``D01`` in-situ soil temperature below 0 degC,
``D02`` air temperature below 0 degC, ``D06`` a spike (injected, 0.1 % of hours, +-0.05-0.15),
``C01`` below 0, ``C03`` above the saturation of the static-variable file; everything else
``G``. Gaps: logger outages (about one per 60 days, exponential length with a 4-day mean, 6 h
to 20 days) remove SM and TS; 0.2 % of SM hours drop out alone.

The coefficients, their per-unit spread, the weak units, the wetness dependence, the lag and
the noise are the defaults of :class:`SensorPhysics`; a scenario (:mod:`smlib.synth.scenarios`)
passes its own. The gap model (outage rate and length, dropouts) is an argument of
:func:`outage_mask`.

Every second ISMN station also has a rain gauge (ISMN variable ``p``): a 0.2 mm tipping
bucket that reports whole tips per hour, :math:`P_k = 0.2\\,(\\lfloor C_k/0.2\\rfloor -
\\lfloor C_{k-1}/0.2\\rfloor)` with :math:`C_k` the cumulative true rain.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = [
    "SensorParams",
    "SensorPhysics",
    "BETA0_MEDIAN",
    "WEAK_BETA0",
    "sensing_element_temperature",
    "delayed_temperature",
    "draw_sensor_params",
    "dielectric_reading",
    "dielectric_reading_and_noise",
    "cosmic_ray_reading",
    "cosmic_ray_reading_and_noise",
    "soil_temperature_reading",
    "ismn_flags",
    "outage_mask",
    "tipping_bucket",
]

BETA0_MEDIAN = {
    "impedance": 0.0022,
    "capacitance": 0.0018,
    "fdr": 0.0028,
    "tdr": 0.0003,
    "tdt": 0.0002,
    "cosmic-ray": 0.0,
}
"""Median temperature coefficient :math:`\\beta_0` (m3 m-3 K-1) per technique."""
WEAK_BETA0 = 0.0003
"""Median :math:`\\beta_0` of a weakly affected dielectric probe, m3 m-3 K-1."""
_NOISE = {"tdr": 0.0010, "tdt": 0.0010, "cosmic-ray": 0.012}
_RESOLUTION = {"tdr": 0.001, "tdt": 0.001, "cosmic-ray": 0.001}


@dataclass
class SensorParams:
    """Per-station sensor parameters, arrays of shape ``(n_station,)``.

    ``beta0`` (m3 m-3 K-1), ``k_dry`` (-), ``t_cal`` (degC), ``offset`` (m3 m-3),
    ``noise_sd`` (m3 m-3), ``resolution`` (m3 m-3), ``ts_offset`` (K), ``ts_noise_sd`` (K),
    ``k_wet`` (-), ``lag_h`` (thermal lag of the sensing element, h; 0 = none),
    ``delay_h`` (pure delay of the sensing element's temperature, h; None or 0 = none).
    A negative ``beta0`` is a probe that reads lower when warm.
    """

    beta0: np.ndarray
    k_dry: np.ndarray
    t_cal: np.ndarray
    offset: np.ndarray
    noise_sd: np.ndarray
    resolution: np.ndarray
    ts_offset: np.ndarray
    ts_noise_sd: np.ndarray
    k_wet: np.ndarray
    lag_h: np.ndarray
    delay_h: np.ndarray | None = None


@dataclass(frozen=True)
class SensorPhysics:
    """How the probes of one world respond to temperature, and how noisy they are.

    Attributes
    ----------
    beta0_median : mapping of str to float
        Median :math:`\\beta_0` per technique, m3 m-3 K-1 (default :data:`BETA0_MEDIAN`).
    unit_sd : float
        Log-normal sigma of :math:`\\beta_0` from unit to unit (-).
    weak_beta0 : float
        Median :math:`\\beta_0` of a weakly affected dielectric unit, m3 m-3 K-1.
    k_dry, k_wet : tuple of float
        Uniform ranges of the dry- and wet-soil amplification factors (-).
    lag_h : tuple of float
        Uniform range of the sensing element's thermal lag, h (0 = none).
    noise_scale : float
        Factor on the SM and TS noise (-).
    delay_h : tuple of float
        Uniform range of the pure delay of the sensing element's temperature behind TS, h
        (0 = none; applied after the first-order lag).
    negative_share : float
        Share of the non-reference dielectric units whose coefficient is negative (-).
    """

    beta0_median: Mapping[str, float] = field(default_factory=lambda: dict(BETA0_MEDIAN))
    unit_sd: float = 0.35
    weak_beta0: float = WEAK_BETA0
    k_dry: tuple[float, float] = (1.0, 2.5)
    k_wet: tuple[float, float] = (0.0, 0.0)
    lag_h: tuple[float, float] = (0.0, 0.0)
    noise_scale: float = 1.0
    delay_h: tuple[float, float] = (0.0, 0.0)
    negative_share: float = 0.0


def draw_sensor_params(
    sensor_type: np.ndarray,
    weak: np.ndarray,
    rng: np.random.Generator,
    physics: SensorPhysics | None = None,
) -> SensorParams:
    """Draw the probe coefficients of each station (see the module docstring).

    Parameters
    ----------
    sensor_type : array of str, shape (n,)
    weak : array of bool, shape (n,)
        Dielectric probes that are only weakly temperature sensitive.
    rng : numpy.random.Generator
    physics : SensorPhysics, optional
        The world's probe physics (default: the embedded twin's).
    """
    ph = SensorPhysics() if physics is None else physics
    sensor_type = np.asarray(sensor_type)
    n = sensor_type.size
    med = np.array([ph.beta0_median[s] for s in sensor_type])
    med = np.where(np.asarray(weak, bool), ph.weak_beta0, med)
    beta0 = med * rng.lognormal(0.0, ph.unit_sd, n)
    is_ref = np.isin(sensor_type, ["tdr", "tdt", "cosmic-ray"])
    offset = np.where(is_ref, rng.normal(0.0, 0.01, n), rng.normal(0.0, 0.02, n))
    noise = np.array([_NOISE.get(s, 0.0012) for s in sensor_type]) * rng.uniform(0.8, 1.2, n)
    noise = noise * ph.noise_scale
    res_choice = rng.choice([0.0001, 0.0005, 0.001], n)
    resolution = np.array(
        [_RESOLUTION.get(s, r) for s, r in zip(sensor_type, res_choice, strict=True)]
    )
    k_dry = rng.uniform(*ph.k_dry, n)
    t_cal = rng.uniform(15.0, 25.0, n)
    ts_offset = rng.normal(0.0, 0.3, n)
    # drawn after the embedded twin's coefficients, which therefore never change
    k_wet = rng.uniform(*ph.k_wet, n)
    lag_h = rng.uniform(*ph.lag_h, n)
    # drawn after the lag, so that earlier worlds keep every coefficient
    delay_h = rng.uniform(*ph.delay_h, n)
    negative = (rng.uniform(size=n) < ph.negative_share) & ~is_ref
    beta0 = np.where(negative, -beta0, beta0)
    return SensorParams(
        beta0=beta0,
        k_dry=k_dry,
        t_cal=t_cal,
        offset=offset,
        noise_sd=noise,
        resolution=resolution,
        ts_offset=ts_offset,
        ts_noise_sd=np.full(n, 0.1) * ph.noise_scale,
        k_wet=k_wet,
        lag_h=lag_h,
        delay_h=delay_h,
    )


def sensing_element_temperature(ts: np.ndarray, lag_h: np.ndarray) -> np.ndarray:
    """Temperature of the sensing element: a first-order lag of the soil temperature.

    .. math:: T_{e,k} = T_{e,k-1} + (1 - e^{-1/\\tau_e})\\,(T_k - T_{e,k-1}), \\quad
              T_{e,0} = T_0

    Parameters
    ----------
    ts : numpy.ndarray, shape (n, n_time)
        Hourly soil temperature at the probe, degC (start it a day or two early: the first
        hours carry the initial condition).
    lag_h : numpy.ndarray, shape (n,)
        Time constant :math:`\\tau_e` per probe, h; 0 means no lag.

    Returns
    -------
    numpy.ndarray, shape (n, n_time)
        ``ts`` itself when no probe lags, else a float64 copy with the lagged rows replaced.
    """
    lag_h = np.asarray(lag_h, float)
    lagged = lag_h > 0
    if not lagged.any():
        return ts
    out = np.array(ts, dtype=float)
    x = out[lagged]
    alpha = 1.0 - np.exp(-1.0 / lag_h[lagged])
    y = x[:, 0].copy()
    res = np.empty_like(x)
    for k in range(x.shape[1]):  # a recursive filter: a loop over hours, vectorised over probes
        y = y + alpha * (x[:, k] - y)
        res[:, k] = y
    out[lagged] = res
    return out


def delayed_temperature(ts: np.ndarray, delay_h: np.ndarray | None) -> np.ndarray:
    """Temperature of a sensing element that sees the soil temperature ``delay_h`` hours late.

    .. math:: T_{e}(t) = T(t - d_e),

    linearly interpolated between the hourly values for a fractional delay; the first hours
    (before ``t = d_e``) repeat the first value.

    Parameters
    ----------
    ts : numpy.ndarray, shape (n, n_time)
        Hourly soil temperature at the probe, degC (start it early enough: at least the largest
        delay plus one hour before the first hour used).
    delay_h : numpy.ndarray, shape (n,), or None
        Delay per probe, h (>= 0); None or all 0 means none.

    Returns
    -------
    numpy.ndarray, shape (n, n_time)
        ``ts`` itself when no probe is delayed, else a float64 copy with the delayed rows
        replaced.

    Examples
    --------
    >>> delayed_temperature(np.arange(6.0)[None, :], np.array([1.5]))[0]
    array([0. , 0. , 0.5, 1.5, 2.5, 3.5])
    """
    if delay_h is None:
        return ts
    delay_h = np.asarray(delay_h, float)
    if (delay_h < 0).any():
        raise ValueError("delay_h must be >= 0")
    delayed = delay_h > 0
    if not delayed.any():
        return ts
    out = np.array(ts, dtype=float)
    n_time = out.shape[1]
    k = np.arange(n_time)
    for s in np.flatnonzero(delayed):  # one interpolation per delayed probe
        out[s] = np.interp(k - delay_h[s], k, np.asarray(ts[s], dtype=float))
    return out


def _quantise(x: np.ndarray, res: np.ndarray) -> np.ndarray:
    return np.round(x / res[:, None]) * res[:, None]


def soil_temperature_reading(
    ts_true: np.ndarray, sp: SensorParams, rng: np.random.Generator
) -> np.ndarray:
    """Thermistor reading (degC): truth + offset + N(0, 0.1 K), to 0.1 K. Shape (n, n_time)."""
    noisy = (
        ts_true
        + sp.ts_offset[:, None]
        + sp.ts_noise_sd[:, None] * rng.standard_normal(ts_true.shape)
    )
    return np.round(noisy, 1) + 0.0  # + 0.0 turns -0.0 into 0.0


def dielectric_reading(
    sm_true: np.ndarray,
    ts_obs: np.ndarray,
    theta_res: np.ndarray,
    porosity: np.ndarray,
    sp: SensorParams,
    rng: np.random.Generator,
) -> np.ndarray:
    """Dielectric probe reading with the temperature artefact (module docstring equation).

    Parameters
    ----------
    sm_true : numpy.ndarray, shape (n, n_time)
        True water content of the sensor layer, m3 m-3.
    ts_obs : numpy.ndarray, shape (n, n_time)
        Temperature of the sensing element, degC: the true soil temperature around the probe,
        or its lagged version (:func:`sensing_element_temperature`).
    theta_res, porosity : numpy.ndarray, shape (n,)
    sp : SensorParams
    rng : numpy.random.Generator

    Returns
    -------
    numpy.ndarray, shape (n, n_time)
        Reading in m3 m-3, quantised to the probe resolution.
    """
    return dielectric_reading_and_noise(sm_true, ts_obs, theta_res, porosity, sp, rng)[0]


def dielectric_reading_and_noise(
    sm_true: np.ndarray,
    ts_obs: np.ndarray,
    theta_res: np.ndarray,
    porosity: np.ndarray,
    sp: SensorParams,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`dielectric_reading` and the reading's noise (same random draws, same reading).

    Returns
    -------
    reading : numpy.ndarray, shape (n, n_time)
        m3 m-3, quantised to the probe resolution.
    noise : numpy.ndarray, shape (n, n_time)
        ``reading`` minus its noise-free value (truth + offset + artefact), m3 m-3: the
        random noise plus the quantisation error.
    """
    sat = np.clip((sm_true - theta_res[:, None]) / (porosity - theta_res)[:, None], 0.0, 1.0)
    k = sp.k_dry[:, None]
    kw = sp.k_wet[:, None]
    beta = sp.beta0[:, None] * (1.0 + k * (1.0 - sat) + kw * sat) / (1.0 + 0.5 * (k + kw))
    clean = sm_true + sp.offset[:, None] + beta * (ts_obs - sp.t_cal[:, None])
    reading = _quantise(
        clean + sp.noise_sd[:, None] * rng.standard_normal(sm_true.shape), sp.resolution
    )
    return reading, reading - clean


def cosmic_ray_reading(
    sm1: np.ndarray, sm2: np.ndarray, sp: SensorParams, rng: np.random.Generator
) -> np.ndarray:
    """Footprint- and depth-averaged cosmic-ray water content with counting noise (n, n_time)."""
    return cosmic_ray_reading_and_noise(sm1, sm2, sp, rng)[0]


def cosmic_ray_reading_and_noise(
    sm1: np.ndarray, sm2: np.ndarray, sp: SensorParams, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`cosmic_ray_reading` and its counting noise plus quantisation error (n, n_time)."""
    c = np.cumsum(np.pad(sm1, ((0, 0), (6, 0)), mode="edge"), axis=1)
    sm1_fp = (c[:, 6:] - c[:, :-6]) / 6.0
    clean = 0.45 * sm1_fp + 0.55 * sm2 + sp.offset[:, None]
    reading = _quantise(
        clean + sp.noise_sd[:, None] * rng.standard_normal(sm1.shape), sp.resolution
    )
    return reading, reading - clean


def ismn_flags(
    sm_obs: np.ndarray,
    ts_obs: np.ndarray,
    t_air: np.ndarray,
    saturation: np.ndarray,
    rng: np.random.Generator,
    spike_prob: float = 0.001,
) -> tuple[np.ndarray, np.ndarray]:
    """Inject spikes and assign ISMN quality flags to soil-moisture readings.

    Parameters
    ----------
    sm_obs, ts_obs, t_air : numpy.ndarray, shape (n, n_time)
    saturation : numpy.ndarray, shape (n,)
        Saturation of the static-variable file, m3 m-3 (``C03`` above it).
    rng : numpy.random.Generator
    spike_prob : float
        Probability of a spike per hour.

    Returns
    -------
    sm_flagged : numpy.ndarray, shape (n, n_time)
        Readings with spikes added.
    flags : numpy.ndarray of str, shape (n, n_time)
        Comma-joined ISMN codes, ``"G"`` when none applies.
    """
    spike = rng.uniform(size=sm_obs.shape) < spike_prob
    size = rng.uniform(0.05, 0.15, sm_obs.shape) * rng.choice([-1.0, 1.0], sm_obs.shape)
    sm = np.where(spike, sm_obs + size, sm_obs)
    codes = [
        ("C01", sm < 0.0),
        ("C03", sm > saturation[:, None]),
        ("D01", ts_obs < 0.0),
        ("D02", t_air < 0.0),
        ("D06", spike),
    ]
    flags = np.full(sm.shape, "", dtype=object)
    for code, mask in codes:
        flags = np.where(mask, np.where(flags == "", code, flags + "," + code), flags)
    flags = np.where(flags == "", "G", flags)
    return sm, flags


def outage_mask(
    n_station: int,
    time: pd.DatetimeIndex,
    rng: np.random.Generator,
    dropout: float = 0.002,
    interval_days: float = 60.0,
    mean_length_h: float = 96.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Random logger outages and single-hour dropouts.

    Parameters
    ----------
    n_station : int
    time : pandas.DatetimeIndex, shape (n_time,)
    rng : numpy.random.Generator
    dropout : float
        Probability that one SM hour is missing on its own.
    interval_days : float
        Mean time between outages, days (Poisson number per station).
    mean_length_h : float
        Mean outage length, h (exponential, clipped to 6 h - 20 days).

    Returns
    -------
    logger_ok : numpy.ndarray of bool, shape (n_station, n_time)
        False during outages (no SM, no TS).
    sm_ok : numpy.ndarray of bool, shape (n_station, n_time)
        ``logger_ok`` and no SM dropout.
    """
    n_time = len(time)
    ok = np.ones((n_station, n_time), bool)
    n_out = rng.poisson(n_time / 24.0 / interval_days, n_station)
    for s in np.flatnonzero(n_out):  # a few outages per station: not a per-hour loop
        starts = rng.integers(0, n_time, n_out[s])
        lengths = np.clip(rng.exponential(mean_length_h, n_out[s]), 6, 480).astype(int)
        for a, b in zip(starts, lengths, strict=True):
            ok[s, a : a + b] = False
    sm_ok = ok & (rng.uniform(size=ok.shape) >= dropout)
    return ok, sm_ok


def tipping_bucket(rain: np.ndarray, tip: float = 0.2) -> np.ndarray:
    """Hourly rain reported by a tipping-bucket gauge (whole tips, remainder carried over).

    Parameters
    ----------
    rain : numpy.ndarray, shape (n, n_time)
        True rain per hour, mm.
    tip : float
        Bucket volume, mm.

    Returns
    -------
    numpy.ndarray, shape (n, n_time)
        Reported rain per hour, mm (multiples of ``tip``).
    """
    tips = np.floor(np.cumsum(rain.astype(float), axis=1) / tip + 1e-9)
    return np.round(np.diff(tips, axis=1, prepend=0.0) * tip, 4)
