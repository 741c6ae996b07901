"""ERA5-Land and MERRA-2 (M2T1NXLND) files -> hourly series at stations.

Both products arrive as NetCDF (or, for ERA5-Land, GRIB) subsets, one file per lat/lon box
and often per month. A *path* is one file or a folder of ``*.nc``/``*.nc4``/``*.grib`` files.
Files with identical grids are joined along time; each station then takes the nearest land
cell of a box that contains it (cell centres +- half a grid step), and its series joins every
file that holds that cell -- the boxes of neighbouring stations, per-month global files and
mixtures of the two. A station no box contains is reported and left NaN, never filled from a
distant cell.

Overlap rule (:func:`merge_records`)
------------------------------------
Where files hold the same cell and hour, identical records (within the packing quantum of
either file and a relative 1e-6) merge and a missing value is filled from the other file.
Records that differ stop with one line naming both files, the cell, the variable and the first
differing time: no file wins silently. ERA5-Land accumulations are joined *before* they are
de-accumulated, so no hour is lost at the seam of two files. A file that cannot be read
(truncated download, missing variable, unknown units) is an
:class:`~smlib.io.errors.InputError`, or a recorded skip with ``on_error="skip"``.

Time conventions on the cube's hourly UTC axis
----------------------------------------------
* State variables of ERA5-Land (``swvl1``, ``stl1``) are instantaneous at the stamp.
* ERA5-Land fluxes (``slhf`` J m-2, ``tp`` m) are accumulated from 00 UTC: the value at
  ``hh:00`` holds the total from 00 UTC to ``hh:00``, and the value at 00 UTC holds the whole
  previous day. The hourly amount ending at ``t`` is therefore

  .. math::

      F(t) = \\begin{cases} A(t) & \\text{if } t \\text{ is 01 UTC} \\\\
                             A(t) - A(t - 1\\,\\mathrm{h}) & \\text{otherwise} \\end{cases}

  and is stamped at the *end* of its hour (``t``). It is NaN when ``A(t - 1 h)`` is missing.
* MERRA-2 ``tavg1`` fields are means over ``hh:00``-``hh+1:00`` stamped ``hh:30``; they are
  stamped at the end of their hour, ``hh+1:00``, like the ERA5-Land fluxes, so that every
  flux in the cube is the mean of the hour that ends at its time stamp.

Units (read from the ``units`` attribute, converted, unknown units are an error)
------------------------------------------------------------------------------
``sm`` m3 m-3, ``ts`` degC, ``lh`` W m-2 positive upward (``slhf`` is negative upward:
:math:`LH = -F_{slhf} / 3600\\,\\mathrm{s}`), ``precip`` mm h-1
(:math:`P = 1000\\,F_{tp}` from m, :math:`3600\\,P_{flux}` from kg m-2 s-1).
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from smlib.errors import damaged_netcdf
from smlib.io.errors import InputError, SkippedInput, check_on_error, skip_or_raise
from smlib.progress import progress_bar

__all__ = [
    "Box",
    "merge_records",
    "open_reanalysis_file",
    "stack_forecast_steps",
    "ERA5_LAND_VARIABLES",
    "MERRA2_VARIABLES",
    "deaccumulate",
    "open_era5_land",
    "open_merra2",
    "sample_at_stations",
    "era5_land_at_stations",
    "merra2_at_stations",
]

logger = logging.getLogger(__name__)

#: ERA5-Land source variable -> cube quantity.
ERA5_LAND_VARIABLES: dict[str, str] = {"swvl1": "sm", "stl1": "ts", "slhf": "lh", "tp": "precip"}
#: MERRA-2 M2T1NXLND source variable -> cube quantity.
MERRA2_VARIABLES: dict[str, str] = {
    "SFMC": "sm",
    "TSOIL1": "ts",
    "LHLAND": "lh",
    "PRECTOTLAND": "precip",
}

_HOUR = np.timedelta64(1, "h")


def _unit_key(units: str) -> str:
    u = units.strip().lower().replace("**", "").replace("^", "").replace("*", " ")
    u = re.sub(r"\s+", " ", u)
    return u.replace("/", " per ")


# cube quantity -> {normalised unit: (scale, offset)} giving the cube unit
_SM_UNITS = {k: (1.0, 0.0) for k in ("m3 m-3", "m-3 m-3", "m3 per m3", "1", "fraction")}
_SM_UNITS.update({"%": (0.01, 0.0), "percent": (0.01, 0.0)})
_TS_UNITS = {"k": (1.0, -273.15), "kelvin": (1.0, -273.15), "degc": (1.0, 0.0), "c": (1.0, 0.0)}
_TS_UNITS["degrees_celsius"] = (1.0, 0.0)
_LH_FLUX_UNITS = {"w m-2": (1.0, 0.0), "w per m2": (1.0, 0.0)}
_P_FLUX_UNITS = {"kg m-2 s-1": (3600.0, 0.0), "mm s-1": (3600.0, 0.0), "mm h-1": (1.0, 0.0)}
_ENERGY_ACC_UNITS = {"j m-2": (1.0, 0.0)}
_DEPTH_ACC_UNITS = {"m": (1000.0, 0.0), "mm": (1.0, 0.0)}


def _convert(da: xr.DataArray, table: dict[str, tuple[float, float]], source: str) -> xr.DataArray:
    units = da.attrs.get("units")
    if units is None:
        raise InputError(source, f"variable {da.name!r} has no 'units' attribute")
    key = _unit_key(str(units))
    if key not in table:
        raise InputError(
            source, f"variable {da.name!r} has units {units!r}; expected one of {sorted(table)}"
        )
    scale, offset = table[key]
    return da.astype("float64") * scale + offset


def deaccumulate(acc: np.ndarray, time: np.ndarray, reset_hour: int = 0) -> np.ndarray:
    """Hourly amounts from a quantity accumulated since ``reset_hour`` UTC.

    Parameters
    ----------
    acc : numpy.ndarray, shape (n_time, ...)
        Accumulated values; ``acc[i]`` is the total from the last reset up to ``time[i]``, and
        the value at the reset hour holds the full previous 24 hours.
    time : numpy.ndarray of datetime64, shape (n_time,)
        Strictly increasing time stamps.
    reset_hour : int
        UTC hour whose *following* stamp starts a new accumulation (0 for ERA5-Land).

    Returns
    -------
    numpy.ndarray, shape (n_time, ...)
        Amount over the hour ending at ``time[i]``; NaN where the previous hour is missing.
    """
    acc = np.asarray(acc, dtype="float64")
    t = np.asarray(time, dtype="datetime64[ns]")
    out = np.full_like(acc, np.nan)
    hour = (t.astype("datetime64[h]") - t.astype("datetime64[D]")).astype(int)
    first = hour == (reset_hour + 1) % 24
    out[first] = acc[first]
    if t.size > 1:
        prev_ok = np.zeros(t.size, dtype=bool)
        prev_ok[1:] = (t[1:] - t[:-1]) == _HOUR
        rest = prev_ok & ~first
        idx = np.flatnonzero(rest)
        out[idx] = acc[idx] - acc[idx - 1]
    return out


_NETCDF = {".nc", ".nc4", ".h5"}
_GRIB = {".grib", ".grb", ".grib1", ".grib2", ".grb2"}


def _files(path: str | Path) -> list[Path]:
    p = Path(path)
    if p.is_dir():
        files = sorted(f for f in p.rglob("*") if f.suffix.lower() in _NETCDF | _GRIB)
        if not files:
            raise FileNotFoundError(f"{p}: folder holds no NetCDF (*.nc, *.nc4) or GRIB files")
        return files
    if p.is_file():
        return [p]
    raise FileNotFoundError(f"reanalysis path {p} does not exist")


def _standardise(ds: xr.Dataset, source: str) -> xr.Dataset:
    """Rename to (time, lat, lon), drop singleton ensemble/expver dims, sort coordinates."""
    ren = {}
    for old, new in (("valid_time", "time"), ("latitude", "lat"), ("longitude", "lon")):
        if old in ds.variables and new not in ds.variables:
            ren[old] = new
    ds = ds.rename(ren)
    if "expver" in ds.dims:
        # older CDS NetCDF mixes final (expver 1) and preliminary (expver 5) data along a
        # dimension, each NaN where the other holds the value: take the first valid one
        ds = ds.bfill("expver").isel(expver=0) if ds.sizes["expver"] > 1 else ds.isel(expver=0)
    if "number" in ds.dims:
        if ds.sizes["number"] != 1:
            raise InputError(
                source, f"ensemble dimension 'number' has size {ds.sizes['number']}, expected 1"
            )
        ds = ds.isel(number=0)
    for dim in ("time", "lat", "lon"):
        if dim not in ds.dims:
            raise InputError(source, f"no {dim!r} dimension (dims: {dict(ds.sizes)})")
    lon = ds["lon"].values
    if np.nanmax(lon) > 180:
        ds = ds.assign_coords(lon=((lon + 180.0) % 360.0) - 180.0)
    return ds.sortby(["lat", "lon"])


def stack_forecast_steps(ds: xr.Dataset) -> xr.Dataset:
    """Put GRIB (``time``, ``step``) fields on one ``time`` axis of valid times.

    CDS GRIB files of ERA5-Land store accumulations as forecasts: ``time`` (the 00 UTC start)
    by ``step`` (1-24 h), valid at ``time + step``; a single field has scalar coordinates.

    Parameters
    ----------
    ds : xarray.Dataset
        As ``cfgrib`` opens it (``time``, ``step``, ``valid_time`` coordinates).

    Returns
    -------
    xarray.Dataset
        With a ``time`` dimension of valid times, sorted; duplicated valid times keep the first.
    """
    if "step" in ds.dims:
        if "time" not in ds.dims:
            ds = ds.expand_dims("time")
        ds = ds.stack(_valid=("time", "step"))
        valid = ds["valid_time"].values if "valid_time" in ds.coords else (
            ds["time"].values + ds["step"].values
        )  # fmt: skip
        ds = ds.drop_vars(["_valid", "time", "step", "valid_time"], errors="ignore")
        ds = ds.assign_coords(_valid=np.asarray(valid, "datetime64[ns]")).rename(_valid="time")
    elif "time" not in ds.dims:
        stamp = ds["valid_time"].values if "valid_time" in ds.coords else ds["time"].values
        ds = ds.drop_vars(["time", "step", "valid_time"], errors="ignore")
        ds = ds.expand_dims(time=[np.datetime64(stamp, "ns")])
    else:
        ds = ds.drop_vars(["step", "valid_time"], errors="ignore")
    ds = ds.transpose("time", ...).sortby("time")
    keep = np.concatenate([[True], ds["time"].values[1:] != ds["time"].values[:-1]])
    return ds.isel(time=np.flatnonzero(keep))


def open_reanalysis_file(path: str | Path) -> xr.Dataset:
    """Open one NetCDF or GRIB (``cfgrib``) reanalysis file as a dataset with a ``time`` axis.

    GRIB files hold several hypercubes (surface fields, soil layers); they are opened one by
    one, soil variables keep their top layer (``depthBelowLandLayer`` 0, the 0-7 cm layer of
    ERA5-Land), forecast steps become valid times (:func:`stack_forecast_steps`) and the
    pieces are merged.

    Raises
    ------
    InputError
        A GRIB file without ``cfgrib`` installed.
    OSError, ValueError
        Unreadable content (the caller turns them into an :class:`InputError`).
    """
    path = Path(path)
    if path.suffix.lower() not in _GRIB:
        return xr.open_dataset(path)
    try:
        import cfgrib
    except ImportError:  # pragma: no cover - cfgrib is a dependency
        raise InputError(str(path), "reading GRIB needs cfgrib (pip install cfgrib)") from None
    pieces = []
    with warnings.catch_warnings():  # cfgrib's own merge warns about xarray's future defaults
        warnings.simplefilter("ignore", FutureWarning)
        parts = cfgrib.open_datasets(str(path), backend_kwargs={"indexpath": ""})
    for part in parts:
        if "depthBelowLandLayer" in part.dims:
            part = part.isel(depthBelowLandLayer=0)
        elif "depthBelowLandLayer" in part.coords and float(part["depthBelowLandLayer"]) != 0.0:
            continue  # a deeper soil layer
        part = part.drop_vars(["depthBelowLandLayer", "surface", "number"], errors="ignore")
        pieces.append(stack_forecast_steps(part).load())
    if not pieces:
        raise InputError(str(path), "GRIB file holds no field")
    return xr.merge(pieces, join="outer", compat="override", combine_attrs="override")


@dataclass
class Box:
    """One lat/lon grid of a reanalysis product, joined over its files.

    Attributes
    ----------
    data : xarray.Dataset
        ``sm``, ``ts``, ``lh``, ``precip`` on (time, lat, lon) in cube units.
    sources : list of str
        The files joined.
    accumulated : xarray.Dataset or None
        ERA5-Land only: ``lh`` (J m-2, positive upward) and ``precip`` (mm) accumulated since
        00 UTC, so that the series of several boxes are joined *before* de-accumulation.
    tolerance : dict of str to float
        Packing quantum of each variable in cube units (0 for unpacked floats): two records
        of one cell and hour that differ by no more than this are identical.
    """

    data: xr.Dataset
    sources: list[str]
    accumulated: xr.Dataset | None = None
    tolerance: dict[str, float] = field(default_factory=dict)

    def contains(self, lat: float, lon: float) -> bool:
        """True if (lat, lon) lies within the box (cell centres +- half a step)."""
        return _within(self.data["lat"].values, lat) and _within(self.data["lon"].values, lon)


def _half_step(axis: np.ndarray) -> float:
    return 0.5 * float(np.median(np.diff(axis))) if axis.size > 1 else 0.5


def _extent(box: Box) -> tuple[float, float, float, float]:
    """``(lat_min, lat_max, lon_min, lon_max)`` of a box, cell centres +- half a step."""
    la, lo = box.data["lat"].values, box.data["lon"].values
    hla, hlo = _half_step(la), _half_step(lo)
    return (la[0] - hla, la[-1] + hla, lo[0] - hlo, lo[-1] + hlo)


def _within(axis: np.ndarray, x: float) -> bool:
    half = _half_step(axis)
    return bool(axis[0] - half <= x <= axis[-1] + half)


_RTOL = 1e-6  # float32 round-off of identical records after unit conversion
_QUANTITIES = ("sm", "ts", "lh", "precip")


def merge_records(
    parts: Sequence[tuple[str, np.ndarray, dict[str, np.ndarray], dict[str, float]]],
    product: str,
    where: Callable[[tuple[int, ...]], str] = lambda idx: "",
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Join the records of several files on the union of their time stamps (the overlap rule).

    Records of one cell and hour that agree -- within the packing quantum of either file plus
    a relative :math:`10^{-6}` -- are merged, and a value missing in one file is taken from the
    other. Records that differ stop the ingest with one line naming both files, the cell, the
    variable and the first differing time: no file silently wins.

    Parameters
    ----------
    parts : sequence of (source, time, values, tolerance)
        ``time``: datetime64, shape (n_t,); ``values``: variable -> array of shape (n_t, ...)
        with the same trailing shape in every part; ``tolerance``: variable -> quantum.
    product : str
        Product name for messages.
    where : callable
        Describes a cell from its index in the trailing dimensions.

    Returns
    -------
    time : numpy.ndarray of datetime64[ns], shape (n_union,)
    values : dict of str to numpy.ndarray of float64, shape (n_union, ...)

    Raises
    ------
    InputError
        Naming both files when two records of one cell and hour differ.
    """
    times = np.unique(np.concatenate([np.asarray(t, "datetime64[ns]") for _, t, _, _ in parts]))
    names = list(parts[0][2])
    out = {v: np.full((times.size, *np.shape(parts[0][2][v])[1:]), np.nan) for v in names}
    owner = np.full(times.size, -1)
    seen_tol = dict.fromkeys(names, 0.0)
    n_dup = 0
    for k, (src, t, vals, tol) in enumerate(parts):
        pos = np.searchsorted(times, np.asarray(t, "datetime64[ns]"))
        n_dup += int((owner[pos] >= 0).sum())
        for v in names:
            a = np.asarray(vals[v], dtype="float64")
            cur = out[v][pos]
            both = np.isfinite(cur) & np.isfinite(a)
            with np.errstate(invalid="ignore"):
                limit = max(seen_tol[v], tol.get(v, 0.0)) + _RTOL * np.maximum(
                    np.abs(cur), np.abs(a)
                )
                bad = both & (np.abs(cur - a) > limit)
            if bad.any():
                i = tuple(int(x) for x in np.argwhere(bad)[0])  # earliest time first
                other = parts[int(owner[pos[i[0]]])][0]
                cell = where(i[1:])
                stamp = np.datetime_as_string(times[pos[i[0]]], unit="m")
                raise InputError(
                    src,
                    f"{product} records differ from {other}{' at ' + cell if cell else ''}: "
                    f"{v} at {stamp} is {a[i]:.6g} here and {cur[i]:.6g} there "
                    "(identical overlaps are merged; remove the wrong file)",
                )
            fill = ~np.isfinite(cur) & np.isfinite(a)
            cur[fill] = a[fill]
            out[v][pos] = cur
            seen_tol[v] = max(seen_tol[v], tol.get(v, 0.0))
        owner[pos[owner[pos] < 0]] = k
    if n_dup:
        logger.info(
            "%s: %d time stamp(s) held by more than one file merged (identical records): %s",
            product,
            n_dup,
            ", ".join(Path(s).name for s, _, _, _ in parts),
        )
    return times, out


def _quantum(da: xr.DataArray, scale: float) -> float:
    """Packing quantum of a variable in converted units (0 when stored unpacked)."""
    q = da.encoding.get("scale_factor")
    return abs(float(q) * scale) if q is not None else 0.0


def _unit_scale(da: xr.DataArray, table: dict[str, tuple[float, float]]) -> float:
    return table.get(_unit_key(str(da.attrs.get("units", ""))), (1.0, 0.0))[0]


def _open_grids(
    path: str | Path,
    product: str,
    convert: Callable[[xr.Dataset, str], tuple[xr.Dataset, dict[str, float]]],
    on_error: str,
    skipped: list[SkippedInput] | None,
    key: str,
) -> list[Box]:
    """Open and convert every file; join the files of each identical grid in time."""
    check_on_error(on_error)
    skipped = [] if skipped is None else skipped
    groups: dict[tuple, list[tuple[str, xr.Dataset, dict[str, float]]]] = {}
    for f in _files(path):
        try:
            try:
                with open_reanalysis_file(f) as raw:
                    ds, tol = convert(_standardise(raw, str(f)), str(f))
                    ds = ds.load()
            except InputError:
                raise
            except (OSError, ValueError, RuntimeError, KeyError, TypeError) as err:
                damaged = damaged_netcdf(f, err)
                if damaged is not None:  # FILE: truncated or damaged NetCDF (...)
                    raise damaged from err
                why = " ".join(str(err).split()) or type(err).__name__
                raise InputError(
                    str(f), f"not a readable {product} NetCDF file (truncated download?): {why}"
                ) from err
        except InputError as err:
            skip_or_raise(err, str(f), on_error, skipped, source=key)
            continue
        gkey = (tuple(np.round(ds["lat"].values, 6)), tuple(np.round(ds["lon"].values, 6)))
        groups.setdefault(gkey, []).append((str(f), ds, tol))
    boxes = []
    for members in groups.values():
        if len(members) == 1:
            src, ds, tol = members[0]
            boxes.append(Box(ds.sortby("time"), [src], tolerance=tol))
            continue
        first = members[0][1]
        la, lo = first["lat"].values, first["lon"].values
        names = list(first.data_vars)
        tol = {v: max(m[2].get(v, 0.0) for m in members) for v in names}
        parts = [
            (src, ds["time"].values, {v: ds[v].values for v in names}, t) for src, ds, t in members
        ]
        t, vals = merge_records(
            parts, product, lambda ij, la=la, lo=lo: f"cell lat {la[ij[0]]:g}, lon {lo[ij[1]]:g}"
        )
        data = xr.Dataset(
            {v: (("time", "lat", "lon"), a) for v, a in vals.items()},
            coords={"time": t, "lat": la, "lon": lo},
        )
        boxes.append(Box(data, [m[0] for m in members], tolerance=tol))
    return boxes


def _era5_convert(ds: xr.Dataset, src: str) -> tuple[xr.Dataset, dict[str, float]]:
    missing = [v for v in ERA5_LAND_VARIABLES if v not in ds.data_vars]
    if missing:
        raise InputError(src, f"ERA5-Land file lacks variable(s) {missing}")
    out = xr.Dataset(
        {
            "sm": _convert(ds["swvl1"], _SM_UNITS, src),
            "ts": _convert(ds["stl1"], _TS_UNITS, src),
            "lh_acc": -_convert(ds["slhf"], _ENERGY_ACC_UNITS, src),
            "precip_acc": _convert(ds["tp"], _DEPTH_ACC_UNITS, src),
        }
    )
    tol = {
        "sm": _quantum(ds["swvl1"], _unit_scale(ds["swvl1"], _SM_UNITS)),
        "ts": _quantum(ds["stl1"], 1.0),
        "lh_acc": _quantum(ds["slhf"], 1.0),
        "precip_acc": _quantum(ds["tp"], _unit_scale(ds["tp"], _DEPTH_ACC_UNITS)),
    }
    return out.transpose("time", "lat", "lon"), tol


def _clean_precip(pr: np.ndarray) -> np.ndarray:
    return np.where(np.abs(pr) < 1e-9, 0.0, pr)  # float noise of the subtraction


def _deaccumulate_box(box: Box) -> Box:
    """ERA5-Land: hourly ``lh`` (W m-2) and ``precip`` (mm h-1); keep the running totals."""
    ds = box.data
    t = ds["time"].values
    dims = ("time", "lat", "lon")
    lh = deaccumulate(ds["lh_acc"].values, t) / 3600.0
    pr = _clean_precip(deaccumulate(ds["precip_acc"].values, t))
    data = xr.Dataset(
        {"sm": ds["sm"], "ts": ds["ts"], "lh": (dims, lh), "precip": (dims, pr)},
        coords={c: ds[c] for c in dims},
    )
    acc = ds[["lh_acc", "precip_acc"]].rename(lh_acc="lh", precip_acc="precip")
    tol = dict(box.tolerance)
    tol["lh"] = tol.pop("lh_acc", 0.0)
    tol["precip"] = tol.pop("precip_acc", 0.0)
    return Box(data, box.sources, accumulated=acc, tolerance=tol)


def open_era5_land(
    path: str | Path, *, on_error: str = "raise", skipped: list[SkippedInput] | None = None
) -> list[Box]:
    """Open ERA5-Land hourly NetCDF (CDS layout) as boxes in cube units.

    Parameters
    ----------
    path : str or Path
        One file or a folder of files with ``valid_time`` (or ``time``), ``latitude``,
        ``longitude`` and ``swvl1`` (m3 m-3), ``stl1`` (K), ``slhf`` (J m-2, accumulated,
        negative upward), ``tp`` (m, accumulated). Files on one grid are joined in time; where
        files overlap, :func:`merge_records` merges identical records and rejects differing
        ones.
    on_error : {"raise", "skip"}
        What an unreadable file (truncated download, missing variable, unknown units) does.
    skipped : list of SkippedInput, optional
        Receives the skipped files.

    Returns
    -------
    list of Box
        Each with ``sm`` (m3 m-3), ``ts`` (degC), ``lh`` (W m-2, positive upward, hour ending at
        the stamp) and ``precip`` (mm h-1, hour ending at the stamp) on (time, lat, lon).
    """
    grids = _open_grids(path, "ERA5-Land", _era5_convert, on_error, skipped, "era5")
    return [_deaccumulate_box(b) for b in grids]


_MERRA2_TABLES = {
    "SFMC": _SM_UNITS,
    "TSOIL1": _TS_UNITS,
    "LHLAND": _LH_FLUX_UNITS,
    "PRECTOTLAND": _P_FLUX_UNITS,
}


def _merra2_convert(ds: xr.Dataset, src: str) -> tuple[xr.Dataset, dict[str, float]]:
    missing = [v for v in MERRA2_VARIABLES if v not in ds.data_vars]
    if missing:
        raise InputError(src, f"MERRA-2 file lacks variable(s) {missing}")
    t = pd.DatetimeIndex(ds["time"].values)
    if not (t.minute == 30).all():
        raise InputError(src, f"MERRA-2 tavg1 time stamps must be at hh:30, found {t[0]}")
    out = xr.Dataset(
        {q: _convert(ds[v], _MERRA2_TABLES[v], src) for v, q in MERRA2_VARIABLES.items()}
    ).assign_coords(time=(t + pd.Timedelta(minutes=30)).to_numpy())
    tol = {
        q: _quantum(ds[v], _unit_scale(ds[v], _MERRA2_TABLES[v]))
        for v, q in MERRA2_VARIABLES.items()
    }
    return out.transpose("time", "lat", "lon"), tol


def open_merra2(
    path: str | Path, *, on_error: str = "raise", skipped: list[SkippedInput] | None = None
) -> list[Box]:
    """Open MERRA-2 M2T1NXLND NetCDF as boxes in cube units, stamped at the end of each hour.

    Parameters
    ----------
    path : str or Path
        One file or a folder with ``time`` (hh:30), ``lat``, ``lon`` and ``SFMC`` (m3 m-3),
        ``TSOIL1`` (K), ``LHLAND`` (W m-2, positive upward), ``PRECTOTLAND`` (kg m-2 s-1).
        Overlapping files follow :func:`merge_records`.
    on_error : {"raise", "skip"}
        What an unreadable file does.
    skipped : list of SkippedInput, optional
        Receives the skipped files.

    Returns
    -------
    list of Box
        ``sm``, ``ts``, ``lh``, ``precip`` (mm h-1) on (time, lat, lon); time = hh:30 + 30 min.
    """
    return _open_grids(path, "MERRA-2", _merra2_convert, on_error, skipped, "merra2")


def _cell_series(holders: list[tuple[Box, int, int]], product: str) -> tuple[np.ndarray, dict]:
    """Hourly series of one cell held by one or more boxes, joined by :func:`merge_records`.

    ERA5-Land running totals are joined first and de-accumulated after, so that no hour is
    lost where one box ends and another begins.
    """
    if len(holders) == 1:
        b, j, k = holders[0]
        cell = b.data.isel(lat=j, lon=k)
        return cell["time"].values, {q: cell[q].values for q in _QUANTITIES}
    accumulated = all(b.accumulated is not None for b, _, _ in holders)
    b0, j0, k0 = holders[0]
    where = f"cell lat {float(b0.data['lat'][j0]):g}, lon {float(b0.data['lon'][k0]):g}"
    states = ("sm", "ts") if accumulated else _QUANTITIES
    parts = []
    for b, j, k in holders:
        cell = b.data.isel(lat=j, lon=k)
        vals = {q: cell[q].values for q in states}
        tol = {q: b.tolerance.get(q, 0.0) for q in states}
        if accumulated:
            acc = b.accumulated.isel(lat=j, lon=k)
            for q in ("lh", "precip"):
                vals[f"{q}_acc"] = acc[q].values
                tol[f"{q}_acc"] = b.tolerance.get(q, 0.0)
        parts.append((",".join(b.sources), cell["time"].values, vals, tol))
    t, vals = merge_records(parts, product, lambda _idx: where)
    if accumulated:
        vals["lh"] = deaccumulate(vals.pop("lh_acc"), t) / 3600.0
        vals["precip"] = _clean_precip(deaccumulate(vals.pop("precip_acc"), t))
    return t, vals


def sample_at_stations(
    boxes: Sequence[Box],
    station: Sequence[str],
    lat: np.ndarray,
    lon: np.ndarray,
    time: np.ndarray,
    prefix: str,
) -> tuple[xr.Dataset, list[str]]:
    """Nearest land cell of a containing box, for every station, on a given time axis.

    Parameters
    ----------
    boxes : sequence of Box
        From :func:`open_era5_land` or :func:`open_merra2`.
    station : sequence of str, shape (n_station,)
        Station ids.
    lat, lon : numpy.ndarray, shape (n_station,)
        Station coordinates in degrees north / east.
    time : numpy.ndarray of datetime64, shape (n_time,)
        Target hourly UTC axis.
    prefix : str
        Output variables are named ``f"{prefix}_sm"`` etc.

    Returns
    -------
    xarray.Dataset
        (station, time) float32 variables ``{prefix}_sm``, ``_ts``, ``_lh``, ``_precip``.
    list of str
        Stations no box contains (left NaN, also logged).
    """
    n_st, n_t = len(station), len(time)
    out = {q: np.full((n_st, n_t), np.nan, dtype="float32") for q in ("sm", "ts", "lh", "precip")}
    uncovered = []
    land_masks = [np.isfinite(b.data["sm"].values).any(axis=0) for b in boxes]
    for b, land in zip(boxes, land_masks, strict=True):
        if not land.any():
            logger.warning(
                "%s: box has no land cell (all soil moisture missing); skipped", b.sources
            )
    target = pd.DatetimeIndex(time)
    product = {"era5": "ERA5-Land", "merra2": "MERRA-2"}.get(prefix, prefix)
    # each box's extent (cell centres +- half a step), for a vectorised search over many boxes
    extent = np.array([_extent(b) for b in boxes]).reshape(-1, 4)
    has_land = np.array([land.any() for land in land_masks], dtype=bool)

    def boxes_at(la: float, lo: float) -> np.ndarray:
        inside = (extent[:, 0] <= la) & (la <= extent[:, 1])
        return np.flatnonzero(inside & (extent[:, 2] <= lo) & (lo <= extent[:, 3]) & has_land)

    for i in progress_bar(range(n_st), desc=f"{prefix} at stations"):
        chosen = None
        for bi in boxes_at(lat[i], lon[i]):
            b, land = boxes[bi], land_masks[bi]
            la, lo = b.data["lat"].values, b.data["lon"].values
            dlat = la[:, None] - lat[i]
            dlon = (lo[None, :] - lon[i]) * np.cos(np.deg2rad(lat[i]))
            d2 = np.where(land, dlat**2 + dlon**2, np.inf)
            j, k = np.unravel_index(int(np.argmin(d2)), d2.shape)
            if chosen is None or d2[j, k] < chosen[0]:
                chosen = (d2[j, k], la[j], lo[k])
        if chosen is None:
            uncovered.append(station[i])
            continue
        # every box that holds this cell (neighbouring stations' boxes, per-month files, ...)
        holders = []
        for bi in boxes_at(chosen[1], chosen[2]):
            b, land = boxes[bi], land_masks[bi]
            j = np.flatnonzero(np.abs(b.data["lat"].values - chosen[1]) < 1e-6)
            k = np.flatnonzero(np.abs(b.data["lon"].values - chosen[2]) < 1e-6)
            if j.size and k.size and land[j[0], k[0]]:
                holders.append((b, int(j[0]), int(k[0])))
        t, vals = _cell_series(holders, product)
        pos = pd.DatetimeIndex(t).get_indexer(target)
        ok = pos >= 0
        for q in out:
            out[q][i, ok] = vals[q][pos[ok]]
    if uncovered:
        logger.warning(
            "%s: %d station(s) lie in no box and stay NaN: %s",
            prefix,
            len(uncovered),
            ", ".join(uncovered[:20]) + (" ..." if len(uncovered) > 20 else ""),
        )
    ds = xr.Dataset(
        {f"{prefix}_{q}": (("station", "time"), v) for q, v in out.items()},
        coords={"station": np.asarray(station, dtype=object), "time": np.asarray(time)},
    )
    return ds, uncovered


def era5_land_at_stations(
    path, station, lat, lon, time, *, on_error: str = "raise", skipped=None
) -> tuple[xr.Dataset, list[str]]:
    """ERA5-Land at stations: :func:`open_era5_land` then :func:`sample_at_stations` (``era5_*``)."""
    boxes = open_era5_land(path, on_error=on_error, skipped=skipped)
    return sample_at_stations(boxes, station, lat, lon, time, "era5")


def merra2_at_stations(
    path, station, lat, lon, time, *, on_error: str = "raise", skipped=None
) -> tuple[xr.Dataset, list[str]]:
    """MERRA-2 at stations: :func:`open_merra2` then :func:`sample_at_stations` (``merra2_*``)."""
    boxes = open_merra2(path, on_error=on_error, skipped=skipped)
    return sample_at_stations(boxes, station, lat, lon, time, "merra2")
