"""Preprocessing and correction of station cubes larger than memory, on dask-backed xarray.

Every step of :func:`smlib.method.preprocess.prepare` and of :func:`smlib.method.correct.correct` acts on
each station separately (the rain screen's standard deviation, the moving averages, local
solar days, R(SM, TS), the LSTM windows and the Fourier filter are all per station; the scaler
is fitted beforehand and fixed). A cube chunked by station -- ``open_cube(path, chunks=50)``
gives ``(50 stations, whole time axis)`` blocks -- is therefore processed block by block with
``xr.apply_ufunc(..., dask="parallelized")``: the in-memory kernels run unchanged on each block,
the result equals the in-memory path exactly, and peak memory is a few blocks, not the cube
(``prepare`` holds about 200 bytes of temporaries per station-hour of a block: 25-station
chunks of 10-year records peak below 1 GiB with two threads, for any number of stations).
``time`` must be a single chunk (a block holds each station's whole record).

Cluster recipe
--------------
The functions here only build lazy graphs; whichever dask scheduler is active runs them. On one
machine the default threaded scheduler is used. On a cluster (or a multi-process local one)::

    from dask.distributed import Client, LocalCluster
    from smlib.data import open_cube
    from smlib.config import get_profile
    from smlib.ops import scale
    cluster = LocalCluster(n_workers=8, threads_per_worker=1, memory_limit="4GiB")
    # or an existing scheduler: Client("tcp://scheduler:8786"), dask-jobqueue's SLURMCluster, ...
    client = Client(cluster)
    cube = open_cube("ismn_cube.nc", chunks=50)  # 50 stations per task; file on shared storage
    prep = scale.prepare_lazy(cube, get_profile("paper").preprocess, training=False)
    stats = scale.station_summary(prep).compute()  # or prep.to_netcdf / to_zarr
    corrected = scale.correct_lazy(cube, "runs/paper", methods=("lstm", "fft"))
    corrected.to_zarr("corrected.zarr")  # zarr package; workers write their own blocks

For the archive run itself there is a command: ``smlib correct CUBE --model RUN --out OUT
--workers N`` (or ``--scheduler ADDRESS``) corrects station blocks on the cluster and writes
them one by one into a resumable NetCDF, zarr or ISMN output (:mod:`smlib.ops.archive`).

Workers load the trained model from the run directory once per process, on CPU (the path must
be readable by every worker). Give each worker one thread (``threads_per_worker=1`` and
``OMP_NUM_THREADS=1``) and use more workers instead: torch's OpenMP threads collapse when the
cores are oversubscribed (measured: 2 threads on a loaded 2-core machine ran LSTM inference
several times slower than 1 thread).
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Sequence

import numpy as np
import xarray as xr

from smlib.config import PreprocessConfig
from smlib.method.preprocess import feature_names, prepare

__all__ = [
    "prepare_lazy",
    "correct_lazy",
    "station_summary",
    "check_block_methods",
    "load_coefficients",
    "BLOCK_METHODS",
]

log = logging.getLogger(__name__)

# coordinates a block needs to be a valid input of the in-memory kernels
_STATION_COORDS = ("lon", "lat", "kind", "is_reference")


def _cube_inputs(ds: xr.Dataset, variables: Sequence[str]) -> list[xr.DataArray]:
    """The (station, time) variables, each with ``time`` as a single chunk."""
    out = []
    for v in variables:
        da = ds[v].transpose("station", "time")
        if da.chunks is not None and len(da.chunks[1]) > 1:
            da = da.chunk({"time": -1})
        out.append(da)
    return out


def _block_dataset(
    arrays: Sequence[np.ndarray], names: Sequence[str], lon: np.ndarray, time: np.ndarray
) -> xr.Dataset:
    """An in-memory station cube of one block (what the numpy-path functions expect)."""
    n = arrays[0].shape[0]
    return xr.Dataset(
        {k: (("station", "time"), a) for k, a in zip(names, arrays, strict=True)},
        coords={
            "station": np.arange(n),
            "time": time,
            "lon": ("station", np.asarray(lon).reshape(n)),
        },
    )


def _prepare_block(
    *arrays: np.ndarray,
    names: tuple[str, ...],
    time: np.ndarray,
    cfg: PreprocessConfig,
    training: bool,
) -> tuple[np.ndarray, ...]:
    *data, lon = arrays
    p = prepare(_block_dataset(data, names, lon, time), cfg, training=training)
    return p.x, p.sm_lf, p.sm_hf, p.valid_end, p.r_ok


def _needed_variables(ds: xr.Dataset, cfg: PreprocessConfig) -> tuple[str, ...]:
    feats = feature_names(cfg)
    need = {"sm", "ts"} | {f.rsplit("_", 1)[0] for f in feats if not f.startswith("tod_")}
    need |= {v for v in ("era5_precip", "merra2_precip", "precip") if v in ds}
    missing = sorted(v for v in need if v not in ds)
    if missing:
        raise KeyError(
            f"the cube lacks {missing} needed by feature set {cfg.feature_set!r}; "
            "without reanalysis use --set preprocess.feature_set=insitu"
        )
    return tuple(sorted(need))


def _station_coord_like(coord: xr.DataArray, like: xr.DataArray) -> xr.DataArray:
    """``coord`` (on ``station``) chunked like ``like``'s station axis when ``like`` is dask."""
    if like.chunks is None:
        return coord
    return coord.chunk({"station": like.chunks[0]})


def prepare_lazy(ds: xr.Dataset, cfg: PreprocessConfig, *, training: bool) -> xr.Dataset:
    """:func:`smlib.method.preprocess.prepare` as a lazy, station-chunked xarray Dataset.

    Parameters
    ----------
    ds : xarray.Dataset
        Station cube, dims (station, time), coordinate ``lon``; dask-backed (e.g.
        ``open_cube(path, chunks=50)``) for out-of-core work, numpy-backed input is computed
        eagerly.
    cfg : PreprocessConfig
    training : bool
        As in :func:`~smlib.method.preprocess.prepare` (rain screen and R(SM, TS) filter).

    Returns
    -------
    xarray.Dataset
        ``x`` (station, time, feature) float32 unscaled features; ``sm_lf``, ``sm_hf``
        (station, time) float32, m3 m-3; ``valid_end``, ``r_ok`` (station, time) bool. Values
        equal the fields of the in-memory :class:`~smlib.method.preprocess.Prepared` exactly.
    """
    if "lon" not in ds.coords and "lon" not in ds:
        raise KeyError("the cube needs a 'lon' station coordinate")
    names = _needed_variables(ds, cfg)
    feats = feature_names(cfg)
    inputs = _cube_inputs(ds, names)
    lon = _station_coord_like(ds["lon"], inputs[0])
    outs = xr.apply_ufunc(
        _prepare_block,
        *inputs,
        lon,
        input_core_dims=[["time"]] * len(inputs) + [[]],
        output_core_dims=[["time", "feature"], ["time"], ["time"], ["time"], ["time"]],
        kwargs={"names": names, "time": ds["time"].values, "cfg": cfg, "training": training},
        dask="parallelized",
        output_dtypes=[np.float32, np.float32, np.float32, bool, bool],
        dask_gufunc_kwargs={"output_sizes": {"feature": len(feats)}},
    )
    x, sm_lf, sm_hf, valid_end, r_ok = outs
    out = xr.Dataset(
        {
            "x": x.assign_attrs(
                units="1", long_name="unscaled model input features (see the feature coordinate)"
            ),
            "sm_lf": sm_lf.assign_attrs(
                units="m3 m-3", long_name=f"low-frequency part ({cfg.lf_window_h}-h mean) of SM"
            ),
            "sm_hf": sm_hf.assign_attrs(units="m3 m-3", long_name="high-frequency part of SM"),
            "valid_end": valid_end.assign_attrs(
                units="1", long_name="hour ends a complete input window with finite SM LF"
            ),
            "r_ok": r_ok.assign_attrs(
                units="1", long_name=f"hour on a local day with R(SM, TS) < {cfg.r_threshold}"
            ),
        },
        coords={"feature": ("feature", list(feats))},
    )
    return out.transpose("station", "time", "feature")


#: Methods that correct a block of stations on their own (archive scale).
BLOCK_METHODS = ("lstm", "fft")


def check_block_methods(
    methods: Sequence[str], model_dir: str | os.PathLike[str] | None
) -> tuple[str, ...]:
    """``methods`` as a tuple, checked against :data:`BLOCK_METHODS` and the model they need.

    Raises
    ------
    ValueError
        No method, an unknown one, or ``lstm`` without ``model_dir``.
    """
    methods = tuple(methods)
    unknown = set(methods) - set(BLOCK_METHODS)
    if unknown or not methods:
        raise ValueError(f"unknown correction methods {sorted(unknown)}; use lstm and/or fft")
    if "lstm" in methods and model_dir is None:
        raise ValueError("method 'lstm' needs a trained model (--model runs/NAME)")
    return methods


@functools.lru_cache(maxsize=4)
def _cached_coefficients(path: str, stamp: int):
    """A stored coefficient table, read once per worker process (``stamp``: its mtime)."""
    from smlib.method.product import read_coefficients

    return read_coefficients(path)


def load_coefficients(path: str | os.PathLike | None):
    """The :class:`~smlib.method.product.ProductCoefficients` at ``path`` (cached), or None."""
    if path is None:
        return None
    return _cached_coefficients(str(path), os.stat(path).st_mtime_ns)


@functools.lru_cache(maxsize=4)
def _cached_model(run_dir: str):
    from smlib.method.runfolder import load_model

    return load_model(run_dir, device="cpu")


def _correct_block(
    *arrays: np.ndarray,
    names: tuple[str, ...],
    time: np.ndarray,
    model,
    methods: tuple[str, ...],
    fft_product: str,
    variables: tuple[str, ...],
    coefficients=None,
    station: np.ndarray | None = None,
) -> np.ndarray | tuple[np.ndarray, ...]:
    from smlib.method.correct import correct

    *data, lon = arrays
    block = _block_dataset(data, names, lon, time)
    if station is not None:  # stored coefficients are looked up by station identifier
        block = block.assign_coords(station=np.asarray(station).reshape(-1))
    lm = _cached_model(model) if isinstance(model, str) else model
    res = correct(block, lm, methods, fft_product, coefficients=coefficients)
    outs = tuple(res[v].transpose("station", ...).values for v in variables)
    # apply_ufunc wants a bare array for one output: a 1-tuple would be read as an array with
    # an extra leading axis ("axes don't match array" on transposing it back)
    return outs[0] if len(outs) == 1 else outs


def _correct_station_block(*arrays: np.ndarray, n_inputs: int, **kw):
    """:func:`_correct_block` with the block's station identifiers as the last input."""
    return _correct_block(*arrays[:n_inputs], station=arrays[n_inputs], **kw)


def correct_lazy(
    ds: xr.Dataset,
    model_dir: str | os.PathLike | None,
    methods: Sequence[str] = ("lstm", "fft"),
    fft_product: str = "mean",
    coefficients=None,
) -> xr.Dataset:
    """:func:`smlib.method.correct.correct` over a station-chunked cube, block by block.

    Parameters
    ----------
    ds : xarray.Dataset
        Station cube, dims (station, time), chunked by station (whole time axis per chunk).
    model_dir : path or LoadedModel or None
        Trained run directory (needed for ``lstm``). A path is loaded once per worker process
        (CPU); a :class:`~smlib.method.runfolder.LoadedModel` is shipped with the tasks.
    methods : sequence of {"lstm", "fft"}
        One method (the archive case) or both.
    fft_product : {"era5", "merra2", "mean"}
    coefficients : ProductCoefficients or path, optional
        Stored station coefficients of the default product (``smlib correct`` writes them
        beside its output): applied instead of a per-block fit, so a new archive gets the
        series the book evaluated (:func:`smlib.method.product.apply_product`).

    Returns
    -------
    xarray.Dataset
        Every variable of :func:`smlib.method.correct.correct` that has a ``station`` axis (``sm``,
        ``ts``, ``sm_<method>``, per-hour flags, ...), lazily computed, with the same names,
        dims and attributes; values equal the in-memory result on the whole cube.
    """
    from smlib.method.correct import correct
    from smlib.method.product import ProductCoefficients
    from smlib.method.runfolder import LoadedModel

    methods = check_block_methods(methods, model_dir)
    if coefficients is not None and not isinstance(coefficients, ProductCoefficients):
        coefficients = load_coefficients(coefficients)
    model = None
    if "lstm" in methods:
        if isinstance(model_dir, LoadedModel):
            model, cfg = model_dir, model_dir.config.preprocess
        else:
            model = str(model_dir)
            cfg = _cached_model(model).config.preprocess
        _needed_variables(ds, cfg)  # a clear error for a cube without the model's inputs
    # every (station, time) variable goes into each block: the product's rain screens and
    # rules read the cube's precipitation and reanalysis series, not only the model inputs
    names = tuple(v for v in ds.data_vars if set(ds[v].dims) == {"station", "time"})
    # names, dims, dtypes and attributes of the output: the in-memory path on one station-day
    template = correct(
        ds.isel(station=[0], time=slice(0, 48)).load(),
        model if not isinstance(model, str) else _cached_model(model),
        methods,
        fft_product,
        coefficients=coefficients,
    )
    variables = tuple(v for v in template.data_vars if "station" in template[v].dims)
    core = [
        [d for d in template[v].transpose("station", ...).dims if d != "station"] for v in variables
    ]
    sizes = {d: template.sizes[d] for dims in core for d in dims if d != "time"}
    inputs = _cube_inputs(ds, names)
    lon = _station_coord_like(ds["lon"], inputs[0])
    extra, kw = [], {}
    if coefficients is not None:
        ids = xr.DataArray(ds["station"].values.astype(str).astype(object), dims="station")
        extra, kw = [_station_coord_like(ids, inputs[0])], {"coefficients": coefficients}
    outs = xr.apply_ufunc(
        functools.partial(_correct_station_block, n_inputs=len(inputs) + 1)
        if extra
        else _correct_block,
        *inputs,
        lon,
        *extra,
        input_core_dims=[["time"]] * len(inputs) + [[]] + [[]] * len(extra),
        output_core_dims=core,
        kwargs={
            "names": names,
            "time": ds["time"].values,
            "model": model,
            "methods": methods,
            "fft_product": fft_product,
            "variables": variables,
            **kw,
        },
        dask="parallelized",
        output_dtypes=[template[v].dtype for v in variables],
        dask_gufunc_kwargs={"output_sizes": sizes} if sizes else None,
    )
    if len(variables) == 1:
        outs = (outs,)
    out = template.drop_vars(list(template.data_vars)).drop_dims(["station", "time"])
    out = out.assign_coords(
        {k: c for k, c in ds.coords.items() if set(c.dims) <= {"station", "time"}}
    )
    for v, da in zip(variables, outs, strict=True):
        out[v] = da.transpose(*template[v].dims).assign_attrs(template[v].attrs)
    for d in sizes:
        if d in template.coords:
            out = out.assign_coords({d: template[d]})
    return out


def station_summary(prep: xr.Dataset) -> xr.Dataset:
    """Per-station reduction of :func:`prepare_lazy` output (bounded-memory checks at scale).

    Returns
    -------
    xarray.Dataset, dims (station,)
        ``n_valid`` (hours the model can correct), ``n_r_ok`` (hours passing the R filter),
        ``sm_hf_std`` (m3 m-3, standard deviation of SM HF over finite hours).
    """
    return xr.Dataset(
        {
            "n_valid": prep["valid_end"]
            .sum("time")
            .assign_attrs(units="1", long_name="hours with a complete input window"),
            "n_r_ok": prep["r_ok"]
            .sum("time")
            .assign_attrs(units="1", long_name="hours passing the R(SM, TS) filter"),
            "sm_hf_std": prep["sm_hf"]
            .std("time", skipna=True)
            .assign_attrs(units="m3 m-3", long_name="standard deviation of SM HF"),
        }
    )
