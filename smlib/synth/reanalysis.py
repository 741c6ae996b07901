"""Reanalysis twins: ERA5-Land-like and MERRA-2-like products on their own coarse grids.

Each product is its *own run* of :func:`smlib.synth.land.simulate_land` at the centres of its
grid cells, with

* the regional storms, not the station's local rain, perturbed as parameterised convection
  gets them wrong (:class:`~smlib.synth.forcing.RainPerturbation`: onset too early, random
  timing errors that can move a storm to another day, drizzle, misses and false alarms,
  amount errors);
* its own land parameters (ERA5-Land: a 0-7 cm top layer, a more damped soil temperature;
  MERRA-2: 0-5 cm, weaker capillary exchange);
* additive biases of SM (ERA5-Land wetter) and TS, a factor on LH;
* *regional errors of the diurnal cycle*: with the 24-h centred mean :math:`\\bar x` and the
  high-frequency part :math:`x' = x - \\bar x`, the product delivers

  .. math:: x_{prod}(t) = \\bar x(t) + a\\,x'(t - \\varphi)

  with a phase error :math:`\\varphi` (h) and an amplitude factor :math:`a` per region, product
  and variable (SM, TS). Phases are drawn in [-2, 3] h and factors in [0.5, 1.6] (log-uniform);
  in the FDR-dominated ``iberian_meseta`` region (and for MERRA-2 also ``north_china``) the SM
  phase error is 7-10 h with factor 1.5-2.5, large enough that copying the product's diurnal
  shape puts the SM maximum in the afternoon, as the paper found at its FDR sites.

  These ranges, the biases and the storm errors are fields of :class:`ProductSpec`; a scenario
  (:mod:`smlib.synth.scenarios`) replaces them to make a product better or worse.

Grids: ERA5-Land 0.1 deg x 0.1 deg, MERRA-2 0.5 deg (lat) x 0.625 deg (lon). Files cover
lat/lon boxes: the bounding box of the station cells of one tile (1 deg for ERA5-Land, 5 deg
for MERRA-2) plus one cell on each side, as a CDS or GES DISC area request would return.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from smlib.synth.forcing import RainPerturbation, RegionWeather, column_forcing
from smlib.synth.land import LandOutput, LandParams, simulate_land
from smlib.synth.world import Region, World, rng_for

__all__ = [
    "Grid",
    "ProductSpec",
    "ERA5_LAND",
    "MERRA2",
    "Box",
    "ProductRun",
    "diurnal_error",
    "make_boxes",
    "run_product",
    "CHUNK_COLUMNS",
]

CHUNK_COLUMNS = 128
"""Grid cells simulated together (bounds memory; results do not depend on the total)."""


@dataclass(frozen=True)
class Grid:
    """Regular lat/lon grid with cell centres at ``lat0 + i*dlat``, ``lon0 + j*dlon``."""

    dlat: float
    dlon: float
    lat0: float = -90.0
    lon0: float = -180.0

    def index(self, lat, lon) -> tuple[np.ndarray, np.ndarray]:
        """Indices of the nearest cell centres."""
        i = np.rint((np.asarray(lat) - self.lat0) / self.dlat).astype(int)
        j = np.rint((np.asarray(lon) - self.lon0) / self.dlon).astype(int)
        return i, j

    def lat(self, i) -> np.ndarray:
        """Cell-centre latitude(s), rounded to the grid's decimals."""
        return np.round(self.lat0 + np.asarray(i) * self.dlat, 4)

    def lon(self, j) -> np.ndarray:
        """Cell-centre longitude(s)."""
        return np.round(self.lon0 + np.asarray(j) * self.dlon, 4)


@dataclass(frozen=True)
class ProductSpec:
    """Everything that makes one product's run different from the truth.

    Attributes
    ----------
    name : str
        Product name (``era5``, ``merra2``; seeds its random streams).
    grid : Grid
    tile_deg : float
        Tile size grouping stations into files, degrees.
    rain : RainPerturbation
        Storm errors.
    land : dict
        Land-parameter overrides of its own land model (:meth:`LandParams.from_soil`).
    porosity_shift : float
        Shift of its porosity and field capacity against the regions' soils, m3 m-3.
    sm_bias : tuple of float
        Mean and sd (over regions) of the additive SM bias, m3 m-3.
    ts_bias_sd : float
        Sd (over regions) of the additive TS bias, K.
    lh_factor : tuple of float
        Uniform range of the factor on LH (-).
    bad_regions : tuple of str
        Regions with a grossly wrong SM diurnal cycle.
    sm_phase_h, ts_phase_h : tuple of float
        Uniform ranges of the delay of the SM / TS diurnal cycle per region, h.
    sm_amp : tuple of float
        Log-uniform range of the factor on the SM diurnal amplitude (-).
    ts_amp : tuple of float
        Uniform range of the factor on the TS diurnal amplitude (-).
    bad_sm_phase_h, bad_sm_amp : tuple of float
        Uniform ranges of the SM delay (h) and amplitude factor (-) in ``bad_regions``.
    ts_bias_mean : float
        Mean of the additive TS bias, K.
    """

    name: str
    grid: Grid
    tile_deg: float
    rain: RainPerturbation
    land: dict[str, Any]
    porosity_shift: float
    sm_bias: tuple[float, float]
    ts_bias_sd: float
    lh_factor: tuple[float, float]
    bad_regions: tuple[str, ...]
    sm_phase_h: tuple[float, float] = (-2.0, 3.0)
    sm_amp: tuple[float, float] = (0.5, 1.6)
    ts_phase_h: tuple[float, float] = (-1.5, 1.5)
    ts_amp: tuple[float, float] = (0.7, 1.3)
    bad_sm_phase_h: tuple[float, float] = (7.0, 10.0)
    bad_sm_amp: tuple[float, float] = (1.5, 2.5)
    ts_bias_mean: float = 0.0


ERA5_LAND = ProductSpec(
    name="era5",
    grid=Grid(0.1, 0.1),
    tile_deg=1.0,
    rain=RainPerturbation("era5", -3.0, 2.0, 1.8, 1.1, 0.2, 0.08),
    land={"z1": 0.07, "k_exchange": 0.05, "tau_dry": 2.5, "tau_wet": 4.0, "r_a": 45.0},
    porosity_shift=0.03,
    sm_bias=(0.04, 0.03),
    ts_bias_sd=1.0,
    lh_factor=(0.85, 1.2),
    bad_regions=("iberian_meseta",),
)
"""ERA5-Land-like product (``era5``)."""

MERRA2 = ProductSpec(
    name="merra2",
    grid=Grid(0.5, 0.625),
    tile_deg=5.0,
    rain=RainPerturbation("merra2", -2.0, 2.5, 2.2, 0.9, 0.25, 0.1),
    land={"k_exchange": 0.02, "tau_dry": 1.5, "tau_wet": 2.5, "r_a": 30.0},
    porosity_shift=-0.02,
    sm_bias=(0.0, 0.04),
    ts_bias_sd=1.5,
    lh_factor=(0.8, 1.3),
    bad_regions=("iberian_meseta", "north_china"),
)
"""MERRA-2-like product (``merra2``)."""


@dataclass
class Box:
    """One file's lat/lon box: grid indices (ascending) of its rows and columns."""

    name: str
    i: np.ndarray
    j: np.ndarray


@dataclass
class ProductRun:
    """One product's run on all cells of its boxes.

    Attributes
    ----------
    spec : ProductSpec
    boxes : list of Box
    cell_i, cell_j : numpy.ndarray of int, shape (n_cell,)
        Grid indices of the unique cells.
    cell_region : numpy.ndarray of int, shape (n_cell,)
    station_cell : numpy.ndarray of int, shape (n_station,)
        Cell (index into the cell arrays) nearest to each station of the world.
    sm, ts, lh, precip : numpy.ndarray, shape (n_cell, n_sim)
        On the simulation axis: SM (m3 m-3) and TS (degC) instantaneous at the stamp, LH
        (W m-2, upward) and precipitation (mm h-1) for the hour ending at the stamp; diurnal
        errors and biases included.
    errors : dict of numpy.ndarray, shape (n_region,)
        ``sm_phase_h``, ``sm_amp``, ``ts_phase_h``, ``ts_amp``, ``sm_bias``, ``ts_bias``,
        ``lh_factor``.
    """

    spec: ProductSpec
    boxes: list[Box]
    cell_i: np.ndarray
    cell_j: np.ndarray
    cell_region: np.ndarray
    station_cell: np.ndarray
    sm: np.ndarray
    ts: np.ndarray
    lh: np.ndarray
    precip: np.ndarray
    errors: dict = field(default_factory=dict)


def make_boxes(world: World, spec: ProductSpec) -> tuple[list[Box], np.ndarray, np.ndarray]:
    """Group stations into tiles and return the boxes plus every station's nearest cell.

    Returns
    -------
    boxes : list of Box
    st_i, st_j : numpy.ndarray of int, shape (n_station,)
    """
    st = world.stations
    g = spec.grid
    st_i, st_j = g.index(st["lat"].to_numpy(), st["lon"].to_numpy())
    tile = np.floor(st["lat"].to_numpy() / spec.tile_deg).astype(int) * 10000 + np.floor(
        st["lon"].to_numpy() / spec.tile_deg
    ).astype(int)
    boxes = []
    for t in np.unique(tile):
        sel = tile == t
        i = np.arange(st_i[sel].min() - 1, st_i[sel].max() + 2)
        j = np.arange(st_j[sel].min() - 1, st_j[sel].max() + 2)
        la, lo = g.lat(i[0]), g.lon(j[0])
        name = f"{'N' if la >= 0 else 'S'}{abs(la):05.2f}_{'E' if lo >= 0 else 'W'}{abs(lo):06.2f}"
        name = name.replace(".", "p")
        if any(b.name == name for b in boxes):  # two tiles with the same corner cell
            name = f"{name}_{len(boxes)}"
        boxes.append(Box(name=name, i=i, j=j))
    return boxes, st_i, st_j


def diurnal_error(x: np.ndarray, phase_h: np.ndarray, amp: np.ndarray) -> np.ndarray:
    """Shift and scale the diurnal part of hourly series.

    Parameters
    ----------
    x : numpy.ndarray, shape (n, n_time)
    phase_h : numpy.ndarray, shape (n,)
        Delay of the diurnal part, h (positive = later); fractional shifts interpolate linearly.
    amp : numpy.ndarray, shape (n,)
        Factor on the diurnal part.

    Returns
    -------
    numpy.ndarray, shape (n, n_time)
        :math:`\\bar x(t) + a\\,x'(t-\\varphi)` with :math:`\\bar x` the centred 24-h mean
        (edges: nearest full window).
    """
    n, nt = x.shape
    c = np.cumsum(np.pad(x.astype(float), ((0, 0), (1, 0))), axis=1)
    mean24 = (c[:, 24:] - c[:, :-24]) / 24.0  # window [k, k+24) -> centre k + 12
    lf = np.empty_like(x, dtype=float)
    lo = 12
    lf[:, lo : lo + mean24.shape[1]] = mean24
    lf[:, :lo] = mean24[:, :1]
    lf[:, lo + mean24.shape[1] :] = mean24[:, -1:]
    hf = x - lf
    src = np.arange(nt)[None, :] - np.asarray(phase_h, float)[:, None]
    src = np.clip(src, 0, nt - 1)
    i0 = np.floor(src).astype(int)
    i1 = np.minimum(i0 + 1, nt - 1)
    w = src - i0
    rows = np.arange(n)[:, None]
    shifted = (1 - w) * hf[rows, i0] + w * hf[rows, i1]
    return lf + np.asarray(amp, float)[:, None] * shifted


def _draw_errors(
    spec: ProductSpec, seed: int, regions: tuple[Region, ...]
) -> dict[str, np.ndarray]:
    rng = rng_for(seed, "reanalysis-errors", spec.name)
    n = len(regions)
    err = {
        "sm_phase_h": rng.uniform(*spec.sm_phase_h, n),
        "sm_amp": np.exp(rng.uniform(np.log(spec.sm_amp[0]), np.log(spec.sm_amp[1]), n)),
        "ts_phase_h": rng.uniform(*spec.ts_phase_h, n),
        "ts_amp": rng.uniform(*spec.ts_amp, n),
        "sm_bias": rng.normal(spec.sm_bias[0], spec.sm_bias[1], n),
        "ts_bias": rng.normal(spec.ts_bias_mean, spec.ts_bias_sd, n),
        "lh_factor": rng.uniform(*spec.lh_factor, n),
    }
    for r, reg in enumerate(regions):
        if reg.name in spec.bad_regions:
            err["sm_phase_h"][r] = rng.uniform(*spec.bad_sm_phase_h)
            err["sm_amp"][r] = rng.uniform(*spec.bad_sm_amp)
    return err


def run_product(
    world: World,
    spec: ProductSpec,
    weather: RegionWeather,
    sim_time: pd.DatetimeIndex,
    show_progress: bool = True,
) -> ProductRun:
    """Run one reanalysis product over all cells of its boxes.

    Parameters
    ----------
    world : World
    spec : ProductSpec
    weather : RegionWeather
        The regional weather shared with the truth.
    sim_time : pandas.DatetimeIndex
        Simulation axis (spin-up included).
    show_progress : bool
    """
    regions = world.regions
    st = world.stations
    boxes, st_i, st_j = make_boxes(world, spec)
    cells = np.unique(
        np.concatenate(
            [np.stack(np.meshgrid(b.i, b.j, indexing="ij"), -1).reshape(-1, 2) for b in boxes]
        ),
        axis=0,
    )
    cell_i, cell_j = cells[:, 0], cells[:, 1]
    lat_c, lon_c = spec.grid.lat(cell_i), spec.grid.lon(cell_j)
    # each cell belongs to the region of the nearest station
    d2 = (lat_c[:, None] - st["lat"].to_numpy()[None, :]) ** 2 + (
        lon_c[:, None] - st["lon"].to_numpy()[None, :]
    ) ** 2
    nearest = np.argmin(d2, axis=1)
    region = st["region"].to_numpy()[nearest]
    key = {(a, b): k for k, (a, b) in enumerate(zip(cell_i, cell_j, strict=True))}
    station_cell = np.array([key[(a, b)] for a, b in zip(st_i, st_j, strict=True)])

    rng = rng_for(world.seed, "reanalysis-soil", spec.name)
    por = np.array([regions[r].porosity for r in region]) + spec.porosity_shift
    fc = np.array([regions[r].theta_fc for r in region]) + spec.porosity_shift
    wp = np.array([regions[r].theta_wp for r in region])
    bare = np.array([regions[r].bare_fraction for r in region])
    por = por + rng.normal(0.0, 0.01, por.size)
    params = LandParams.from_soil(por, fc, wp, bare, **spec.land)
    err = _draw_errors(spec, world.seed, regions)
    # columns in fixed-size chunks: bounded memory, identical results for any total size
    n_cell, n_sim = region.size, len(sim_time)
    sm = np.empty((n_cell, n_sim), np.float32)
    ts = np.empty_like(sm)
    lh = np.empty_like(sm)
    precip = np.empty_like(sm)
    for c0 in range(0, n_cell, CHUNK_COLUMNS):
        cols = slice(c0, min(c0 + CHUNK_COLUMNS, n_cell))
        reg = region[cols]
        forcing = column_forcing(
            sim_time, weather, reg, lat_c[cols], lon_c[cols],
            rng_for(world.seed, "reanalysis-rain", spec.name, str(c0)),
            perturbation=spec.rain,
            event_rng=rng_for(world.seed, "reanalysis-events", spec.name),
            regions=regions,
        )  # fmt: skip
        part = LandParams(**{k: v[cols] for k, v in vars(params).items()})
        out: LandOutput = simulate_land(forcing, part, show_progress=show_progress)
        x = diurnal_error(out.sm1, err["sm_phase_h"][reg], err["sm_amp"][reg])
        sm[cols] = np.clip(x + err["sm_bias"][reg][:, None], 0.01, (por[cols] + 0.02)[:, None])
        x = diurnal_error(out.ts, err["ts_phase_h"][reg], err["ts_amp"][reg])
        ts[cols] = x + err["ts_bias"][reg][:, None]
        lh[cols] = out.lh * err["lh_factor"][reg][:, None]
        precip[cols] = forcing.rain
        del forcing, out, x

    return ProductRun(
        spec=spec, boxes=boxes, cell_i=cell_i, cell_j=cell_j, cell_region=region,
        station_cell=station_cell, sm=sm, ts=ts, lh=lh, precip=precip, errors=err,
    )  # fmt: skip
