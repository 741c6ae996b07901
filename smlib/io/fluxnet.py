"""Flux-tower files -> hourly UTC series: FLUXNET2015, AmeriFlux BASE and ICOS (FLUXNET layout).

Recognised files (by name):

* ``FLX_<SITE>_FLUXNET2015_FULLSET_HH_<y1>-<y2>_<v>.csv`` (or ``_HR_``): ``TIMESTAMP_START``,
  ``LE_F_MDS`` (W m-2), ``SWC_F_MDS_1`` (%), ``TS_F_MDS_1`` (degC), ``P_F`` (mm per step).
* ``AMF_<SITE>_BASE_HH_<v>.csv`` (or ``_HR_``): two ``#`` lines, then ``TIMESTAMP_START``,
  ``LE``, ``SWC_1_1_1`` or ``SWC`` (%), ``TS_1_1_1`` or ``TS``, ``P``.
* ``ICOSETC_<SITE>_FLUXNET_HH_<v>.csv`` (or ``_HR_``): ICOS in the FLUXNET layout.

``-9999`` is missing everywhere, and so are records left out of the file (a jump of a whole
number of steps between time stamps; logged); any other step refuses the file. Time stamps
are local *standard* time; UTC = local - offset, with the offset from the site list
(``UTC_OFFSET``) or, where absent, ``round(lon / 15)``. Each hour is stamped at its end
(UTC), matching the reanalysis fluxes in :mod:`smlib.io.reanalysis`.

Half-hourly records become hourly from the two half-hours starting at ``hh:00`` and ``hh:30``
(:data:`HALF_HOURS_NEEDED`):

* **SWC and TS** (states) are averaged; when one half is missing the hour takes the other.
  Soil states change little within 30 min (a diurnal TS wave of amplitude ``A`` moves by at
  most ``A * 2 * pi / 48`` ~ 0.13 ``A`` in half an hour, SWC far less), while one missing half
  is common in real files: scattered logger dropouts, and soil sensors logged hourly into an
  HH file (a value at ``:00``, ``-9999`` at ``:30``). Requiring both halves turned such a
  tower's record into scattered hours, and the 24-h SM low-frequency part and the 18-h input
  windows of the correction need runs of complete hours, so the network corrected only a
  small share of the tower's hours.
* **LE** is averaged, and one available half also stands for the hour: it is an unbiased but
  noisier estimate of the hourly mean (the eddy-covariance random error of one half-hour,
  about 10-20 % of LE, grows by sqrt(2); the within-hour trend adds at most a quarter of the
  hourly change, ~20 W m-2 in the morning rise, with either sign). The coupling uses a
  tower's days with all 24 hours of SM and LH (the complete-day rule of
  :mod:`smlib.data.ingest`), so an LE hour lost to one missing half would cost a whole day.
* **P** is a sum: the hour needs both halves (one half is not the hour's rain).

SWC below 0 % (a dry probe's offset or temperature artefact) is set missing value by value,
counted and logged, as ISMN flags such values ``C01`` (refusing the file cost the whole tower:
three of five in the skill benchmark's arid twin). SWC above 100 % is set missing and logged
when at most :data:`MAX_OUT_OF_RANGE_SHARE` of the file's values; more refuse the file (percent
read as something else), naming the first line.

Soil temperature is read from the first column, in the order of :data:`COLUMN_CANDIDATES`
and then of the FLUXNET / AmeriFlux depth index, that holds any value: ``TS_F_MDS_1`` (or
``TS_1_1_1``) first, then the same depth at another position (``TS_2_1_1``), then deeper
sensors (``TS_F_MDS_2``, ``TS_1_2_1``). A deeper or other-position column is logged as a
warning (a deeper sensor's diurnal cycle is damped and late) and recorded in
``TowerSeries.ts_column``. Soil moisture falls back only to the same depth (``SWC_F_MDS_1``,
``SWC_1_1_1``, ``SWC_<h>_1_<r>``): the correction is for the sensor near the surface.

Sources are merged per site by priority: FLUXNET2015 wins wherever it has records; AmeriFlux
and ICOS only extend it before its first or after its last time stamp.

Local solar time and the hemispheric warm season for composites are in
:mod:`smlib.timeutils` (:func:`~smlib.timeutils.local_solar_hour`,
:func:`~smlib.timeutils.warm_season_mask`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from smlib.io.errors import InputError, SkippedInput, check_on_error, skip_or_raise

__all__ = [
    "COLUMN_CANDIDATES",
    "HALF_HOURS_NEEDED",
    "MAX_OUT_OF_RANGE_SHARE",
    "TowerSeries",
    "read_site_list",
    "read_tower_file",
    "half_hours_to_hours",
    "read_fluxnet",
    "SOURCE_PRIORITY",
]

logger = logging.getLogger(__name__)

_MISSING = -9999.0
_UNITS = {"sm": "m3 m-3", "ts": "degC", "lh": "W m-2", "precip": "mm h-1"}
_FILE = re.compile(
    r"^(?P<src>FLX|AMF|ICOSETC)_(?P<site>[A-Za-z]{2}-[A-Za-z0-9]{3})_.*?_(?P<res>HH|HR)_.*\.csv$"
)
#: Lower number = higher priority when sources overlap.
SOURCE_PRIORITY: dict[str, int] = {"FLX": 0, "AMF": 1, "ICOSETC": 1}
_SOURCE_NAME = {"FLX": "FLUXNET2015", "AMF": "AmeriFlux BASE", "ICOSETC": "ICOS"}

#: Cube quantity -> candidate columns in order of preference, per source family; after them,
#: the columns that :func:`_depth_candidates` finds by the FLUXNET / AmeriFlux naming rules.
COLUMN_CANDIDATES: dict[str, dict[str, list[str]]] = {
    "fluxnet": {
        "lh": ["LE_F_MDS", "LE"],
        "sm": ["SWC_F_MDS_1", "SWC_1_1_1", "SWC_1", "SWC"],
        "ts": ["TS_F_MDS_1", "TS_1_1_1", "TS_1", "TS"],
        "precip": ["P_F", "P"],
    },
    "ameriflux": {
        "lh": ["LE", "LE_1_1_1", "LE_PI_F"],
        "sm": ["SWC_1_1_1", "SWC_1", "SWC", "SWC_PI_F_1_1_1", "SWC_F_MDS_1"],
        "ts": ["TS_1_1_1", "TS_1", "TS", "TS_PI_F_1_1_1", "TS_F_MDS_1"],
        "precip": ["P", "P_1_1_1", "P_PI_F"],
    },
}
_COLUMNS = COLUMN_CANDIDATES

#: Largest share of a file's SWC values that may lie outside 0..100 % (they are set missing
#: and logged: a dielectric probe in dry soil reads a little below zero now and then); above
#: it the file is refused (a unit mix-up, not a few bad readings).
MAX_OUT_OF_RANGE_SHARE = 0.01

#: Half-hours (of 2) an hour needs per quantity; see the module docstring for why.
HALF_HOURS_NEEDED: dict[str, int] = {"sm": 1, "ts": 1, "lh": 1, "precip": 2}

_QUALIFIER = r"(?:_PI)?(?:_F)?"
_SAME_DEPTH = {
    # another horizontal position or replicate at the shallowest depth index
    q: re.compile(rf"^{q.upper()}{_QUALIFIER}_(\d+)_1_(\d+)$")
    for q in ("swc", "ts")
}
_DEEPER = {
    "ts": [
        re.compile(r"^TS_F_MDS_(\d+)$"),  # FLUXNET2015: index 1 = shallowest
        re.compile(rf"^TS{_QUALIFIER}_(\d+)_(\d+)_(\d+)$"),  # AmeriFlux H_V_R
    ],
}


@dataclass
class TowerSeries:
    """Hourly UTC series of one tower site.

    Attributes
    ----------
    site : str
        FLUXNET site id (``US-CRT``); the cube id is ``FLUXNET/<site>``.
    lat, lon, elevation : float
        Degrees north, degrees east, metres (NaN when the site list has none).
    data : pandas.DataFrame
        Hourly UTC index (end of hour); columns ``sm`` (m3 m-3), ``ts`` (degC), ``lh``
        (W m-2, positive upward), ``precip`` (mm h-1).
    sm_column : str
        Source column of soil moisture (recorded as the cube's ``sensor``).
    sources : list of str
        Files merged, highest priority first.
    ts_column : str
        Source column of soil temperature in the highest-priority file ("" when none).
    sm_out_of_range : int
        SWC values outside 0..100 % set missing in the merged files.
    """

    site: str
    lat: float
    lon: float
    elevation: float
    data: pd.DataFrame
    sm_column: str
    sources: list[str]
    ts_column: str = ""
    sm_out_of_range: int = 0

    def to_xarray(self) -> xr.Dataset:
        """The hourly series as a ``Dataset`` on ``time`` with units and site attributes."""
        ds = xr.Dataset.from_dataframe(self.data.rename_axis("time"))
        for v, u in _UNITS.items():
            if v in ds:
                ds[v].attrs["units"] = u
        ds.attrs.update(site=self.site, lat=self.lat, lon=self.lon, sources=", ".join(self.sources))
        return ds


def read_site_list(path: str | Path) -> pd.DataFrame:
    """Read a site-list CSV (``SITE_ID``, ``LOCATION_LAT``, ``LOCATION_LONG``, [``UTC_OFFSET``]).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``SITE_ID`` with ``lat``, ``lon``, ``elevation`` (NaN if absent) and
        ``utc_offset`` (hours; from ``round(lon / 15)`` where missing).
    """
    df = pd.read_csv(path, comment="#")
    need = {"SITE_ID", "LOCATION_LAT", "LOCATION_LONG"}
    if not need <= set(df.columns):
        raise ValueError(f"{path}: site list needs columns {sorted(need)}, has {list(df.columns)}")
    out = pd.DataFrame(
        {
            "lat": pd.to_numeric(df["LOCATION_LAT"], errors="coerce").to_numpy(),
            "lon": pd.to_numeric(df["LOCATION_LONG"], errors="coerce").to_numpy(),
            "elevation": np.asarray(
                pd.to_numeric(df.get("LOCATION_ELEV", np.nan), errors="coerce"), dtype=float
            )
            * np.ones(len(df)),
        },
        index=pd.Index(df["SITE_ID"].astype(str).str.strip(), name="SITE_ID"),
    )
    bad = out.index[out["lat"].isna() | out["lon"].isna()]
    if len(bad):
        raise ValueError(f"{path}: sites without numeric coordinates: {list(bad)}")
    offset = pd.to_numeric(df.get("UTC_OFFSET", np.nan), errors="coerce")
    offset = np.asarray(offset, dtype=float) * np.ones(len(df))
    fallback = np.rint(out["lon"].to_numpy() / 15.0)
    out["utc_offset"] = np.where(np.isnan(offset), fallback, offset)
    if out.index.duplicated().any():
        raise ValueError(f"{path}: duplicated SITE_ID {list(out.index[out.index.duplicated()])}")
    return out


def _find_site_list(folder: Path) -> Path | None:
    for f in sorted(folder.rglob("*.csv")):
        if _FILE.match(f.name):
            continue
        with open(f, encoding="utf-8", errors="replace") as fh:
            head = fh.readline()
        if "SITE_ID" in head and "LOCATION_LAT" in head:
            return f
    return None


def _depth_candidates(columns: Iterable[str], quantity: str, family: str) -> list[str]:
    """Present columns that may hold ``quantity``, in order of preference.

    The family's named candidates first, then (SWC, TS) the shallowest depth at other
    positions / replicates, then (TS only) deeper sensors, shallowest first.
    """
    cols = list(columns)
    out = [c for c in COLUMN_CANDIDATES[family][quantity] if c in cols]
    key = {"sm": "swc", "ts": "ts"}.get(quantity)
    if key is None:
        return out
    same = [(tuple(map(int, m.groups())), c) for c in cols if (m := _SAME_DEPTH[key].match(c))]
    out += [c for _, c in sorted(same) if c not in out]
    deeper: list[tuple[tuple[int, ...], str]] = []
    for pattern in _DEEPER.get(key, []):
        for c in cols:
            m = pattern.match(c)
            if not m or c in out:
                continue
            g = tuple(map(int, m.groups()))
            depth = g[0] if len(g) == 1 else g[1]
            if depth >= 2:
                deeper.append(((depth, *g), c))
    out += [c for _, c in sorted(deeper)]
    return out


def _pick(df: pd.DataFrame, quantity: str, family: str, path: Path) -> str | None:
    """The first candidate column of ``quantity`` holding any value (else the first present)."""
    candidates = _depth_candidates(df.columns, quantity, family)
    if not candidates:
        return None
    chosen = next(
        (c for c in candidates if pd.to_numeric(df[c], errors="coerce").notna().any()),
        candidates[0],
    )
    first = COLUMN_CANDIDATES[family][quantity][0]
    if quantity in ("sm", "ts") and chosen not in COLUMN_CANDIDATES[family][quantity]:
        deeper = quantity == "ts" and not _SAME_DEPTH["ts"].match(chosen)
        logger.warning(
            "%s: %s from %s (%s%s)",
            path.name,
            "soil temperature" if quantity == "ts" else "soil moisture",
            chosen,
            f"{first} absent or empty",
            "; a deeper sensor: its diurnal cycle is damped and late" if deeper else "",
        )
    elif chosen != candidates[0]:
        logger.info("%s: %s from %s (%s empty)", path.name, quantity, chosen, candidates[0])
    return chosen


def read_tower_file(path: str | Path, utc_offset: float) -> tuple[pd.DataFrame, str]:
    """Read one tower CSV into hourly UTC series.

    Parameters
    ----------
    path : str or Path
        A FLUXNET2015, AmeriFlux BASE or ICOS file (recognised by name, see module docs).
    utc_offset : float
        Hours of local standard time ahead of UTC.

    Returns
    -------
    pandas.DataFrame
        Hourly, indexed by the UTC end of each hour; ``sm`` (m3 m-3), ``ts`` (degC),
        ``lh`` (W m-2), ``precip`` (mm h-1); NaN where missing.
    str
        Source column of soil moisture.
    """
    path = Path(path)
    m = _FILE.match(path.name)
    if m is None:
        raise ValueError(f"{path}: not a FLUXNET2015/AmeriFlux/ICOS file name")
    family = "ameriflux" if m["src"] == "AMF" else "fluxnet"
    df = pd.read_csv(path, comment="#", na_values=[_MISSING, "-9999"], low_memory=False)
    if "TIMESTAMP_START" not in df.columns:
        raise ValueError(f"{path}: no TIMESTAMP_START column")
    cols = {q: _pick(df, q, family, path) for q in COLUMN_CANDIDATES[family]}
    if cols["sm"] is None or cols["lh"] is None:
        raise ValueError(
            f"{path}: needs soil moisture ({COLUMN_CANDIDATES[family]['sm']}) and latent heat "
            f"({COLUMN_CANDIDATES[family]['lh']}) columns"
        )
    if cols["ts"] is None:
        logger.warning(
            "%s: no soil temperature column (%s, other positions or depths): the network "
            "cannot correct this tower", path.name, COLUMN_CANDIDATES[family]["ts"],
        )  # fmt: skip
    stamp = pd.to_datetime(
        df["TIMESTAMP_START"].astype("string"), format="%Y%m%d%H%M", errors="coerce"
    )
    bad = np.flatnonzero(stamp.isna().to_numpy())
    if bad.size:
        n_comment = sum(1 for _ in _leading_comments(path))
        raise ValueError(
            f"{path}:{bad[0] + n_comment + 2}: cannot parse TIMESTAMP_START "
            f"{df['TIMESTAMP_START'].iloc[bad[0]]!r}"
        )
    t = stamp.to_numpy(dtype="datetime64[ns]")
    step = np.diff(t)
    if (step <= np.timedelta64(0, "ns")).any():
        k = int(np.flatnonzero(step <= np.timedelta64(0, "ns"))[0]) + 1
        n_comment = sum(1 for _ in _leading_comments(path))
        raise ValueError(f"{path}:{k + n_comment + 2}: duplicated or unordered TIMESTAMP_START")
    expected = np.timedelta64(30 if m["res"] == "HH" else 60, "m")
    if t.size > 1 and (step % expected != np.timedelta64(0, "ns")).any():
        k = int(np.flatnonzero(step % expected != np.timedelta64(0, "ns"))[0]) + 1
        n_comment = sum(1 for _ in _leading_comments(path))
        raise ValueError(
            f"{path}:{k + n_comment + 2}: step of {step[k - 1].astype('timedelta64[m]')} in a "
            f"{m['res']} file (expected {expected})"
        )
    values = pd.DataFrame(
        {q: pd.to_numeric(df[c], errors="coerce") if c else np.nan for q, c in cols.items()}
    )
    values.index = pd.DatetimeIndex(t)
    values["sm"] = values["sm"] / 100.0  # SWC is in percent in every family
    above = (values["sm"] > 1.0).to_numpy()
    if above.any():
        k = int(np.flatnonzero(above)[0])
        n_comment = sum(1 for _ in _leading_comments(path))
        first = (
            f"SWC {100 * values['sm'].iloc[k]:g} % outside the possible range 0..100 % "
            f"at {values.index[k]}"
        )
        n_bad, n_finite = int(above.sum()), int(values["sm"].notna().sum())
        if n_bad > MAX_OUT_OF_RANGE_SHARE * n_finite:
            raise InputError(
                str(path),
                f"{first} ({n_bad} of {n_finite} SWC values; not percent?)",
                line=k + n_comment + 2,
            )
        logger.warning(
            "%s: %d of %d SWC values above 100 %% set missing (first, line %d: %s)",
            path.name, n_bad, n_finite, k + n_comment + 2, first,
        )  # fmt: skip
        values.loc[above, "sm"] = np.nan
    below = (values["sm"] < 0.0).to_numpy()
    if below.any():  # a dry probe's offset or artefact: dropped per value, as ISMN's C01 flag
        k = int(np.flatnonzero(below)[0])
        n_comment = sum(1 for _ in _leading_comments(path))
        logger.warning(
            "%s: %d SWC value(s) below 0 %% set missing (first %g %% on line %d, at %s; "
            "ISMN flags such values C01 and smlib drops them there too)",
            path, int(below.sum()), 100 * values["sm"].iloc[k], k + n_comment + 2,
            values.index[k],
        )  # fmt: skip
        values.loc[below, "sm"] = np.nan
    n_out = int(above.sum() + below.sum())
    if t.size > 1 and (step > expected).any():  # records left out: their times are missing
        k = int(np.flatnonzero(step > expected)[0]) + 1
        n_comment = sum(1 for _ in _leading_comments(path))
        grid = pd.date_range(t[0], t[-1], freq=pd.Timedelta(expected))
        logger.warning(
            "%s: %d records absent between the time stamps (the first gap before line %d); "
            "those %s are missing", path.name, len(grid) - t.size, k + n_comment + 2,
            "half-hours" if m["res"] == "HH" else "hours",
        )  # fmt: skip
        values = values.reindex(grid)
    if m["res"] == "HH":
        values = half_hours_to_hours(values)
    end_utc = values.index + pd.Timedelta(hours=1) - pd.Timedelta(hours=float(utc_offset))
    values.index = pd.DatetimeIndex(end_utc, name="time")
    values = values.astype("float64")
    values.attrs["columns"] = {q: c for q, c in cols.items() if c}
    values.attrs["sm_out_of_range"] = n_out
    return values, str(cols["sm"])


def half_hours_to_hours(values: pd.DataFrame) -> pd.DataFrame:
    """Hourly values from half-hourly ones by the rules of :data:`HALF_HOURS_NEEDED`.

    Parameters
    ----------
    values : pandas.DataFrame
        Indexed by the half-hours' start times; columns ``sm``, ``ts``, ``lh`` (means) and
        ``precip`` (a sum), NaN where missing.

    Returns
    -------
    pandas.DataFrame
        Indexed by the hours' start times: the mean (``precip``: the sum) of the available
        half-hours, NaN where fewer than ``HALF_HOURS_NEEDED[column]`` are available.

    Examples
    --------
    >>> t = pd.date_range("2020-01-01", periods=4, freq="30min")
    >>> hh = pd.DataFrame({"sm": [0.2, np.nan, 0.3, 0.3], "precip": [1.0, np.nan, 0.5, 0.5]},
    ...                   index=t)
    >>> half_hours_to_hours(hh).to_numpy().tolist()
    [[0.2, nan], [0.3, 1.0]]
    """
    grouped = values.groupby(values.index.floor("h"))
    count = grouped.count()
    means = grouped.mean()
    out = means.copy()
    for q in values.columns:
        need = HALF_HOURS_NEEDED.get(q, 2)
        agg = grouped[q].sum(min_count=need) if q == "precip" else means[q]
        out[q] = agg.where(count[q] >= need)
    return out


def _read_named(path: Path, utc_offset: float) -> tuple[pd.DataFrame, str]:
    """:func:`read_tower_file`, with every failure as an :class:`InputError` naming the file."""
    try:
        return read_tower_file(path, utc_offset)
    except InputError:
        raise
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError) as err:
        text = " ".join(str(err).split())
        if text.startswith(str(path)):
            text = text[len(str(path)) :].lstrip(": ")
        m = re.match(r"^(\d+): (.*)$", text)
        if m:
            raise InputError(str(path), m[2], line=int(m[1])) from err
        raise InputError(str(path), text or type(err).__name__) from err


def _leading_comments(path: Path):
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if not line.startswith("#"):
                return
            yield line


def read_fluxnet(
    paths: str | Path | Iterable[str | Path],
    site_list: str | Path | None = None,
    *,
    on_error: str = "raise",
    skipped: list[SkippedInput] | None = None,
) -> list[TowerSeries]:
    """Read and merge every tower file under one or more folders.

    Parameters
    ----------
    paths : path or iterable of paths
        Folders (searched recursively) or single files.
    site_list : path, optional
        Site-list CSV; by default the first CSV with ``SITE_ID`` and ``LOCATION_LAT`` columns
        found in the given folders.
    on_error : {"raise", "skip"}
        What a tower file that cannot be read does; under ``"skip"`` its whole site is left
        out and recorded in ``skipped``.
    skipped : list of SkippedInput, optional
        Receives the skipped files.

    Returns
    -------
    list of TowerSeries
        One per site, sorted by site id; FLUXNET2015 wins over AmeriFlux and ICOS where they
        overlap, and those only extend it in time.
    """
    check_on_error(on_error)
    skipped = [] if skipped is None else skipped
    if isinstance(paths, (str, Path)):
        paths = [paths]
    files: list[Path] = []
    sites_path = Path(site_list) if site_list else None
    for p in map(Path, paths):
        if p.is_dir():
            files += sorted(f for f in p.rglob("*.csv") if _FILE.match(f.name))
            if sites_path is None:
                sites_path = _find_site_list(p)
        elif p.is_file():
            files.append(p)
            if sites_path is None:
                sites_path = _find_site_list(p.parent)
        else:
            raise FileNotFoundError(f"flux-tower path {p} does not exist")
    if not files:
        raise ValueError(f"no FLUXNET2015/AmeriFlux/ICOS files under {[str(p) for p in paths]}")
    if sites_path is None:
        raise ValueError("no site-list CSV (SITE_ID, LOCATION_LAT, LOCATION_LONG) found or given")
    sites = read_site_list(sites_path)
    by_site: dict[str, list[tuple[int, Path]]] = {}
    for f in files:
        m = _FILE.match(f.name)
        by_site.setdefault(m["site"], []).append((SOURCE_PRIORITY[m["src"]], f))
    out = []
    for site in sorted(by_site):
        if site not in sites.index:
            logger.warning("tower %s skipped: not in site list %s", site, sites_path)
            continue
        info = sites.loc[site]
        merged: pd.DataFrame | None = None
        sm_col = ts_col = ""
        used = []
        try:
            parts = [
                (f, *_read_named(f, info["utc_offset"]))
                for _, f in sorted(by_site[site], key=lambda x: (x[0], str(x[1])))
            ]
        except InputError as err:
            skip_or_raise(err, err.file, on_error, skipped, station=f"FLUXNET/{site}",
                          source="fluxnet")  # fmt: skip
            continue
        for f, df, col in parts:
            if merged is None:
                merged, sm_col = df, col
                ts_col = df.attrs.get("columns", {}).get("ts", "")
            else:
                extend = df[(df.index < merged.index[0]) | (df.index > merged.index[-1])]
                if len(extend) < len(df):
                    logger.info(
                        "%s: %d overlapping hours of %s ignored (higher-priority source wins)",
                        site,
                        len(df) - len(extend),
                        f.name,
                    )
                merged = pd.concat([merged, extend]).sort_index()
            used.append(str(f))
        out.append(
            TowerSeries(
                site=site,
                lat=float(info["lat"]),
                lon=float(info["lon"]),
                elevation=float(info["elevation"]),
                data=merged,
                sm_column=sm_col,
                sources=used,
                ts_column=ts_col,
                sm_out_of_range=sum(df.attrs.get("sm_out_of_range", 0) for _, df, _ in parts),
            )
        )
    return out
