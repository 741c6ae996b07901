"""Training of the stacked LSTM (paper section 3.1.2) with a resumable run directory.

Data
    Samples are the end hours ``t`` of 18-h windows on **non-reference ISMN stations**
    (``kind == "ismn"`` and not ``is_reference``) whose window is complete, whose SM HF target
    is finite and whose local day has R(SM, TS) < -0.34.
Split (``train.split``)
    ``time`` (default): every station's record is cut into blocks of ``split_block_days`` days
    on a common UTC grid; a fraction ``val_fraction`` of each station's blocks, drawn with the
    seed, validates. A sample belongs to a split only if *all* hours of its window lie in blocks
    of that split, so consecutive train and validation samples are at least ``window_h - 1``
    = 17 h apart and no input hour is shared. (The LF features still average +-12 h around each
    hour; with blocks of two weeks this touches < 4 % of samples.) ``station``: a fraction of
    the stations validates, all their samples; nothing can leak but the split is coarser.
Fast batches
    The scaled features live in one contiguous tensor of shape (station * time, feature). A
    batch of windows is one gather ``x[end[:, None] + arange(-window + 1, 1)]`` -- no Dataset,
    no DataLoader, no per-item slicing, no materialised windows.
Run directory
    ``config.yaml`` (resolved, with the differences from ``paper``), ``scaler.json``,
    ``metrics.csv`` (one row per epoch), ``best.pt`` and ``last.pt`` (atomic), ``run.json``
    (seed, versions, device, sample counts, status, stop reason, wall time, and the cube:
    its absolute path, size and SHA-256 (:func:`smlib.method.runfolder.cube_record`), so that
    ``smlib distill RUN`` finds it).
Resume
    ``last.pt`` holds weights, optimiser, RNG states (torch and the shuffling generator),
    early-stopping state and history; a resumed run draws exactly the batches and dropout
    masks the uninterrupted run would have drawn, so it ends with the same weights (on the same
    device and thread count).
Data-parallel (DDP)
    Under ``torchrun -m smlib.method.ddp`` (see :mod:`smlib.method.ddp`) every rank takes its share of each
    global batch of ``batch_size`` samples, gradients are averaged by DDP so the update equals
    the single-process one, the validation loss is all-reduced and only rank 0 writes files.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import json
import logging
import math
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bottleneck as bn
import numpy as np
import torch
import xarray as xr

from smlib import __version__
from smlib.atomic import atomic_write_text
from smlib.config import (
    RunConfig,
    apply_overrides,
    config_to_dict,
    dump_config,
    get_profile,
    load_config,
)
from smlib.errors import TrainingDivergedError
from smlib.method import distributed as _ddp
from smlib.method.model import build_model
from smlib.method.preprocess import Prepared, prepare, training_stations
from smlib.method.runfolder import (  # noqa: F401  (re-exported: the names train always had)
    CHECKPOINT_FORMAT,
    CHECKPOINT_VERSION,
    CheckpointError,
    WindowBatcher,
    cube_record,
    load_checkpoint,
    load_cube,
    resolve_device,
    save_checkpoint,
)
from smlib.method.scaling import MinMaxScaler
from smlib.progress import progress_bar

__all__ = [
    "CheckpointError",
    "TrainingDivergedError",
    "WindowBatcher",
    "split_samples",
    "save_checkpoint",
    "load_checkpoint",
    "load_cube",
    "resolve_device",
    "train",
]

log = logging.getLogger(__name__)


def split_samples(
    candidates: np.ndarray,
    time: np.ndarray,
    *,
    window: int,
    val_fraction: float,
    split: str = "time",
    block_days: int = 14,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Split candidate end hours into training and validation samples without leakage.

    Parameters
    ----------
    candidates : numpy.ndarray of bool, shape (station, time)
        Usable end hours (only stations meant for training should have any).
    time : array_like of datetime64, shape (time,)
    window : int
        Input window length; a sample's hours ``t-window+1 .. t`` must lie in one split.
    val_fraction : float
    split : {"time", "station"}
    block_days : int
        Block length of the ``time`` split, days (blocks start at 1970-01-01 UTC).
    seed : int

    Returns
    -------
    train, val : numpy.ndarray of int64
        Sorted flat end indices ``s * n_time + t``.
    """
    n_st, n_t = candidates.shape
    rng = np.random.default_rng(seed)
    if split == "station":
        used = np.flatnonzero(candidates.any(1))
        n_val = max(1, round(val_fraction * len(used))) if len(used) > 1 else 0
        val_st = rng.choice(used, size=n_val, replace=False) if n_val else np.array([], int)
        is_val = np.zeros((n_st, n_t), dtype=bool)
        is_val[val_st] = True
        tr, va = candidates & ~is_val, candidates & is_val
        return np.flatnonzero(tr), np.flatnonzero(va)
    if split != "time":
        raise ValueError(f"unknown split {split!r}")
    hours = np.asarray(time, dtype="datetime64[h]").astype(np.int64)
    block = hours // (24 * block_days)
    ublock, block_idx = np.unique(block, return_inverse=True)
    n_blocks = len(ublock)
    n_val = round(val_fraction * n_blocks)
    label = np.zeros((n_st, n_blocks), dtype=bool)  # True = validation block
    for s in range(n_st):
        label[s, rng.choice(n_blocks, size=n_val, replace=False)] = True
    is_val = label[:, block_idx].astype(np.float32)  # (station, time)
    # window entirely inside one split <=> its moving min == max of the labels
    lo = bn.move_min(is_val, window, min_count=window, axis=1)
    hi = bn.move_max(is_val, window, min_count=window, axis=1)
    pure = lo == hi
    tr = candidates & pure & (hi == 0)
    va = candidates & pure & (lo == 1)
    return np.flatnonzero(tr), np.flatnonzero(va)


# --------------------------------------------------------------------------- training loop
def _loss_fn(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """MSE on the normalised HF domain (paper section 3.1.2)."""
    return torch.mean((pred - target) ** 2)


@dataclass
class _State:
    epoch: int = 0
    best_val: float = math.inf
    best_epoch: int = -1
    bad_epochs: int = 0
    history: list[dict[str, float]] | None = None


def _write_metrics(path: Path, history: list[dict[str, float]]) -> None:
    buf = io.StringIO()
    fields = ["epoch", "train_loss", "val_loss", "best", "n_batches", "seconds"]
    w = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    w.writeheader()
    for row in history:
        w.writerow({k: row[k] for k in fields})
    atomic_write_text(path, buf.getvalue())


def _covered_hours(end_idx: np.ndarray, shape: tuple[int, int], window: int) -> np.ndarray:
    """Boolean (station, time) mask of every hour inside a window ending at ``end_idx``."""
    m = np.zeros(shape[0] * shape[1], dtype=np.float32)
    m[end_idx] = 1.0
    m = m.reshape(shape)[:, ::-1]
    cov = bn.move_max(m, window, min_count=1, axis=1)[:, ::-1]
    return cov > 0


@torch.no_grad()
def _evaluate(
    model: torch.nn.Module, batcher: WindowBatcher, idx: torch.Tensor, batch_size: int
) -> float:
    """Mean squared error over ``idx``; under DDP each rank takes a share, sums are all-reduced."""
    model.eval()
    ctx = _ddp.context()
    if ctx.active:
        idx = torch.tensor_split(idx, ctx.world_size)[ctx.rank]
    total, n = 0.0, 0
    for start in range(0, len(idx), batch_size):
        xb, lfb, yb = batcher.batch(idx[start : start + batch_size])
        pred = model(xb, lfb)
        total += float(torch.sum((pred - yb) ** 2))
        n += len(yb)
    if ctx.active:
        sums = torch.tensor([total, float(n)], dtype=torch.float64, device=batcher.device)
        torch.distributed.all_reduce(sums)
        total, n = float(sums[0]), int(sums[1])
    return total / max(n, 1)


def _write_run_info(out: Path, info: dict[str, Any]) -> None:
    if _ddp.context().is_main:
        atomic_write_text(out / "run.json", json.dumps(info, indent=1, default=str))


def _rank_rng_states() -> list[torch.Tensor] | None:
    """Every rank's torch RNG state under DDP (gathered on all ranks), else None."""
    ctx = _ddp.context()
    if not ctx.active:
        return None
    states: list[Any] = [None] * ctx.world_size
    torch.distributed.all_gather_object(states, torch.get_rng_state())
    return states


def train(
    cube: str | os.PathLike | xr.Dataset,
    out: str | os.PathLike,
    profile: str = "quick",
    overrides: tuple[str, ...] | list[str] = (),
    resume: bool = False,
    *,
    stop_after: int | None = None,
) -> Path:
    """Train the LSTM on a station cube and fill the run directory ``out``.

    Parameters
    ----------
    cube : path or xarray.Dataset
        Station cube (docs/architecture.md).
    out : path
        Run directory (created).
    profile : {"quick", "paper"}
        Configuration profile (:mod:`smlib.config`); ignored on resume.
    overrides : sequence of str
        ``section.key=value`` strings (strict keys). On resume they must not change the config.
    resume : bool
        Continue from ``out/last.pt``.
    stop_after : int, optional
        Stop after this many epochs in this call (time-limited jobs); continue with ``resume``.
        With ``train.target=product`` it counts the epochs of stage 2; stage 1
        (:mod:`smlib.method.self_training`) runs to its end first, or is reused when finished.

    Returns
    -------
    pathlib.Path
        The run directory; ``best.pt`` holds the weights of minimum validation loss.

    Raises
    ------
    FileExistsError
        ``out`` already holds a run and ``resume`` is False.
    CheckpointError
        ``last.pt`` is unusable or from another configuration.
    TrainingDivergedError
        Non-finite loss; epoch and batch are named, ``best.pt`` keeps the best weights.
    """
    out = Path(out)
    t_start = time.perf_counter()
    ctx = _ddp.context()
    if resume:
        if not (out / "config.yaml").exists():
            raise FileNotFoundError(f"{out}: no config.yaml to resume from")
        cfg = load_config(out / "config.yaml")
        if overrides and apply_overrides(cfg, overrides) != cfg:
            raise ValueError(
                f"{out}: overrides {list(overrides)} would change the configuration of a resumed run"
            )
        info_path = out / "run.json"
        if info_path.exists() and json.loads(info_path.read_text()).get("status") == "finished":
            log.info("%s: run already finished; nothing to resume", out)
            return out
    else:
        if (out / "last.pt").exists() or (out / "best.pt").exists():
            raise FileExistsError(
                f"{out} already holds a run; use resume=True (--resume) or another --out"
            )
        cfg = get_profile(profile, overrides)
        if ctx.is_main:
            out.mkdir(parents=True, exist_ok=True)
            dump_config(cfg, out / "config.yaml")
    tc = cfg.train
    if tc.num_threads:
        torch.set_num_threads(tc.num_threads)
    device = resolve_device(tc.device)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    torch.manual_seed(tc.seed)

    ds = load_cube(cube)
    stages: dict = {}
    if tc.target == "product":  # self-training: stage 1, then this run on its product
        if ctx.active:
            raise ValueError("train.target=product does not run under DDP; train on one device")
        from smlib.method.self_training import product_target

        ds, stages = product_target(ds, cube, out, cfg, str(device), train)
        torch.manual_seed(tc.seed)  # stage 2 starts from the seed, as a run of its own
    # the product holds no artefact to keep out: every rain-free day with an R(SM, TS) teaches
    pp = dataclasses.replace(cfg.preprocess, r_threshold=np.inf) if stages else cfg.preprocess
    prep = prepare(ds, pp, training=True)
    use = training_stations(ds)
    if not use.any():
        raise ValueError("the cube has no non-reference ISMN station to train on")
    cand = prep.training_mask() & use[:, None]
    w = prep.window_h
    tr_idx, va_idx = split_samples(
        cand, prep.time.values, window=w, val_fraction=tc.val_fraction, split=tc.split,
        block_days=tc.split_block_days, seed=tc.seed,
    )  # fmt: skip
    if len(tr_idx) == 0 or len(va_idx) == 0:
        raise ValueError(
            f"no training ({len(tr_idx)}) or validation ({len(va_idx)}) samples: too few complete "
            "days with R(SM, TS) below the threshold on non-reference ISMN stations"
        )
    log.info(
        "%d training / %d validation samples from %d stations (%d candidate end hours)",
        len(tr_idx), len(va_idx), int(use.sum()), int(cand.sum()),
    )  # fmt: skip
    scaler = _fit_or_load_scaler(out, prep, tr_idx, resume)
    batcher = WindowBatcher(
        scaler.transform(prep.x), prep.sm_lf, scaler.transform_target(prep.sm_hf), w, device
    )
    if tc.max_val_samples and len(va_idx) > tc.max_val_samples:
        va_idx = np.sort(
            np.random.default_rng(tc.seed + 1).choice(va_idx, tc.max_val_samples, replace=False)
        )
    tr_t = torch.from_numpy(tr_idx)
    tr_d = tr_t.to(device)
    va_t = torch.from_numpy(va_idx)

    model = build_model(cfg.model, len(prep.features), scaler.y_min, scaler.y_max).to(device)
    # under DDP the wrapper averages gradients; checkpoints hold the plain ``model``'s weights
    net = (
        torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
        if ctx.active
        else model
    )
    opt = torch.optim.Adam(model.parameters(), lr=tc.lr)
    gen = torch.Generator().manual_seed(tc.seed)
    state = _State(history=[])
    if resume and (out / "last.pt").exists():
        ck = load_checkpoint(out / "last.pt", cfg)
        model.load_state_dict(ck["model_state"])
        opt.load_state_dict(ck["optimizer_state"])
        gen.set_state(ck["shuffle_rng"])
        rank_rng = ck.get("torch_rng_ranks")
        if ctx.active and rank_rng is not None and len(rank_rng) == ctx.world_size:
            torch.set_rng_state(rank_rng[ctx.rank])
        else:
            torch.set_rng_state(ck["torch_rng"])
        if device.type == "cuda" and ck.get("cuda_rng") is not None:
            torch.cuda.set_rng_state_all(ck["cuda_rng"])
        state = _State(
            ck["epoch"], ck["best_val"], ck["best_epoch"], ck["bad_epochs"], list(ck["history"])
        )
        log.info(
            "resuming %s at epoch %d (best %.5g at epoch %d)",
            out,
            state.epoch,
            state.best_val,
            state.best_epoch,
        )

    n_per_epoch = min(len(tr_t), tc.max_samples_per_epoch or len(tr_t))
    n_batches = math.ceil(n_per_epoch / tc.batch_size)
    info = {
        "smlib_version": __version__,
        "torch_version": torch.__version__,
        "python": platform.python_version(),
        "device": str(device),
        "threads": torch.get_num_threads(),
        "world_size": ctx.world_size,
        "seed": tc.seed,
        "profile": cfg.profile,
        **(cube_record(cube) if ctx.is_main else {}),  # only rank 0 writes run.json
        "features": list(prep.features),
        "stations_trained": [str(s) for s in prep.station[use]],
        "n_train_samples": len(tr_idx),
        "n_val_samples": len(va_idx),
        "samples_per_epoch": n_per_epoch,
        **stages,
        "status": "running",
    }
    _write_run_info(out, info)
    stop_reason = "max_epochs"
    epochs_this_call = 0
    autocast = (
        torch.autocast(device.type, dtype=torch.bfloat16)
        if tc.precision == "bf16"
        else contextlib.nullcontext()
    )
    bar = progress_bar(
        total=tc.max_epochs,
        initial=state.epoch,
        desc="epochs",
        unit="ep",
        disable=None if ctx.is_main else True,
    )
    while state.epoch < tc.max_epochs:
        t0 = time.perf_counter()
        model.train()
        order = torch.randperm(len(tr_t), generator=gen)[:n_per_epoch].to(device)
        losses = torch.empty(n_batches, device=device)
        for b in range(n_batches):
            end = tr_d[order[b * tc.batch_size : (b + 1) * tc.batch_size]]
            if ctx.active:  # this rank's share of the global batch (smlib.method.ddp)
                end, weight = _ddp.shard(end, ctx)
                xb, lfb, yb = batcher.batch(end)
                with autocast:
                    pred = net(xb, lfb)
                loss = _loss_fn(pred, yb) * weight
                global_loss = loss.detach().clone()
                torch.distributed.all_reduce(global_loss)
                losses[b] = global_loss / ctx.world_size  # the global batch's MSE
            else:
                xb, lfb, yb = batcher.batch(end)
                with autocast:
                    pred = model(xb, lfb)
                loss = _loss_fn(pred, yb)
                losses[b] = loss.detach()
            # a host sync per batch is free on CPU; on CUDA check every 50 batches (the exact
            # offending batch is still found; best.pt is untouched by later steps)
            if device.type != "cuda" or b % 50 == 49 or b == n_batches - 1:
                _check_finite(losses, b, state, out, info, bar)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        n_last = n_per_epoch - (n_batches - 1) * tc.batch_size
        weights = torch.full((n_batches,), float(tc.batch_size), device=device)
        weights[-1] = n_last
        total = (losses * weights).sum()
        train_loss = float(total) / n_per_epoch
        val_loss = _evaluate(model, batcher, va_t, tc.eval_batch_size)
        improved = val_loss < state.best_val
        if improved:
            state.best_val, state.best_epoch, state.bad_epochs = val_loss, state.epoch, 0
            if ctx.is_main:
                save_checkpoint(
                    out / "best.pt",
                    _weights_payload(cfg, model, scaler, prep, state.epoch, val_loss),
                )
        else:
            state.bad_epochs += 1
        state.history.append(
            {
                "epoch": state.epoch, "train_loss": train_loss, "val_loss": val_loss,
                "best": int(improved), "n_batches": n_batches, "seconds": round(time.perf_counter() - t0, 3),
            }
        )  # fmt: skip
        state.epoch += 1
        rank_rng = _rank_rng_states()
        if ctx.is_main:
            _write_metrics(out / "metrics.csv", state.history)
            save_checkpoint(
                out / "last.pt",
                {
                    "config": config_to_dict(cfg),
                    "model_state": model.state_dict(),
                    "optimizer_state": opt.state_dict(),
                    "shuffle_rng": gen.get_state(),
                    "torch_rng": torch.get_rng_state(),
                    "torch_rng_ranks": rank_rng,
                    "cuda_rng": torch.cuda.get_rng_state_all() if device.type == "cuda" else None,
                    "epoch": state.epoch,
                    "best_val": state.best_val,
                    "best_epoch": state.best_epoch,
                    "bad_epochs": state.bad_epochs,
                    "history": state.history,
                },
            )
        bar.update(1)
        bar.set_postfix(train=f"{train_loss:.4g}", val=f"{val_loss:.4g}", best=state.best_epoch)
        epochs_this_call += 1
        if state.bad_epochs >= tc.patience:
            stop_reason = f"early stopping: no improvement for {tc.patience} epochs"
            break
        if (
            stop_after is not None
            and epochs_this_call >= stop_after
            and state.epoch < tc.max_epochs
        ):
            bar.close()
            info.update(status="interrupted", epochs_done=state.epoch)
            _write_run_info(out, info)
            log.info(
                "%s: stopped after %d epochs as asked; resume to continue", out, epochs_this_call
            )
            return out
    bar.close()
    info.update(
        status="finished",
        stop_reason=stop_reason,
        epochs=state.epoch,
        best_epoch=state.best_epoch,
        best_val_loss=state.best_val,
        wall_seconds_last_call=round(time.perf_counter() - t_start, 2),
    )
    _write_run_info(out, info)
    log.info(
        "%s: %s after %d epochs; best val MSE %.5g at epoch %d",
        out,
        stop_reason,
        state.epoch,
        state.best_val,
        state.best_epoch,
    )
    if ctx.is_main:  # the outcome the progress bar showed, where no bar is drawn (the book)
        print(_outcome_line(state.epoch, tc.max_epochs, state.best_epoch, state.best_val))
    return out


def _outcome_line(epochs: int, max_epochs: int, best_epoch: int, best_val: float) -> str:
    """One line on how training ended, e.g. ``training stopped early after 17 of 60 epochs,
    best at epoch 4 (validation MSE 0.0012)``; epochs are numbered from 0 as in ``metrics.csv``."""
    if epochs < max_epochs:
        how = f"stopped early after {epochs} of {max_epochs} epochs"
    else:
        how = f"ran the full {max_epochs} epoch{'s' if max_epochs != 1 else ''}"
    return f"training {how}, best at epoch {best_epoch} (validation MSE {best_val:.3g})"


def _check_finite(
    losses: torch.Tensor, upto: int, state: _State, out: Path, info: dict, bar: Any
) -> None:
    """Raise :class:`TrainingDivergedError` naming the first non-finite batch loss."""
    bad = ~torch.isfinite(losses[: upto + 1])
    if bool(bad.any()):
        b = int(torch.nonzero(bad)[0, 0])
        info.update(status="diverged", diverged_at={"epoch": state.epoch, "batch": b})
        _write_run_info(out, info)
        bar.close()
        raise TrainingDivergedError(
            f"non-finite loss ({losses[b].item()}) at epoch {state.epoch}, batch {b}; "
            f"best weights (epoch {state.best_epoch}) kept in {out / 'best.pt'}"
        )


def _fit_or_load_scaler(
    out: Path, prep: Prepared, tr_idx: np.ndarray, resume: bool
) -> MinMaxScaler:
    """Fit the scaler on the hours of the training windows (or reload it on resume)."""
    path = out / "scaler.json"
    cov = _covered_hours(tr_idx, prep.sm.shape, prep.window_h)
    fitted = MinMaxScaler.fit(prep.x[cov], prep.sm_hf.reshape(-1)[tr_idx], prep.features)
    if resume and path.exists():
        saved = MinMaxScaler.load(path)
        if (
            saved.features != fitted.features
            or not np.allclose(saved.x_min, fitted.x_min)
            or not np.allclose(saved.x_max, fitted.x_max)
        ):
            raise ValueError(f"{path}: the cube differs from the one this run was started on")
        return saved
    if _ddp.context().is_main:
        fitted.save(path)
    return fitted


def _weights_payload(
    cfg: RunConfig,
    model: torch.nn.Module,
    scaler: MinMaxScaler,
    prep: Prepared,
    epoch: int,
    val_loss: float,
) -> dict[str, Any]:
    return {
        "config": config_to_dict(cfg),
        "model_state": model.state_dict(),
        "scaler": scaler.to_dict(),
        "features": list(prep.features),
        "epoch": epoch,
        "val_loss": val_loss,
    }
