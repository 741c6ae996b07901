"""The embedded synthetic twin: a physically based world with ground truth, in the real formats.

Real ISMN, ERA5-Land, MERRA-2 and FLUXNET data cannot be shipped, and even real data have no
known truth. The twin simulates a small world (:mod:`~smlib.synth.world`) with hourly forcing
(:mod:`~smlib.synth.forcing`), a layered water and energy balance (:mod:`~smlib.synth.land`),
probes with the Maxwell-Wagner temperature artefact (:mod:`~smlib.synth.sensors`), flux towers
(:mod:`~smlib.synth.towers`) and two reanalysis products with their own runs and diurnal errors
(:mod:`~smlib.synth.reanalysis`), and writes everything in the providers' formats
(:mod:`~smlib.synth.writers`) so that every default run exercises the real readers.

:mod:`~smlib.synth.scenarios` holds a family of worlds (arid, monsoon, temperate maritime,
humid irrigated, lagging or delayed sensing elements, probes of both signs, a dry-growing
artefact, a poor reanalysis, a sparse noisy network, and an in-situ-only variant of each) that
differ in what matters to the correction; ``scenario="default"`` is the embedded twin.

May import only the shared modules at the top of :mod:`smlib`, never the readers
(:mod:`smlib.io`) nor anything downstream, so the twin cannot lean on the code it tests.

Layout under ``out_dir``::

    ismn/<NETWORK>/<STATION>/*.stm, *_static_variables.csv   ISMN Header+values
    era5land/*.nc                                              ERA5-Land (CDS NetCDF), per box
    merra2/*.nc                                                MERRA-2 M2T1NXLND, per box
                                                               (neither in an in-situ-only world)
    fluxnet/FLX_*_FLUXNET2015_FULLSET_HH_*.csv, FLX_sites.csv  FLUXNET2015 FULLSET
    truth.nc                                                   ground truth + generator parameters
    twin.yml                                                   the world (and scenario) in words
"""

from __future__ import annotations

import logging
import time as _time
from pathlib import Path

import pandas as pd

from smlib.synth.scenarios import SCENARIOS, Scenario, get_scenario
from smlib.synth.twin import Twin, simulate_twin
from smlib.synth.world import DEFAULT_N_DAYS, DEFAULT_N_STATIONS, DEFAULT_START

__all__ = [
    "DEFAULT_N_DAYS",
    "DEFAULT_N_STATIONS",
    "DEFAULT_START",
    "SCENARIOS",
    "Scenario",
    "Twin",
    "get_scenario",
    "simulate_twin",
    "write_twin",
    "write_twin_files",
]

logger = logging.getLogger(__name__)


def write_twin_files(twin: Twin, out_dir: str | Path) -> Path:
    """Write an already simulated twin under ``out_dir`` (layout in the module docstring).

    Returns
    -------
    pathlib.Path
        ``out_dir``.
    """
    from smlib.synth import writers

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rea = twin.scenario.reanalysis_given  # an in-situ-only world writes no reanalysis
    sizes = {
        "ismn": len(writers.write_ismn(twin, out / "ismn")),
        "era5land": len(writers.write_era5_land(twin, out / "era5land")) if rea else 0,
        "merra2": len(writers.write_merra2(twin, out / "merra2")) if rea else 0,
        "fluxnet": len(writers.write_fluxnet(twin, out / "fluxnet")),
    }
    writers.write_truth(twin, out / "truth.nc")
    writers.write_twin_yml(twin, out / "twin.yml", sizes)
    return out


def write_twin(
    out_dir: str | Path,
    n_stations: int | None = None,
    n_days: int | None = None,
    seed: int = 0,
    start: str | pd.Timestamp | None = None,
    scenario: str | Scenario = "default",
) -> Path:
    """Simulate the twin (one world of the scenario family) and write it in the real formats.

    Parameters
    ----------
    out_dir : path
        Output folder (created).
    n_stations : int, optional
        ISMN stations; default :data:`DEFAULT_N_STATIONS` (40). Flux towers come on top (one per
        seven stations). A sparse scenario deploys its ``station_share`` of them.
    n_days : int, optional
        Simulated days; default :data:`DEFAULT_N_DAYS` (365).
    seed : int
        The same seed writes byte-identical files.
    start : str or pandas.Timestamp, optional
        First day (UTC); default :data:`DEFAULT_START`.
    scenario : str or Scenario
        A name of :data:`SCENARIOS` (``"default"``: the embedded twin) or a :class:`Scenario`.

    Returns
    -------
    pathlib.Path
        ``out_dir``.

    Raises
    ------
    KeyError
        For an unknown scenario name (the message lists the valid ones).
    """
    t0 = _time.perf_counter()
    twin = simulate_twin(
        n_stations=n_stations, n_days=n_days, seed=seed, start=start, scenario=scenario
    )
    out = write_twin_files(twin, out_dir)
    logger.info(
        "wrote the synthetic twin (scenario %s) to %s in %.1f s",
        twin.scenario.name, out, _time.perf_counter() - t0,
    )  # fmt: skip
    return out
