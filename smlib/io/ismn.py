"""Read ISMN downloads: "Header+values", "CEOP formatted" (separate files) and CEOP combined.

An ISMN download is a folder (or the zip the portal delivers) with one sub-folder per network
and station. Each ``.stm`` file holds one variable of one sensor::

    NETWORK/STATION/CSE_NETWORK_STATION_VAR_DEPTHFROM_DEPTHTO_SENSOR_YYYYMMDD_YYYYMMDD.stm

*Header+values*: a header line ``CSE NETWORK STATION LAT LON ELEV DEPTH_FROM DEPTH_TO SENSOR``
followed by ``YYYY/MM/DD HH:MM VALUE ISMN_FLAG PROVIDER_FLAG`` lines.
*CEOP separate*: no header; every line is ``DATE TIME DATE TIME CSE NETWORK STATION LAT LON
ELEV DEPTH_FROM DEPTH_TO VALUE ISMN_FLAG PROVIDER_FLAG``.
*CEOP combined* (older downloads, ``CSE_NETWORK_STATION_YYYYMMDD_YYYYMMDD.stm``): one line
per time and depth, ``DATE TIME DATE TIME CSE NETWORK STATION LAT LON ELEV - DEPTH TS TS_FLAG
SM SM_FLAG`` with -999.99 for missing values; it names no instrument.

Why not the ``ismn`` package (TUW-GEO, v1.5) for parsing
--------------------------------------------------------
``ismn.filehandlers.DataFile`` reads Header+values and CEOP-separate files correctly with
pandas 3 (``tests/test_io_ismn.py`` uses it as an independent cross-check of this module),
but it does not read the CEOP combined layout, it reports malformed content without the line
that caused it, and it accepts duplicated or unordered time stamps silently. A download of
~2,900 stations also goes through its metadata collection and temporary extraction of zip
members, which we do not need. We therefore parse the documented formats here with
vectorised pandas (one ``read_csv``/``str.extract`` per file), handle CR, LF and CRLF line
endings, and raise errors that name the file and line.

Damaged files
-------------
Every problem is an :class:`~smlib.io.errors.InputError` naming the file and line: a malformed
line, duplicated or unordered time stamps, a ``G`` value outside :data:`VALID_RANGE` (SM in
percent, say), a damaged zip member, and a *truncated* file -- one whose records stop before
the end date in its name (ISMN names every file after its first and last record; a cut inside
the last day is not seen, and the complete-day rule drops that day anyway). With
``iter_ismn(..., on_error="skip")`` the file is recorded with its station
(:func:`station_of_file`) instead, and :func:`smlib.data.ingest.ingest` leaves that station out.
Provider flags may hold blanks (RISMA: ``Frozen soil,OK,OK``): everything after the ISMN flag
is the provider flag.

Quality flags
-------------
Only values whose ISMN flag is exactly ``G`` are kept (paper, section 2.1). Every other flag
is counted per code; codes that are not ISMN flags (``G``, ``M``, ``U``, ``C01``-``C03``,
``D01``-``D10``, comma-separated combinations) are counted as ``unknown:<code>`` and logged.
"""

from __future__ import annotations

import io
import logging
import re
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from smlib.io.errors import InputError, SkippedInput, check_on_error, skip_or_raise
from smlib.progress import progress_bar

__all__ = [
    "IsmnSeries",
    "parse_stm",
    "read_stm",
    "iter_ismn",
    "read_ismn",
    "station_of_file",
    "KNOWN_FLAG",
    "VALID_RANGE",
]

logger = logging.getLogger(__name__)

#: Regular expression of one valid ISMN quality-flag code.
KNOWN_FLAG = re.compile(r"^(G|M|U|C0[1-3]|D0[1-9]|D10)$")

_FNAME = re.compile(
    r"_(?P<var>[a-z]+)_(?P<dfrom>-?\d+\.\d+)_(?P<dto>-?\d+\.\d+)_(?P<sensor>.+)"
    r"_(?P<start>\d{8})_(?P<end>\d{8})\.stm$",
    re.IGNORECASE,
)
_DATES = re.compile(r"_(?P<start>\d{8})_(?P<end>\d{8})\.stm$", re.IGNORECASE)
_DATE_LINE = re.compile(r"^\s*\d{4}/\d{2}/\d{2}\s+\d{2}:\d{2}")
_HV_LINE = re.compile(
    r"^\s*(?P<date>\S+)\s+(?P<hour>\S+)\s+(?P<value>\S+)\s+(?P<flag>\S+)"
    r"(?:\s+(?P<provider_flag>.*?))?\s*$"
)


def _num(group: str) -> str:
    return rf"(?P<{group}>-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)"


_HEAD = r"^\s*(?P<stamp>\S+\s+\S+)\s+\S+\s+\S+\s+(?P<names>.+?)\s+"
_CEOP_SEP = re.compile(
    _HEAD
    + r"\s+".join(_num(g) for g in ("lat", "lon", "elev", "dfrom", "dto", "value"))
    + r"\s+(?P<flag>\S+)(?:\s+(?P<pflag>\S+))?\s*$"
)
_CEOP_COMBINED = re.compile(
    _HEAD
    + r"\s+".join(_num(g) for g in ("lat", "lon", "elev"))
    + r"\s+\S+\s+"
    + _num("depth")
    + r"\s+"
    + _num("ts")
    + r"\s+(?P<ts_flag>\S+)\s+"
    + _num("sm")
    + r"\s+(?P<sm_flag>\S+)\s*$"
)
_MISSING = -999.0  # CEOP combined uses -999.99; anything <= -999 is missing
_TIME_FORMAT = "%Y/%m/%d %H:%M"

#: Physically possible range of each variable (after units); a ``G`` value outside it makes
#: the file unreadable (its numbers are never let in): ``(low, high, unit, hint)``.
VALID_RANGE: dict[str, tuple[float, float, str, str]] = {
    "sm": (0.0, 1.0, "m3 m-3", " (percent instead of m3 m-3?)"),
    "ts": (-60.0, 80.0, "degC", ""),
    "p": (0.0, 500.0, "mm", ""),
}
_UNITS = {"sm": "m3 m-3", "ts": "degC", "p": "mm h-1"}
_LONG_NAMES = {"sm": "soil moisture", "ts": "soil temperature", "p": "precipitation"}


@dataclass(eq=False)
class IsmnSeries:
    """One variable of one sensor at one station, as read from an ISMN file.

    Attributes
    ----------
    network, station : str
        Names as in the file; the cube id is ``f"{network}/{station}"``.
    variable : str
        ISMN short name (``sm`` soil moisture in m3 m-3, ``ts`` soil temperature in degC, ...).
    depth_from, depth_to : float
        Sensor depth range in metres below the surface.
    sensor : str
        Instrument name as in the source (``""`` when the format names none).
    lat, lon, elevation : float
        Degrees north, degrees east, metres above sea level.
    time : numpy.ndarray of datetime64[ns], shape (n,)
        UTC time stamps of the values kept: flagged ``G`` (unless read with
        ``good_only=False``), not missing, on whole hours; strictly increasing.
    values : numpy.ndarray of float64, shape (n,)
        The kept values (``sm`` in m3 m-3, ``ts`` in degC).
    n_raw : int
        Number of records in the file, whatever their flag.
    removed_flags : collections.Counter
        Records not flagged ``G``, by flag code (``"D03"``, ``"unknown:X"``), and ``G``
        records skipped for another reason (``"off-hour"``, ``"missing"``).
    raw_days : numpy.ndarray of datetime64[D]
        UTC days with at least one record of any flag (for the QC day counts).
    source : str
        File the series came from.
    """

    network: str
    station: str
    variable: str
    depth_from: float
    depth_to: float
    sensor: str
    lat: float
    lon: float
    elevation: float
    time: np.ndarray
    values: np.ndarray
    n_raw: int
    removed_flags: Counter = field(default_factory=Counter)
    raw_days: np.ndarray = field(default_factory=lambda: np.array([], "datetime64[D]"))
    source: str = ""

    @property
    def station_id(self) -> str:
        """Cube id ``NETWORK/STATION``."""
        return f"{self.network}/{self.station}"

    def to_xarray(self) -> xr.DataArray:
        """The kept values as a 1-D ``DataArray`` on ``time`` with the metadata as attributes."""
        units = _UNITS.get(self.variable, "unknown")
        return xr.DataArray(
            self.values,
            coords={"time": self.time},
            dims="time",
            name=self.variable,
            attrs={
                "units": units,
                "station": self.station_id,
                "sensor": self.sensor,
                "depth_from": self.depth_from,
                "depth_to": self.depth_to,
                "lat": self.lat,
                "lon": self.lon,
                "elevation": self.elevation,
                "source": self.source,
            },
        )


def _normalise_lines(raw: bytes, name: str) -> tuple[list[str], np.ndarray]:
    """Split text with CR, LF or CRLF endings; return non-blank lines and their 1-based numbers."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    numbers = np.array([i + 1 for i, line in enumerate(lines) if line.strip()], dtype=int)
    if numbers.size == 0:
        raise InputError(name, "file is empty")
    return [lines[i - 1] for i in numbers], numbers


def _parse_header(line: str, name: str) -> tuple[str, str, float, float, float, float, float, str]:
    """Parse ``CSE NETWORK STATION LAT LON ELEV DEPTH_FROM DEPTH_TO SENSOR`` (station may hold spaces)."""
    tok = line.split()
    for i in range(2, len(tok) - 4):
        try:
            nums = [float(t) for t in tok[i : i + 5]]
        except ValueError:
            continue
        station = " ".join(tok[2:i])
        if not station:
            break
        return tok[1], station, *nums, " ".join(tok[i + 5 :])
    raise InputError(
        name,
        "not an ISMN Header+values header "
        "(expected 'CSE NETWORK STATION LAT LON ELEV DEPTH_FROM DEPTH_TO SENSOR'): "
        f"{line.strip()!r}",
        line=1,
    )


def _bad_line(name: str, numbers: np.ndarray, lines: list[str], k: int, what: str) -> InputError:
    return InputError(name, f"{what}: {lines[k].strip()!r}", line=int(numbers[k]))


def _finish(
    name: str,
    lines: list[str],
    numbers: np.ndarray,
    rows: np.ndarray,
    stamp: pd.Series,
    value: pd.Series,
    flag: pd.Series,
    meta: dict,
    variable: str,
    good_only: bool = True,
) -> IsmnSeries:
    """Validate one variable's columns and keep the ``G`` values at whole hours.

    ``rows`` are indices into ``lines``/``numbers`` for each record (for error messages).
    """
    time = pd.to_datetime(stamp, format=_TIME_FORMAT, errors="coerce")
    bad = np.flatnonzero(time.isna().to_numpy())
    if bad.size:
        raise _bad_line(name, numbers, lines, rows[bad[0]], "cannot parse the time stamp")
    t = time.to_numpy(dtype="datetime64[ns]")
    num = pd.to_numeric(value, errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(np.isnan(num))
    if bad.size:
        raise _bad_line(name, numbers, lines, rows[bad[0]], "value is not a number")
    if t.size > 1:
        step = np.diff(t)
        dup = np.flatnonzero(step == np.timedelta64(0, "ns"))
        if dup.size:
            raise _bad_line(name, numbers, lines, rows[dup[0] + 1], "duplicated time stamp")
        back = np.flatnonzero(step < np.timedelta64(0, "ns"))
        if back.size:
            raise _bad_line(name, numbers, lines, rows[back[0] + 1], "time stamps out of order")

    flags = flag.astype(str).to_numpy()
    good = flags == "G" if good_only else np.ones(flags.shape, dtype=bool)
    removed: Counter = Counter()
    if not (flags == "G").all():
        codes = pd.Series(flags[flags != "G"]).value_counts()
        for code, n in codes.items():
            parts = str(code).split(",")
            unknown = [p for p in parts if not KNOWN_FLAG.match(p)]
            if unknown:
                first = rows[np.flatnonzero(flags == code)[0]]
                logger.warning(
                    "%s:%d: unknown ISMN flag %r (%d values skipped)", name, numbers[first], code, n
                )
                removed[f"unknown:{code}"] += int(n)
            else:
                removed[str(code)] += int(n)
    missing = good & (num <= _MISSING)
    if missing.any():
        removed["missing"] += int(missing.sum())
        good &= ~missing
    off_hour = good & (t.astype("datetime64[m]") != t.astype("datetime64[h]"))
    if off_hour.any():
        removed["off-hour"] += int(off_hour.sum())
        logger.warning(
            "%s: %d G values not on a whole hour skipped (the cube is hourly)", name, off_hour.sum()
        )
        good &= ~off_hour
    if variable in VALID_RANGE:
        low, high, unit, hint = VALID_RANGE[variable]
        out = np.flatnonzero(good & ((num < low) | (num > high)))
        if out.size:
            raise _bad_line(
                name,
                numbers,
                lines,
                rows[out[0]],
                f"{_LONG_NAMES[variable]} {num[out[0]]:g} outside the possible range "
                f"{low:g}..{high:g} {unit}{hint}",
            )
    return IsmnSeries(
        variable=variable,
        time=t[good],
        values=num[good],
        n_raw=int(t.size),
        removed_flags=removed,
        raw_days=np.unique(t.astype("datetime64[D]")),
        source=name,
        **meta,
    )


def _parse_header_values(
    name: str, lines: list[str], numbers: np.ndarray, var: str, good_only: bool
) -> IsmnSeries:
    net, station, lat, lon, elev, dfrom, dto, sensor = _parse_header(lines[0], name)
    meta = dict(
        network=net, station=station, depth_from=dfrom, depth_to=dto, sensor=sensor,
        lat=lat, lon=lon, elevation=elev,
    )  # fmt: skip
    body = "\n".join(lines[1:])
    if not body:
        logger.warning("%s: header only, no data lines (station counted as empty)", name)
        empty = np.array([], dtype="datetime64[ns]")
        return IsmnSeries(variable=var, time=empty, values=np.array([]), n_raw=0, source=name,
                          removed_flags=Counter({"empty file": 1}), **meta)  # fmt: skip
    try:
        df = pd.read_csv(
            io.StringIO(body),
            sep=r"\s+",
            header=None,
            dtype=str,
            names=["date", "hour", "value", "flag", "provider_flag"],
            engine="c",
        )
    except pd.errors.ParserError:
        # some providers' flags hold blanks ("Frozen soil,OK,OK" in RISMA): everything after
        # the ISMN flag is the provider flag
        df = pd.Series(lines[1:]).str.extract(_HV_LINE)
        bad = np.flatnonzero(df["date"].isna().to_numpy())
        if bad.size:
            raise _bad_line(
                name, numbers, lines, int(bad[0]) + 1,
                "expected 'DATE TIME VALUE FLAG [PROVIDER_FLAG]'",
            ) from None  # fmt: skip
    short = np.flatnonzero(df["flag"].isna().to_numpy())
    if short.size:
        raise _bad_line(name, numbers, lines, short[0] + 1, "missing value or flag")
    rows = np.arange(1, len(lines))
    return _finish(
        name,
        lines,
        numbers,
        rows,
        df["date"] + " " + df["hour"],
        df["value"],
        df["flag"],
        meta,
        var,
        good_only,
    )


def _extract(name: str, lines: list[str], numbers: np.ndarray, pattern: re.Pattern) -> pd.DataFrame:
    df = pd.Series(lines).str.extract(pattern)
    bad = np.flatnonzero(df["stamp"].isna().to_numpy())
    if bad.size:
        raise _bad_line(name, numbers, lines, int(bad[0]), "line does not match the CEOP layout")
    return df


def _names(names: str, file: str = "") -> tuple[str, str]:
    tok = names.split()
    if len(tok) < 3:
        raise InputError(file, f"expected 'CSE NETWORK STATION', got {names!r}", line=1)
    return tok[1], " ".join(tok[2:])


def _parse_ceop_sep(
    name: str, lines: list[str], numbers: np.ndarray, var: str, sensor: str, good_only: bool
) -> IsmnSeries:
    df = _extract(name, lines, numbers, _CEOP_SEP)
    net, station = _names(df["names"].iloc[0], name)
    lat, lon, elev, dfrom, dto = (
        float(df[c].iloc[0]) for c in ("lat", "lon", "elev", "dfrom", "dto")
    )
    meta = dict(
        network=net, station=station, depth_from=dfrom, depth_to=dto, sensor=sensor,
        lat=lat, lon=lon, elevation=elev,
    )  # fmt: skip
    rows = np.arange(len(lines))
    return _finish(
        name, lines, numbers, rows, df["stamp"], df["value"], df["flag"], meta, var, good_only
    )


def _parse_ceop_combined(
    name: str, lines: list[str], numbers: np.ndarray, good_only: bool
) -> list[IsmnSeries]:
    df = _extract(name, lines, numbers, _CEOP_COMBINED)
    net, station = _names(df["names"].iloc[0], name)
    lat, lon, elev = (float(df[c].iloc[0]) for c in ("lat", "lon", "elev"))
    depth = pd.to_numeric(df["depth"]).to_numpy()
    out = []
    for d in np.unique(depth):
        rows = np.flatnonzero(depth == d)
        sub = df.iloc[rows]
        meta = dict(
            network=net, station=station, depth_from=float(d), depth_to=float(d), sensor="",
            lat=lat, lon=lon, elevation=elev,
        )  # fmt: skip
        for var in ("ts", "sm"):
            if not (pd.to_numeric(sub[var]) > _MISSING).any():
                continue  # this depth has no such variable: every record is -999.99
            out.append(
                _finish(
                    name,
                    lines,
                    numbers,
                    rows,
                    sub["stamp"],
                    sub[var],
                    sub[f"{var}_flag"],
                    meta,
                    var,
                    good_only,
                )  # fmt: skip
            )
    return out


def parse_stm(raw: bytes, name: str, *, good_only: bool = True) -> list[IsmnSeries]:
    """Parse the bytes of one ISMN ``.stm`` file in any of the three layouts.

    Parameters
    ----------
    raw : bytes
        File content (CR, LF or CRLF line endings).
    name : str
        File name or path, used to find variable, depths and sensor and in error messages.
    good_only : bool
        Keep only values flagged ``G`` (default). False keeps every non-missing record, for
        inspection and format comparisons; flag counts are reported either way.

    Returns
    -------
    list of IsmnSeries
        One series for the separate-file layouts; one per variable and depth for CEOP combined.

    Raises
    ------
    InputError
        (a ``ValueError``) on malformed content or impossible values, naming the file and line.
    """
    lines, numbers = _normalise_lines(raw, name)
    m = _FNAME.search(Path(name).name)
    first_is_data = bool(_DATE_LINE.match(lines[0]))
    if m is None:
        if first_is_data:
            out = _parse_ceop_combined(name, lines, numbers, good_only)
        else:
            raise InputError(
                name,
                "file name does not follow the ISMN pattern "
                "CSE_NETWORK_STATION_VAR_DEPTHFROM_DEPTHTO_SENSOR_YYYYMMDD_YYYYMMDD.stm",
            )
    elif first_is_data:
        out = [_parse_ceop_sep(name, lines, numbers, m["var"].lower(), m["sensor"], good_only)]
    else:
        out = [_parse_header_values(name, lines, numbers, m["var"].lower(), good_only)]
    if m is not None:  # (CEOP combined names give the requested period, not the records')
        _check_complete(out, name, numbers)
    return out


def _check_complete(series: list[IsmnSeries], name: str, numbers: np.ndarray) -> None:
    """A file whose records stop before the end date in its name was cut short (ISMN names
    every file ``..._STARTDATE_ENDDATE.stm`` after its first and last record)."""
    m = _DATES.search(Path(name).name)
    if m is None:
        return
    end = np.datetime64(pd.Timestamp(m["end"]).date(), "D")
    last = max((s.raw_days.max() for s in series if s.raw_days.size), default=None)
    if last is not None and last < end:
        raise InputError(
            name,
            f"records end on {last} but the file name says {end}: the file is truncated "
            "(interrupted download or copy?)",
            line=int(numbers[-1]),
        )


def read_stm(path: str | Path, *, good_only: bool = True) -> list[IsmnSeries]:
    """Read one ISMN ``.stm`` file (see :func:`parse_stm`)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise InputError(str(path), f"cannot read the file ({err.strerror or err})") from err
    return parse_stm(raw, str(path), good_only=good_only)


def station_of_file(name: str) -> str:
    """``NETWORK/STATION`` of an ISMN file, from its folders or else its name.

    Works without opening the file, so that a damaged file can still be charged to its
    station. ``name`` may be ``archive.zip!NETWORK/STATION/file.stm``.
    """
    member = name.split("!", 1)[-1].replace("\\", "/")
    parts = [p for p in member.split("/") if p]
    fname = parts[-1] if parts else member
    if len(parts) >= 3 and f"_{parts[-3]}_{parts[-2]}_" in f"_{fname}":
        return f"{parts[-3]}/{parts[-2]}"  # the download's NETWORK/STATION folders
    m = _FNAME.search(fname) or _DATES.search(fname)
    if m is not None:
        head = fname[: m.start()].split("_", 2)  # CSE_NETWORK_STATION (no '_' in NETWORK)
        if len(head) == 3:
            return f"{head[1]}/{head[2]}"
    return Path(fname).stem


def _members(path: Path) -> Iterator[tuple[str, object]]:
    """``(name, read)`` for every ``.stm`` file; ``read()`` returns its bytes or raises."""
    if path.is_file() and zipfile.is_zipfile(path):
        try:
            zf = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as err:
            raise InputError(str(path), f"not a readable zip archive ({err})") from err
        with zf:
            for info in sorted(zf.infolist(), key=lambda i: i.filename):
                if info.filename.lower().endswith(".stm") and not info.is_dir():
                    yield f"{path}!{info.filename}", lambda info=info: _read_member(zf, info)
    elif path.is_file():
        if path.suffix.lower() == ".zip":
            raise InputError(str(path), "not a readable zip archive (truncated download?)")
        yield str(path), path.read_bytes
    elif path.is_dir():
        for f in sorted(path.rglob("*.stm")):
            yield str(f), f.read_bytes
    else:
        raise FileNotFoundError(f"ISMN path {path} does not exist")


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    try:
        return zf.read(info)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as err:
        raise InputError(f"{zf.filename}!{info.filename}", f"damaged zip member ({err})") from err


def iter_ismn(
    path: str | Path,
    variables: Iterable[str] | None = ("sm", "ts"),
    *,
    on_error: str = "raise",
    skipped: list[SkippedInput] | None = None,
    progress: bool = False,
) -> Iterator[IsmnSeries]:
    """Iterate over the series of an ISMN download (folder, zip or single file).

    Parameters
    ----------
    path : str or Path
        Extracted folder, the portal's zip, or one ``.stm`` file.
    variables : iterable of str or None
        ISMN short names to keep (None: all; ``p`` is the station's rain gauge). Files of
        other variables are not parsed.
    on_error : {"raise", "skip"}
        What a file that cannot be read or holds impossible values does: stop with an
        :class:`~smlib.io.errors.InputError`, or be skipped and recorded in ``skipped`` (with
        the station it belongs to, see :func:`station_of_file`).
    skipped : list of SkippedInput, optional
        Receives the skipped files under ``on_error="skip"``.
    progress : bool
        Show a progress bar over the files.

    Yields
    ------
    IsmnSeries
    """
    check_on_error(on_error)
    if skipped is None:
        skipped = []
    keep = None if variables is None else {v.lower() for v in variables}
    members = _members(Path(path))
    if progress:
        members = progress_bar(members, desc="ISMN files", unit="file")
    for name, read in members:
        m = _FNAME.search(name)
        if keep is not None and m is not None and m["var"].lower() not in keep:
            continue
        try:
            series = parse_stm(read(), name)
        except (InputError, OSError) as err:
            skip_or_raise(err, name, on_error, skipped, station=station_of_file(name),
                          source="ismn")  # fmt: skip
            continue
        for s in series:
            if keep is None or s.variable in keep:
                yield s


def read_ismn(
    path: str | Path,
    variables: Iterable[str] | None = ("sm", "ts"),
    *,
    on_error: str = "raise",
    skipped: list[SkippedInput] | None = None,
) -> list[IsmnSeries]:
    """Read every series of an ISMN download into a list (see :func:`iter_ismn`)."""
    out = list(iter_ismn(path, variables, on_error=on_error, skipped=skipped))
    if not out:
        raise ValueError(f"{path}: no ISMN series of variables {sorted(variables or [])} found")
    return out
