"""The twin's geography: climate regions, station layout, sensors and reference pairs.

The world is a handful of mid-latitude regions in the Northern Hemisphere at very different
longitudes (so that UTC, local standard time and local solar time all differ). Each region has
its own network, a climate (seasonal temperature, diurnal range, convective-rain season), a soil
and a dominant dielectric technique, the way real ISMN networks standardise on one probe.

Layout rules (all deterministic for a seed):

* About a quarter of the ISMN stations are *references* (TDR, TDT, cosmic-ray, in turn). Each
  reference is paired with one dielectric station of its region and placed 5-40 km from it, so
  that the paper's station-pair evaluation (Figs. 5 and 6) can be reproduced.
* The dielectric stations cycle through impedance, capacitance and FDR; each technique lives in
  the regions where such networks are typical (FDR mostly in the region whose reanalysis diurnal
  cycle is worst, as the paper found for its FDR sites).
* A share of the dielectric stations of each technique carries a *weakly* affected probe
  (default one in five: ranks 4, 9, ...), so that the training filter R(SM, TS) < -0.34 finds
  genuine days.

A scenario (:mod:`smlib.synth.scenarios`) passes its own ``regions`` (climate and soil
changed) and ``weak_share``; the defaults are the embedded twin.
* Flux towers (one per seven ISMN stations, at least one) cycle through the regions.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "Region",
    "REGIONS",
    "World",
    "SENSOR_TYPES",
    "SENSOR_MODELS",
    "DEFAULT_N_STATIONS",
    "DEFAULT_N_DAYS",
    "DEFAULT_START",
    "rng_for",
    "build_world",
    "is_weak_rank",
]

DEFAULT_N_STATIONS = 40
"""Default number of ISMN stations (towers come on top, one per seven stations)."""
DEFAULT_N_DAYS = 365
"""Default simulated period in days."""
DEFAULT_START = "2019-04-01"
"""Default first day (UTC); a year from April covers the whole MJJAS warm season."""

SENSOR_TYPES = ("impedance", "capacitance", "fdr", "tdr", "tdt", "cosmic-ray")
"""Measurement techniques of the twin's probes."""

SENSOR_MODELS: dict[str, tuple[str, ...]] = {
    "impedance": ("ThetaProbe-ML2X", "Hydraprobe-II-Sdi-12"),
    "capacitance": ("5TM", "EC5"),
    "fdr": ("EnviroSCAN", "PR2"),
    "tdr": ("TRIME-PICO", "TDR-100"),
    "tdt": ("Acclima-TDT",),
    "cosmic-ray": ("Cosmic-ray-Probe",),
}
"""Instrument names (as ISMN spells them) written for each technique."""


@dataclass(frozen=True)
class Region:
    """Climate, soil and network of one region of the twin.

    Attributes
    ----------
    name, network, prefix : str
        Region name, ISMN network name and station-name prefix.
    fluxnet_country : str
        Two-letter code of its FLUXNET sites (``CC-Sy<n>``).
    lat, lon : float
        Region centre, degrees north / east.
    spread : float
        Half-width of the square (degrees) in which stations are placed.
    elevation : float
        Mean elevation, m.
    utc_offset : int
        Local standard time minus UTC, hours (used for the FLUXNET time stamps).
    t_mean, t_amp : float
        Annual mean air temperature and seasonal half-range, degC / K (peak on day 200).
    dtr : float
        Clear-sky diurnal range of air temperature, K.
    rain_prob, rain_amp, rain_peak_doy : float
        Daily convective-storm probability :math:`p(d) = p_0 + p_1\\cos(2\\pi(d-d_p)/365)`.
    rain_depth : float
        Mean regional storm depth, mm.
    porosity, theta_fc, theta_wp : float
        Soil porosity, field capacity and wilting point, m3 m-3.
    clay, sand : float
        Texture, % weight (written to the ISMN static-variable files).
    bare_fraction : float
        Fraction of available energy going to bare-soil evaporation (the rest transpires).
    koeppen : str
        Koeppen-Geiger class (static-variable file).
    dielectric : tuple of str
        Techniques of the region's dielectric stations, preferred first.
    """

    name: str
    network: str
    prefix: str
    fluxnet_country: str
    lat: float
    lon: float
    spread: float
    elevation: float
    utc_offset: int
    t_mean: float
    t_amp: float
    dtr: float
    rain_prob: float
    rain_amp: float
    rain_peak_doy: float
    rain_depth: float
    porosity: float
    theta_fc: float
    theta_wp: float
    clay: float
    sand: float
    bare_fraction: float
    koeppen: str
    dielectric: tuple[str, ...]


REGIONS: tuple[Region, ...] = (
    Region("great_plains", "PLAINS", "PL", "US", 36.6, -97.5, 1.5, 320.0, -6,
           15.0, 12.0, 13.0, 0.22, 0.10, 165.0, 9.0, 0.45, 0.30, 0.11, 24.0, 35.0, 0.35,
           "Cfa", ("impedance", "capacitance")),
    Region("iberian_meseta", "MESETA", "ME", "ES", 41.2, -5.4, 1.2, 800.0, 1,
           12.5, 9.0, 16.0, 0.17, 0.09, 120.0, 7.5, 0.40, 0.24, 0.08, 12.0, 70.0, 0.55,
           "Csb", ("fdr", "capacitance")),
    Region("central_europe", "MIDEUR", "MU", "DE", 50.6, 11.2, 1.2, 300.0, 1,
           9.0, 9.0, 10.0, 0.30, 0.08, 190.0, 6.5, 0.48, 0.33, 0.13, 28.0, 25.0, 0.30,
           "Cfb", ("capacitance", "impedance")),
    Region("north_china", "NCPLAIN", "NC", "CN", 36.2, 114.6, 1.3, 80.0, 8,
           14.0, 14.0, 12.0, 0.20, 0.15, 205.0, 11.0, 0.46, 0.31, 0.12, 20.0, 30.0, 0.40,
           "Dwa", ("fdr", "impedance")),
)  # fmt: skip
"""The twin's regions (index = region id)."""

_DIELECTRIC = ("impedance", "capacitance", "fdr")
_REFERENCE = ("tdr", "tdt", "cosmic-ray")


def rng_for(seed: int, *stream: str) -> np.random.Generator:
    """Independent, reproducible random generator for one named stream of the twin.

    Parameters
    ----------
    seed : int
        World seed.
    *stream : str
        Stream name(s); the same names give the same stream for the same seed, whatever else
        was drawn before (so adding a stream never changes the others).
    """
    keys = [zlib.crc32(s.encode()) for s in stream]
    return np.random.default_rng([int(seed), *keys])


@dataclass
class World:
    """Station layout of one twin.

    Attributes
    ----------
    seed : int
    start : pandas.Timestamp
        First simulated hour (00 UTC of the first day).
    n_days : int
    stations : pandas.DataFrame
        One row per ISMN station and per tower (towers last), index = cube station id
        (``NETWORK/STATION`` or ``FLUXNET/<SITE_ID>``). Columns: ``kind`` (ismn/tower),
        ``network``, ``name``, ``region`` (int), ``lat``, ``lon``, ``elevation``,
        ``sensor_type``, ``sensor``, ``depth_from``, ``depth_to``, ``is_reference``,
        ``paired_reference`` (id or ""), ``weak_artefact``, ``porosity``, ``theta_fc``,
        ``theta_wp``, ``clay``, ``sand``, ``bare_fraction``, ``utc_offset``.
    regions : tuple of Region
        The regions the ``region`` column indexes (climate and soil of this world).
    """

    seed: int
    start: pd.Timestamp
    n_days: int
    stations: pd.DataFrame
    regions: tuple[Region, ...] = REGIONS

    @property
    def n_ismn(self) -> int:
        """Number of ISMN stations."""
        return int((self.stations["kind"] == "ismn").sum())

    @property
    def time(self) -> pd.DatetimeIndex:
        """Hourly UTC axis of the outputs, ``n_days * 24`` stamps."""
        return pd.date_range(self.start, periods=self.n_days * 24, freq="h")


def _offset_position(lat, lon, dist_km, bearing):
    """Point ``dist_km`` from (lat, lon) along ``bearing`` (radians), flat-Earth approximation."""
    dlat = dist_km * np.cos(bearing) / 111.2
    dlon = dist_km * np.sin(bearing) / (111.2 * np.cos(np.radians(lat)))
    return lat + dlat, lon + dlon


def is_weak_rank(rank: int, share: float) -> bool:
    """Whether the ``rank``-th dielectric probe of a technique is a weakly affected unit.

    Spreads a ``share`` of weak units evenly over the ranks: rank ``k`` is weak when
    :math:`\\lfloor (k+1)s \\rfloor > \\lfloor k s \\rfloor`; for :math:`s = 0.2` these are the ranks
    4, 9, 14, ... of the embedded twin.
    """
    eps = 1e-9
    return int(np.floor((rank + 1) * share + eps)) > int(np.floor(rank * share + eps))


def build_world(
    n_stations: int,
    n_days: int,
    seed: int,
    start: str | pd.Timestamp,
    regions: tuple[Region, ...] = REGIONS,
    weak_share: float = 0.2,
) -> World:
    """Lay out the twin's stations, sensors, soils, reference pairs and towers.

    Parameters
    ----------
    n_stations : int
        Number of ISMN stations (>= 2). References: ``max(1, n_stations // 4)``.
    n_days : int
        Simulated days (>= 1).
    seed : int
        World seed.
    start : str or pandas.Timestamp
        First day; its 00 UTC is the first output hour.
    regions : tuple of Region
        Climate, soil and network of each region (default :data:`REGIONS`).
    weak_share : float
        Share of each technique's dielectric probes that are only weakly temperature
        sensitive (:func:`is_weak_rank`).

    Returns
    -------
    World
    """
    if n_stations < 2:
        raise ValueError(f"the twin needs at least 2 ISMN stations, got {n_stations}")
    if n_days < 1:
        raise ValueError(f"the twin needs at least 1 day, got {n_days}")
    if seed < 0:
        raise ValueError(f"the seed must be a non-negative integer, got {seed}")
    start = pd.Timestamp(start).normalize()
    if start.tzinfo is not None:
        start = start.tz_convert("UTC").tz_localize(None)
    rng = rng_for(seed, "world")
    n_ref = max(1, n_stations // 4)
    n_diel = n_stations - n_ref

    rows: list[dict] = []
    counters: dict[str, int] = {}
    rank: dict[str, int] = {}
    # dielectric stations: cycle techniques, place each in a region that uses it
    for j in range(n_diel):
        stype = _DIELECTRIC[j % 3]
        homes = [i for i, r in enumerate(regions) if stype in r.dielectric]
        k = rank.get(stype, 0)
        rank[stype] = k + 1
        reg = homes[k % len(homes)]
        r = regions[reg]
        lat = r.lat + rng.uniform(-r.spread, r.spread)
        lon = r.lon + rng.uniform(-r.spread, r.spread) / np.cos(np.radians(r.lat))
        weak = is_weak_rank(k, weak_share)
        rows.append(_station_row(r, reg, stype, k, lat, lon, rng, counters, weak=weak))
    # references: each paired with an evenly spaced dielectric station, 5-40 km away
    step = max(1, n_diel // n_ref)
    used: set[int] = set()
    for m in range(n_ref):
        idx = (m * step + m % 3) % n_diel  # the m % 3 term spreads partners over techniques
        while idx in used:
            idx = (idx + 1) % n_diel
        used.add(idx)
        partner = rows[idx]
        stype = _REFERENCE[m % 3]
        reg = partner["region"]
        lat, lon = _offset_position(
            partner["lat"], partner["lon"], rng.uniform(5.0, 40.0), rng.uniform(0, 2 * np.pi)
        )
        row = _station_row(regions[reg], reg, stype, m, lat, lon, rng, counters, weak=False)
        # the pair shares its soil broadly (same landscape), not exactly
        for key in ("porosity", "theta_fc", "theta_wp"):
            row[key] = partner[key] + rng.normal(0.0, 0.01)
        partner["paired_reference"] = row["id"]
        rows.append(row)
    # towers
    n_tow = max(1, round(n_stations / 7))
    tcount: dict[str, int] = {}
    for t in range(n_tow):
        reg = t % len(regions)
        r = regions[reg]
        cnum = tcount.get(r.fluxnet_country, 0) + 1
        tcount[r.fluxnet_country] = cnum
        site = f"{r.fluxnet_country}-Sy{cnum}"
        lat = r.lat + rng.uniform(-r.spread, r.spread)
        lon = r.lon + rng.uniform(-r.spread, r.spread) / np.cos(np.radians(r.lat))
        stype = ("capacitance", "impedance", "fdr")[t % 3]
        row = _station_row(r, reg, stype, t, lat, lon, rng, {}, weak=False)
        row.update(
            id=f"FLUXNET/{site}", kind="tower", network="FLUXNET", name=site,
            sensor=SENSOR_MODELS[stype][0],
            depth_from=0.05, depth_to=0.05,
        )  # fmt: skip
        rows.append(row)
    stations = pd.DataFrame(rows).set_index("id")
    stations.index.name = "station"
    return World(
        seed=int(seed), start=start, n_days=int(n_days), stations=stations, regions=tuple(regions)
    )


def _station_row(r: Region, reg: int, stype: str, k: int, lat, lon, rng, counters, weak: bool):
    """One station's metadata and soil (soil parameters jittered around the region's)."""
    net = "TWINCOSMOS" if stype == "cosmic-ray" else r.network
    n = counters.get(net, 0) + 1
    counters[net] = n
    name = f"{r.prefix}-{n:02d}"
    models = SENSOR_MODELS[stype]
    if stype == "cosmic-ray":
        d0, d1 = 0.0, round(float(rng.uniform(0.15, 0.22)), 2)
    elif k % 2 == 0:
        d0, d1 = 0.0, 0.05
    else:
        d0, d1 = 0.05, 0.05
    por = float(r.porosity + rng.normal(0.0, 0.02))
    fc = float(r.theta_fc + rng.normal(0.0, 0.02))
    wp = float(np.clip(r.theta_wp + rng.normal(0.0, 0.015), 0.03, fc - 0.08))
    return {
        "id": f"{net}/{name}",
        "kind": "ismn",
        "network": net,
        "name": name,
        "region": reg,
        "lat": round(float(lat), 5),
        "lon": round(float(lon), 5),
        "elevation": round(float(r.elevation + rng.normal(0.0, 30.0)), 1),
        "sensor_type": stype,
        "sensor": models[k % len(models)],
        "depth_from": d0,
        "depth_to": d1,
        "is_reference": stype in _REFERENCE,
        "paired_reference": "",
        "weak_artefact": bool(weak),
        "porosity": por,
        "theta_fc": min(fc, por - 0.05),
        "theta_wp": wp,
        "clay": float(np.clip(r.clay + rng.normal(0.0, 4.0), 3.0, 60.0)),
        "sand": float(np.clip(r.sand + rng.normal(0.0, 6.0), 5.0, 90.0)),
        "bare_fraction": float(np.clip(r.bare_fraction + rng.normal(0.0, 0.08), 0.1, 0.8)),
        "utc_offset": r.utc_offset,
    }
