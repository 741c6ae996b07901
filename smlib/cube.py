"""The harmonised station cube: schema, station-level QC, reference designation, ingest.

The cube is the contract between the readers and everything downstream (see
``docs/architecture.md``): a CF-1.8 ``xarray.Dataset`` on dims ``(station, time)``, hourly UTC, with
stations ``NETWORK/STATION`` (ISMN) and ``FLUXNET/<SITE_ID>`` (towers).

Station-level QC (paper, section 2.1; each rule's removals are counted in ``qc_summary``)
--------------------------------------------------------------------------------------
0. ``unreadable`` -- a station with a file that cannot be read or that holds an impossible
   ``G`` value (SM outside 0-1 m3 m-3, TS outside -60..80 degC) is left out whole under
   ``on_error="skip"`` (the default), its reason ``FILE:LINE: what is wrong``; with
   ``on_error="raise"`` the ingest stops there. Skipped reanalysis files cost no station.
   Every skipped file is also listed in the attribute ``skipped_inputs``.
1. ``depth`` -- SM and TS sensors with ``depth_to <= 0.10 m`` only. Cosmic-ray probes report
   their footprint's penetration depth (ISMN: ``0.00-0.19 m`` and similar), always measured
   from the surface; they are kept when ``depth_from <= 0.10 m`` so that the paper's
   cosmic-ray reference stations can exist at all. A reference station (by sensor physics or
   the explicit list) needs SM only: without a TS sensor it is kept with ``ts`` NaN.
2. ``flag_good`` -- only values flagged ``G`` (applied by :mod:`smlib.io.ismn`; counted here).
3. ``one_sensor`` -- one SM and one TS sensor per station: among all (SM, TS) pairs the one
   whose mid-depths are nearest; ties go to the shallower SM sensor, then the shallower TS
   sensor, then the pair with more common ``G`` hours, then sensor names and file names in
   alphabetical order (so redundant ``_A``/``_B`` probes resolve deterministically).
4. ``complete_local_days`` -- a local day (local solar midnight to midnight, see
   :mod:`smlib.timeutils`) is kept only if all 24 hourly SM *and* TS values are present
   (towers: SM and LH). Every in-situ value on any other day becomes NaN.
5. ``min_days`` -- a station needs at least ``min_days`` (default 92) such days.

SM-only reference stations go through rules 4 and 5 with SM alone. Towers
(``FLUXNET/<SITE_ID>``) go through rules 4 and 5 with SM and LH; their files name no
instrument or depth, so ``sensor`` is the source column, ``sensor_type`` is ``unknown`` and
the depths are NaN. The station's own rain gauge -- ISMN ``p`` (the ``G`` values of the
gauge with the most of them; ISMN's hourly value is taken as the total of the hour ending at
its stamp) or tower P -- is kept on every hour as ``precip``; ``insitu_rain_source`` records
which source screens each local day for rain (:func:`insitu_rain_source`).

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
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from smlib import __version__
from smlib.atomic import atomic_path
from smlib.io.errors import SkippedInput, check_on_error
from smlib.io.fluxnet import TowerSeries, read_fluxnet
from smlib.io.ismn import IsmnSeries, iter_ismn
from smlib.io.sensors import (
    NOT_SPECIFIED,
    REFERENCE_TECHNIQUES,
    SensorTable,
    default_sensor_table,
    load_sensor_table,
)
from smlib.timeutils import hourly_index, local_day_view, solar_offset_hours

__all__ = [
    "CUBE_SCHEMA_VERSION",
    "VARIABLE_ATTRS",
    "STATION_COORDS",
    "QCReport",
    "select_sensor_pair",
    "complete_day_mask",
    "read_reference_ids",
    "GAUGE_MIN_HOURS",
    "RAIN_SOURCE_FLAGS",
    "rain_source_days",
    "insitu_rain_source",
    "skipped_inputs",
    "sensor_notes",
    "reference_and_gauge_table",
    "ingest",
    "open_cube",
    "validate_cube",
    "station_kind",
    "ismn_stations",
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
    "precip": {
        **_PR,
        "long_name": "station rain gauge (ISMN p or tower P), total of the hour ending at time",
    },
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
def _within_depth(s: IsmnSeries, max_depth: float, table: SensorTable | None = None) -> bool:
    if s.variable == "sm" and (table or default_sensor_table()).technique(s.sensor) == "cosmic-ray":
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
    sm_only: bool = False  # reference station without a TS sensor
    sensor_note: str = ""  # n.s. or an instrument name not in the table


def _utc_days(t: np.ndarray) -> np.ndarray:
    return np.unique(np.asarray(t, dtype="datetime64[ns]").astype("datetime64[D]"))


def _pick_sm(sm: Sequence[IsmnSeries]) -> IsmnSeries:
    """The SM sensor of an SM-only station: shallowest, then most values, then names."""
    return min(sm, key=lambda s: (s.depth_to, s.depth_from, -s.values.size, s.sensor, s.source))


def _pick_gauge(p: Sequence[IsmnSeries]) -> IsmnSeries | None:
    """The station's rain gauge: the ``p`` series with the most G values (then names)."""
    p = [s for s in p if s.values.size]
    return min(p, key=lambda s: (-s.values.size, s.sensor, s.source)) if p else None


def _sensor_note(name: str, sid: str, table: SensorTable) -> str:
    if table.is_mapped(name, sid):
        return ""
    if name.strip().lower() == NOT_SPECIFIED:
        return f"instrument not specified by the provider ({NOT_SPECIFIED!r})"
    return f"instrument {name!r} is not in the instrument table"


def _ismn_stations(
    path: str | os.PathLike,
    qc: QCReport,
    max_depth: float,
    *,
    on_error: str = "skip",
    table: SensorTable | None = None,
    reference_ids: set[str] | None = None,
    skipped: list[SkippedInput] | None = None,
) -> tuple[list[_Station], list[str]]:
    table = table or load_sensor_table()
    skipped = [] if skipped is None else skipped
    by_station: dict[str, list[IsmnSeries]] = defaultdict(list)
    sources: list[str] = []
    for s in iter_ismn(path, ("sm", "ts", "p"), on_error=on_error, skipped=skipped,
                       progress=True):  # fmt: skip
        by_station[s.station_id].append(s)
        sources.append(s.source)
    # a station with a damaged file is left out whole: never half of its numbers
    damaged: dict[str, list[str]] = defaultdict(list)
    for rec in skipped:
        if rec.source == "ismn":
            damaged[rec.station].append(rec.describe())
    qc.add(
        "unreadable",
        "stations with a file that cannot be read or holds impossible values "
        "(SM outside 0-1 m3 m-3, TS outside -60..80 degC); reason = file:line: what is wrong",
        stations={sid: "; ".join(why) for sid, why in damaged.items()},
        detail={"files": sum(len(why) for why in damaged.values())},
    )

    def is_reference(sid: str, technique: str) -> bool:
        if reference_ids is None:
            return technique in REFERENCE_TECHNIQUES
        return sid in reference_ids

    stations: list[_Station] = []
    for sid in sorted(by_station):
        if sid in damaged:
            continue
        series = by_station[sid]
        sm_all = [s for s in series if s.variable == "sm"]
        ts_all = [s for s in series if s.variable == "ts"]
        raw_days = _utc_days(np.concatenate([s.raw_days for s in sm_all])) if sm_all else []
        sm_c = [s for s in sm_all if _within_depth(s, max_depth, table)]
        ts_c = [s for s in ts_all if _within_depth(s, max_depth, table)]
        qc.add(
            "depth",
            f"SM and TS sensors with depth_to <= {max_depth} m (cosmic-ray: depth_from); "
            "reference stations may have SM only",
            values=sum(s.n_raw for s in sm_all + ts_all if s not in sm_c + ts_c),
            detail={"sensors": sum(1 for s in sm_all + ts_all if s not in sm_c + ts_c)},
        )
        sm_only_ok = bool(sm_c) and is_reference(sid, table.technique(_pick_sm(sm_c).sensor, sid))
        if not sm_c or (not ts_c and not sm_only_ok):
            what = " and ".join(n for n, c in (("SM", sm_c), ("TS", ts_c)) if not c)
            why = f"no {what} sensor within {max_depth} m"
            if sm_c:
                why += " (only reference stations may have SM only)"
            qc.add("depth", "", stations={sid: why}, days=len(raw_days))
            continue
        flags: Counter = Counter()
        for s in sm_c + ts_c:
            flags.update(s.removed_flags)
        sm_g = [s for s in sm_c if s.values.size]
        ts_g = [s for s in ts_c if s.values.size]
        qc.add("flag_good", "only values flagged G", values=sum(flags.values()), detail=flags)
        sm_only = (
            bool(sm_g)
            and not ts_g
            and is_reference(sid, table.technique(_pick_sm(sm_g).sensor, sid))
        )
        if not sm_g or (not ts_g and not sm_only):
            what = " and ".join(n for n, c in (("SM", sm_g), ("TS", ts_g)) if not c)
            qc.add("flag_good", "", stations={sid: f"no {what} value flagged G"},
                   days=len(raw_days))  # fmt: skip
            continue
        if sm_only:
            sm, ts = _pick_sm(sm_g), None
        else:
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
        gauge = _pick_gauge([s for s in series if s.variable == "p"])
        empty = (np.array([], "datetime64[ns]"), np.array([]))
        stations.append(
            _Station(
                sid=sid,
                network=sm.network,
                lat=sm.lat,
                lon=sm.lon,
                elevation=sm.elevation,
                sensor=sm.sensor,
                sensor_type=table.technique(sm.sensor, sid),
                depth_from=sm.depth_from,
                depth_to=sm.depth_to,
                kind="ismn",
                sm=(sm.time, sm.values),
                ts=empty if ts is None else (ts.time, ts.values),
                precip=None if gauge is None else (gauge.time, gauge.values),
                sm_only=ts is None,
                sensor_note=_sensor_note(sm.sensor, sid, table),
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
# Which source screens each station-day for rain
# --------------------------------------------------------------------------------------------
#: A local day is screened by the station's gauge when it has at least this many hourly values.
GAUGE_MIN_HOURS = 20
#: Values of ``insitu_rain_source``.
RAIN_SOURCE_FLAGS: dict[int, str] = {0: "none", 1: "sm_tendency", 2: "gauge"}


def rain_source_days(
    sm_days: np.ndarray, gauge_days: np.ndarray | None, min_hours: int = GAUGE_MIN_HOURS
) -> np.ndarray:
    """Which in-situ source screens each local day for rain.

    Parameters
    ----------
    sm_days : numpy.ndarray, shape (station, day, 24)
        In-situ SM (m3 m-3) cut into local days (:func:`smlib.preprocess.local_days`).
    gauge_days : numpy.ndarray or None, shape (station, day, 24)
        The station's gauge (mm h-1) on the same days, or None without any gauge.
    min_hours : int
        Hourly gauge values a day needs for the gauge to screen it.

    Returns
    -------
    numpy.ndarray of int8, shape (station, day)
        2 (``gauge``) where the gauge covers the day, else 1 (``sm_tendency``) where the day
        has an SM daily mean (at least 18 hours, as the tendency screen needs), else 0.
    """
    sm_ok = np.isfinite(sm_days).sum(axis=-1) >= 18
    out = np.where(sm_ok, 1, 0).astype(np.int8)
    if gauge_days is not None:
        out[np.isfinite(gauge_days).sum(axis=-1) >= min_hours] = 2
    return out


def insitu_rain_source(ds: xr.Dataset) -> xr.DataArray:
    """Per station-hour record of the source that screens its local day for rain.

    The in-situ rain screen (:func:`smlib.preprocess.rain_flags`) uses the station's own
    gauge (``precip``) on every local day the gauge covers and the SM tendency elsewhere; this
    is that choice, stored in the cube so that every screened day can be traced.

    Parameters
    ----------
    ds : xarray.Dataset
        Station cube with ``sm``, optional ``precip``, ``lon`` and an hourly ``time``.

    Returns
    -------
    xarray.DataArray of int8, dims (station, time)
        Flags ``RAIN_SOURCE_FLAGS`` with CF ``flag_values`` / ``flag_meanings``.
    """
    from smlib.preprocess import local_days

    time, lon = ds["time"].values, ds["lon"].values
    sm = ds["sm"].transpose("station", "time").values
    sm_days, _, index = local_days(sm, time, lon)
    gauge_days = None
    if "precip" in ds:
        gauge_days, _, _ = local_days(ds["precip"].transpose("station", "time").values, time, lon)
    per_day = rain_source_days(sm_days, gauge_days)
    out = np.zeros(sm.shape, dtype=np.int8)
    ok = index >= 0
    rows = np.broadcast_to(np.arange(sm.shape[0])[:, None, None], index.shape)
    out[rows[ok], index[ok]] = np.broadcast_to(per_day[..., None], index.shape)[ok]
    return xr.DataArray(
        out,
        dims=("station", "time"),
        coords={"station": ds["station"], "time": ds["time"]},
        attrs={
            "long_name": "in-situ source that screens the local day for rain",
            "flag_values": np.array(list(RAIN_SOURCE_FLAGS), dtype=np.int8),
            "flag_meanings": " ".join(RAIN_SOURCE_FLAGS.values()),
            "comment": f"gauge where it has >= {GAUGE_MIN_HOURS} hourly values on the local "
            "day, else the SM tendency screen (Han et al. 2026)",
        },
    )


# --------------------------------------------------------------------------------------------
# What the ingest left out or could not classify (tables for notebook 01)
# --------------------------------------------------------------------------------------------
def skipped_inputs(cube: xr.Dataset) -> pd.DataFrame:
    """Every input file the ingest skipped as unreadable, with its station and reason.

    Returns
    -------
    pandas.DataFrame
        Columns ``source`` (ismn, era5, merra2, fluxnet), ``station`` (empty for reanalysis
        files: no station is lost, their cells come from other files or stay NaN), ``file``
        (name only), ``line`` and ``reason``.
    """
    rows = json.loads(cube.attrs.get("skipped_inputs", "[]") or "[]")
    frame = pd.DataFrame(rows, columns=["source", "station", "file", "line", "reason"])
    frame["file"] = [Path(str(f).split("!")[-1]).name for f in frame["file"]]
    frame["line"] = frame["line"].astype("Int64")
    return frame


def sensor_notes(cube: xr.Dataset) -> pd.DataFrame:
    """Stations whose instrument is ``n.s.`` or not in the instrument table (technique unknown).

    Returns
    -------
    pandas.DataFrame
        Index ``station``; ``sensor`` (as in the source) and ``note``. Map them with
        ``smlib ingest --sensor-map FILE`` (:mod:`smlib.io.sensors`).
    """
    notes = json.loads(cube.attrs.get("sensor_notes", "{}") or "{}")
    sensors = dict(zip(cube["station"].values, cube["sensor"].values, strict=True))
    frame = pd.DataFrame(
        [{"station": k, "sensor": sensors.get(k, ""), "note": v} for k, v in notes.items()],
        columns=["station", "sensor", "note"],
    )
    return frame.set_index("station")


def reference_and_gauge_table(cube: xr.Dataset) -> pd.DataFrame:
    """Per station: reference role, SM-only, rain gauge and which source screens its days.

    Returns
    -------
    pandas.DataFrame
        Index ``station``; ``kind``, ``sensor_type``, ``is_reference``, ``sm_only`` (no TS:
        a reference station without a temperature sensor), ``gauge`` (has its own rain gauge),
        ``days_gauge`` / ``days_sm_tendency`` (local days whose rain screen uses that source).
    """
    ts_any = np.isfinite(cube["ts"].transpose("station", "time").values).any(axis=1)
    if "precip" in cube:
        gauge = np.isfinite(cube["precip"].transpose("station", "time").values).any(axis=1)
    else:
        gauge = np.zeros(cube.sizes["station"], dtype=bool)
    if "insitu_rain_source" in cube:
        src = cube["insitu_rain_source"].transpose("station", "time").values
        days_gauge, days_sm = (src == 2).sum(axis=1) // 24, (src == 1).sum(axis=1) // 24
    else:
        days_gauge = days_sm = np.full(cube.sizes["station"], -1)
    return pd.DataFrame(
        {
            "kind": cube["kind"].values.astype(str),
            "sensor_type": cube["sensor_type"].values.astype(str),
            "is_reference": cube["is_reference"].values.astype(bool),
            "sm_only": ~ts_any & (cube["kind"].values.astype(str) == "ismn"),
            "gauge": gauge,
            "days_gauge": days_gauge,
            "days_sm_tendency": days_sm,
        },
        index=pd.Index(cube["station"].values.astype(str), name="station"),
    )


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
                "chunksizes": (1, max(int(n_t), 1)),
            }
            if np.issubdtype(ds[v].dtype, np.floating):
                encoding[v]["_FillValue"] = np.float32(np.nan)
    if "time" in ds.coords:
        encoding["time"] = {"units": "hours since 1970-01-01 00:00:00", "dtype": "int64"}
    with atomic_path(out) as tmp:
        ds.to_netcdf(tmp, encoding=encoding, engine="netcdf4")
    return out


_REQUIRED_COORDS = tuple(STATION_COORDS)


def station_kind(ds: xr.Dataset) -> np.ndarray:
    """Kind of every station of a cube or corrected file: ``"ismn"`` or ``"tower"``.

    Parameters
    ----------
    ds : xarray.Dataset
        Dims ``(station, ...)``; a dataset without the ``kind`` coordinate holds ISMN stations
        only (the corrected files of older runs).

    Returns
    -------
    numpy.ndarray of str, shape (station,)

    Examples
    --------
    >>> import xarray as xr
    >>> station_kind(xr.Dataset(coords={"station": ["a", "b"]})).tolist()
    ['ismn', 'ismn']
    """
    if "kind" in ds.coords or "kind" in ds:
        return np.asarray(ds["kind"].values).astype(str)
    return np.full(ds.sizes["station"], "ismn")


def ismn_stations(ds: xr.Dataset) -> xr.Dataset:
    """The ISMN stations of ``ds`` (flux towers left out, see :func:`station_kind`)."""
    return ds.isel(station=np.flatnonzero(station_kind(ds) == "ismn"))


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
        try:
            hourly_index(t, "time")
        except ValueError as err:
            fail(str(err))


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
    sm_only: np.ndarray | None = None,
) -> np.ndarray:
    """Complete-local-day and minimum-days rules on one kind of station; returns kept rows.

    Rows flagged in ``sm_only`` (reference stations without TS) need ``need[0]`` alone.
    """
    first, second = arrays[need[0]], arrays[need[1]]
    if sm_only is not None and sm_only.any():
        second = np.where(sm_only[:, None], first, second)
    n_before = sum(int(np.isfinite(arrays[v]).sum()) for v in clear)
    days_with_data = _count_days_with_data(
        np.where(np.isfinite(first) | np.isfinite(second), 1.0, np.nan), lon, 0
    )
    keep = complete_day_mask(first, second, lon=lon)
    for v in clear:
        arrays[v][~keep] = np.nan
    n_after = sum(int(np.isfinite(arrays[v]).sum()) for v in clear)
    n_complete = keep.sum(axis=1) // 24
    reasons = {stations[i].sid: "no complete local day" for i in np.flatnonzero(n_complete == 0)}
    qc.add(
        "complete_local_days",
        "local days kept only with all 24 hourly values of SM and TS (ISMN; SM alone "
        "for SM-only reference stations) or SM and LH (towers); other days set to NaN",
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
    on_error: str = "skip",
    sensor_map: str | os.PathLike | None = None,
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
    on_error : {"skip", "raise"}
        A file that cannot be read or holds impossible values (SM outside 0-1 m3 m-3, TS
        outside -60..80 degC): ``"skip"`` leaves its station out (a reanalysis file: its
        cells), counted under the QC rule ``unreadable`` with file, line and reason, and
        listed in the attribute ``skipped_inputs``; ``"raise"`` stops at the first one.
    sensor_map : path, optional
        User YAML of instrument names / stations -> technique (:mod:`smlib.io.sensors`).

    Returns
    -------
    xarray.Dataset
        The station cube (schema in ``docs/architecture.md``), ``qc_summary`` JSON in its attributes.
        ``precip`` is the station's own gauge (ISMN ``p`` or tower P) where it has one, and
        ``insitu_rain_source`` records per station-hour which source screens its local day
        for rain (:func:`insitu_rain_source`). Reference stations may have SM only (``ts``
        NaN). ``sensor_notes`` (JSON) lists stations whose instrument is ``n.s.`` or not in
        the instrument table.

    Raises
    ------
    FileNotFoundError, ValueError
        Missing inputs, malformed files under ``on_error="raise"`` (naming file and line),
        reanalysis files that disagree where they overlap, or no station passing QC.

    Notes
    -----
    Progress bars show the files read and the stations sampled from the reanalyses; the QC
    summary is logged when the cube is built. Arrays are held in memory as
    ``(n_station, n_time)`` float32, which suits networks and the twin; a full ISMN archive is
    best ingested network by network and the cubes concatenated along ``station``.
    """
    check_on_error(on_error)
    table = load_sensor_table(sensor_map)
    wanted = None if reference is None else set(read_reference_ids(reference))
    qc = QCReport()
    skipped: list[SkippedInput] = []
    ismn_st, sources = _ismn_stations(
        ismn, qc, max_depth, on_error=on_error, table=table, reference_ids=wanted,
        skipped=skipped,
    )  # fmt: skip
    if fluxnet is None:
        fluxnet = []
    elif isinstance(fluxnet, (str, os.PathLike)):
        fluxnet = [fluxnet]
    n_skip = len(skipped)
    tower_series = read_fluxnet(fluxnet, on_error=on_error, skipped=skipped) if fluxnet else []
    qc.add(
        "unreadable",
        "",
        stations={r.station: r.describe() for r in skipped[n_skip:]},
        detail={"files": len(skipped) - n_skip},
    )
    towers = _tower_stations(tower_series)
    all_st = ismn_st + towers
    if not all_st:
        lost = f"; {len(skipped)} file(s) skipped as unreadable" if skipped else ""
        raise ValueError(f"{ismn}: no station has both an SM and a TS sensor that pass QC{lost}")

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
        sm_only = np.array([s.sm_only for s in group])
        rows = _apply_day_rules(group, arrays, lon, need, clear, min_days, qc, kind, sm_only)
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
    if wanted is None:
        is_ref = np.array(
            [s.kind == "ismn" and s.sensor_type in REFERENCE_TECHNIQUES for s in kept]
        )
        ref_rule = "sensor physics: " + ", ".join(sorted(REFERENCE_TECHNIQUES))
    else:
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
    has_gauge = np.isfinite(data["precip"]).any(axis=1)
    if towers or has_gauge.any():
        ds["precip"] = (("station", "time"), data["precip"])

    uncovered: dict[str, list[str]] = {}
    if era5 is not None:
        from smlib.io.reanalysis import era5_land_at_stations

        r, uncovered["era5"] = era5_land_at_stations(
            era5, ids, lat, lon, time, on_error=on_error, skipped=skipped
        )
        ds = ds.assign({k: (("station", "time"), r[k].values) for k in r.data_vars})
    if merra2 is not None:
        from smlib.io.reanalysis import merra2_at_stations

        r, uncovered["merra2"] = merra2_at_stations(
            merra2, ids, lat, lon, time, on_error=on_error, skipped=skipped
        )
        ds = ds.assign({k: (("station", "time"), r[k].values) for k in r.data_vars})
    for v in ds.data_vars:
        ds[v] = ds[v].astype(np.float32)
        ds[v].attrs.update(VARIABLE_ATTRS[v])
    ds["insitu_rain_source"] = insitu_rain_source(ds)
    files_lost = [r for r in skipped if r.source in ("era5", "merra2")]
    qc.add("unreadable", "", detail={"files": len(files_lost)} if files_lost else None)
    n_sm_only = sum(s.sm_only for s in kept)
    notes = {s.sid: s.sensor_note for s in kept if s.sensor_note}
    if notes:
        logger.warning(
            "%d station(s) with an instrument of unknown technique (see the cube attribute "
            "sensor_notes; map them with --sensor-map FILE): %s",
            len(notes),
            ", ".join(f"{k} ({v})" for k, v in list(notes.items())[:10]),
        )

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
            "skipped_inputs": json.dumps([r.to_dict() for r in skipped]),
            "on_error": on_error,
            "sensor_notes": json.dumps(notes),
            "sensor_tables": json.dumps(table.files),
            "n_sm_only_references": int(n_sm_only),
            "n_stations_with_gauge": int(has_gauge.sum()),
            "qc_min_days": min_days,
            "qc_max_depth_m": max_depth,
            "qc_summary": qc.to_json(),
            "history": f"{pd.Timestamp.now('UTC'):%Y-%m-%dT%H:%M:%SZ} smlib ingest",
        }
    )
    logger.info(
        "station cube: %d stations (%d ismn, %d towers, %d references of which %d SM-only, "
        "%d with a rain gauge) x %d hours; %d input file(s) skipped; QC removed:\n%s",
        ds.sizes["station"],
        int((ds["kind"] == "ismn").sum()),
        int((ds["kind"] == "tower").sum()),
        int(is_ref.sum()),
        n_sm_only,
        int(has_gauge.sum()),
        ds.sizes["time"],
        len(skipped),
        qc.table(),
    )
    validate_cube(ds, "ingest result")
    if out is not None:
        write_atomic(ds, out)
        logger.info("wrote %s", out)
    return ds
