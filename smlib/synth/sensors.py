"""Sensors of the twin: the temperature artefact of dielectric probes, noise, flags and gaps.

Dielectric probes (impedance, capacitance, FDR; weakly TDR and TDT) read

.. math::

    \\theta_{obs} = \\theta + o + \\beta(\\theta)\\,(T - T_{cal}) + \\varepsilon,
    \\qquad
    \\beta(\\theta) = \\beta_0\\,\\frac{1 + k_d (1 - S)}{1 + k_d/2},

the Maxwell-Wagner polarisation of the bound-water / soil-matrix interfaces: the apparent
permittivity rises with temperature, more in dry soil (:math:`S` = relative saturation of the
sensor layer, :math:`k_d \\in [1, 2.5]`). :math:`o` is the calibration offset, :math:`T` the
soil temperature at the probe, :math:`T_{cal}` the calibration temperature (15-25 degC),
:math:`\\varepsilon \\sim N(0, \\sigma^2)` noise; the reading is quantised to the probe's
resolution. Coefficients per technique (log-normal,
sigma 0.35, median :math:`\\beta_0` in m3 m-3 K-1): impedance 0.0022, capacitance 0.0018, FDR
0.0028; a "weak" dielectric probe and TDR 0.0003, TDT 0.0002; cosmic-ray 0.

Cosmic-ray probes integrate over the footprint and depth: :math:`0.45\\,\\bar\\theta_1 +
0.55\\,\\theta_2`, where :math:`\\bar\\theta_1` is a 6-h trailing mean of the sensor layer
(neighbouring fields wet and dry out of step), plus counting noise of 0.012 m3 m-3.

Flags follow the ISMN quality-control codes: ``D01`` in-situ soil temperature below 0 degC,
``D02`` air temperature below 0 degC, ``D06`` a spike (injected, 0.1 % of hours, +-0.05-0.15),
``C01`` below 0, ``C03`` above the saturation of the static-variable file; everything else
``G``. Gaps: logger outages (about one per 60 days, exponential length with a 4-day mean, 6 h
to 20 days) remove SM and TS; 0.2 % of SM hours drop out alone.

Every second ISMN station also has a rain gauge (ISMN variable ``p``): a 0.2 mm tipping
bucket that reports whole tips per hour, :math:`P_k = 0.2\\,(\\lfloor C_k/0.2\\rfloor -
\\lfloor C_{k-1}/0.2\\rfloor)` with :math:`C_k` the cumulative true rain.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "SensorParams",
    "BETA0_MEDIAN",
    "draw_sensor_params",
    "dielectric_reading",
    "cosmic_ray_reading",
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
_NOISE = {"tdr": 0.0010, "tdt": 0.0010, "cosmic-ray": 0.012}
_RESOLUTION = {"tdr": 0.001, "tdt": 0.001, "cosmic-ray": 0.001}


@dataclass
class SensorParams:
    """Per-station sensor parameters, arrays of shape ``(n_station,)``.

    ``beta0`` (m3 m-3 K-1), ``k_dry`` (-), ``t_cal`` (degC), ``offset`` (m3 m-3),
    ``noise_sd`` (m3 m-3), ``resolution`` (m3 m-3), ``ts_offset`` (K), ``ts_noise_sd`` (K).
    """

    beta0: np.ndarray
    k_dry: np.ndarray
    t_cal: np.ndarray
    offset: np.ndarray
    noise_sd: np.ndarray
    resolution: np.ndarray
    ts_offset: np.ndarray
    ts_noise_sd: np.ndarray


def draw_sensor_params(
    sensor_type: np.ndarray, weak: np.ndarray, rng: np.random.Generator
) -> SensorParams:
    """Draw the probe coefficients of each station (see the module docstring).

    Parameters
    ----------
    sensor_type : array of str, shape (n,)
    weak : array of bool, shape (n,)
        Dielectric probes that are only weakly temperature sensitive.
    rng : numpy.random.Generator
    """
    sensor_type = np.asarray(sensor_type)
    n = sensor_type.size
    med = np.array([BETA0_MEDIAN[s] for s in sensor_type])
    med = np.where(np.asarray(weak, bool), WEAK_BETA0, med)
    beta0 = med * rng.lognormal(0.0, 0.35, n)
    is_ref = np.isin(sensor_type, ["tdr", "tdt", "cosmic-ray"])
    offset = np.where(is_ref, rng.normal(0.0, 0.01, n), rng.normal(0.0, 0.02, n))
    noise = np.array([_NOISE.get(s, 0.0012) for s in sensor_type]) * rng.uniform(0.8, 1.2, n)
    res_choice = rng.choice([0.0001, 0.0005, 0.001], n)
    resolution = np.array(
        [_RESOLUTION.get(s, r) for s, r in zip(sensor_type, res_choice, strict=True)]
    )
    return SensorParams(
        beta0=beta0,
        k_dry=rng.uniform(1.0, 2.5, n),
        t_cal=rng.uniform(15.0, 25.0, n),
        offset=offset,
        noise_sd=noise,
        resolution=resolution,
        ts_offset=rng.normal(0.0, 0.3, n),
        ts_noise_sd=np.full(n, 0.1),
    )


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
        Temperature of the probe, i.e. of the soil around it (truth), degC.
    theta_res, porosity : numpy.ndarray, shape (n,)
    sp : SensorParams
    rng : numpy.random.Generator

    Returns
    -------
    numpy.ndarray, shape (n, n_time)
        Reading in m3 m-3, quantised to the probe resolution.
    """
    sat = np.clip((sm_true - theta_res[:, None]) / (porosity - theta_res)[:, None], 0.0, 1.0)
    k = sp.k_dry[:, None]
    beta = sp.beta0[:, None] * (1.0 + k * (1.0 - sat)) / (1.0 + 0.5 * k)
    reading = (
        sm_true
        + sp.offset[:, None]
        + beta * (ts_obs - sp.t_cal[:, None])
        + sp.noise_sd[:, None] * rng.standard_normal(sm_true.shape)
    )
    return _quantise(reading, sp.resolution)


def cosmic_ray_reading(
    sm1: np.ndarray, sm2: np.ndarray, sp: SensorParams, rng: np.random.Generator
) -> np.ndarray:
    """Footprint- and depth-averaged cosmic-ray water content with counting noise (n, n_time)."""
    c = np.cumsum(np.pad(sm1, ((0, 0), (6, 0)), mode="edge"), axis=1)
    sm1_fp = (c[:, 6:] - c[:, :-6]) / 6.0
    reading = (
        0.45 * sm1_fp
        + 0.55 * sm2
        + sp.offset[:, None]
        + sp.noise_sd[:, None] * rng.standard_normal(sm1.shape)
    )
    return _quantise(reading, sp.resolution)


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
    n_station: int, time: pd.DatetimeIndex, rng: np.random.Generator, dropout: float = 0.002
) -> tuple[np.ndarray, np.ndarray]:
    """Random logger outages and single-hour dropouts.

    Returns
    -------
    logger_ok : numpy.ndarray of bool, shape (n_station, n_time)
        False during outages (no SM, no TS).
    sm_ok : numpy.ndarray of bool, shape (n_station, n_time)
        ``logger_ok`` and no SM dropout.
    """
    n_time = len(time)
    ok = np.ones((n_station, n_time), bool)
    n_out = rng.poisson(n_time / 24.0 / 60.0, n_station)
    for s in np.flatnonzero(n_out):  # a few outages per station: not a per-hour loop
        starts = rng.integers(0, n_time, n_out[s])
        lengths = np.clip(rng.exponential(96.0, n_out[s]), 6, 480).astype(int)
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
