"""Assemble the twin: weather, true land state, sensors, towers and reanalysis runs.

:func:`simulate_twin` returns every array in memory (:class:`Twin`);
:func:`smlib.synth.write_twin` writes them in the real on-disk formats. The simulation starts
``SPINUP_DAYS`` before the first output day (and ends one hour after the last output stamp,
which the MERRA-2 hour means and the towers' last half-hours need); the spin-up is discarded.
"""

from __future__ import annotations

import logging
import time as _time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from smlib.synth.forcing import Forcing, column_forcing, draw_region_weather
from smlib.synth.land import LandOutput, LandParams, simulate_land
from smlib.synth.reanalysis import ERA5_LAND, MERRA2, ProductRun, run_product
from smlib.synth.sensors import (
    SensorParams,
    cosmic_ray_reading,
    dielectric_reading,
    draw_sensor_params,
    ismn_flags,
    outage_mask,
    soil_temperature_reading,
    tipping_bucket,
)
from smlib.synth.towers import TowerData, tower_halfhourly
from smlib.synth.world import (
    DEFAULT_N_DAYS,
    DEFAULT_N_STATIONS,
    DEFAULT_START,
    World,
    build_world,
    rng_for,
)

__all__ = ["SPINUP_DAYS", "Twin", "simulate_twin"]

logger = logging.getLogger(__name__)

SPINUP_DAYS = 30
"""Days simulated before the first output day and discarded."""


@dataclass
class Twin:
    """All arrays of one twin.

    Attributes
    ----------
    world : World
    time : pandas.DatetimeIndex, shape (n_time,)
        Hourly UTC output axis.
    sim_time : pandas.DatetimeIndex
        Simulation axis; ``sim_time[i0 + k] == time[k]``.
    i0 : int
    sensors : SensorParams
        For every station of ``world.stations`` (towers included).
    truth_sm, truth_ts, truth_lh, truth_precip : numpy.ndarray, shape (n_station, n_time)
        True sensor-layer SM (m3 m-3), soil temperature at the sensor depth (degC), latent heat
        flux (W m-2, hour ending at the stamp) and rain (mm h-1, hour ending at the stamp).
    sm_obs, ts_obs : numpy.ndarray, shape (n_ismn, n_time)
        ISMN readings as written (spikes included), NaN where not written.
    sm_flag : numpy.ndarray of str, shape (n_ismn, n_time)
        ISMN flags of the SM readings (``ts`` readings are all ``G``).
    gauge : numpy.ndarray, shape (n_ismn, n_time)
        Tipping-bucket rain (mm in the hour ending at the stamp) at every second ISMN station,
        NaN at the others and during logger outages.
    towers : TowerData
    era5, merra2 : ProductRun
    """

    world: World
    time: pd.DatetimeIndex
    sim_time: pd.DatetimeIndex
    i0: int
    sensors: SensorParams
    truth_sm: np.ndarray
    truth_ts: np.ndarray
    truth_lh: np.ndarray
    truth_precip: np.ndarray
    sm_obs: np.ndarray
    ts_obs: np.ndarray
    sm_flag: np.ndarray
    gauge: np.ndarray
    towers: TowerData
    era5: ProductRun
    merra2: ProductRun


def simulate_twin(
    n_stations: int | None = None,
    n_days: int | None = None,
    seed: int = 0,
    start: str | pd.Timestamp | None = None,
    show_progress: bool = True,
) -> Twin:
    """Simulate the whole twin in memory.

    Parameters
    ----------
    n_stations : int, optional
        ISMN stations (default :data:`~smlib.synth.world.DEFAULT_N_STATIONS`).
    n_days : int, optional
        Days (default :data:`~smlib.synth.world.DEFAULT_N_DAYS`).
    seed : int
        World seed; the same seed gives the same twin.
    start : str or pandas.Timestamp, optional
        First day (default :data:`~smlib.synth.world.DEFAULT_START`).
    show_progress : bool

    Returns
    -------
    Twin
    """
    t_start = _time.perf_counter()
    world = build_world(
        DEFAULT_N_STATIONS if n_stations is None else int(n_stations),
        DEFAULT_N_DAYS if n_days is None else int(n_days),
        int(seed),
        DEFAULT_START if start is None else start,
    )
    st = world.stations
    n_time = world.n_days * 24
    i0 = SPINUP_DAYS * 24
    day0 = world.start - pd.Timedelta(days=SPINUP_DAYS)
    sim_time = pd.date_range(day0, periods=i0 + n_time + 1, freq="h")
    weather = draw_region_weather(day0, SPINUP_DAYS + world.n_days + 2, rng_for(seed, "weather"))

    # truth at stations and towers
    forcing: Forcing = column_forcing(
        sim_time, weather, st["region"].to_numpy(), st["lat"].to_numpy(), st["lon"].to_numpy(),
        rng_for(seed, "station-rain"),
    )  # fmt: skip
    params = LandParams.from_soil(
        st["porosity"].to_numpy(), st["theta_fc"].to_numpy(), st["theta_wp"].to_numpy(),
        st["bare_fraction"].to_numpy(),
    )  # fmt: skip
    land: LandOutput = simulate_land(forcing, params, show_progress=show_progress)
    out = slice(i0, i0 + n_time)
    truth_sm, truth_ts, truth_lh = land.sm1[:, out], land.ts[:, out], land.lh[:, out]
    truth_precip = forcing.rain[:, out]

    # sensors
    stype = st["sensor_type"].to_numpy()
    sp = draw_sensor_params(stype, st["weak_artefact"].to_numpy(), rng_for(seed, "sensor-params"))
    rng = rng_for(seed, "sensor-noise")
    ts_read = soil_temperature_reading(land.ts[:, i0 : i0 + n_time + 1], sp, rng)
    sm_read = dielectric_reading(
        land.sm1[:, i0 : i0 + n_time + 1], land.ts[:, i0 : i0 + n_time + 1], params.theta_res,
        params.porosity, sp, rng,
    )  # fmt: skip
    crns = stype == "cosmic-ray"
    if crns.any():
        sub = _subset(sp, crns)
        sm_read[crns] = cosmic_ray_reading(
            land.sm1[crns, i0 - 6 : i0 + n_time + 1], land.sm2[crns, i0 - 6 : i0 + n_time + 1],
            sub, rng,
        )[:, 6:]  # fmt: skip
    is_ismn = (st["kind"] == "ismn").to_numpy()
    logger_ok, sm_ok = outage_mask(len(st), world.time, rng_for(seed, "outages"))
    saturation = np.round(st["porosity"].to_numpy(), 2)
    sm_spiked, flags = ismn_flags(
        sm_read[is_ismn, :n_time], ts_read[is_ismn, :n_time], forcing.t_air[is_ismn, out],
        saturation[is_ismn], rng_for(seed, "flags"),
    )  # fmt: skip
    sm_obs = np.where(sm_ok[is_ismn], sm_spiked, np.nan)
    ts_obs = np.where(logger_ok[is_ismn], ts_read[is_ismn, :n_time], np.nan)
    has_gauge = (np.arange(int(is_ismn.sum())) % 2 == 0)[:, None] & logger_ok[is_ismn]
    gauge = np.where(has_gauge, tipping_bucket(truth_precip[is_ismn]), np.nan)

    # towers: fluxes of the hour [k, k+1) are the sim stamps i0+1 .. i0+n_time
    tw = ~is_ismn
    fl = slice(i0 + 1, i0 + n_time + 1)
    towers = tower_halfhourly(
        st["name"].to_numpy()[tw], st["utc_offset"].to_numpy()[tw], land.lh[tw, fl],
        sm_read[tw], ts_read[tw], forcing.rain[tw, fl], forcing.t_air[tw, fl],
        forcing.sw[tw, fl], logger_ok[tw], rng_for(seed, "towers"),
    )  # fmt: skip

    era5 = run_product(world, ERA5_LAND, weather, sim_time, show_progress=show_progress)
    merra2 = run_product(world, MERRA2, weather, sim_time, show_progress=show_progress)
    logger.info(
        "simulated twin: %d ISMN stations, %d towers, %d days, %d ERA5-Land and %d MERRA-2 "
        "cells in %.1f s",
        int(is_ismn.sum()), int(tw.sum()), world.n_days, era5.cell_i.size, merra2.cell_i.size,
        _time.perf_counter() - t_start,
    )  # fmt: skip
    return Twin(
        world=world, time=world.time, sim_time=sim_time, i0=i0, sensors=sp,
        truth_sm=truth_sm, truth_ts=truth_ts, truth_lh=truth_lh, truth_precip=truth_precip,
        sm_obs=sm_obs, ts_obs=ts_obs, sm_flag=np.where(sm_ok[is_ismn], flags, ""), gauge=gauge,
        towers=towers, era5=era5, merra2=merra2,
    )  # fmt: skip


def _subset(sp: SensorParams, mask: np.ndarray) -> SensorParams:
    return SensorParams(**{k: v[mask] for k, v in vars(sp).items()})
