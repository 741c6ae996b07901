"""GPU measurements for the archive-scale correction (issue #13): one script, one JSON.

Usage (on a machine with CUDA; about 4-6 minutes on one H100/H200)::

    python -m benchmarks.gpu --out benchmarks/results [--budget-s 420]

What it records, into ``<out>/gpu_<device>.json``:

``train_epoch``
    Seconds per epoch of the ``paper`` profile (3 x 256 LSTM, batch 32, Adam 6e-4) on the
    default embedded twin (``smlib synth`` + ``smlib ingest`` at the book's size), through the
    project's own :func:`smlib.method.train.train` on CUDA -- the number a user of the paper profile
    waits for. Also the same in bf16 autocast.
``inference``
    Station-hours per second of the model forward pass over windows gathered on the device
    (:class:`smlib.method.train.WindowBatcher`, the same path as :func:`smlib.method.correct.predict_hf`),
    for the paper teacher, the quick teacher and the student architectures
    (``gru_student``, ``tcn_student``), in strict fp32 (TF32 off), TF32 and bf16 autocast, at
    batch sizes 4,096 ... 262,144; the best batch size per (model, precision) in ``summary``.
    Weights are random: the throughput of a network does not depend on its weights.
``product_end_to_end``
    The default product as an operator runs it over the archive, with the paper model's network
    on CUDA (:func:`product_end_to_end`): the station table fitted once (timed apart), then
    network + stored coefficients + flags + NetCDF written, as station-hours per
    second and minutes for the 254 M station-hour archive (target <= 5 min, issue #21).
``correct_station_year``
    Wall seconds for :func:`smlib.method.correct.correct` of the twin's whole cube with the paper
    model on CUDA (CPU preprocessing included), as station-hours per second.

Every part checks the remaining budget and is skipped (and said so) rather than overrunning.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from smlib.config import ModelConfig, get_profile
from smlib.method.model import build_model, lstm_flops_per_sample
from smlib.method.train import WindowBatcher

N_FEATURES = 14
WINDOW = 18
ARCHS: dict[str, ModelConfig] = {
    "teacher_paper": get_profile("paper").model,
    "teacher_quick": get_profile("quick").model,
    "gru_student": ModelConfig(
        name="gru_student", hidden_size=32, num_layers=1, dropout=0.0, dense=(32,)
    ),
    "tcn_student": ModelConfig(
        name="tcn_student", hidden_size=32, num_layers=4, dropout=0.0, dense=(32,)
    ),
}
BATCHES = (4096, 16384, 65536, 262144)
PRECISIONS = ("fp32", "tf32", "bf16")


def _set_precision(p: str) -> None:
    tf32 = p == "tf32"
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32


@torch.no_grad()
def inference_rate(
    cfg: ModelConfig, precision: str, batch: int, batcher: WindowBatcher, ends: torch.Tensor
) -> float:
    """Best-of-3 station-hours/s of one pass over ``ends`` (windows gathered on the device)."""
    dev = batcher.device
    model = build_model(cfg, N_FEATURES, -0.01, 0.01).to(dev).eval()
    _set_precision(precision)
    amp = torch.autocast("cuda", dtype=torch.bfloat16, enabled=precision == "bf16")
    n = (len(ends) // batch) * batch
    with amp:
        model(*batcher.batch(ends[:batch])[:2])  # warm-up: cuDNN plans, allocator
    best = math.inf
    for _ in range(3):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        with amp:
            for s in range(0, n, batch):
                xb, lfb, _ = batcher.batch(ends[s : s + batch])
                model(xb, lfb)
        torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t0)
    return n / best


def _twin_cube(work: Path) -> Path:
    from smlib.report.pipeline import ingest_data_dir
    from smlib.synth import write_twin

    data = write_twin(work / "twin")
    cube = work / "cube.nc"
    ingest_data_dir(data, cube)
    return cube


def train_epochs(cube: Path, work: Path, precision: str, epochs: int) -> dict:
    """Seconds per epoch of the paper profile on CUDA (first epoch reported apart: warm-up)."""
    from smlib.method.train import train

    run = work / f"run_paper_{precision}"
    t0 = time.perf_counter()
    train(
        cube, run, profile="paper",
        overrides=["train.device=cuda", f"train.precision={precision}",
                   f"train.max_epochs={epochs}"],
    )  # fmt: skip
    wall = time.perf_counter() - t0
    rows = (run / "metrics.csv").read_text().splitlines()
    head = rows[0].split(",")
    recs = [dict(zip(head, r.split(","), strict=True)) for r in rows[1:]]
    secs = [float(r["seconds"]) for r in recs]
    info = json.loads((run / "run.json").read_text()) if (run / "run.json").exists() else {}
    return {
        "precision": precision,
        "epochs": len(secs),
        "epoch_seconds": secs,
        "epoch_seconds_median_after_first": float(np.median(secs[1:])) if len(secs) > 1 else None,
        "batches_per_epoch": int(recs[-1]["n_batches"]) if recs else None,
        "wall_seconds_incl_preprocessing": round(wall, 2),
        "run_info": {
            k: info[k]
            for k in ("n_train_samples", "n_val_samples", "samples_per_epoch", "device")
            if k in info
        },
        "run_dir": str(run),
    }


def correct_rate(cube: Path, run: Path) -> dict:
    """Wall time of correcting the whole cube with the trained paper model on CUDA."""
    import xarray as xr

    from smlib.method.correct import correct
    from smlib.method.runfolder import load_model

    lm = load_model(run, device="cuda")
    _set_precision("fp32")
    with xr.open_dataset(cube) as ds:
        ds = ds.load()
    correct(ds, lm, ("lstm",))  # warm-up
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    out = correct(ds, lm, ("lstm",))
    torch.cuda.synchronize()
    dt = time.perf_counter() - t0
    n = int(np.isfinite(out["sm_lstm"].values).sum())
    return {
        "stations": int(ds.sizes["station"]),
        "hours": int(ds.sizes["time"]),
        "hours_corrected": n,
        "seconds": round(dt, 3),
        "corrected_station_hours_per_s": n / dt,
        "note": "preprocessing (LF/HF, screens) runs on the CPU; only the network is on CUDA",
    }


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def product_end_to_end(cube: Path, run: Path, work: Path, device: str = "cuda") -> dict:
    """The default product end to end with ``run``'s network on ``device``, timed.

    The product is ``flagged`` whatever ``run``'s own ``correct.product`` (the paper profile's
    is ``paper``). First the one-off fit of the station table
    (:func:`smlib.method.correct.correct_file`, reported apart), then the timed pass an operator runs over the archive: network + stored
    station coefficients (guided product) + flags + the NetCDF written
    (``correct_file(..., coefficients=table)``; no ``sm_lstm_uncertainty``: smlib writes it only
    where it fits the product), on the whole cube in one process. The archive
    command (:func:`smlib.ops.archive.correct_archive`) loads its model on the CPU in every
    worker, so the GPU measurement goes through ``correct_file``; its ``sm_lstm`` is checked
    against :func:`smlib.method.correct.correct` with the same table. ``device="cpu"`` runs the
    same path without a GPU (the ``--quick`` operational benchmark does, so it is exercised).
    """
    import xarray as xr

    from smlib.method.correct import correct, correct_file
    from smlib.method.product import coefficients_path
    from smlib.method.runfolder import load_model

    work.mkdir(parents=True, exist_ok=True)
    lm = load_model(run, device=device)
    if device.startswith("cuda"):
        _set_precision("fp32")
    with xr.open_dataset(cube) as ds:
        ds = ds.load()
    hours = int(ds.sizes["station"] * ds.sizes["time"])
    fitted = work / "fit_once.nc"
    t0 = time.perf_counter()
    correct_file(ds, lm, fitted, methods=("lstm",), product="flagged")
    _sync(device)
    fit_s = time.perf_counter() - t0
    table = coefficients_path(fitted)
    if not table.is_file():
        raise RuntimeError(f"correct_file wrote no station table beside {fitted}")
    out = work / "product.nc"
    _sync(device)
    t0 = time.perf_counter()
    correct_file(ds, lm, out, methods=("lstm",), product="flagged", coefficients=table)
    _sync(device)
    wall = time.perf_counter() - t0
    ref = correct(ds, lm, ("lstm",), product="flagged", coefficients=table)["sm_lstm"].values
    with xr.open_dataset(out) as res:
        got = res["sm_lstm"].values
        has_unc = "sm_lstm_uncertainty" in res
    if not (np.isfinite(got) == np.isfinite(ref)).all():
        raise AssertionError("written product and correct(coefficients=) cover other hours")
    both = np.isfinite(got)
    diff = float(np.abs(got[both] - ref[both]).max()) if both.any() else 0.0
    if diff > 1e-6:
        raise AssertionError(f"written sm_lstm differs from correct(coefficients=) by {diff}")
    rate = hours / wall
    return {
        "device": device,
        "model": lm.config.model.name,
        "hidden_size": lm.config.model.hidden_size,
        "num_layers": lm.config.model.num_layers,
        "stations": int(ds.sizes["station"]),
        "station_hours": hours,
        "coefficient_fit_one_off_s": round(fit_s, 3),
        "product_wall_s": round(wall, 3),
        "product_station_hours_per_s": round(rate),
        "archive_minutes": round(254e6 / rate / 60, 2),
        "archive_minutes_target": 5.0,
        "has_sm_lstm_uncertainty": has_unc,
        "sm_lstm_vs_batch_max_abs_diff_m3m3": diff,
        "note": "preprocessing, the product fit/apply and the writing run on the CPU; only "
        "the network is on the device",
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.gpu", description=__doc__.splitlines()[0]
    )
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    p.add_argument("--budget-s", type=float, default=420.0, help="stop starting new parts after")
    p.add_argument("--epochs", type=int, default=6)
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if not torch.cuda.is_available():
        print("no CUDA device: nothing to measure", file=sys.stderr)
        return 2
    t_start = time.perf_counter()
    left = lambda: a.budget_s - (time.perf_counter() - t_start)  # noqa: E731
    dev = torch.device("cuda")
    name = torch.cuda.get_device_name(0)
    result: dict = {
        "device": name,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version(),
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "skipped": [],
    }
    print(f"device: {name}", flush=True)

    # ---- inference throughput (first: it is the headline and needs no data files)
    rng = np.random.default_rng(0)
    n_st, n_t = 24, 8760
    x = rng.random((n_st, n_t, N_FEATURES), dtype=np.float32)
    lf = np.full((n_st, n_t), 0.2, dtype=np.float32)
    batcher = WindowBatcher(x, lf, None, WINDOW, dev)
    ends = torch.from_numpy(
        (np.arange(n_st)[:, None] * n_t + np.arange(WINDOW - 1, n_t)[None, :]).reshape(-1)
    ).to(dev)
    rows = []
    for arch, cfg in ARCHS.items():
        for prec in PRECISIONS:
            for b in BATCHES:
                if b > len(ends):
                    continue
                if left() < 200:
                    result["skipped"].append(f"inference {arch} {prec} {b}: budget")
                    continue
                try:
                    r = inference_rate(cfg, prec, b, batcher, ends)
                except torch.OutOfMemoryError:
                    result["skipped"].append(f"inference {arch} {prec} {b}: out of memory")
                    torch.cuda.empty_cache()
                    continue
                rows.append({"model": arch, "precision": prec, "batch": b,
                             "station_hours_per_s": round(r)})  # fmt: skip
                print(f"  {arch:14s} {prec:5s} batch {b:7d}: {r:14,.0f} station-h/s", flush=True)
    result["inference"] = rows
    flops = {k: lstm_flops_per_sample(c, N_FEATURES, WINDOW, training=False)
             for k, c in ARCHS.items() if c.name == "stacked_lstm"}  # fmt: skip
    result["flops_per_window"] = flops
    result["train_epoch"] = []

    # ---- training epoch time and end-to-end correction on the default twin
    try:
        _train_and_correct(result, left, a.epochs)
    except Exception as exc:  # record and still write the inference numbers
        result["skipped"].append(f"train/correct failed: {type(exc).__name__}: {exc}")
        print(f"train/correct failed: {exc!r}", flush=True)
    _finish(result, rows, name, a.out, t_start)
    return 0


def _train_and_correct(result: dict, left, epochs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        cube = None
        if left() > 150:
            t0 = time.perf_counter()
            cube = _twin_cube(work)
            result["twin_and_ingest_seconds"] = round(time.perf_counter() - t0, 1)
            print(f"twin + ingest: {result['twin_and_ingest_seconds']} s", flush=True)
        else:
            result["skipped"].append("twin: budget")
        for prec in ("fp32", "bf16"):
            if cube is None or left() < 60:
                result["skipped"].append(f"train {prec}: budget")
                continue
            _set_precision("fp32")
            r = train_epochs(cube, work, prec, epochs)
            result["train_epoch"].append(r)
            print(f"train paper {prec}: {r['epoch_seconds']}", flush=True)
        if cube is not None and result["train_epoch"] and left() > 30:
            result["correct_station_year"] = correct_rate(
                cube, Path(result["train_epoch"][0]["run_dir"])
            )
            print(f"correct: {result['correct_station_year']}", flush=True)
        else:
            result["skipped"].append("correct: budget")
        if cube is not None and result["train_epoch"] and left() > 30:
            result["product_end_to_end"] = product_end_to_end(
                cube, Path(result["train_epoch"][0]["run_dir"]), work / "product"
            )
            print(f"product end to end: {result['product_end_to_end']}", flush=True)
        else:
            result["skipped"].append("product end to end: budget")


def _finish(result: dict, rows: list[dict], name: str, out: Path, t_start: float) -> None:
    best: dict[str, dict] = {}
    for r in rows:
        key = f"{r['model']}_{r['precision']}"
        if key not in best or r["station_hours_per_s"] > best[key]["station_hours_per_s"]:
            best[key] = r
    summary = {k: {"batch": v["batch"], "station_hours_per_s": v["station_hours_per_s"]}
               for k, v in best.items()}  # fmt: skip
    archive = 254e6
    for k in ("teacher_paper_fp32", "teacher_paper_bf16", "gru_student_fp32", "tcn_student_fp32"):
        if k in summary:
            summary[f"archive_minutes_{k}"] = round(
                archive / summary[k]["station_hours_per_s"] / 60, 2
            )
    if result.get("product_end_to_end"):
        pe = result["product_end_to_end"]
        summary["archive_minutes_product_teacher_paper"] = pe["archive_minutes"]
        summary["archive_minutes_product_target"] = pe["archive_minutes_target"]
        summary["archive_product_target_met"] = (
            pe["archive_minutes"] <= pe["archive_minutes_target"]
        )
    if result.get("train_epoch"):
        summary["paper_epoch_seconds"] = result["train_epoch"][0][
            "epoch_seconds_median_after_first"
        ]
    result["summary"] = summary
    result["wall_seconds"] = round(time.perf_counter() - t_start, 1)
    slug = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"gpu_{slug}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=1, default=str))
    os.replace(tmp, path)
    print(json.dumps(summary, indent=1))
    print(f"wrote {path}")


if __name__ == "__main__":
    sys.exit(main())
