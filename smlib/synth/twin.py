"""Assemble the twin: weather, true land state, sensors, towers and reanalysis runs.

:func:`simulate_twin` returns every array in memory (:class:`Twin`);
:func:`smlib.synth.write_twin` writes them in the real on-disk formats. The simulation starts
``SPINUP_DAYS`` before the first output day (and ends one hour after the last output stamp,
which the MERRA-2 hour means and the towers' last half-hours need); the spin-up is discarded.

A :class:`~smlib.synth.scenarios.Scenario` sets the world's climate, soils, irrigation, probe
physics, gaps, network density and reanalysis errors; ``"default"`` is the embedded twin.
"""

from __future__ import annotations

import logging
import time as _time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from smlib.synth.forcing import Forcing, column_forcing, draw_region_weather, solar_geometry
from smlib.synth.land import Irrigation, LandOutput, LandParams, simulate_land
from smlib.synth.reanalysis import ProductRun, run_product
from smlib.synth.scenarios import Scenario, get_scenario
from smlib.synth.sensors import (
    SensorParams,
    cosmic_ray_reading_and_noise,
    delayed_temperature,
    dielectric_reading_and_noise,
    draw_sensor_params,
    ismn_flags,
    outage_mask,
    sensing_element_temperature,
    soil_temperature_reading,
    tipping_bucket,
)
from smlib.synth.towers import TowerData, tower_gaps, tower_halfhourly
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
    truth_irrigation : numpy.ndarray, shape (n_station, n_time)
        Irrigation water applied (mm h-1, hour ending at the stamp; zeros without irrigation).
        No gauge and no reanalysis sees it.
    sm_obs, ts_obs : numpy.ndarray, shape (n_ismn, n_time)
        ISMN readings as written (spikes included), NaN where not written.
    sm_flag : numpy.ndarray of str, shape (n_ismn, n_time)
        ISMN flags of the SM readings (``ts`` readings are all ``G``).
    gauge : numpy.ndarray, shape (n_ismn, n_time)
        Tipping-bucket rain (mm in the hour ending at the stamp) at every second ISMN station,
        NaN at the others and during logger outages.
    towers : TowerData
    era5, merra2 : ProductRun
    scenario : Scenario
        The world's knobs.
    sm_noise : numpy.ndarray, shape (n_station, n_time)
        The SM reading's random noise plus quantisation error (m3 m-3): the reading minus its
        noise-free value (truth + offset + temperature artefact; for cosmic-ray probes the
        footprint-averaged truth + offset). ``truth_sm + sm_noise`` is the noise ceiling.
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
    truth_irrigation: np.ndarray
    scenario: Scenario
    sm_noise: np.ndarray | None = None


def simulate_twin(
    n_stations: int | None = None,
    n_days: int | None = None,
    seed: int = 0,
    start: str | pd.Timestamp | None = None,
    show_progress: bool = True,
    scenario: str | Scenario = "default",
) -> Twin:
    """Simulate the whole twin in memory.

    Parameters
    ----------
    n_stations : int, optional
        ISMN stations requested (default :data:`~smlib.synth.world.DEFAULT_N_STATIONS`); a
        sparse scenario deploys its ``station_share`` of them.
    n_days : int, optional
        Days (default :data:`~smlib.synth.world.DEFAULT_N_DAYS`).
    seed : int
        World seed; the same seed gives the same twin.
    start : str or pandas.Timestamp, optional
        First day (default :data:`~smlib.synth.world.DEFAULT_START`).
    show_progress : bool
    scenario : str or Scenario
        A name of :data:`~smlib.synth.scenarios.SCENARIOS` or a :class:`Scenario`
        (``"default"``: the embedded twin, identical to earlier versions for the same seed).

    Returns
    -------
    Twin

    Raises
    ------
    KeyError
        For an unknown scenario name (the message lists the valid ones).
    """
    t_start = _time.perf_counter()
    sc = get_scenario(scenario)
    regions = sc.regions()
    requested = DEFAULT_N_STATIONS if n_stations is None else int(n_stations)
    world = build_world(
        sc.n_ismn_stations(requested),
        DEFAULT_N_DAYS if n_days is None else int(n_days),
        int(seed),
        DEFAULT_START if start is None else start,
        regions=regions,
        weak_share=sc.weak_share,
    )
    st = world.stations
    n_time = world.n_days * 24
    i0 = SPINUP_DAYS * 24
    day0 = world.start - pd.Timedelta(days=SPINUP_DAYS)
    sim_time = pd.date_range(day0, periods=i0 + n_time + 1, freq="h")
    climate = sc.rain_climate()
    weather = draw_region_weather(
        day0, SPINUP_DAYS + world.n_days + 2, rng_for(seed, "weather"), regions, climate
    )

    # truth at stations and towers
    forcing: Forcing = column_forcing(
        sim_time, weather, st["region"].to_numpy(), st["lat"].to_numpy(), st["lon"].to_numpy(),
        rng_for(seed, "station-rain"), regions=regions, climate=climate,
    )  # fmt: skip
    params = LandParams.from_soil(
        st["porosity"].to_numpy(), st["theta_fc"].to_numpy(), st["theta_wp"].to_numpy(),
        st["bare_fraction"].to_numpy(), **sc.land_overrides(),
    )  # fmt: skip
    irrigation = _irrigation(sc, world, sim_time, params, rng_for(seed, "irrigation"))
    land: LandOutput = simulate_land(
        forcing, params, show_progress=show_progress, irrigation=irrigation
    )
    out = slice(i0, i0 + n_time)
    truth_sm, truth_ts, truth_lh = land.sm1[:, out], land.ts[:, out], land.lh[:, out]
    truth_precip = forcing.rain[:, out]

    # sensors: the element may lag and / or see TS late (48 h before the first output hour)
    stype = st["sensor_type"].to_numpy()
    sp = draw_sensor_params(
        stype, st["weak_artefact"].to_numpy(), rng_for(seed, "sensor-params"),
        sc.sensor_physics(),
    )  # fmt: skip
    rng = rng_for(seed, "sensor-noise")
    ts_read = soil_temperature_reading(land.ts[:, i0 : i0 + n_time + 1], sp, rng)
    warm = 48
    ts_element = sensing_element_temperature(land.ts[:, i0 - warm : i0 + n_time + 1], sp.lag_h)
    ts_element = delayed_temperature(ts_element, sp.delay_h)
    sm_read, sm_noise = dielectric_reading_and_noise(
        land.sm1[:, i0 : i0 + n_time + 1], ts_element[:, warm:], params.theta_res,
        params.porosity, sp, rng,
    )  # fmt: skip
    crns = stype == "cosmic-ray"
    if crns.any():
        sub = _subset(sp, crns)
        crns_read, crns_noise = cosmic_ray_reading_and_noise(
            land.sm1[crns, i0 - 6 : i0 + n_time + 1], land.sm2[crns, i0 - 6 : i0 + n_time + 1],
            sub, rng,
        )  # fmt: skip
        sm_read[crns], sm_noise[crns] = crns_read[:, 6:], crns_noise[:, 6:]
    is_ismn = (st["kind"] == "ismn").to_numpy()
    logger_ok, sm_ok = outage_mask(
        len(st), world.time, rng_for(seed, "outages"), **sc.outage_kwargs()
    )
    saturation = np.round(st["porosity"].to_numpy(), 2)
    sm_spiked, flags = ismn_flags(
        sm_read[is_ismn, :n_time], ts_read[is_ismn, :n_time], forcing.t_air[is_ismn, out],
        saturation[is_ismn], rng_for(seed, "flags"), spike_prob=sc.spike_prob,
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
    if sc.tower_halfhour_dropout > 0 or sc.tower_hourly_soil_share > 0:
        towers = tower_gaps(towers, sc.tower_halfhour_dropout, sc.tower_hourly_soil_share,
                            rng_for(seed, "tower-gaps"))  # fmt: skip

    era5_spec, merra2_spec = sc.product_specs()
    era5 = run_product(world, era5_spec, weather, sim_time, show_progress=show_progress)
    merra2 = run_product(world, merra2_spec, weather, sim_time, show_progress=show_progress)
    logger.info(
        "simulated twin (scenario %s): %d ISMN stations, %d towers, %d days, %d ERA5-Land and "
        "%d MERRA-2 cells in %.1f s",
        sc.name, int(is_ismn.sum()), int(tw.sum()), world.n_days, era5.cell_i.size,
        merra2.cell_i.size, _time.perf_counter() - t_start,
    )  # fmt: skip
    return Twin(
        world=world, time=world.time, sim_time=sim_time, i0=i0, sensors=sp,
        truth_sm=truth_sm, truth_ts=truth_ts, truth_lh=truth_lh, truth_precip=truth_precip,
        sm_obs=sm_obs, ts_obs=ts_obs, sm_flag=np.where(sm_ok[is_ismn], flags, ""), gauge=gauge,
        towers=towers, era5=era5, merra2=merra2, truth_irrigation=land.irrigation[:, out],
        scenario=sc, sm_noise=sm_noise[:, :n_time],
    )  # fmt: skip


def _irrigation(
    sc: Scenario,
    world: World,
    sim_time: pd.DatetimeIndex,
    params: LandParams,
    rng: np.random.Generator,
) -> Irrigation | None:
    """Sprinkler irrigation of a ``sc.irrigated_share`` of the columns (None when none).

    Applications may start in the hour ending at ``irrigation_hour + 1`` local solar time; the
    trigger is the FAO-56 depletion rule (:class:`~smlib.synth.land.Irrigation`).
    """
    if sc.irrigated_share <= 0:
        return None
    st = world.stations
    irrigated = rng.uniform(size=len(st)) < sc.irrigated_share
    _, solar_hour, _ = solar_geometry(sim_time, st["lat"].to_numpy(), st["lon"].to_numpy())
    allowed = (np.floor(solar_hour).astype(int) == sc.irrigation_hour) & irrigated[:, None]
    trigger = params.theta_fc - sc.irrigation_depletion * (params.theta_fc - params.theta_wp)
    rate = np.full(len(st), sc.irrigation_rate_mm_h)
    return Irrigation(allowed=allowed, trigger=trigger, rate=rate)


def _subset(sp: SensorParams, mask: np.ndarray) -> SensorParams:
    return SensorParams(**{k: None if v is None else v[mask] for k, v in vars(sp).items()})
