"""Correcting a whole archive: station blocks, a dask cluster and a resumable, block-wise writer.

:func:`correct_archive` is what ``smlib correct CUBE --model RUN --out OUT [--workers N |
--scheduler ADDRESS] [--format netcdf|zarr|ismn]`` runs:

1. The cube's stations are cut into blocks of ``block_stations`` (each block holds its
   stations' whole records: every step of the correction acts on one station at a time, so a
   block's result equals the in-memory :func:`smlib.method.correct.correct` of the whole cube, row for
   row).
2. Each block is corrected by a task that opens the cube file itself and reads only its block
   (the file must be readable by every worker: shared storage on a cluster). The model run is
   loaded once per worker process, on CPU. Tasks run in-process (no dask needed), on a
   ``LocalCluster`` of ``workers`` single-threaded processes, or on an existing
   dask.distributed scheduler (``dask-jobqueue``, Kubernetes, ...). At most ``2 x workers``
   blocks are in flight, which bounds the memory of the driver and of every worker to a few
   blocks whatever the size of the archive.
3. The driver writes every finished block into one output store as it arrives, under a
   progress bar over blocks, and records it as written (``block_written`` in NetCDF and zarr,
   a marker file in an ISMN tree). The store is built under ``<out>.partial`` and moved to
   ``<out>`` once every block is in: an interrupted run restarted with the same command redoes
   only the blocks not yet written; a restart with different settings (cube, model, methods,
   block size) is refused rather than mixed.
4. Where the default product is fitted (no ``coefficients`` given), each block's station table
   is kept beside the partial output and the joined table is written as
   ``<out>.coefficients.json`` (:func:`smlib.method.product.coefficients_path`) when the
   output is done, as ``smlib correct`` without ``--format`` does: the streaming corrector,
   later archive runs (``--coefficients``) and the ONNX example apply the same fit.

Formats
-------
``netcdf``
    One CF NetCDF-4 file, chunked ``(block_stations, time)``, the variables of
    :func:`smlib.method.correct.correct` (raw ``sm``, ``ts``, ``sm_<method>`` and whatever per-hour
    flags it produces) with the cube's station coordinates.
``zarr``
    The same as a zarr store (one chunk per block; needs the ``zarr`` package, extra
    ``operational``).
``ismn``
    An ISMN Header+values tree that the ``ismn`` package reads unchanged
    (:mod:`smlib.ops.ismn_writer`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import xarray as xr

from smlib.digests import json_digest
from smlib.method.product import ProductCoefficients
from smlib.ops.block_tables import TablePieces
from smlib.ops.scale import check_block_methods
from smlib.progress import progress_bar

__all__ = ["FORMATS", "station_blocks", "correct_block", "correct_archive"]

log = logging.getLogger(__name__)

#: Output formats of :func:`correct_archive`.
FORMATS = ("netcdf", "zarr", "ismn")


def station_blocks(n_station: int, block_stations: int) -> list[tuple[int, int]]:
    """``[(start, stop), ...]`` station index ranges of at most ``block_stations`` stations.

    Examples
    --------
    >>> station_blocks(5, 2)
    [(0, 2), (2, 4), (4, 5)]
    """
    if block_stations < 1:
        raise ValueError(f"block_stations must be >= 1, got {block_stations}")
    return [(s, min(s + block_stations, n_station)) for s in range(0, n_station, block_stations)]


def correct_block(
    cube_path: str,
    start: int,
    stop: int,
    model_dir: str | None,
    methods: tuple[str, ...],
    fft_product: str,
    coefficients: str | None = None,
    with_table: bool = False,
) -> xr.Dataset | tuple[xr.Dataset, ProductCoefficients | None]:
    """Correct stations ``start:stop`` of a cube file (the task each worker runs).

    ``coefficients``: a stored station table (``<out>.coefficients.json`` of ``smlib
    correct``), applied instead of fitting the default product per block.

    Returns
    -------
    xarray.Dataset
        In memory: :func:`smlib.method.correct.correct` of the block, dims (station, time).
    ProductCoefficients or None
        With ``with_table``: the block's fitted station table (None where nothing was fitted).
        A station's fit uses its own record only, so the blocks' tables joined are the table
        of the whole cube.
    """
    from smlib.data import open_cube
    from smlib.method.correct import correct_with_table
    from smlib.ops.scale import _cached_model, load_coefficients

    with open_cube(cube_path) as ds:
        block = ds.isel(station=slice(start, stop)).load()
    model = _cached_model(model_dir) if model_dir is not None and "lstm" in methods else None
    result, table = correct_with_table(
        block, model, methods, fft_product, coefficients=load_coefficients(coefficients)
    )
    return (result, table) if with_table else result


# --------------------------------------------------------------------------- stores
class BlockStore(Protocol):
    """What :func:`correct_archive` needs of an output format."""

    def written(self) -> set[int]:
        """Indices of the blocks already in the store."""

    def write(self, k: int, result: xr.Dataset) -> None:
        """Put block ``k`` (the output of :func:`correct_block`) into the store."""

    def finalize(self) -> Path:
        """Move the finished store to its final path; return it."""


def _signature(
    cube_path: Path, model_dir: str | None, methods, fft_product, blocks, coefficients=None
) -> str:
    """Digest of everything that decides the content of the output (for safe resumption)."""
    st = cube_path.stat()
    model_stamp = None
    if model_dir is not None:
        best = Path(model_dir) / "best.pt"
        model_stamp = [
            str(Path(model_dir).resolve()),
            best.stat().st_mtime_ns if best.exists() else None,
        ]
    payload = {
        "cube": [str(cube_path.resolve()), st.st_size, st.st_mtime_ns],
        "model": model_stamp,
        "methods": list(methods),
        "fft_product": fft_product,
        "blocks": [list(b) for b in blocks],
    }
    if coefficients is not None:
        payload["coefficients"] = _file_digest(Path(coefficients))
    return json_digest(payload)[:16]


def _checked_coefficients(coefficients: str | os.PathLike, model: str | None) -> str:
    """The table's resolved path, once it reads and the run makes the product it belongs to
    (checked before any output exists)."""
    from smlib.ops.scale import _cached_model, load_coefficients

    load_coefficients(coefficients)  # a missing or damaged table fails here, not per block
    cc = _cached_model(model).config.correct if model is not None else None
    if cc is None or (cc.product, cc.mode) != ("flagged", "guided"):
        how = "no lstm method" if cc is None else f"product={cc.product}, mode={cc.mode}"
        raise ValueError(
            f"{coefficients}: stored coefficients are those of the flagged guided product; "
            f"this correction has {how}"
        )
    return str(Path(coefficients).resolve())


def _file_digest(path: Path) -> str:
    """SHA-256 of a (small) file's bytes."""
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def _block_vars(result: xr.Dataset) -> dict[str, xr.DataArray]:
    """Variables with a ``station`` axis, station first (written block by block)."""
    return {
        v: result[v].transpose("station", ...)
        for v in result.data_vars
        if "station" in result[v].dims
    }


def _static_vars(result: xr.Dataset) -> list[str]:
    """Variables without a ``station`` axis (written once, from the first block)."""
    return [v for v in result.data_vars if "station" not in result[v].dims]


def _on_disk(a: np.ndarray) -> np.ndarray:
    """NetCDF has no bool: flags go to int8."""
    return a.astype(np.int8) if a.dtype == bool else a


def _fill_value(dtype: np.dtype, template: xr.DataArray):
    enc = template.encoding.get("_FillValue", template.attrs.get("_FillValue"))
    if enc is not None:
        return enc
    return np.nan if np.issubdtype(dtype, np.floating) else None


class _PartialStore:
    """What both formats share: the output is written to ``<out>.partial``, which a resumed
    run re-opens only if it was begun with the same settings (``signature``)."""

    suffix = ".partial"

    def __init__(self, out: Path, coords: xr.Dataset, blocks, signature: str) -> None:
        self.out = out
        self.partial = out.with_name(out.name + self.suffix)
        self.coords = coords
        self.blocks = blocks
        self.signature = signature
        self._created = self.partial.exists()
        if self._created:
            _check_signature(self.partial, self._read_signature(), signature)

    def _read_signature(self) -> str | None:
        raise NotImplementedError

    def _read_written(self) -> np.ndarray:
        """The ``block_written`` record of the partial store."""
        raise NotImplementedError

    def written(self) -> set[int]:
        if not self._created:
            return set()
        return set(np.flatnonzero(self._read_written() == 1).tolist())


class NetCDFBlockStore(_PartialStore):
    """One NetCDF-4 file written block by block through netCDF4's append mode.

    The skeleton (station coordinates, time, global attributes, ``block_written``) is written
    with xarray, then every data variable is defined (not filled: unwritten hours read as the
    fill value) with chunks ``(block, time)``; each block is written with one slice assignment
    and flushed before it is marked as written.
    """

    def _read_signature(self) -> str | None:
        import netCDF4

        with netCDF4.Dataset(self.partial) as nc:
            return getattr(nc, "smlib_archive_signature", None)

    def _read_written(self) -> np.ndarray:
        import netCDF4

        with netCDF4.Dataset(self.partial) as nc:
            return np.asarray(nc["block_written"][:])

    def _create(self, result: xr.Dataset) -> None:
        import netCDF4

        skel = _skeleton(self.coords, self.blocks, result, self.signature)
        skel.to_netcdf(self.partial, engine="netcdf4")
        step = min(self.blocks[0][1] - self.blocks[0][0], self.coords.sizes["station"])
        with netCDF4.Dataset(self.partial, "a") as nc:
            for v, arr in _block_vars(result).items():
                for dim, size in zip(arr.dims, arr.shape, strict=True):
                    if dim not in nc.dimensions:
                        nc.createDimension(dim, size)
                dtype = _on_disk(arr.values[:0]).dtype
                var = nc.createVariable(
                    v, dtype, arr.dims, zlib=True, complevel=1,
                    chunksizes=(step, *arr.shape[1:]), fill_value=_fill_value(dtype, arr),
                )  # fmt: skip
                var.setncatts({k: a for k, a in arr.attrs.items() if k != "_FillValue"})
        self._created = True

    def write(self, k: int, result: xr.Dataset) -> None:
        import netCDF4

        if not self._created:
            self._create(result)
        s0, s1 = self.blocks[k]
        with netCDF4.Dataset(self.partial, "a") as nc:
            for v, arr in _block_vars(result).items():
                if v not in nc.variables:
                    raise ValueError(
                        f"{self.partial}: block {k} holds {v!r}, which the blocks written "
                        "before did not: the correction changed between blocks"
                    )
                nc[v][s0:s1, ...] = _on_disk(arr.values)
            nc.sync()
            nc["block_written"][k] = 1

    def finalize(self) -> Path:
        os.replace(self.partial, self.out)
        return self.out


class ZarrBlockStore(_PartialStore):
    """A zarr store, one chunk per block, written with xarray's region writes."""

    def __init__(self, out: Path, coords: xr.Dataset, blocks, signature: str) -> None:
        try:
            import zarr  # noqa: F401
        except ImportError as err:
            raise ImportError(
                "--format zarr needs the zarr package: pip install 'smlib[operational]'"
            ) from err
        super().__init__(out, coords, blocks, signature)

    def _read_signature(self) -> str | None:
        with xr.open_zarr(self.partial) as z:
            return z.attrs.get("smlib_archive_signature")

    def _read_written(self) -> np.ndarray:
        with xr.open_zarr(self.partial) as z:
            return z["block_written"].values

    def _create(self, result: xr.Dataset) -> None:
        import dask.array as da

        skel = _skeleton(self.coords, self.blocks, result, self.signature)
        n_st = self.coords.sizes["station"]
        step = self.blocks[0][1] - self.blocks[0][0]
        for v, arr in _block_vars(result).items():
            dtype = _on_disk(arr.values[:0]).dtype
            fill = _fill_value(dtype, arr)
            shape = (n_st, *arr.shape[1:])
            skel[v] = (
                arr.dims,
                da.full(shape, fill if fill is not None else 0, dtype=dtype,
                        chunks=(step, *arr.shape[1:])),
                {k: a for k, a in arr.attrs.items() if k != "_FillValue"},
            )  # fmt: skip
        skel.to_zarr(self.partial, compute=False, mode="w", zarr_format=2, consolidated=True)
        self._created = True

    def write(self, k: int, result: xr.Dataset) -> None:
        if not self._created:
            self._create(result)
        s0, s1 = self.blocks[k]
        block = xr.Dataset(
            {v: (arr.dims, _on_disk(arr.values)) for v, arr in _block_vars(result).items()}
        )
        block.to_zarr(self.partial, region={"station": slice(s0, s1)})
        mark = xr.Dataset({"block_written": (("block",), np.ones(1, dtype=np.int8))})
        mark.to_zarr(self.partial, region={"block": slice(k, k + 1)})

    def finalize(self) -> Path:
        if self.out.exists():
            shutil.rmtree(self.out)
        os.replace(self.partial, self.out)
        return self.out


def _check_signature(partial: Path, found: str | None, expected: str) -> None:
    if found != expected:
        raise ValueError(
            f"{partial} was started by a correction with other settings (cube, model, methods or "
            "block size); finish it with the same command, or delete it to start afresh"
        )


def _skeleton(coords: xr.Dataset, blocks, result: xr.Dataset, signature: str) -> xr.Dataset:
    """Coordinates, variables without a station axis, global attributes and the (all-zero)
    ``block_written`` record."""
    skel = coords.copy()
    extra = {k: c for k, c in result.coords.items() if not set(c.dims) & {"station", "time"}}
    skel = skel.assign_coords(extra)
    for v in _static_vars(result):
        skel[v] = result[v]
    skel["block_written"] = (
        ("block",),
        np.zeros(len(blocks), dtype=np.int8),
        {
            "long_name": "station block written to this file (1) or not yet (0)",
            "units": "1",
            "flag_values": np.array([0, 1], dtype=np.int8),
            "flag_meanings": "pending written",
            "block_first_station": ",".join(str(b[0]) for b in blocks),
        },
    )
    skel.attrs = {
        **result.attrs,
        "smlib_archive_signature": signature,
        "smlib_block_stations": blocks[0][1] - blocks[0][0],
    }
    return skel


def _station_coords(ds: xr.Dataset) -> xr.Dataset:
    """The cube's ``station`` and ``time`` coordinates (and station coordinates), no data, and
    its ``ismn_path`` attribute (where the ISMN tree finds the input's static variables)."""
    keep = {k: v for k, v in ds.coords.items() if set(v.dims) <= {"station", "time"}}
    return xr.Dataset(coords=keep, attrs={"ismn_path": ds.attrs.get("ismn_path", "")}).load()


# --------------------------------------------------------------------------- orchestration
@contextlib.contextmanager
def _client(workers: int | None, scheduler: str | None) -> Iterator[object | None]:
    """A dask.distributed client (LocalCluster of processes or an existing scheduler)."""
    if workers is None and scheduler is None:
        yield None
        return
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError as err:
        raise ImportError(
            "--workers/--scheduler need dask.distributed: pip install 'smlib[dask]'"
        ) from err
    if scheduler is not None:
        with Client(scheduler) as client:
            yield client
        return
    if workers < 1:
        raise ValueError(f"--workers must be >= 1, got {workers}")
    # one thread per process: torch's OpenMP threads collapse on oversubscribed cores
    with (
        LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
            env={"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"},
        ) as cluster,
        Client(cluster) as client,
    ):  # fmt: skip
        yield client


def _store(fmt: str, out: Path, coords, blocks, signature: str, model_dir, methods) -> BlockStore:
    if fmt == "netcdf":
        return NetCDFBlockStore(out, coords, blocks, signature)
    if fmt == "zarr":
        return ZarrBlockStore(out, coords, blocks, signature)
    if fmt == "ismn":
        from smlib.ops.ismn_writer import IsmnTreeStore

        return IsmnTreeStore(out, coords, blocks, signature, model_dir, methods)
    raise ValueError(f"unknown output format {fmt!r}; choose one of {FORMATS}")


def correct_archive(
    cube: str | os.PathLike,
    model_dir: str | os.PathLike | None,
    out: str | os.PathLike,
    *,
    methods: Sequence[str] = ("lstm",),
    fft_product: str = "mean",
    fmt: str = "netcdf",
    block_stations: int = 25,
    workers: int | None = None,
    scheduler: str | None = None,
    stop_after: int | None = None,
    coefficients: str | os.PathLike | None = None,
) -> Path:
    """Correct a station cube file block by block into a resumable output store.

    Parameters
    ----------
    cube : path
        Station cube NetCDF (docs/architecture.md); read block by block, never whole.
    model_dir : path or None
        Trained (or distilled) run directory; needed for ``lstm``.
    out : path
        Output file (``netcdf``), store folder (``zarr``) or tree folder (``ismn``).
    methods : sequence of {"lstm", "fft"}
    fft_product : {"era5", "merra2", "mean"}
    fmt : {"netcdf", "zarr", "ismn"}
    block_stations : int
        Stations per block (task). A task peaks at about 350 bytes per station-hour of its
        block (measured with tracemalloc on the twin, student model): 25 stations of 10-year
        records take about 0.8 GiB per worker.
    workers : int, optional
        Run on a ``LocalCluster`` of this many single-threaded worker processes.
    scheduler : str, optional
        Address of an existing dask.distributed scheduler (``tcp://host:8786``).
    stop_after : int, optional
        Write at most this many blocks in this call, then return (time-limited jobs; restart
        with the same arguments to continue).
    coefficients : path, optional
        Station table of the default product (``<out>.coefficients.json`` that ``smlib
        correct`` writes beside its output): every block applies it
        (:func:`smlib.method.product.apply_product`) instead of fitting its stations again,
        so the archive holds the series the book evaluated; stations not in the table stay
        raw (flag 3). Needs a run whose product is ``flagged`` / ``guided``.

    Returns
    -------
    pathlib.Path
        ``out`` when every block is written, else ``<out>.partial``.

    Raises
    ------
    FileExistsError
        ``out`` exists already (a finished correction is never overwritten).
    ValueError
        Unknown method or format, ``lstm`` without a model, both ``workers`` and
        ``scheduler``, or a ``<out>.partial`` begun with other settings.
    """
    cube_path = Path(cube)
    out = Path(out)
    methods = check_block_methods(methods, model_dir)
    if fmt not in FORMATS:
        raise ValueError(f"unknown output format {fmt!r}; choose one of {FORMATS}")
    if workers is not None and scheduler is not None:
        raise ValueError("give --workers or --scheduler, not both")
    if out.exists():
        raise FileExistsError(f"{out} exists; choose another --out or delete it")
    model = str(model_dir) if model_dir is not None and "lstm" in methods else None
    if model is not None:
        from smlib.ops.scale import _cached_model

        _cached_model(model)  # fail here, not in every worker, on a missing or broken run
    if coefficients is not None:
        coefficients = _checked_coefficients(coefficients, model)
    from smlib.data import open_cube

    with open_cube(cube_path) as ds:
        coords = _station_coords(ds)
    blocks = station_blocks(coords.sizes["station"], block_stations)
    sig = _signature(cube_path, model, methods, fft_product, blocks, coefficients)
    store = _store(fmt, out, coords, blocks, sig, model, methods)
    done = store.written()
    todo = [k for k in range(len(blocks)) if k not in done]
    if stop_after is not None:
        todo = todo[:stop_after]
    if done:
        log.info("%s: resuming, %d of %d blocks already written", out, len(done), len(blocks))
    args = (str(cube_path), model, methods, fft_product, coefficients, True)
    pieces = TablePieces(out, sig)
    bar = progress_bar(total=len(blocks), initial=len(done), desc="blocks", unit="block")
    with bar, _client(workers, scheduler) as client:
        for k, (result, table) in _results(client, todo, blocks, args):
            pieces.put(k, table)
            store.write(k, result)
            bar.update(1)
    if len(done) + len(todo) < len(blocks):
        log.info("%s: %d blocks written, %d left", store.partial, len(done) + len(todo),
                 len(blocks) - len(done) - len(todo))  # fmt: skip
        return store.partial
    path = store.finalize()
    log.info("wrote %s (%d stations in %d blocks)", path, coords.sizes["station"], len(blocks))
    table_path = pieces.finish(path, len(blocks), {"cube": str(cube_path), "corrected": str(path),
                                                   "run": str(model)})  # fmt: skip
    if table_path is not None:
        log.info("wrote %s (the fitted station table; apply it with --coefficients)", table_path)
    return path


def _results(client, todo: list[int], blocks, args) -> Iterator[tuple[int, xr.Dataset]]:
    """``(k, result)`` for every block in ``todo``, in-process or on the cluster."""
    if client is None:
        for k in todo:
            yield k, correct_block(args[0], *blocks[k], *args[1:])
        return
    from dask.distributed import as_completed

    n_workers = max(1, len(client.scheduler_info().get("workers", {})))
    window = 2 * n_workers
    queue = list(todo)
    futures = {}
    token = uuid.uuid4().hex[:8]  # task keys unique to this call on a shared scheduler

    def submit() -> object:
        k = queue.pop(0)
        fut = client.submit(
            correct_block,
            args[0],
            *blocks[k],
            *args[1:],
            key=f"smlib-block-{k}-{token}",
            pure=False,
        )
        futures[fut] = k
        return fut

    while queue and len(futures) < window:
        submit()
    pending = as_completed(list(futures))
    for fut in pending:
        k = futures.pop(fut)
        result = fut.result()
        fut.release()
        yield k, result
        if queue:
            pending.add(submit())
