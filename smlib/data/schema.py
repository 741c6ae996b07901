"""The station cube's schema: variables, station coordinates, CF attributes; writing, opening
and checking a cube.

See :mod:`smlib.data` for the cube's contract.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from smlib.atomic import atomic_path
from smlib.timeutils import hourly_index

__all__ = [
    "CUBE_SCHEMA_VERSION",
    "VARIABLE_ATTRS",
    "STATION_COORDS",
    "open_cube",
    "validate_cube",
    "station_kind",
    "ismn_stations",
    "write_atomic",
]


CUBE_SCHEMA_VERSION = "1"


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
