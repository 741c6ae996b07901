"""Peak resident memory of ingest, of training, and of preprocessing a cube far larger than RAM
would comfortably hold, processed in station chunks.

Each task runs in a fresh subprocess (``python -m benchmarks.bench_memory --child TASK``) and
reports its own peak RSS (``resource.getrusage(RUSAGE_SELF).ru_maxrss``) and wall time; the
``baseline`` task only imports smlib, so increments over it are what the work costs.

* ``ingest`` -- :func:`smlib.data.ingest.ingest` of the default twin's raw archives
  (``build/twin/quick``; skipped with a reason when the twin has not been built);
* ``train`` -- :func:`smlib.method.train.train`, ``quick`` profile, one epoch, on a synthetic
  50-station, one-year cube with the 14 paper features;
* ``scale_write`` + ``scale_prepare`` -- a synthetic **2,900-station x 10-year** cube (SM and TS,
  float32) is written to NetCDF block by block (one station chunk per block, never whole in memory),
  then :func:`smlib.ops.scale.prepare_lazy` (rain screen, LF/HF, features, R filter; ``insitu``
  feature set) runs over it in 25-station chunks with two threads and is reduced to
  :func:`smlib.ops.scale.station_summary`. Peak RSS is compared with the size of the full input
  arrays and of the full prepared arrays the in-memory path would hold, and with the peak of
  the same run on a tenth of the stations: bounded memory means the two peaks are alike
  (the peak is set by chunk size x threads, about 200 bytes per station-hour in flight).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TWIN = ROOT / "build" / "twin" / "quick"


def _peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


# --------------------------------------------------------------------------- child tasks
def _task_baseline(args: dict) -> dict:
    import importlib

    for mod in ("smlib.method.preprocess", "smlib.method.train", "smlib.ops.scale"):
        importlib.import_module(mod)
    return {}


def _task_ingest(args: dict) -> dict:
    from smlib.data import ingest

    twin = Path(args["twin"])
    ds = ingest(
        twin / "ismn",
        era5=twin / "era5land",
        merra2=twin / "merra2",
        fluxnet=twin / "fluxnet",
        out=Path(args["out"]) / "cube.nc",
    )
    return {"stations": ds.sizes["station"], "hours": ds.sizes["time"], "cube_bytes": ds.nbytes}


def _task_train(args: dict) -> dict:
    import torch

    from benchmarks._synthetic import synthetic_cube
    from smlib.method.train import train

    torch.set_num_threads(args.get("threads") or torch.get_num_threads())
    ds = synthetic_cube(args["stations"], args["days"], seed=5, reanalysis=True)
    overrides = [
        "train.max_epochs=1",
        f"train.max_samples_per_epoch={args['samples']}",
        "train.max_val_samples=4096",
        "train.device=cpu",
        "preprocess.r_threshold=1.0",  # synthetic data: keep every day (memory, not skill)
    ]
    train(ds, Path(args["out"]) / "run", profile="quick", overrides=overrides)
    return {"stations": args["stations"], "days": args["days"], "cube_bytes": ds.nbytes}


def _task_scale_write(args: dict) -> dict:
    import dask
    import dask.array as da
    import numpy as np
    import pandas as pd
    import xarray as xr

    from benchmarks._synthetic import synthetic_arrays

    n_st, n_t, chunk, seed = args["stations"], 24 * args["days"], args["chunk"], 11
    starts = list(range(0, n_st, chunk))
    sizes = tuple(min(chunk, n_st - s) for s in starts)

    def block(var: str):
        def make(block_info=None):
            s0 = block_info[None]["array-location"][0][0]
            n = block_info[None]["chunk-shape"][0]
            return synthetic_arrays(n, n_t, seed=seed, station0=s0)[var]

        return da.map_blocks(make, chunks=(sizes, (n_t,)), dtype=np.float32)

    lon = np.concatenate(
        [
            np.random.default_rng(seed + s).uniform(-125.0, 150.0, n)
            for s, n in zip(starts, sizes, strict=True)
        ]
    )
    ds = xr.Dataset(
        {
            "sm": (("station", "time"), block("sm"), {"units": "m3 m-3"}),
            "ts": (("station", "time"), block("ts"), {"units": "degC"}),
        },
        coords={
            "station": np.arange(n_st),
            "time": pd.date_range("2010-01-01", periods=n_t, freq="h"),
            "lon": ("station", lon, {"units": "degrees_east"}),
        },
    )
    enc = {v: {"chunksizes": (min(chunk, n_st), n_t)} for v in ("sm", "ts")}
    with dask.config.set(scheduler="threads", num_workers=2):
        ds.to_netcdf(args["path"], encoding=enc)
    return {"file_bytes": os.path.getsize(args["path"]), "input_bytes": int(ds.nbytes)}


def _task_scale_prepare(args: dict) -> dict:
    import dask
    import numpy as np
    import xarray as xr

    from smlib.config import get_profile
    from smlib.ops import scale

    cfg = get_profile("quick", ["preprocess.feature_set=insitu"]).preprocess
    with xr.open_dataset(args["path"], chunks={"station": args["chunk"], "time": -1}) as ds:
        if args.get("limit"):
            ds = ds.isel(station=slice(0, args["limit"]))
        prep = scale.prepare_lazy(ds, cfg, training=True)
        with dask.config.set(scheduler="threads", num_workers=2):
            summ = scale.station_summary(prep).compute()
        n_st, n_t = ds.sizes["station"], ds.sizes["time"]
    return {
        "stations": n_st,
        "hours": n_t,
        "station_hours": n_st * n_t,
        "full_input_bytes": n_st * n_t * 4 * 2,
        "full_feature_bytes": int(prep["x"].nbytes),
        "full_prepared_bytes": int(prep.nbytes),
        "valid_fraction": float(summ["n_valid"].sum()) / (n_st * n_t),
        "stations_with_valid_hours": int((summ["n_valid"] > 0).sum()),
        "median_sm_hf_std": float(np.nanmedian(summ["sm_hf_std"].values)),
    }


_TASKS = {
    "baseline": _task_baseline,
    "ingest": _task_ingest,
    "train": _task_train,
    "scale_write": _task_scale_write,
    "scale_prepare": _task_scale_prepare,
}


def _child(task: str, args: dict) -> None:
    t0 = time.perf_counter()
    out = _TASKS[task](args)
    out.update(peak_rss_bytes=_peak_rss_bytes(), wall_seconds=time.perf_counter() - t0)
    print("RESULT " + json.dumps(out))


# --------------------------------------------------------------------------- parent
def measure(task: str, args: dict, timeout: float = 900.0) -> dict:
    """Run ``task`` in a fresh interpreter; its peak RSS and wall time (and task details)."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_memory", "--child", task, json.dumps(args)],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=timeout,
    )  # fmt: skip
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"memory task {task!r} failed:\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1].removeprefix("RESULT "))


def _mib(b: float) -> float:
    return round(b / 2**20, 1)


def run(quick: bool = False) -> dict:
    """Measure every task; return a JSON-ready dict."""
    big = {"stations": 60, "days": 30, "chunk": 10} if quick else {
        "stations": 2900, "days": 3652, "chunk": 25}  # fmt: skip
    result: dict = {}
    with tempfile.TemporaryDirectory(prefix="smlib-bench-mem-") as tmp:
        result["baseline"] = measure("baseline", {})
        if (TWIN / "ismn").is_dir() and not quick:
            result["ingest"] = measure("ingest", {"twin": str(TWIN), "out": tmp})
        else:
            result["ingest"] = {"skipped": f"no twin at {TWIN}" if not quick else "quick mode"}
        tr = {"stations": 8, "days": 30, "samples": 256} if quick else {
            "stations": 50, "days": 365, "samples": 8192}  # fmt: skip
        result["train"] = measure("train", {**tr, "out": tmp})
        path = str(Path(tmp) / "scaled_cube.nc")
        result["scale_write"] = measure("scale_write", {**big, "path": path})
        result["scale_prepare"] = measure("scale_prepare", {**big, "path": path})
        # the same on a tenth of the stations: bounded memory = the same peak at any size
        tenth = {**big, "path": path, "limit": big["stations"] // 10}
        result["scale_prepare_tenth"] = measure("scale_prepare", tenth)
    base = result["baseline"]["peak_rss_bytes"]
    sp = result["scale_prepare"]
    summary = {
        "baseline_import_rss_mib": _mib(base),
        "ingest_peak_rss_mib": _mib(result["ingest"]["peak_rss_bytes"])
        if "peak_rss_bytes" in result["ingest"]
        else result["ingest"]["skipped"],
        "train_peak_rss_mib": _mib(result["train"]["peak_rss_bytes"]),
        "scaled_cube": f"{sp['stations']} stations x {sp['hours']} h",
        "scaled_write_peak_rss_mib": _mib(result["scale_write"]["peak_rss_bytes"]),
        "scaled_prepare_peak_rss_mib": _mib(sp["peak_rss_bytes"]),
        "scaled_prepare_peak_rss_mib_tenth_of_stations": _mib(
            result["scale_prepare_tenth"]["peak_rss_bytes"]
        ),
        "station_chunk": big["chunk"],
        "scaled_full_input_mib": _mib(sp["full_input_bytes"]),
        "scaled_full_prepared_mib": _mib(sp["full_prepared_bytes"]),
        "scaled_prepare_wall_s": round(sp["wall_seconds"], 1),
        "scaled_station_hours_per_s": round(sp["station_hours"] / sp["wall_seconds"]),
        "peak_rss_over_full_input": round(sp["peak_rss_bytes"] / sp["full_input_bytes"], 3),
    }
    result["summary"] = summary
    return result


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--child", required=True, choices=sorted(_TASKS))
    p.add_argument("args", nargs="?", default="{}")
    a = p.parse_args()
    _child(a.child, json.loads(a.args))
