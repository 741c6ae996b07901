"""Two-layer soil water balance, evapotranspiration and soil temperature (hourly, vectorised).

One call integrates any number of independent columns (stations, towers, reanalysis cells)
with per-column parameters; the loop runs over hours only.

Water balance (layer 1: the sensor layer, ``z1`` thick; layer 2: the root zone below it,
``z2`` thick; :math:`\\theta` in m3 m-3, fluxes in m per hour):

.. math::

    z_1 \\Delta\\theta_1 &= I_1 - D_{12} + F_{21} - E_s - r_1 T_r \\\\
    z_2 \\Delta\\theta_2 &= I_2 + D_{12} - F_{21} - (1 - r_1) T_r - D_2

* Infiltration fills layer 1 to porosity :math:`\\theta_s`, the excess goes to layer 2
  (:math:`I_2`), the rest runs off.
* Gravity drainage above field capacity: :math:`D_{12} = k_1 z_1 \\max(\\theta_1-\\theta_{fc}, 0)`,
  :math:`D_2 = k_2 z_2 \\max(\\theta_2-\\theta_{fc}, 0)`.
* Diffusive exchange (capillary rise; it refills the drying surface layer at night):
  :math:`F_{21} = k_x z_1 (S_2 - S_1)(\\theta_s - \\theta_r)`, with relative saturations
  :math:`S_i = (\\theta_i - \\theta_r)/(\\theta_s - \\theta_r)`.
* Potential evaporation (Priestley-Taylor, :math:`\\alpha = 1.26`):
  :math:`E_p = \\alpha\\,\\frac{\\Delta}{\\Delta+\\gamma}\\,\\frac{\\max(R_n - G, 0)}{\\lambda}`
  with :math:`R_n = (1-a) S - L`, ground heat flux :math:`G = 0.15 R_n` when
  :math:`R_n > 0` and :math:`0.3 R_n` at night, :math:`\\gamma = 0.066` kPa K-1
  and :math:`\\Delta` from the Tetens formula at air temperature.
* Actual evapotranspiration: soil evaporation
  :math:`E_s = f_b E_p \\beta_1`, :math:`\\beta_1 = \\mathrm{clip}((\\theta_1-\\theta_r)/(\\theta_{fc}-\\theta_r), 0, 1)`;
  transpiration :math:`T_r = (1-f_b) E_p \\beta_2`,
  :math:`\\beta_2 = \\mathrm{clip}((\\bar\\theta-\\theta_{wp})/(\\theta_{fc}-\\theta_{wp}), 0, 1)`
  on the root-weighted water content :math:`\\bar\\theta = r_1\\theta_1 + (1-r_1)\\theta_2`.
  Latent heat :math:`LH = \\lambda (E_s + T_r)`, :math:`\\lambda = 2.45\\times10^6` J kg-1.
* Soil temperature at the sensor depth: surface temperature from the sensible heat flux
  :math:`T_{sfc} = T_a + r_a H/(\\rho c_p)`, :math:`H = R_n - LH - G`,
  :math:`\\rho c_p = 1200` J m-3 K-1, then a first-order lag toward
  :math:`0.85 T_{sfc} + 0.15 T_{deep}` with time constant
  :math:`\\tau = \\tau_d + (\\tau_w - \\tau_d) S_1` (wet soil has more heat capacity: a smaller,
  later cycle; dry soil a larger one), and :math:`T_{deep}` the 5-day running mean of
  :math:`T_a`.

* Irrigation (optional, :class:`Irrigation`): at an allowed hour (the farmer's start hour),
  when the root-weighted water content falls below the trigger
  :math:`\\theta_{fc} - p(\\theta_{fc} - \\theta_{wp})` (management-allowed depletion ``p``, the
  FAO-56 scheduling rule; Allen et al. 1998, FAO Irrigation and Drainage Paper 56, ch. 8),
  the deficit to field capacity of both layers is applied at a fixed sprinkler rate and
  infiltrates like rain.

Conventions: states are instantaneous at the stamp; fluxes and rain are for the hour ending
at the stamp.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np

from smlib.progress import progress_bar
from smlib.synth.forcing import Forcing

__all__ = ["LandParams", "LandOutput", "Irrigation", "simulate_land", "LATENT_HEAT"]

LATENT_HEAT = 2.45e6  # J kg-1
RHO_CP = 1200.0  # J m-3 K-1
PSYCHRO = 0.066  # kPa K-1
PRIESTLEY_TAYLOR = 1.26


@dataclass
class LandParams:
    """Per-column land parameters, each a float array of shape ``(n_col,)``.

    Attributes
    ----------
    z1, z2 : layer thicknesses, m (sensor layer, root zone below it).
    porosity, theta_fc, theta_wp, theta_res : m3 m-3.
    k_drain1, k_drain2 : drainage rate constants, h-1.
    k_exchange : diffusive exchange rate constant, h-1.
    bare_fraction : share of potential evaporation from bare soil (-).
    root_frac1 : share of transpiration drawn from layer 1 (-).
    albedo : (-).
    r_a : aerodynamic resistance for the surface temperature, s m-1.
    tau_dry, tau_wet : soil-temperature lag time constants, h.
    """

    z1: np.ndarray
    z2: np.ndarray
    porosity: np.ndarray
    theta_fc: np.ndarray
    theta_wp: np.ndarray
    theta_res: np.ndarray
    k_drain1: np.ndarray
    k_drain2: np.ndarray
    k_exchange: np.ndarray
    bare_fraction: np.ndarray
    root_frac1: np.ndarray
    albedo: np.ndarray
    r_a: np.ndarray
    tau_dry: np.ndarray
    tau_wet: np.ndarray

    @classmethod
    def from_soil(cls, porosity, theta_fc, theta_wp, bare_fraction, **overrides) -> LandParams:
        """Parameters with the default physics for given soils; ``overrides`` replace fields.

        Defaults: ``z1`` 0.05 m, ``z2`` 0.45 m, ``theta_res`` = 0.3 wilting point,
        ``k_drain1`` 0.3 h-1, ``k_drain2`` 0.02 h-1, ``k_exchange`` 0.035 h-1,
        ``root_frac1`` 0.15, ``albedo`` 0.2, ``r_a`` 35 s m-1, ``tau_dry`` 1.8 h,
        ``tau_wet`` 3.2 h.
        """
        por = np.asarray(porosity, float)
        one = np.ones_like(por)
        vals = {
            "z1": 0.05 * one,
            "z2": 0.45 * one,
            "porosity": por,
            "theta_fc": np.asarray(theta_fc, float) * one,
            "theta_wp": np.asarray(theta_wp, float) * one,
            "theta_res": 0.3 * np.asarray(theta_wp, float) * one,
            "k_drain1": 0.3 * one,
            "k_drain2": 0.02 * one,
            "k_exchange": 0.035 * one,
            "bare_fraction": np.asarray(bare_fraction, float) * one,
            "root_frac1": 0.15 * one,
            "albedo": 0.2 * one,
            "r_a": 35.0 * one,
            "tau_dry": 1.8 * one,
            "tau_wet": 3.2 * one,
        }
        for k, v in overrides.items():
            if k not in vals:
                raise KeyError(f"unknown land parameter {k!r}")
            vals[k] = np.asarray(v, float) * one
        return cls(**vals)


@dataclass
class Irrigation:
    """Where and when water is applied (see the module docstring).

    Attributes
    ----------
    allowed : numpy.ndarray of bool, shape (n_col, n_time)
        Hours at which an application may start (False everywhere on rain-fed columns).
    trigger : numpy.ndarray, shape (n_col,)
        Root-weighted water content below which an application starts, m3 m-3.
    rate : numpy.ndarray, shape (n_col,)
        Application rate, mm h-1.
    """

    allowed: np.ndarray
    trigger: np.ndarray
    rate: np.ndarray


@dataclass
class LandOutput:
    """Hourly land state and fluxes, arrays of shape ``(n_col, n_time)`` (float32).

    ``sm1`` sensor-layer water content (m3 m-3), ``sm2`` root-zone water content (m3 m-3),
    ``ts`` soil temperature at the sensor depth (degC), ``lh`` latent heat flux (W m-2,
    positive upward, hour ending at the stamp), ``irrigation`` water applied (mm in the hour
    ending at the stamp; zeros without irrigation).
    """

    sm1: np.ndarray
    sm2: np.ndarray
    ts: np.ndarray
    lh: np.ndarray
    irrigation: np.ndarray


def _tetens_slope(t_air: np.ndarray) -> np.ndarray:
    """Slope of the saturation vapour pressure curve, kPa K-1 (Tetens)."""
    es = 0.6108 * np.exp(17.27 * t_air / (t_air + 237.3))
    return 4098.0 * es / (t_air + 237.3) ** 2


def simulate_land(
    forcing: Forcing,
    p: LandParams,
    show_progress: bool = True,
    irrigation: Irrigation | None = None,
) -> LandOutput:
    """Integrate the two-layer water balance and soil temperature hour by hour.

    Parameters
    ----------
    forcing : Forcing
        Arrays of shape ``(n_col, n_time)``.
    p : LandParams
        Arrays of shape ``(n_col,)``.
    show_progress : bool
        Show a tqdm bar (disabled automatically when not a terminal).
    irrigation : Irrigation, optional
        Water applied on top of the rain (none by default).

    Returns
    -------
    LandOutput
        Starts from the equilibrium guess :math:`\\theta_1=\\theta_2=(\\theta_{fc}+\\theta_{wp})/2`,
        :math:`T = T_a`; run a spin-up period and discard it.
    """
    n_col, n_time = forcing.sw.shape
    if p.z1.shape != (n_col,):
        raise ValueError(f"parameters for {p.z1.shape} columns, forcing for {n_col}")
    th1 = 0.5 * (p.theta_fc + p.theta_wp)
    th2 = th1.copy()
    ts = forcing.t_air[:, 0].astype(float)
    t_deep = ts.copy()
    span = p.porosity - p.theta_res
    out = LandOutput(
        *(np.empty((n_col, n_time), np.float32) for _ in range(4)),
        irrigation=np.zeros((n_col, n_time), np.float32),
    )
    pending = np.zeros(n_col)  # irrigation water still to apply, m
    a_deep = 1.0 - np.exp(-1.0 / (5 * 24.0))
    steps = progress_bar(
        range(n_time), file=sys.stdout, disable=None if show_progress else True,
        desc="land", mininterval=2.0, leave=False,
    )  # fmt: skip
    for k in steps:
        sw = forcing.sw[:, k]
        ta = forcing.t_air[:, k].astype(float)
        rain = forcing.rain[:, k] * 1e-3  # m
        if irrigation is not None:
            th_root = p.root_frac1 * th1 + (1.0 - p.root_frac1) * th2
            begin = irrigation.allowed[:, k] & (pending <= 0.0) & (th_root < irrigation.trigger)
            deficit = (
                np.maximum(p.theta_fc - th1, 0.0) * p.z1 + np.maximum(p.theta_fc - th2, 0.0) * p.z2
            )
            pending = np.where(begin, deficit, pending)
            applied = np.minimum(pending, irrigation.rate * 1e-3)
            pending = pending - applied
            rain = rain + applied
            out.irrigation[:, k] = applied * 1e3
        # infiltration
        inf1 = np.minimum(rain, (p.porosity - th1) * p.z1)
        rest = rain - inf1
        th1 = th1 + inf1 / p.z1
        inf2 = np.minimum(rest, (p.porosity - th2) * p.z2)
        th2 = th2 + inf2 / p.z2
        # drainage and exchange (m per hour)
        d12 = p.k_drain1 * p.z1 * np.maximum(th1 - p.theta_fc, 0.0)
        d12 = np.minimum(d12, (p.porosity - th2) * p.z2)
        s1 = (th1 - p.theta_res) / span
        s2 = (th2 - p.theta_res) / span
        f21 = p.k_exchange * p.z1 * (s2 - s1) * span
        d2 = p.k_drain2 * p.z2 * np.maximum(th2 - p.theta_fc, 0.0)
        # energy and evapotranspiration
        rn = (1.0 - p.albedo) * sw - forcing.lw_loss[:, k]
        g = np.where(rn > 0, 0.15 * rn, 0.3 * rn)
        delta = _tetens_slope(ta)
        ep = PRIESTLEY_TAYLOR * delta / (delta + PSYCHRO) * np.maximum(rn - g, 0.0)
        ep = ep * 3600.0 / LATENT_HEAT * 1e-3  # m per hour
        beta1 = np.clip((th1 - p.theta_res) / (p.theta_fc - p.theta_res), 0.0, 1.0)
        th_root = p.root_frac1 * th1 + (1.0 - p.root_frac1) * th2
        beta2 = np.clip((th_root - p.theta_wp) / (p.theta_fc - p.theta_wp), 0.0, 1.0)
        es = p.bare_fraction * ep * beta1
        tr = (1.0 - p.bare_fraction) * ep * beta2
        loss1 = np.minimum(es + p.root_frac1 * tr, np.maximum(th1 - p.theta_res, 0.0) * p.z1)
        th1 = th1 + (f21 - d12 - loss1) / p.z1
        th2 = th2 + (d12 - f21 - (1.0 - p.root_frac1) * tr - d2) / p.z2
        th1 = np.clip(th1, p.theta_res, p.porosity)
        th2 = np.clip(th2, p.theta_res, p.porosity)
        et = loss1 + (1.0 - p.root_frac1) * tr  # m per hour
        lh = et * 1e3 * LATENT_HEAT / 3600.0
        # soil temperature
        h = rn - lh - g
        t_sfc = ta + p.r_a * h / RHO_CP
        s1 = (th1 - p.theta_res) / span
        tau = p.tau_dry + (p.tau_wet - p.tau_dry) * s1
        t_deep = t_deep + a_deep * (ta - t_deep)
        ts = ts + (1.0 - np.exp(-1.0 / tau)) * (0.85 * t_sfc + 0.15 * t_deep - ts)
        out.sm1[:, k] = th1
        out.sm2[:, k] = th2
        out.ts[:, k] = ts
        out.lh[:, k] = lh
    return out
