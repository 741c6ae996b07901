"""ERA5-Land and MERRA-2 (M2T1NXLND) files -> hourly series at stations.

Both products arrive as NetCDF subsets, one file per lat/lon box (and often per month). A
*path* is one file or a folder of ``*.nc``/``*.nc4`` files. Files with identical grids are
joined along time; each station then takes the nearest land cell of a box that contains it
(cell centres +- half a grid step). A station no box contains is reported and left NaN,
never filled from a distant cell.

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
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from tqdm import tqdm

__all__ = [
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
        raise ValueError(f"{source}: variable {da.name!r} has no 'units' attribute")
    key = _unit_key(str(units))
    if key not in table:
        raise ValueError(
            f"{source}: variable {da.name!r} has units {units!r}; expected one of {sorted(table)}"
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


def _files(path: str | Path) -> list[Path]:
    p = Path(path)
    if p.is_dir():
        files = sorted(f for f in p.rglob("*") if f.suffix.lower() in {".nc", ".nc4", ".h5"})
        if not files:
            raise FileNotFoundError(f"{p}: folder holds no NetCDF files (*.nc, *.nc4)")
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
            raise ValueError(
                f"{source}: ensemble dimension 'number' has size {ds.sizes['number']}, expected 1"
            )
        ds = ds.isel(number=0)
    for dim in ("time", "lat", "lon"):
        if dim not in ds.dims:
            raise ValueError(f"{source}: no {dim!r} dimension (dims: {dict(ds.sizes)})")
    lon = ds["lon"].values
    if np.nanmax(lon) > 180:
        ds = ds.assign_coords(lon=((lon + 180.0) % 360.0) - 180.0)
    return ds.sortby(["lat", "lon"])


@dataclass
class Box:
    """One lat/lon box of a reanalysis product, joined over its files."""

    data: xr.Dataset  # variables sm, ts, lh, precip on (time, lat, lon), cube units
    sources: list[str]

    def contains(self, lat: float, lon: float) -> bool:
        """True if (lat, lon) lies within the box (cell centres +- half a step)."""
        return _within(self.data["lat"].values, lat) and _within(self.data["lon"].values, lon)


def _within(axis: np.ndarray, x: float) -> bool:
    half = 0.5 * float(np.median(np.diff(axis))) if axis.size > 1 else 0.5
    return bool(axis[0] - half <= x <= axis[-1] + half)


def _open_boxes(path: str | Path, names: dict[str, str], product: str) -> list[Box]:
    groups: dict[tuple, list[tuple[str, xr.Dataset]]] = {}
    for f in _files(path):
        ds = _standardise(xr.open_dataset(f), str(f))
        missing = [v for v in names if v not in ds.data_vars]
        if missing:
            raise ValueError(f"{f}: {product} file lacks variable(s) {missing}")
        ds = ds[list(names)].load()
        key = (tuple(np.round(ds["lat"].values, 6)), tuple(np.round(ds["lon"].values, 6)))
        groups.setdefault(key, []).append((str(f), ds))
    boxes = []
    for members in groups.values():
        sources = [s for s, _ in members]
        ds = xr.concat([d for _, d in members], dim="time") if len(members) > 1 else members[0][1]
        ds = ds.sortby("time")
        t = ds["time"].values
        dup = np.flatnonzero(t[1:] == t[:-1])
        if dup.size:
            raise ValueError(f"{product} files {sources}: duplicated time stamp {t[dup[0]]}")
        boxes.append(Box(ds, sources))
    return boxes


def open_era5_land(path: str | Path) -> list[Box]:
    """Open ERA5-Land hourly NetCDF (CDS layout) as boxes in cube units.

    Parameters
    ----------
    path : str or Path
        One file or a folder of files with ``valid_time`` (or ``time``), ``latitude``,
        ``longitude`` and ``swvl1`` (m3 m-3), ``stl1`` (K), ``slhf`` (J m-2, accumulated,
        negative upward), ``tp`` (m, accumulated).

    Returns
    -------
    list of Box
        Each with ``sm`` (m3 m-3), ``ts`` (degC), ``lh`` (W m-2, positive upward, hour ending at
        the stamp) and ``precip`` (mm h-1, hour ending at the stamp) on (time, lat, lon).
    """
    boxes = _open_boxes(path, ERA5_LAND_VARIABLES, "ERA5-Land")
    for box in boxes:
        ds, src = box.data, ",".join(box.sources)
        t = ds["time"].values
        sm = _convert(ds["swvl1"], _SM_UNITS, src)
        ts = _convert(ds["stl1"], _TS_UNITS, src)
        slhf = _convert(ds["slhf"], _ENERGY_ACC_UNITS, src)
        tp = _convert(ds["tp"], _DEPTH_ACC_UNITS, src)
        lh = -deaccumulate(slhf.values, t) / 3600.0
        pr = deaccumulate(tp.values, t)
        pr = np.where(np.abs(pr) < 1e-9, 0.0, pr)  # float noise of the subtraction
        dims = ("time", "lat", "lon")
        box.data = xr.Dataset(
            {"sm": sm, "ts": ts, "lh": (dims, lh), "precip": (dims, pr)},
            coords={c: ds[c] for c in dims},
        )
    return boxes


def open_merra2(path: str | Path) -> list[Box]:
    """Open MERRA-2 M2T1NXLND NetCDF as boxes in cube units, stamped at the end of each hour.

    Parameters
    ----------
    path : str or Path
        One file or a folder with ``time`` (hh:30), ``lat``, ``lon`` and ``SFMC`` (m3 m-3),
        ``TSOIL1`` (K), ``LHLAND`` (W m-2, positive upward), ``PRECTOTLAND`` (kg m-2 s-1).

    Returns
    -------
    list of Box
        ``sm``, ``ts``, ``lh``, ``precip`` (mm h-1) on (time, lat, lon); time = hh:30 + 30 min.
    """
    boxes = _open_boxes(path, MERRA2_VARIABLES, "MERRA-2")
    for box in boxes:
        ds, src = box.data, ",".join(box.sources)
        t = pd.DatetimeIndex(ds["time"].values)
        if not (t.minute == 30).all():
            raise ValueError(f"{src}: MERRA-2 tavg1 time stamps must be at hh:30, found {t[0]}")
        box.data = xr.Dataset(
            {
                "sm": _convert(ds["SFMC"], _SM_UNITS, src),
                "ts": _convert(ds["TSOIL1"], _TS_UNITS, src),
                "lh": _convert(ds["LHLAND"], _LH_FLUX_UNITS, src),
                "precip": _convert(ds["PRECTOTLAND"], _P_FLUX_UNITS, src),
            }
        ).assign_coords(time=(t + pd.Timedelta(minutes=30)).to_numpy())
    return boxes


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
    for i in tqdm(range(n_st), desc=f"{prefix} at stations", file=sys.stdout, disable=None):
        chosen = None
        for b, land in zip(boxes, land_masks, strict=True):
            if land.any() and b.contains(lat[i], lon[i]):
                la, lo = b.data["lat"].values, b.data["lon"].values
                dlat = la[:, None] - lat[i]
                dlon = (lo[None, :] - lon[i]) * np.cos(np.deg2rad(lat[i]))
                d2 = np.where(land, dlat**2 + dlon**2, np.inf)
                j, k = np.unravel_index(int(np.argmin(d2)), d2.shape)
                if chosen is None or d2[j, k] < chosen[0]:
                    chosen = (d2[j, k], b, j, k)
        if chosen is None:
            uncovered.append(station[i])
            continue
        _, b, j, k = chosen
        cell = b.data.isel(lat=j, lon=k)
        pos = pd.DatetimeIndex(cell["time"].values).get_indexer(target)
        ok = pos >= 0
        for q in out:
            out[q][i, ok] = cell[q].values[pos[ok]]
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


def era5_land_at_stations(path, station, lat, lon, time) -> tuple[xr.Dataset, list[str]]:
    """ERA5-Land at stations: :func:`open_era5_land` then :func:`sample_at_stations` (``era5_*``)."""
    return sample_at_stations(open_era5_land(path), station, lat, lon, time, "era5")


def merra2_at_stations(path, station, lat, lon, time) -> tuple[xr.Dataset, list[str]]:
    """MERRA-2 at stations: :func:`open_merra2` then :func:`sample_at_stations` (``merra2_*``)."""
    return sample_at_stations(open_merra2(path), station, lat, lon, time, "merra2")
