"""The harmonised station cube: schema, station-level QC, reference designation, ingest.

The cube is the contract between the readers and everything downstream (see
``DESIGN.md``): a CF-1.8 ``xarray.Dataset`` on dims ``(station, time)``, hourly UTC, with
stations ``NETWORK/STATION`` (ISMN) and ``FLUXNET/<SITE_ID>`` (towers).

Station-level QC (paper, section 2.1; each rule's removals are counted in ``qc_summary``)
--------------------------------------------------------------------------------------
1. ``depth`` -- SM and TS sensors with ``depth_to <= 0.10 m`` only. Cosmic-ray probes report
   their footprint's penetration depth (ISMN: ``0.00-0.19 m`` and similar), always measured
   from the surface; they are kept when ``depth_from <= 0.10 m`` so that the paper's
   cosmic-ray reference stations can exist at all.
2. ``flag_good`` -- only values flagged ``G`` (applied by :mod:`smlib.io.ismn`; counted here).
3. ``one_sensor`` -- one SM and one TS sensor per station: among all (SM, TS) pairs the one
   whose mid-depths are nearest; ties go to the shallower SM sensor, then the shallower TS
   sensor, then the pair with more common ``G`` hours, then sensor names and file names in
   alphabetical order (so redundant ``_A``/``_B`` probes resolve deterministically).
4. ``complete_local_days`` -- a local day (local solar midnight to midnight, see
   :mod:`smlib.timeutils`) is kept only if all 24 hourly SM *and* TS values are present
   (towers: SM and LH). Every in-situ value on any other day becomes NaN.
5. ``min_days`` -- a station needs at least ``min_days`` (default 92) such days.

Towers (``FLUXNET/<SITE_ID>``) go through rules 4 and 5 with SM and LH; their files name no
instrument or depth, so ``sensor`` is the source column, ``sensor_type`` is ``unknown`` and
the depths are NaN. Tower precipitation is kept on every hour (it feeds rain screening).

The global attribute ``qc_summary`` is JSON: for each rule in order, ``description``,
``stations_removed``, ``days_removed`` (station-days), ``values_removed``, ``reasons``
(station id -> why it was removed) and, where useful, ``detail`` (e.g. values per ISMN flag).
The same table is logged at INFO level.

Reference stations are designated by sensor physics (cosmic-ray, TDR, TDT; see
:mod:`smlib.io.sensors`) unless an explicit list of ids is given. Towers are never references.

The time axis is hourly UTC from 00 UTC of the first day with kept in-situ data to 23 UTC of
the last; fluxes are means (precipitation totals) of the hour *ending* at the stamp.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from tqdm import tqdm

from smlib import __version__
from smlib.atomic import atomic_path
from smlib.io.fluxnet import TowerSeries, read_fluxnet
from smlib.io.ismn import IsmnSeries, iter_ismn
from smlib.io.sensors import REFERENCE_TECHNIQUES, sensor_technique
from smlib.timeutils import local_day_view, solar_offset_hours

__all__ = [
    "CUBE_SCHEMA_VERSION",
    "VARIABLE_ATTRS",
    "STATION_COORDS",
    "QCReport",
    "select_sensor_pair",
    "complete_day_mask",
    "read_reference_ids",
    "ingest",
    "open_cube",
    "validate_cube",
    "write_atomic",
]

logger = logging.getLogger(__name__)

CUBE_SCHEMA_VERSION = "1"
MAX_DEPTH_M = 0.10
MIN_DAYS = 92

_SM = dict(units="m3 m-3", standard_name="volume_fraction_of_condensed_water_in_soil")
_TS = dict(units="degC", standard_name="soil_temperature")
_LH = dict(units="W m-2", standard_name="surface_upward_latent_heat_flux")
_PR = dict(units="mm h-1", standard_name="lwe_precipitation_rate")

#: CF attributes of every cube variable.
VARIABLE_ATTRS: dict[str, dict[str, str]] = {
    "sm": {**_SM, "long_name": "in-situ surface soil moisture"},
    "ts": {**_TS, "long_name": "in-situ surface soil temperature"},
    "lh": {**_LH, "long_name": "tower latent heat flux, mean of the hour ending at time"},
    "precip": {**_PR, "long_name": "tower precipitation, total of the hour ending at time"},
}
for _p, _name in (("era5", "ERA5-Land"), ("merra2", "MERRA-2")):
    VARIABLE_ATTRS[f"{_p}_sm"] = {**_SM, "long_name": f"{_name} top-layer soil moisture"}
    VARIABLE_ATTRS[f"{_p}_ts"] = {**_TS, "long_name": f"{_name} top-layer soil temperature"}
    VARIABLE_ATTRS[f"{_p}_lh"] = {
        **_LH,
        "long_name": f"{_name} latent heat flux (positive upward), hour ending at time",
    }
    VARIABLE_ATTRS[f"{_p}_precip"] = {
        **_PR,
        "long_name": f"{_name} precipitation, hour ending at time",
    }

#: Coordinates on ``station`` with their CF attributes.
STATION_COORDS: dict[str, dict[str, str]] = {
    "lat": {"units": "degrees_north", "standard_name": "latitude", "long_name": "latitude"},
    "lon": {"units": "degrees_east", "standard_name": "longitude", "long_name": "longitude"},
    "elevation": {
        "units": "m",
        "standard_name": "height_above_mean_sea_level",
        "long_name": "station elevation",
    },
    "network": {"long_name": "ISMN network, or FLUXNET for towers"},
    "sensor": {"long_name": "soil-moisture instrument (or source column) as named in the source"},
    "sensor_type": {
        "long_name": "soil-moisture measurement technique",
        "flag_values": "impedance capacitance fdr tdr tdt cosmic-ray unknown",
    },
    "depth_from": {"units": "m", "positive": "down", "long_name": "top of the SM sensor"},
    "depth_to": {"units": "m", "positive": "down", "long_name": "bottom of the SM sensor"},
    "is_reference": {"long_name": "reference station (excluded from training)"},
    "kind": {"long_name": "station kind", "flag_values": "ismn tower"},
}


# --------------------------------------------------------------------------------------------
# QC bookkeeping
# --------------------------------------------------------------------------------------------
@dataclass
class QCReport:
    """What every QC rule removed: stations (with reasons), station-days and values."""

    rules: dict[str, dict] = field(default_factory=dict)

    def add(
        self,
        rule: str,
        description: str,
        *,
        stations: dict[str, str] | None = None,
        days: int = 0,
        values: int = 0,
        detail: dict | None = None,
    ) -> None:
        """Add removals to ``rule`` (created on first use)."""
        r = self.rules.setdefault(
            rule,
            {
                "description": description,
                "stations_removed": 0,
                "days_removed": 0,
                "values_removed": 0,
                "reasons": {},
            },
        )
        stations = stations or {}
        r["stations_removed"] += len(stations)
        r["reasons"].update(stations)
        r["days_removed"] += int(days)
        r["values_removed"] += int(values)
        if detail:
            d = r.setdefault("detail", {})
            for k, v in detail.items():
                d[k] = d.get(k, 0) + v
        # keep insertion order of rules stable

    def to_json(self) -> str:
        """JSON text of the report (stored as the cube's ``qc_summary`` attribute)."""
        return json.dumps(self.rules, sort_keys=False)

    def table(self) -> str:
        """One line per rule, for the log."""
        lines = [f"{'rule':<22} {'stations':>8} {'days':>9} {'values':>11}"]
        for name, r in self.rules.items():
            lines.append(
                f"{name:<22} {r['stations_removed']:>8} {r['days_removed']:>9} "
                f"{r['values_removed']:>11}"
            )
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Sensor choice and local days
# --------------------------------------------------------------------------------------------
def _within_depth(s: IsmnSeries, max_depth: float) -> bool:
    if s.variable == "sm" and sensor_technique(s.sensor, warn=False) == "cosmic-ray":
        return s.depth_from <= max_depth + 1e-9
    return s.depth_to <= max_depth + 1e-9


def select_sensor_pair(
    sm: Sequence[IsmnSeries], ts: Sequence[IsmnSeries]
) -> tuple[IsmnSeries, IsmnSeries]:
    """Choose one SM and one TS sensor of a station (rule 3 of the module docs).

    Parameters
    ----------
    sm, ts : sequence of IsmnSeries
        Candidate sensors (already within the depth limit, each with at least one G value).

    Returns
    -------
    (IsmnSeries, IsmnSeries)
        The pair whose mid-depths are nearest; ties broken by shallower SM, shallower TS,
        more common hours, then names -- fully deterministic.
    """

    def key(pair: tuple[IsmnSeries, IsmnSeries]) -> tuple:
        a, b = pair
        gap = abs(0.5 * (a.depth_from + a.depth_to) - 0.5 * (b.depth_from + b.depth_to))
        common = np.intersect1d(a.time, b.time, assume_unique=True).size
        return (
            round(gap, 6),
            a.depth_to,
            a.depth_from,
            b.depth_to,
            b.depth_from,
            -common,
            a.sensor,
            b.sensor,
            a.source,
            b.source,
        )

    return min(((a, b) for a in sm for b in ts), key=key)


def complete_day_mask(*series: np.ndarray, lon: np.ndarray, hour0: int = 0) -> np.ndarray:
    """Hours that belong to complete local days of all given variables.

    Parameters
    ----------
    *series : numpy.ndarray, shape (n_station, n_time)
        Hourly values on a common UTC axis (NaN = missing).
    lon : numpy.ndarray, shape (n_station,)
        Longitudes (degrees east) giving the local solar offsets.
    hour0 : int
        UTC hour of the first time step.

    Returns
    -------
    numpy.ndarray of bool, shape (n_station, n_time)
        True on every hour of a local day on which all 24 values of every series are finite.
    """
    finite = np.logical_and.reduce([np.isfinite(x) for x in series])
    n_st, n_t = finite.shape
    days, first = local_day_view(finite.astype(np.float32), solar_offset_hours(lon), hour0)
    complete = (days == 1.0).all(axis=-1)
    keep = np.zeros((n_st, n_t), dtype=bool)
    for f in np.unique(first):
        rows = np.flatnonzero(first == f)
        nd = (n_t - int(f)) // 24
        keep[rows, f : f + nd * 24] = np.repeat(complete[rows, :nd], 24, axis=1)
    return keep


def _count_days_with_data(x: np.ndarray, lon: np.ndarray, hour0: int) -> np.ndarray:
    """Local days with at least one finite value, per station, shape (n_station,)."""
    days, _ = local_day_view(np.isfinite(x).astype(np.float32), solar_offset_hours(lon), hour0)
    return (days == 1.0).any(axis=-1).sum(axis=-1)


def read_reference_ids(reference: str | os.PathLike | Iterable[str]) -> list[str]:
    """Station ids from a text file (one per line, ``#`` comments) or an iterable of ids."""
    if isinstance(reference, (str, os.PathLike)):
        path = Path(reference)
        if not path.is_file():
            raise FileNotFoundError(f"reference list {path} does not exist")
        ids = []
        for line in path.read_text().splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                ids.append(line)
        return ids
    return [str(r).strip() for r in reference]


# --------------------------------------------------------------------------------------------
# ISMN -> arrays
# --------------------------------------------------------------------------------------------
@dataclass
class _Station:
    sid: str
    network: str
    lat: float
    lon: float
    elevation: float
    sensor: str
    sensor_type: str
    depth_from: float
    depth_to: float
    kind: str
    sm: tuple[np.ndarray, np.ndarray]  # (time, values)
    ts: tuple[np.ndarray, np.ndarray]
    lh: tuple[np.ndarray, np.ndarray] | None = None
    precip: tuple[np.ndarray, np.ndarray] | None = None


def _utc_days(t: np.ndarray) -> np.ndarray:
    return np.unique(np.asarray(t, dtype="datetime64[ns]").astype("datetime64[D]"))


def _ismn_stations(
    path: str | os.PathLike, qc: QCReport, max_depth: float
) -> tuple[list[_Station], list[str]]:
    by_station: dict[str, list[IsmnSeries]] = defaultdict(list)
    sources: list[str] = []
    bar = tqdm(iter_ismn(path), desc="ISMN files", unit="file", file=sys.stdout, disable=None)
    for s in bar:
        by_station[s.station_id].append(s)
        sources.append(s.source)
    bar.close()
    stations: list[_Station] = []
    for sid in sorted(by_station):
        series = by_station[sid]
        sm_all = [s for s in series if s.variable == "sm"]
        ts_all = [s for s in series if s.variable == "ts"]
        raw_days = _utc_days(np.concatenate([s.raw_days for s in sm_all])) if sm_all else []
        sm_c = [s for s in sm_all if _within_depth(s, max_depth)]
        ts_c = [s for s in ts_all if _within_depth(s, max_depth)]
        qc.add(
            "depth",
            f"SM and TS sensors with depth_to <= {max_depth} m (cosmic-ray: depth_from)",
            values=sum(s.n_raw for s in sm_all + ts_all if s not in sm_c + ts_c),
            detail={"sensors": sum(1 for s in sm_all + ts_all if s not in sm_c + ts_c)},
        )
        if not sm_c or not ts_c:
            what = " and ".join(n for n, c in (("SM", sm_c), ("TS", ts_c)) if not c)
            qc.add("depth", "", stations={sid: f"no {what} sensor within {max_depth} m"},
                   days=len(raw_days))  # fmt: skip
            continue
        flags: Counter = Counter()
        for s in sm_c + ts_c:
            flags.update(s.removed_flags)
        sm_g = [s for s in sm_c if s.values.size]
        ts_g = [s for s in ts_c if s.values.size]
        qc.add("flag_good", "only values flagged G", values=sum(flags.values()), detail=flags)
        if not sm_g or not ts_g:
            what = " and ".join(n for n, c in (("SM", sm_g), ("TS", ts_g)) if not c)
            qc.add("flag_good", "", stations={sid: f"no {what} value flagged G"},
                   days=len(raw_days))  # fmt: skip
            continue
        sm, ts = select_sensor_pair(sm_g, ts_g)
        lost_days = np.setdiff1d(sm.raw_days, _utc_days(sm.time)).size
        qc.add("flag_good", "", days=lost_days)
        unused = [s for s in sm_g + ts_g if s is not sm and s is not ts]
        qc.add(
            "one_sensor",
            "one SM and one TS sensor per station: nearest depths, deterministic ties",
            values=sum(s.values.size for s in unused),
            detail={"sensors": len(unused)},
        )
        stations.append(
            _Station(
                sid=sid,
                network=sm.network,
                lat=sm.lat,
                lon=sm.lon,
                elevation=sm.elevation,
                sensor=sm.sensor,
                sensor_type=sensor_technique(sm.sensor),
                depth_from=sm.depth_from,
                depth_to=sm.depth_to,
                kind="ismn",
                sm=(sm.time, sm.values),
                ts=(ts.time, ts.values),
            )
        )
    return stations, sources


def _tower_stations(towers: Sequence[TowerSeries]) -> list[_Station]:
    out = []
    for tw in towers:
        t = tw.data.index.to_numpy(dtype="datetime64[ns]")

        def col(name: str, tw=tw, t=t) -> tuple[np.ndarray, np.ndarray]:
            v = tw.data[name].to_numpy(dtype=float)
            ok = np.isfinite(v)
            return t[ok], v[ok]

        out.append(
            _Station(
                sid=f"FLUXNET/{tw.site}",
                network="FLUXNET",
                lat=tw.lat,
                lon=tw.lon,
                elevation=tw.elevation,
                sensor=tw.sm_column,
                sensor_type="unknown",
                depth_from=np.nan,
                depth_to=np.nan,
                kind="tower",
                sm=col("sm"),
                ts=col("ts"),
                lh=col("lh"),
                precip=col("precip"),
            )
        )
    return out


def _grid(stations: Sequence[_Station], name: str, t0: np.datetime64, n_t: int) -> np.ndarray:
    out = np.full((len(stations), n_t), np.nan, dtype=np.float32)
    for i, st in enumerate(stations):
        pair = getattr(st, name)
        if pair is None or pair[0].size == 0:
            continue
        t, v = pair
        idx = (t - t0) // np.timedelta64(1, "h")
        on_hour = (t - t0) % np.timedelta64(1, "h") == np.timedelta64(0)
        out[i, idx[on_hour]] = v[on_hour]
    return out


# --------------------------------------------------------------------------------------------
# Writing and opening
# --------------------------------------------------------------------------------------------
def write_atomic(ds: xr.Dataset, out: str | os.PathLike) -> Path:
    """Write ``ds`` to NetCDF via a temporary file in the same folder and ``os.replace``.

    Data variables are compressed and chunked one station per chunk on disk.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    n_t = ds.sizes.get("time", 1)
    encoding = {}
    for v in ds.data_vars:
        if ds[v].dims == ("station", "time"):
            encoding[v] = {
                "zlib": True,
                "complevel": 4,
                "_FillValue": np.float32(np.nan),
                "chunksizes": (1, max(int(n_t), 1)),
            }
    if "time" in ds.coords:
        encoding["time"] = {"units": "hours since 1970-01-01 00:00:00", "dtype": "int64"}
    with atomic_path(out) as tmp:
        ds.to_netcdf(tmp, encoding=encoding, engine="netcdf4")
    return out


_REQUIRED_COORDS = tuple(STATION_COORDS)


def validate_cube(ds: xr.Dataset, name: str = "dataset") -> None:
    """Raise ``ValueError`` naming what is wrong if ``ds`` is not a valid station cube."""

    def fail(why: str) -> None:
        raise ValueError(f"{name} is not an smlib station cube: {why}")

    if ds.attrs.get("smlib_cube_schema") is None:
        fail("global attribute 'smlib_cube_schema' is missing (not written by smlib ingest)")
    for dim in ("station", "time"):
        if dim not in ds.dims:
            fail(f"dimension {dim!r} is missing (dims: {dict(ds.sizes)})")
    missing = [c for c in _REQUIRED_COORDS if c not in ds.coords]
    if missing:
        fail(f"station coordinates {missing} are missing")
    for v in ("sm", "ts"):
        if v not in ds.data_vars:
            fail(f"variable {v!r} is missing")
    for v in ds.data_vars:
        if ds[v].dims != ("station", "time"):
            fail(f"variable {v!r} has dims {ds[v].dims}, expected ('station', 'time')")
    t = ds["time"].values
    if t.size:
        if pd.Timestamp(t[0]) != pd.Timestamp(t[0]).normalize():
            fail(f"time axis starts at {t[0]}, not at 00 UTC")
        if t.size > 1 and not (np.diff(t) == np.timedelta64(1, "h")).all():
            fail("time axis is not regular hourly")


def open_cube(path: str | os.PathLike, chunks: int | dict | None = None) -> xr.Dataset:
    """Open and validate a station cube.

    Parameters
    ----------
    path : str or Path
        Cube written by :func:`ingest`.
    chunks : int, dict or None
        None: lazily loaded numpy-backed arrays. An int ``n``: dask arrays with ``n`` stations
        per chunk and the whole time axis. A dict is passed to xarray unchanged.

    Returns
    -------
    xarray.Dataset
        The cube, ``(station, time)``.

    Raises
    ------
    FileNotFoundError, ValueError
        Missing file, a file that is not NetCDF, or a NetCDF file that is not a station cube.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"station cube {path} does not exist")
    if isinstance(chunks, int):
        chunks = {"station": chunks, "time": -1}
    try:
        ds = xr.open_dataset(path, chunks=chunks)
    except (OSError, ValueError) as err:
        raise ValueError(f"{path} is not a readable NetCDF file: {err}") from err
    try:
        validate_cube(ds, str(path))
    except ValueError:
        ds.close()
        raise
    if "is_reference" in ds.coords:
        ds = ds.assign_coords(is_reference=ds["is_reference"].astype(bool))
    return ds


# --------------------------------------------------------------------------------------------
# ingest
# --------------------------------------------------------------------------------------------
def _apply_day_rules(
    stations: list[_Station],
    arrays: dict[str, np.ndarray],
    lon: np.ndarray,
    need: tuple[str, str],
    clear: Sequence[str],
    min_days: int,
    qc: QCReport,
    kind: str,
) -> np.ndarray:
    """Complete-local-day and minimum-days rules on one kind of station; returns kept rows."""
    n_before = sum(int(np.isfinite(arrays[v]).sum()) for v in clear)
    days_with_data = _count_days_with_data(
        np.where(np.isfinite(arrays[need[0]]) | np.isfinite(arrays[need[1]]), 1.0, np.nan),
        lon,
        0,
    )
    keep = complete_day_mask(arrays[need[0]], arrays[need[1]], lon=lon)
    for v in clear:
        arrays[v][~keep] = np.nan
    n_after = sum(int(np.isfinite(arrays[v]).sum()) for v in clear)
    n_complete = keep.sum(axis=1) // 24
    reasons = {stations[i].sid: "no complete local day" for i in np.flatnonzero(n_complete == 0)}
    qc.add(
        "complete_local_days",
        "local days kept only with all 24 hourly values of "
        "SM and TS (ISMN) or SM and LH (towers); other days set to NaN",
        stations=reasons,
        days=int((days_with_data - n_complete).sum()),
        values=n_before - n_after,
    )
    short = (n_complete > 0) & (n_complete < min_days)
    qc.add(
        "min_days",
        f"at least {min_days} complete local days of overlapping data",
        stations={
            stations[i].sid: f"{n_complete[i]} complete local days < {min_days} ({kind})"
            for i in np.flatnonzero(short)
        },
        days=int(n_complete[short].sum()),
    )
    return np.flatnonzero(n_complete >= min_days)


def ingest(
    ismn: str | os.PathLike,
    era5: str | os.PathLike | None = None,
    merra2: str | os.PathLike | None = None,
    fluxnet: str | os.PathLike | Sequence[str | os.PathLike] = (),
    out: str | os.PathLike | None = None,
    reference: str | os.PathLike | Iterable[str] | None = None,
    *,
    min_days: int = MIN_DAYS,
    max_depth: float = MAX_DEPTH_M,
) -> xr.Dataset:
    """Read real-format archives, apply the paper's station QC and build the station cube.

    Parameters
    ----------
    ismn : path
        ISMN download (folder, zip or one ``.stm`` file).
    era5, merra2 : path, optional
        ERA5-Land / MERRA-2 M2T1NXLND NetCDF file or folder of lat/lon boxes. Without them the
        ``era5_*`` / ``merra2_*`` variables are absent.
    fluxnet : path or sequence of paths
        Flux-tower folders (FLUXNET2015, AmeriFlux BASE, ICOS) with a site-list CSV.
    out : path, optional
        Where to write the cube (atomically). Nothing is written when None.
    reference : path, iterable of str or None
        None designates references by sensor physics (cosmic-ray, TDR, TDT); otherwise a text
        file or a list of ``NETWORK/STATION`` ids.
    min_days : int
        Minimum number of complete local days of SM/TS (towers: SM/LH) overlap (paper: 92).
    max_depth : float
        Deepest ``depth_to`` (m) of a sensor kept (paper: 0.10).

    Returns
    -------
    xarray.Dataset
        The station cube (schema in ``DESIGN.md``), ``qc_summary`` JSON in its attributes.

    Raises
    ------
    FileNotFoundError, ValueError
        Missing inputs, malformed files (naming file and line), or no station passing QC.

    Notes
    -----
    Progress bars show the files read and the stations sampled from the reanalyses; the QC
    summary is logged when the cube is built. Arrays are held in memory as
    ``(n_station, n_time)`` float32, which suits networks and the twin; a full ISMN archive is
    best ingested network by network and the cubes concatenated along ``station``.
    """
    qc = QCReport()
    ismn_st, sources = _ismn_stations(ismn, qc, max_depth)
    if fluxnet is None:
        fluxnet = []
    elif isinstance(fluxnet, (str, os.PathLike)):
        fluxnet = [fluxnet]
    tower_series = read_fluxnet(fluxnet) if fluxnet else []
    towers = _tower_stations(tower_series)
    all_st = ismn_st + towers
    if not all_st:
        raise ValueError(f"{ismn}: no station has both an SM and a TS sensor that pass QC")

    times = [s.sm[0] for s in all_st if s.sm[0].size]
    # one padding day at either end, so that every station's first and last local day is
    # seen whole by the day rules (the padding is trimmed below)
    t_min = min(t.min() for t in times).astype("datetime64[D]") - np.timedelta64(1, "D")
    t_max = max(t.max() for t in times).astype("datetime64[D]") + np.timedelta64(2, "D")
    t0 = t_min.astype("datetime64[ns]")
    n_t = int((t_max - t_min) / np.timedelta64(1, "h"))

    kept: list[_Station] = []
    arrays_all: dict[str, list[np.ndarray]] = defaultdict(list)
    for kind, group, need, clear in (
        ("ismn", ismn_st, ("sm", "ts"), ("sm", "ts")),
        ("tower", towers, ("sm", "lh"), ("sm", "ts", "lh")),
    ):
        if not group:
            continue
        arrays = {v: _grid(group, v, t0, n_t) for v in ("sm", "ts", "lh", "precip")}
        lon = np.array([s.lon for s in group])
        rows = _apply_day_rules(group, arrays, lon, need, clear, min_days, qc, kind)
        kept += [group[i] for i in rows]
        for v, a in arrays.items():
            arrays_all[v].append(a[rows])
    if not kept:
        logger.warning("QC summary (no station kept):\n%s", qc.table())
        removed = ", ".join(f"{k}: {r['stations_removed']}" for k, r in qc.rules.items())
        raise ValueError(
            f"{ismn}: no station passes QC (min_days={min_days}, max_depth={max_depth} m); "
            f"stations removed per rule: {removed}"
        )
    data = {v: np.concatenate(a, axis=0) for v, a in arrays_all.items()}

    # trim the axis to whole UTC days holding kept in-situ data
    any_data = np.isfinite(data["sm"]).any(axis=0)
    first, last = np.flatnonzero(any_data)[[0, -1]]
    i0, i1 = (first // 24) * 24, (last // 24 + 1) * 24
    time = t0 + np.arange(i0, i1) * np.timedelta64(1, "h")
    data = {v: a[:, i0:i1] for v, a in data.items()}

    ids = [s.sid for s in kept]
    lat = np.array([s.lat for s in kept])
    lon = np.array([s.lon for s in kept])
    if reference is None:
        is_ref = np.array(
            [s.kind == "ismn" and s.sensor_type in REFERENCE_TECHNIQUES for s in kept]
        )
        ref_rule = "sensor physics: " + ", ".join(sorted(REFERENCE_TECHNIQUES))
    else:
        wanted = set(read_reference_ids(reference))
        unknown = sorted(wanted - set(ids))
        if unknown:
            logger.warning("reference ids not in the cube (absent or removed by QC): %s", unknown)
        is_ref = np.array([s.sid in wanted for s in kept])
        ref_rule = f"explicit list ({len(wanted)} ids)"

    coords = {
        "station": ("station", np.array(ids, dtype=object), {"cf_role": "timeseries_id",
                                                              "long_name": "station id"}),
        "time": ("time", time, {"standard_name": "time", "long_name": "time (UTC)"}),
        "lat": ("station", lat),
        "lon": ("station", lon),
        "elevation": ("station", np.array([s.elevation for s in kept], dtype=float)),
        "network": ("station", np.array([s.network for s in kept], dtype=object)),
        "sensor": ("station", np.array([s.sensor for s in kept], dtype=object)),
        "sensor_type": ("station", np.array([s.sensor_type for s in kept], dtype=object)),
        "depth_from": ("station", np.array([s.depth_from for s in kept], dtype=float)),
        "depth_to": ("station", np.array([s.depth_to for s in kept], dtype=float)),
        "is_reference": ("station", is_ref.astype(bool)),
        "kind": ("station", np.array([s.kind for s in kept], dtype=object)),
    }  # fmt: skip
    ds = xr.Dataset(coords=coords)
    for c, attrs in STATION_COORDS.items():
        ds[c].attrs.update(attrs)
    ds["sm"] = (("station", "time"), data["sm"])
    ds["ts"] = (("station", "time"), data["ts"])
    if towers:
        ds["lh"] = (("station", "time"), data["lh"])
        ds["precip"] = (("station", "time"), data["precip"])

    uncovered: dict[str, list[str]] = {}
    if era5 is not None:
        from smlib.io.reanalysis import era5_land_at_stations

        r, uncovered["era5"] = era5_land_at_stations(era5, ids, lat, lon, time)
        ds = ds.assign({k: (("station", "time"), r[k].values) for k in r.data_vars})
    if merra2 is not None:
        from smlib.io.reanalysis import merra2_at_stations

        r, uncovered["merra2"] = merra2_at_stations(merra2, ids, lat, lon, time)
        ds = ds.assign({k: (("station", "time"), r[k].values) for k in r.data_vars})
    for v in ds.data_vars:
        ds[v] = ds[v].astype(np.float32)
        ds[v].attrs.update(VARIABLE_ATTRS[v])

    ds.attrs.update(
        {
            "Conventions": "CF-1.8",
            "featureType": "timeSeries",
            "title": "smlib harmonised station cube (in-situ soil moisture, temperature, fluxes)",
            "smlib_cube_schema": CUBE_SCHEMA_VERSION,
            "smlib_version": __version__,
            "source": "ISMN"
            + (", FLUXNET2015/AmeriFlux/ICOS" if towers else "")
            + (", ERA5-Land" if era5 is not None else "")
            + (", MERRA-2 M2T1NXLND" if merra2 is not None else ""),
            "ismn_path": str(ismn),
            "era5_path": str(era5 or ""),
            "merra2_path": str(merra2 or ""),
            "fluxnet_paths": json.dumps([str(p) for p in fluxnet]),
            "n_source_files": len(sources) + sum(len(tw.sources) for tw in tower_series),
            "reference_designation": ref_rule,
            "reanalysis_uncovered_stations": json.dumps(uncovered),
            "qc_min_days": min_days,
            "qc_max_depth_m": max_depth,
            "qc_summary": qc.to_json(),
            "history": f"{pd.Timestamp.now('UTC'):%Y-%m-%dT%H:%M:%SZ} smlib ingest",
        }
    )
    logger.info(
        "station cube: %d stations (%d ismn, %d towers, %d references) x %d hours; QC removed:\n%s",
        ds.sizes["station"],
        int((ds["kind"] == "ismn").sum()),
        int((ds["kind"] == "tower").sum()),
        int(is_ref.sum()),
        ds.sizes["time"],
        qc.table(),
    )
    validate_cube(ds, "ingest result")
    if out is not None:
        write_atomic(ds, out)
        logger.info("wrote %s", out)
    return ds
