"""The ingest: ISMN, reanalysis and tower records joined into one station cube.

The QC rules applied here, in order, are listed in :mod:`smlib.data`; each rule's removals are
counted in the cube's ``qc_summary``.
"""

from __future__ import annotations

import json
import logging
import os
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from smlib import __version__
from smlib.data.qc import MAX_DEPTH_M, MIN_DAYS, QCReport
from smlib.data.rain import insitu_rain_source
from smlib.data.references import read_reference_ids
from smlib.data.schema import (
    CUBE_SCHEMA_VERSION,
    STATION_COORDS,
    VARIABLE_ATTRS,
    validate_cube,
    write_atomic,
)
from smlib.data.selection import (
    complete_day_mask,
    count_days_with_data,
    select_sensor_pair,
    within_depth,
)
from smlib.io.errors import SkippedInput, check_on_error
from smlib.io.fluxnet import TowerSeries, read_fluxnet
from smlib.io.ismn import IsmnSeries, iter_ismn
from smlib.io.sensors import (
    NOT_SPECIFIED,
    REFERENCE_TECHNIQUES,
    SensorTable,
    load_sensor_table,
)

__all__ = [
    "ingest",
]

logger = logging.getLogger(__name__)


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
        sm_c = [s for s in sm_all if within_depth(s, max_depth, table)]
        ts_c = [s for s in ts_all if within_depth(s, max_depth, table)]
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
    own: Sequence[str] = (),
) -> np.ndarray:
    """Complete-local-day and minimum-days rules on one kind of station; returns kept rows.

    Rows flagged in ``sm_only`` (reference stations without TS) need ``need[0]`` alone.
    Variables in ``clear`` are kept on days complete in both ``need`` variables, those in
    ``own`` on days complete in themselves.
    """
    first, second = arrays[need[0]], arrays[need[1]]
    if sm_only is not None and sm_only.any():
        second = np.where(sm_only[:, None], first, second)
    n_before = sum(int(np.isfinite(arrays[v]).sum()) for v in (*clear, *own))
    days_with_data = count_days_with_data(
        np.where(np.isfinite(first) | np.isfinite(second), 1.0, np.nan), lon, 0
    )
    keep = complete_day_mask(first, second, lon=lon)
    for v in own:
        arrays[v][~complete_day_mask(arrays[v], lon=lon)] = np.nan
    for v in clear:
        arrays[v][~keep] = np.nan
    n_after = sum(int(np.isfinite(arrays[v]).sum()) for v in (*clear, *own))
    n_complete = keep.sum(axis=1) // 24
    reasons = {stations[i].sid: "no complete local day" for i in np.flatnonzero(n_complete == 0)}
    qc.add(
        "complete_local_days",
        "local days kept only with all 24 hourly values of SM and TS (ISMN; SM alone "
        "for SM-only reference stations) or SM and LH (towers); on other days SM (towers: "
        "LH) set to NaN; TS kept on every day, and a tower's SM on every day complete in "
        "SM: the correction's inputs",
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
    ismn: str | os.PathLike | None = None,
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
    ismn : path, optional
        ISMN download (folder, zip or one ``.stm`` file). Without it the cube holds flux
        towers only (``fluxnet`` is then required).
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
        No station source (neither ``ismn`` nor ``fluxnet``), missing inputs, malformed files
        under ``on_error="raise"`` (naming file and line),
        reanalysis files that disagree where they overlap, or no station passing QC.

    Notes
    -----
    Progress bars show the files read and the stations sampled from the reanalyses; the QC
    summary is logged when the cube is built. Arrays are held in memory as
    ``(n_station, n_time)`` float32, which suits networks and the twin; a full ISMN archive is
    best ingested network by network and the cubes concatenated along ``station``.
    """
    check_on_error(on_error)
    if fluxnet is None:
        fluxnet = []
    elif isinstance(fluxnet, (str, os.PathLike)):
        fluxnet = [fluxnet]
    if ismn is None and not fluxnet:
        raise ValueError(
            "no station source: give an ISMN download (--ismn PATH), flux-tower folders "
            "(--fluxnet DIR) or both"
        )
    # the inputs named in errors about the whole ingest
    where = ", ".join(str(p) for p in ([ismn] if ismn is not None else []) + list(fluxnet))
    table = load_sensor_table(sensor_map)
    wanted = None if reference is None else set(read_reference_ids(reference))
    qc = QCReport()
    skipped: list[SkippedInput] = []
    ismn_st, sources = (
        _ismn_stations(
            ismn,
            qc,
            max_depth,
            on_error=on_error,
            table=table,
            reference_ids=wanted,
            skipped=skipped,
        )  # fmt: skip
        if ismn is not None
        else ([], [])
    )
    n_skip = len(skipped)
    tower_series = read_fluxnet(fluxnet, on_error=on_error, skipped=skipped) if fluxnet else []
    qc.add(
        "unreadable",
        "",
        stations={r.station: r.describe() for r in skipped[n_skip:]},
        detail={"files": len(skipped) - n_skip},
    )
    if tower_series:
        qc.add(
            "tower_swc_range",
            "tower SWC values outside 0..100 % set missing (a file with more than "
            "1 % of them is unreadable)",
            values=sum(tw.sm_out_of_range for tw in tower_series),
        )
    towers = _tower_stations(tower_series)
    all_st = ismn_st + towers
    if not all_st:
        lost = f"; {len(skipped)} file(s) skipped as unreadable" if skipped else ""
        raise ValueError(
            f"{where}: no station has both an SM and a TS (towers: SM and LH) record that "
            f"passes QC{lost}"
        )

    times = [s.sm[0] for s in all_st if s.sm[0].size]
    # one padding day at either end, so that every station's first and last local day is
    # seen whole by the day rules (the padding is trimmed below)
    t_min = min(t.min() for t in times).astype("datetime64[D]") - np.timedelta64(1, "D")
    t_max = max(t.max() for t in times).astype("datetime64[D]") + np.timedelta64(2, "D")
    t0 = t_min.astype("datetime64[ns]")
    n_t = int((t_max - t_min) / np.timedelta64(1, "h"))

    kept: list[_Station] = []
    arrays_all: dict[str, list[np.ndarray]] = defaultdict(list)
    for kind, group, need, clear, own in (
        ("ismn", ismn_st, ("sm", "ts"), ("sm",), ()),
        # a tower's SM stays on every day complete in SM (LH only on days complete in both,
        # the days of the coupling), and its TS on every day: they are the correction's
        # inputs, and its 24-h LF and 18-h windows need runs of hours, not only the days
        # on which the eddy covariance also worked
        ("tower", towers, ("sm", "lh"), ("lh",), ("sm",)),
    ):
        if not group:
            continue
        arrays = {v: _grid(group, v, t0, n_t) for v in ("sm", "ts", "lh", "precip")}
        lon = np.array([s.lon for s in group])
        sm_only = np.array([s.sm_only for s in group])
        rows = _apply_day_rules(
            group, arrays, lon, need, clear, min_days, qc, kind, sm_only, own=own
        )
        kept += [group[i] for i in rows]
        for v, a in arrays.items():
            arrays_all[v].append(a[rows])
    if not kept:
        logger.warning("QC summary (no station kept):\n%s", qc.table())
        removed = ", ".join(f"{k}: {r['stations_removed']}" for k, r in qc.rules.items())
        raise ValueError(
            f"{where}: no station passes QC (min_days={min_days}, max_depth={max_depth} m); "
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
            "source": ", ".join(
                (["ISMN"] if ismn is not None else [])
                + (["FLUXNET2015/AmeriFlux/ICOS"] if towers else [])
            )
            + (", ERA5-Land" if era5 is not None else "")
            + (", MERRA-2 M2T1NXLND" if merra2 is not None else ""),
            "ismn_path": str(ismn or ""),
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
