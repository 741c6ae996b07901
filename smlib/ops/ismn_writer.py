"""The corrected archive as an ISMN Header+values tree, read unchanged by the ``ismn`` package.

Layout (the ISMN download layout; ``CSE`` = network as in ISMN's own Header+values files)::

    OUT/README.txt
    OUT/NETWORK/STATION/NETWORK_NETWORK_STATION_sm_0.050000_0.050000_SENSOR_YYYYMMDD_YYYYMMDD.stm
    OUT/NETWORK/STATION/NETWORK_NETWORK_STATION_ts_0.050000_0.050000_SENSOR_YYYYMMDD_YYYYMMDD.stm
    OUT/NETWORK/STATION/NETWORK_NETWORK_STATION_smuncertainty_..._YYYYMMDD_YYYYMMDD.stm
    OUT/NETWORK/STATION/NETWORK_NETWORK_STATION_static_variables.csv

Each ``.stm`` file is a header line ``CSE NETWORK STATION LAT LON ELEV DEPTH_FROM DEPTH_TO
SENSOR`` followed by one line per hour that has a value::

    2021/05/01 00:00   0.2345 G 0

``sm`` holds the corrected series (``sm_lstm``, or ``sm_fft`` when only the Fourier baseline
ran), ``ts`` the soil temperature as measured. Columns:

* value: m3 m-3 with 4 decimals for ``sm`` (ISMN's own resolution), degC with 2 for ``ts``;
* ISMN quality flag: ``G`` -- every value written passed ISMN's quality control in the input
  (the cube keeps ``G`` values only), so QA4SM / pytesmo filters on ``G`` keep them;
* provider flag (the "flag column" of the correction): the per-hour correction flag of
  :func:`smlib.method.correct.correct` (``sm_<method>_flag``, the integer keys of
  :data:`smlib.method.correct.FLAG_MEANINGS`: 0 corrected, 1 rain-affected hour with the temperature
  artefact removed, 2 no method input with the artefact removed, 3 left raw); ``ts`` lines
  carry ``M`` (measured). The ``ismn`` package reads it as ``soil_moisture_orig_flag``.

Depths: the sensor's depth from the cube. Flux towers have none there (FLUXNET2015's
``SWC_F_MDS_1``, AmeriFlux's ``SWC_1_1_1`` and ICOS files do not state the depth of their
shallowest soil-water sensor; the site's BADM metadata do), and neither has any other station
of unknown depth: their files get :data:`UNKNOWN_DEPTH_M`, 0.00-0.05 m, ISMN's surface layer,
which ``README.txt`` states.

Static variables: every station folder holds ``NETWORK_NETWORK_STATION_static_variables.csv``,
which the ``ismn`` package needs to read a station without calling its files malformed. Where
the input ISMN download (the cube's ``ismn_path``, a folder or a zip) had one for the station it
is copied unchanged; otherwise a minimal one is written (:func:`static_variables_text`: the
column header and a land-cover row of unknown value, what ``ismn`` requires), so land cover,
climate and soil properties read as unknown.

Hours without a value are not written (as in ISMN downloads). ``README.txt`` names the model
run, methods, the flag legend and the smlib version. Network and station names are written with
``_`` and blanks replaced by ``-`` (the ISMN file name is ``_``-separated); a replacement is
logged.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from smlib import __version__
from smlib.atomic import atomic_path, atomic_write_text

__all__ = [
    "UNKNOWN_DEPTH_M",
    "UNCERTAINTY_CODE",
    "ismn_name",
    "stm_text",
    "static_variables_text",
    "find_static_variables",
    "write_station_files",
    "IsmnTreeStore",
]

log = logging.getLogger(__name__)

_MARKERS = ".smlib_archive"

#: Sensor depth (m, from, to) written for a station whose depth the cube does not know (flux
#: towers: their files do not state it): ISMN's surface layer.
UNKNOWN_DEPTH_M = (0.0, 0.05)

#: Columns of ISMN's ``*_static_variables.csv`` (';'-separated, as in ISMN downloads).
STATIC_VARIABLES_COLUMNS = (
    "quantity_name", "unit", "depth_from[m]", "depth_to[m]", "value", "description",
    "quantity_source_name", "quantity_source_description", "quantity_source_provider",
    "quantity_source_version", "quantity_source_resolution", "quantity_source_timerange",
    "quantity_source_url",
)  # fmt: skip

#: Where a station's static-variables file comes from: (network, station) -> its bytes.
StaticSources = Mapping[tuple[str, str], Callable[[], bytes]]


#: ISMN variable code (file-name token) of the product's standard uncertainty; ``ismn`` reads an
#: unknown code as the variable name itself.
UNCERTAINTY_CODE = "smuncertainty"


def ismn_name(name: str) -> str:
    """``name`` safe for an ISMN file name and header field (``_`` and blanks become ``-``)."""
    return re.sub(r"[\s_]+", "-", str(name).strip())


def _header(net: str, st: str, lat, lon, elev, dfrom, dto, sensor: str) -> str:
    return (
        f"{net:<10} {net:<15} {st:<17} {float(lat):10.5f} {float(lon):11.5f} "
        f"{float(elev):7.2f} {float(dfrom):7.2f} {float(dto):7.2f} {sensor}"
    )


def stm_text(
    header: str,
    stamps: np.ndarray,
    values: np.ndarray,
    flags: np.ndarray,
    decimals: int = 4,
) -> str:
    """Text of one Header+values file.

    Parameters
    ----------
    header : str
        The header line.
    stamps : numpy.ndarray of str, shape (n,)
        ``YYYY/MM/DD HH:MM`` (UTC) of the rows.
    values : numpy.ndarray, shape (n,)
        Finite values.
    flags : numpy.ndarray of str, shape (n,)
        Provider-flag column.
    decimals : int
    """
    vals = np.char.mod(f"%8.{decimals}f", np.asarray(values, dtype=np.float64))
    rows = np.char.add(np.char.add(np.char.add(stamps, " "), vals), " G ")
    rows = np.char.add(rows, np.asarray(flags).astype(str))
    return "\n".join([header, *rows.tolist()]) + "\n"


def static_variables_text() -> str:
    """A minimal ``*_static_variables.csv`` that the ``ismn`` package reads without complaint.

    ``ismn`` (1.5) needs the column header and a ``land cover classification`` row; a row whose
    source is none of the classifications it knows leaves land cover (and climate, soil
    properties, which it takes as absent) unknown, as for an ISMN station without them.
    """
    row = [""] * len(STATIC_VARIABLES_COLUMNS)
    row[0] = "land cover classification"
    row[5] = "unknown: the input held no static variables for this station"
    row[6] = "smlib"
    return ";".join(STATIC_VARIABLES_COLUMNS) + ";\n" + ";".join(row) + ";\n"


def find_static_variables(
    ismn_path: str | os.PathLike | None,
) -> dict[tuple[str, str], Callable[[], bytes]]:
    """The ``*_static_variables.csv`` files of an ISMN download, by (network, station).

    Parameters
    ----------
    ismn_path : path or None
        The ISMN download the cube was ingested from (a folder or a zip; its station folders
        ``NETWORK/STATION`` at any depth). None, ``""`` or a path that is gone: no file.

    Returns
    -------
    dict
        ``(network, station)`` (the folder names) -> a function returning the file's bytes.
    """
    if not ismn_path or not Path(ismn_path).exists():
        return {}
    path = Path(ismn_path)
    found: dict[tuple[str, str], Callable[[], bytes]] = {}
    if path.is_dir():
        for f in sorted(path.rglob("*_static_variables.csv")):
            found.setdefault((f.parent.parent.name, f.parent.name), f.read_bytes)
    elif zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            names = [n for n in zf.namelist() if n.endswith("_static_variables.csv")]
        for name in sorted(names):
            parts = name.split("/")
            if len(parts) >= 3:

                def read(name: str = name) -> bytes:
                    with zipfile.ZipFile(path) as zf:
                        return zf.read(name)

                found.setdefault((parts[-3], parts[-2]), read)
    return found


def _write_static_variables(
    folder: Path, net: str, st: str, keys: tuple[tuple[str, str], ...], sources: StaticSources
) -> Path:
    """The station folder's static-variables file: the input's copy, else a minimal one."""
    path = folder / f"{net}_{net}_{st}_static_variables.csv"
    if path.exists():
        return path
    read = next((sources[k] for k in keys if k in sources), None)
    with atomic_path(path) as tmp:
        if read is None:
            tmp.write_text(static_variables_text())
        else:
            tmp.write_bytes(read())
    return path


def _depths(dfrom, dto) -> tuple[float, float, bool]:
    """The depths to write and whether the cube knew them (see :data:`UNKNOWN_DEPTH_M`)."""
    dfrom, dto = float(dfrom), float(dto)
    if np.isfinite(dfrom) and np.isfinite(dto):
        return dfrom, dto, True
    return (*UNKNOWN_DEPTH_M, False)


def _file_name(net: str, st: str, var: str, dfrom, dto, sensor: str, t0, t1) -> str:
    return (
        f"{net}_{net}_{st}_{var}_{float(dfrom):.6f}_{float(dto):.6f}_{sensor}"
        f"_{pd.Timestamp(t0):%Y%m%d}_{pd.Timestamp(t1):%Y%m%d}.stm"
    )


def _coord(result: xr.Dataset, name: str, i: int, default):
    return result[name].values[i] if name in result.coords else default


def write_station_files(
    root: Path, result: xr.Dataset, method: str, static_sources: StaticSources | None = None
) -> list[Path]:
    """Write the ``sm`` (corrected) and ``ts`` files and the static variables of every station.

    Parameters
    ----------
    root : pathlib.Path
        Tree root (``NETWORK/STATION`` folders are created below it).
    result : xarray.Dataset
        Output of :func:`smlib.method.correct.correct`, dims (station, time), with the cube's station
        coordinates (``lat``, ``lon``, ``elevation``, ``depth_from``, ``depth_to``, ``sensor``).
    method : {"lstm", "fft"}
        Which corrected series goes into the ``sm`` file.
    static_sources : mapping, optional
        The input's static-variables files (:func:`find_static_variables`); a station without
        one gets :func:`static_variables_text`.

    Returns
    -------
    list of pathlib.Path
        Data files written (atomically; stations without any value get no ``sm`` file); the
        static-variables files are not listed.
    """
    static_sources = static_sources or {}
    var = f"sm_{method}"
    stamps = pd.DatetimeIndex(result["time"].values).strftime("%Y/%m/%d %H:%M").to_numpy(str)
    flag_var = f"{var}_flag"
    written = []
    for i, sid in enumerate(result["station"].values.astype(str)):
        net_raw, _, st_raw = sid.partition("/")
        if not st_raw:
            net_raw, st_raw = str(_coord(result, "network", i, "SMLIB")), net_raw
        net, st = ismn_name(net_raw), ismn_name(st_raw)
        if (net, st) != (net_raw, st_raw):
            log.info(
                "station %s written as %s/%s (ISMN file names are '_'-separated)", sid, net, st
            )
        sensor = ismn_name(_coord(result, "sensor", i, "unknown")) or "unknown"
        dfrom, dto, known = _depths(
            _coord(result, "depth_from", i, np.nan), _coord(result, "depth_to", i, np.nan)
        )
        if not known:
            log.info(
                "station %s: sensor depth unknown (flux towers do not state it); written as "
                "%.2f-%.2f m", sid, *UNKNOWN_DEPTH_M,
            )  # fmt: skip
        header = _header(
            net, st, _coord(result, "lat", i, np.nan), _coord(result, "lon", i, np.nan),
            _coord(result, "elevation", i, np.nan), dfrom, dto, sensor,
        )  # fmt: skip
        folder = root / net / st
        folder.mkdir(parents=True, exist_ok=True)
        _write_static_variables(folder, net, st, ((net_raw, st_raw), (net, st)), static_sources)
        sm = result[var].values[i]
        flags = (
            result[flag_var].values[i].astype(int)
            if flag_var in result
            else np.zeros(sm.shape, dtype=int)
        )
        series = [("sm", sm, flags, 4)]
        if f"{var}_uncertainty" in result:  # the per-hour sigma of the correction, m3 m-3
            series.append((UNCERTAINTY_CODE, result[f"{var}_uncertainty"].values[i], flags, 5))
        if "ts" in result:
            ts = result["ts"].values[i]
            series.append(("ts", ts, np.full(ts.shape, "M"), 2))
        for name, values, flg, decimals in series:
            ok = np.isfinite(values)
            if not ok.any():
                log.info("station %s: no %s value to write", sid, name)
                continue
            t = result["time"].values[ok]
            path = folder / _file_name(net, st, name, dfrom, dto, sensor, t[0], t[-1])
            text = stm_text(header, stamps[ok], values[ok], flg[ok], decimals)
            with atomic_path(path) as tmp:
                tmp.write_text(text)
            written.append(path)
    return written


def _readme(model_run: str | None, methods: tuple[str, ...], method: str) -> str:
    from smlib.method.correct import FLAG_MEANINGS

    legend = "\n".join(f"  {k}  {v}" for k, v in FLAG_MEANINGS.items())
    return f"""Diurnally corrected in-situ soil moisture, ISMN Header+values layout
=====================================================================

Written by smlib {__version__} (smlib correct --format ismn).
Model run: {model_run or "none (Fourier baseline only)"}
Methods computed: {", ".join(methods)}; the sm files hold sm_{method}.

Every station folder holds a static_variables.csv: the input download's where it had one,
otherwise a minimal one (land cover, climate and soil properties unknown). Stations whose
sensor depth the input did not state (flux towers: FLUXNET2015 SWC_F_MDS_1, AmeriFlux
SWC_1_1_1) are written at {UNKNOWN_DEPTH_M[0]:.2f}-{UNKNOWN_DEPTH_M[1]:.2f} m, ISMN's surface layer.

Every .stm file reads with the ismn package (ismn.interface.ISMN_Interface) as an ISMN
download. sm files: corrected soil moisture (m3 m-3, 4 decimals); {UNCERTAINTY_CODE} files (where
the product carries one): the standard uncertainty (1 sigma) of each hour's diurnal correction
(m3 m-3, 5 decimals; a 90 % interval is +-1.645 sigma), with the sm files' correction flags;
ts files: soil temperature as measured (degC). Times are UTC, hourly; hours without a value are not written.

Columns: date time value ISMN_flag correction_flag
  ISMN_flag is G for every value (the input kept ISMN 'G' values only).
  correction_flag (read by ismn as soil_moisture_orig_flag) on sm lines:
{legend}
  and M (measured) on ts lines.
"""


class IsmnTreeStore:
    """Block store of :func:`smlib.ops.archive.correct_archive` for ``--format ismn``.

    ``coords`` (the cube's coordinates) is accepted for the common store signature; station
    metadata come with each block's result. Station files of a block are written atomically, then a marker
    ``.smlib_archive/block_<k>.done``; on completion the marker folder is removed, the
    README written and the tree moved from ``<out>.partial`` to ``<out>``.
    """

    suffix = ".partial"

    def __init__(
        self,
        out: Path,
        coords: xr.Dataset,
        blocks,
        signature: str,
        model_run: str | None,
        methods: tuple[str, ...],
    ) -> None:
        self.out = out
        self.partial = out.with_name(out.name + self.suffix)
        self.blocks = blocks
        self.model_run = model_run
        self.methods = tuple(methods)
        self.method = "lstm" if "lstm" in self.methods else "fft"
        # the input download's static variables, copied into the tree (coords carries the
        # cube's ismn_path attribute)
        self.static_sources = find_static_variables(coords.attrs.get("ismn_path"))
        marks = self.partial / _MARKERS
        sig_file = marks / "signature"
        if self.partial.exists():
            found = sig_file.read_text().strip() if sig_file.exists() else None
            if found != signature:
                raise ValueError(
                    f"{self.partial} was started by a correction with other settings (cube, "
                    "model, methods or block size); finish it with the same command, or delete "
                    "it to start afresh"
                )
        else:
            marks.mkdir(parents=True)
            atomic_write_text(sig_file, signature + "\n")

    def written(self) -> set[int]:
        marks = self.partial / _MARKERS
        return {int(p.stem.split("_")[1]) for p in marks.glob("block_*.done")}

    def write(self, k: int, result: xr.Dataset) -> None:
        s0, s1 = self.blocks[k]
        write_station_files(self.partial, result, self.method, self.static_sources)
        atomic_write_text(self.partial / _MARKERS / f"block_{k:06d}.done", f"{s0} {s1}\n")

    def finalize(self) -> Path:
        readme = _readme(self.model_run, self.methods, self.method)
        atomic_write_text(self.partial / "README.txt", readme)
        shutil.rmtree(self.partial / _MARKERS)
        os.replace(self.partial, self.out)
        return self.out
