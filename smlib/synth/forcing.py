"""Hourly atmospheric forcing of the twin: sun, clouds, air temperature and convective rain.

Weather is drawn per *region and day* (cloudiness, temperature anomaly, storm occurrence,
storm timing and depth) and turned into hourly forcing per *column* (a station, a tower or a
reanalysis grid cell). Columns of one region share the weather; a station may miss a regional
storm and receives its own fraction of the depth, as convective cells are local. Reanalysis
columns get the *regional* storm with product-specific timing and amount errors
(:class:`RainPerturbation`).

Equations (time ``t`` in hours UTC; every flux is the mean over the hour *ending* at ``t``, so
the sun is evaluated at ``t - 0.5 h``):

* Solar geometry with declination :math:`\\delta = 23.44^\\circ\\sin(2\\pi(284+d)/365)`, the
  equation of time (Spencer 1971, minutes) and local solar time
  :math:`t_s = t + \\lambda/15 + E/60`; hour angle :math:`\\omega = 15^\\circ(t_s - 12)`;
  :math:`\\cos Z = \\sin\\phi\\sin\\delta + \\cos\\phi\\cos\\delta\\cos\\omega`.
* Incoming short-wave radiation
  :math:`S = S_0 (1 + 0.033\\cos(2\\pi d/365))\\max(\\cos Z, 0)\\,\\tau_0 (1 - 0.65 c^2)`,
  :math:`S_0 = 1361` W m-2, clear-sky transmissivity :math:`\\tau_0 = 0.75`, cloud cover ``c``;
  a raining hour keeps 30 % of it.
* Daily cloud cover :math:`c = \\sigma(1.3 z + \\mathrm{logit}\\,\\bar c(d))` from an AR(1)
  anomaly :math:`z_d = 0.7 z_{d-1} + \\sqrt{1-0.7^2}\\,\\varepsilon_d` and a climatology
  :math:`\\bar c = \\mathrm{clip}(0.15 + 1.3 p(d), 0.1, 0.8)` tied to the storm probability.
* Air temperature :math:`T_a = \\bar T + A\\cos(2\\pi(d-200)/365) + a_d - 3c +
  \\tfrac12 \\mathrm{DTR}(1-0.6c)\\cos(2\\pi(t_s-15)/24)`, with an AR(1) synoptic anomaly
  :math:`a_d` (:math:`\\rho = 0.8`, 2.5 K) and a 3 K cooling for raining hours.
* Net long-wave loss :math:`L = 110 - 70c` W m-2.
* Storms: a region-day is stormy with probability :math:`p(d)(0.5 + c_d)/(0.5 + \\bar c)`;
  onset at local solar hour :math:`h_0 \\sim N(16.5, 2^2)` clipped to 12-23 h (afternoon and
  early night, as convection is), duration 1-3 h, regional depth ~ Gamma(0.8, mean
  ``rain_depth``). A station is hit with probability 0.8, receives the depth times a
  log-normal factor (sigma 0.5) and shifts the onset by -1, 0 or +1 h.

The storm timing, duration and station hit rate above are the defaults of :class:`RainClimate`;
a scenario (:mod:`smlib.synth.scenarios`) passes its own, and may send a share of the storms
to the night (onset :math:`\\sim N(h_n, 1.5^2)` clipped to 0-8 h local solar time, the
nocturnal maximum of organised convection; Dai 2001, J. Climate 14:1112).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from smlib.synth.world import REGIONS, Region
from smlib.timeutils import solar_geometry

__all__ = [
    "RainClimate",
    "RegionWeather",
    "RainPerturbation",
    "Forcing",
    "DEFAULT_RAIN_CLIMATE",
    "draw_region_weather",
    "solar_geometry",
    "column_forcing",
]

CLEAR_SKY_TRANSMISSIVITY = 0.75


@dataclass(frozen=True)
class RainClimate:
    """When storms start, how long they last and how local they are.

    Attributes
    ----------
    onset_h, onset_sd_h : float
        Mean and standard deviation of the storm onset, local solar hour / h.
    onset_window_h : tuple of float
        Onsets are clipped to this window of local solar hours.
    duration_h : tuple of int
        Smallest and largest storm duration, h (uniform integers, both included).
    nocturnal_share : float
        Share of storms that start at night instead (0 = none).
    nocturnal_onset_h : float
        Mean onset of the nocturnal storms, local solar hour (sd 1.5 h, clipped to 0-8 h).
    station_hit_prob : float
        Probability that a station gets a regional storm (convective cells are local).
    """

    onset_h: float = 16.5
    onset_sd_h: float = 2.0
    onset_window_h: tuple[float, float] = (12.0, 23.0)
    duration_h: tuple[int, int] = (1, 3)
    nocturnal_share: float = 0.0
    nocturnal_onset_h: float = 2.0
    station_hit_prob: float = 0.8


DEFAULT_RAIN_CLIMATE = RainClimate()
"""Rain timing of the embedded twin (afternoon and early-night convection)."""


@dataclass
class RegionWeather:
    """Daily weather of every region on a UTC-day axis.

    All arrays have shape ``(n_region, n_day)``: ``cloud`` (0-1), ``t_anom`` (K),
    ``storm`` (bool), ``onset`` (local solar hour of storm onset), ``duration`` (h),
    ``depth`` (regional mean storm depth, mm). ``day0`` is the first day (00 UTC).
    """

    day0: pd.Timestamp
    cloud: np.ndarray
    t_anom: np.ndarray
    storm: np.ndarray
    onset: np.ndarray
    duration: np.ndarray
    depth: np.ndarray


@dataclass(frozen=True)
class RainPerturbation:
    """How a reanalysis product mis-places and mis-sizes the regional storms.

    Attributes
    ----------
    name : str
        Product name (seeds its random stream).
    onset_shift : float
        Mean shift of the storm onset, h (negative = too early, as parameterised convection
        tends to be).
    onset_sd : float
        Random per-event onset error, h (can move a storm to the neighbouring day).
    spread : float
        Factor stretching the storm duration (drizzle).
    depth_factor : float
        Multiplicative bias of the depth; each event also gets a log-normal factor (sigma 0.6).
    miss_prob, false_prob : float
        Probability that a storm is missed / that a dry region-day gets a spurious event.
    """

    name: str
    onset_shift: float
    onset_sd: float
    spread: float
    depth_factor: float
    miss_prob: float
    false_prob: float


@dataclass
class Forcing:
    """Hourly forcing of ``n_col`` columns, arrays of shape ``(n_col, n_time)`` (float32).

    ``sw`` incoming short-wave (W m-2), ``lw_loss`` net long-wave loss (W m-2), ``t_air``
    (degC), ``rain`` (mm in the hour ending at the stamp), ``cloud`` (0-1). ``time`` is the
    UTC axis.
    """

    time: pd.DatetimeIndex
    sw: np.ndarray
    lw_loss: np.ndarray
    t_air: np.ndarray
    rain: np.ndarray
    cloud: np.ndarray


def _storm_probability(doy: np.ndarray, regions: tuple[Region, ...]) -> np.ndarray:
    """Daily storm probability p(d) per region, shape (n_region, n_day)."""
    p0 = np.array([r.rain_prob for r in regions])[:, None]
    p1 = np.array([r.rain_amp for r in regions])[:, None]
    dp = np.array([r.rain_peak_doy for r in regions])[:, None]
    return np.clip(p0 + p1 * np.cos(2 * np.pi * (doy[None, :] - dp) / 365.0), 0.02, 0.6)


def draw_region_weather(
    day0: pd.Timestamp,
    n_day: int,
    rng: np.random.Generator,
    regions: tuple[Region, ...] = REGIONS,
    climate: RainClimate = DEFAULT_RAIN_CLIMATE,
) -> RegionWeather:
    """Draw the daily regional weather (see the module docstring for the equations).

    Parameters
    ----------
    day0 : pandas.Timestamp
        First day.
    n_day : int
        Number of days.
    rng : numpy.random.Generator
    regions : tuple of Region
        Climates of the regions (default :data:`~smlib.synth.world.REGIONS`).
    climate : RainClimate
        Storm timing and duration.
    """
    n_reg = len(regions)
    doy = pd.date_range(day0, periods=n_day, freq="D").day_of_year.to_numpy().astype(float)
    p = _storm_probability(doy, regions)
    c_clim = np.clip(0.15 + 1.3 * p, 0.1, 0.8)
    eps = rng.standard_normal((n_reg, n_day))
    eta = rng.standard_normal((n_reg, n_day))
    z = np.empty((n_reg, n_day))
    a = np.empty((n_reg, n_day))
    z[:, 0], a[:, 0] = eps[:, 0], 2.5 * eta[:, 0]
    rc, ra = 0.7, 0.8
    for d in range(1, n_day):  # AR(1) over days, vectorised over regions
        z[:, d] = rc * z[:, d - 1] + np.sqrt(1 - rc**2) * eps[:, d]
        a[:, d] = ra * a[:, d - 1] + np.sqrt(1 - ra**2) * 2.5 * eta[:, d]
    cloud = 1.0 / (1.0 + np.exp(-(1.3 * z + np.log(c_clim / (1 - c_clim)))))
    storm = rng.uniform(size=(n_reg, n_day)) < p * (0.5 + cloud) / (0.5 + c_clim)
    cl = climate
    onset = np.clip(rng.normal(cl.onset_h, cl.onset_sd_h, (n_reg, n_day)), *cl.onset_window_h)
    duration = rng.integers(cl.duration_h[0], cl.duration_h[1] + 1, (n_reg, n_day)).astype(float)
    mean_depth = np.array([r.rain_depth for r in regions])[:, None]
    depth = rng.gamma(0.8, mean_depth / 0.8, (n_reg, n_day))
    if cl.nocturnal_share > 0:  # drawn last: the draws above stay those of the default
        night = rng.uniform(size=(n_reg, n_day)) < cl.nocturnal_share
        night_onset = np.clip(rng.normal(cl.nocturnal_onset_h, 1.5, (n_reg, n_day)), 0.0, 8.0)
        onset = np.where(night, night_onset, onset)
    return RegionWeather(day0, cloud, a - 3.0 * cloud, storm, onset, duration, depth)


def _hourly_rain(
    n_col: int,
    n_time: int,
    col: np.ndarray,
    day: np.ndarray,
    onset_local: np.ndarray,
    duration: np.ndarray,
    depth: np.ndarray,
    lon: np.ndarray,
    hour0: int,
) -> np.ndarray:
    """Spread storm events over hours of a (n_col, n_time) grid, uniformly over their duration.

    Events are given by parallel arrays: column index, UTC day index, local solar onset hour,
    duration (h) and depth (mm). Parts falling outside the axis are dropped.
    """
    rain = np.zeros((n_col, n_time))
    if col.size == 0:
        return rain.astype(np.float32)
    start = day * 24 - hour0 + np.rint(onset_local - lon[col] / 15.0).astype(int) + 1
    dur = np.maximum(np.rint(duration).astype(int), 1)
    for k in range(int(dur.max())):
        use = k < dur
        idx = start[use] + k
        ok = (idx >= 0) & (idx < n_time)
        np.add.at(rain, (col[use][ok], idx[ok]), (depth[use] / dur[use])[ok])
    return rain.astype(np.float32)


def column_forcing(
    time: pd.DatetimeIndex,
    weather: RegionWeather,
    region: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    rng: np.random.Generator,
    perturbation: RainPerturbation | None = None,
    event_rng: np.random.Generator | None = None,
    regions: tuple[Region, ...] = REGIONS,
    climate: RainClimate = DEFAULT_RAIN_CLIMATE,
) -> Forcing:
    """Hourly forcing for columns (stations or grid cells).

    Parameters
    ----------
    time : pandas.DatetimeIndex, shape (n_time,)
        Hourly UTC axis; must start at 00 UTC of ``weather.day0`` or later.
    weather : RegionWeather
    region : numpy.ndarray of int, shape (n_col,)
        Region index of each column.
    lat, lon : numpy.ndarray, shape (n_col,)
    rng : numpy.random.Generator
        Stream for the column-level rain draws.
    perturbation : RainPerturbation, optional
        ``None``: point rain of a station (hit/miss, local depth). Otherwise the column is a
        reanalysis cell that receives the regional storm with this product's errors.
    event_rng : numpy.random.Generator, optional
        With ``perturbation``: the product's stream for the per-event errors (miss, false
        alarm, onset, depth), drawn on the (region, day) grid so that all cells of a region
        share them (a model misplaces a storm regionally, not cell by cell). Cells only add a
        log-normal depth factor (sigma 0.25) from ``rng``.
    regions : tuple of Region
        Climates indexed by ``region`` (default :data:`~smlib.synth.world.REGIONS`).
    climate : RainClimate
        Its ``station_hit_prob`` applies to station columns.

    Returns
    -------
    Forcing
    """
    region = np.asarray(region, int)
    lat = np.asarray(lat, float)
    lon = np.asarray(lon, float)
    n_col, n_time = region.size, len(time)
    hour_index = ((time - weather.day0) / pd.Timedelta(hours=1)).to_numpy().astype(int)
    if hour_index[0] < 0:
        raise ValueError("the forcing axis starts before the weather's first day")
    hour0 = int(hour_index[0])
    n_day = weather.cloud.shape[1]

    cosz, solar_hour, toa = solar_geometry(time, lat, lon)
    # daily fields looked up by the UTC day of each hour-centre (then smoothed over 6 h so
    # that day boundaries do not step)
    dayidx = np.clip((hour_index - 1) // 24, 0, n_day - 1)
    cloud = weather.cloud[region][:, dayidx]
    t_anom = weather.t_anom[region][:, dayidx]
    cloud = _smooth_time(cloud, 6)
    t_anom = _smooth_time(t_anom, 6)

    # rain events
    reg_day = np.argwhere(np.ones((n_col, n_day), bool))
    c_idx, d_idx = reg_day[:, 0], reg_day[:, 1]
    r_idx = region[c_idx]
    storm = weather.storm[r_idx, d_idx]
    onset = weather.onset[r_idx, d_idx].copy()
    duration = weather.duration[r_idx, d_idx].copy()
    depth = weather.depth[r_idx, d_idx].copy()
    if perturbation is None:
        hit = storm & (rng.uniform(size=storm.size) < climate.station_hit_prob)
        depth = depth * rng.lognormal(0.0, 0.5, storm.size)
        onset = onset + rng.integers(-1, 2, storm.size)
    else:
        if event_rng is None:
            raise ValueError("a rain perturbation needs event_rng (the product's event stream)")
        pr = perturbation
        shape = weather.storm.shape
        miss = event_rng.uniform(size=shape) < pr.miss_prob
        false = ~weather.storm & (event_rng.uniform(size=shape) < pr.false_prob)
        onset_err = pr.onset_shift + event_rng.normal(0.0, pr.onset_sd, shape)
        depth_err = pr.depth_factor * event_rng.lognormal(0.0, 0.6, shape)
        false_cd = false[r_idx, d_idx]
        hit = (storm & ~miss[r_idx, d_idx]) | false_cd
        depth = np.where(false_cd, 0.3 * depth + 0.5, depth) * depth_err[r_idx, d_idx]
        depth = depth * rng.lognormal(0.0, 0.25, storm.size)  # cell-to-cell variation
        onset = onset + onset_err[r_idx, d_idx]
        duration = np.maximum(1.0, duration * pr.spread)
    rain = _hourly_rain(
        n_col, n_time, c_idx[hit], d_idx[hit], onset[hit], duration[hit], depth[hit], lon, hour0
    )

    raining = rain > 0.05
    sw = toa * CLEAR_SKY_TRANSMISSIVITY * (1.0 - 0.65 * cloud**2) * np.where(raining, 0.3, 1.0)

    doy = (time - pd.Timedelta(minutes=30)).day_of_year.to_numpy().astype(float)
    t_mean = np.array([regions[r].t_mean for r in region])[:, None]
    t_amp = np.array([regions[r].t_amp for r in region])[:, None]
    dtr = np.array([regions[r].dtr for r in region])[:, None]
    seasonal = t_mean + t_amp * np.cos(2 * np.pi * (doy[None, :] - 200.0) / 365.0)
    diurnal = 0.5 * dtr * (1.0 - 0.6 * cloud) * np.cos(2 * np.pi * (solar_hour - 15.0) / 24.0)
    rain_cool = _smooth_time(raining.astype(float), 3, causal=True) * 3.0
    t_air = seasonal + t_anom + diurnal - rain_cool
    lw_loss = 110.0 - 70.0 * cloud
    f32 = np.float32
    return Forcing(
        time, sw.astype(f32), lw_loss.astype(f32), t_air.astype(f32), rain, cloud.astype(f32)
    )


def _smooth_time(x: np.ndarray, width: int, causal: bool = False) -> np.ndarray:
    """Moving average along the last axis (centred, or trailing when ``causal``)."""
    c = np.cumsum(np.pad(x, ((0, 0), (width, 0)), mode="edge"), axis=1)
    trailing = (c[:, width:] - c[:, :-width]) / width
    if causal:
        return trailing
    shift = width // 2
    out = np.empty_like(trailing)
    out[:, :-shift] = trailing[:, shift:]
    out[:, -shift:] = trailing[:, -1:]
    return out
