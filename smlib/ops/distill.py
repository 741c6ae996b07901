"""Distil the stacked LSTM (teacher) into a small operational model (student).

Why
    Each corrected hour costs the paper's 3 x 256 LSTM about 48 MFLOP; windows share no state,
    so on CPUs only a smaller network corrects the ISMN archive (about 254 M station-hours) in
    hours rather than days. A student with a few thousand weights reproduces the teacher's
    output closely because it learns a smooth, known function on dense data, not the noisy
    targets the teacher learned from.
Data
    Every station-hour of the cube that the teacher can correct (a complete input window and a
    finite SM LF: ``Prepared.valid_end`` at inference, rain hours included, every station) is
    a training sample -- not only the rain-screened, R(SM, TS)-filtered days the teacher was
    trained on. The target is the teacher's normalised HF output (after its Physics Constraint
    Layer), on the teacher's own scaling; inputs are the teacher's features scaled with the
    teacher's scaler, so the student plugs into the same preprocessing unchanged.
Split and cost
    :func:`smlib.method.train.split_samples` (time blocks, ``train.val_fraction``) separates training
    from validation hours; at most ``max_samples`` training and ``train.max_val_samples``
    validation hours are drawn (the teacher labels only those), ``train.max_samples_per_epoch``
    per epoch, early stopping on the validation MSE (``train.patience``). Measured on the
    default twin (46 stations x 1 year, 196,666 correctable hours) with the ``quick`` teacher
    on a shared 2-core machine (load average 4-6, other jobs running): about 100 s on one
    thread (58 s for a 16-unit GRU), of which 13-15 s are the teacher's labelling pass, and
    about 450 s with two oversubscribed threads; ``benchmarks/bench_operational.py`` records it
    on each run (``timings_s``). The ``paper`` teacher labels about 10x slower (65,536 + 16,384 hours at
    ~2,000 station-hours/s: ~40 s more on one core).
Result
    An ordinary run directory: ``config.yaml`` (the teacher's configuration with the
    student's ``model`` and ``train`` sections; a comment header names the teacher run and the
    architecture), ``best.pt`` in :mod:`smlib.method.train`'s checkpoint format, ``scaler.json`` (the
    teacher's), ``metrics.csv`` and ``run.json`` (teacher, cube, sample counts, agreement with
    the teacher on the validation hours). :func:`smlib.method.runfolder.load_model`, ``smlib correct
    --model`` and :class:`smlib.method.correct.StreamingCorrector` apply it unchanged.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch
import xarray as xr

from smlib import __version__
from smlib.atomic import atomic_write_text
from smlib.config import ModelConfig, RunConfig, apply_overrides, config_to_dict, dump_config
from smlib.method.model import MODELS, build_model
from smlib.method.preprocess import prepare
from smlib.method.runfolder import (
    LoadedModel,
    WindowBatcher,
    cube_record,
    load_cube,
    load_model,
    recorded_cube,
    resolve_device,
    save_checkpoint,
)
from smlib.method.train import split_samples
from smlib.progress import progress_bar

__all__ = ["STUDENTS", "student_config", "teacher_targets", "distill"]

log = logging.getLogger(__name__)

#: Student architecture name -> its default network (a key of :data:`smlib.method.model.MODELS`).
STUDENTS: dict[str, ModelConfig] = {
    "gru_student": ModelConfig(
        name="gru_student", hidden_size=32, num_layers=1, dropout=0.0, dense=(32,)
    ),
    "tcn_student": ModelConfig(
        name="tcn_student", hidden_size=32, num_layers=4, dropout=0.0, dense=(32,)
    ),
}


def student_config(
    teacher: RunConfig, arch: str = "gru_student", overrides: tuple[str, ...] | list[str] = ()
) -> RunConfig:
    """The student's run configuration.

    The teacher's ``preprocess``, ``correct`` and ``fourier`` sections are kept (the student
    must see the same inputs); ``model`` is the student architecture (:data:`STUDENTS`, or any
    :data:`smlib.method.model.MODELS` key with the teacher's sizes), ``train`` the distillation
    budget: Adam 4e-3 (divided by 3 when the validation loss stalls for 2 epochs), batch 512,
    at most 30 epochs of 32,768 windows, patience 6, on one CPU thread (a network this small
    gains nothing from more; on a shared 2-core machine two threads made it 4x slower).
    ``overrides`` (``section.key=value``) apply last.
    """
    if arch in STUDENTS:
        model = STUDENTS[arch]
    elif arch in MODELS:
        model = dataclasses.replace(teacher.model, name=arch)
    else:
        raise KeyError(f"unknown student architecture {arch!r}; registered: {sorted(MODELS)}")
    train = dataclasses.replace(
        teacher.train,
        lr=4e-3,
        batch_size=512,
        max_epochs=30,
        patience=6,
        max_samples_per_epoch=32_768,
        max_val_samples=16_384,
        device="cpu",
        num_threads=1,
        precision="fp32",
    )
    return apply_overrides(dataclasses.replace(teacher, model=model, train=train), overrides)


@torch.no_grad()
def teacher_targets(
    teacher: LoadedModel, batcher: WindowBatcher, ends: np.ndarray, batch_size: int = 8192
) -> np.ndarray:
    """The teacher's normalised HF output (Physics Constraint Layer applied) at ``ends``.

    Parameters
    ----------
    teacher : LoadedModel
    batcher : WindowBatcher
        Scaled features of the cube (teacher's scaler), on the teacher's device.
    ends : numpy.ndarray of int64, shape (n,)
        Flat end indices ``station * n_time + t``.

    Returns
    -------
    numpy.ndarray of float32, shape (n,)
    """
    teacher.model.eval()
    out = np.empty(len(ends), dtype=np.float32)
    idx = torch.from_numpy(ends)
    bar = progress_bar(total=len(ends), desc="teacher labels", unit="h", unit_scale=True)
    with bar:
        for s in range(0, len(ends), batch_size):
            xb, lfb, _ = batcher.batch(idx[s : s + batch_size])
            out[s : s + len(xb)] = teacher.model(
                xb.to(teacher.device), lfb.to(teacher.device)
            ).cpu()
            bar.update(len(xb))
    return out


def _mse(model: torch.nn.Module, batcher: WindowBatcher, idx: torch.Tensor, bs: int) -> float:
    model.eval()
    total = 0.0
    with torch.no_grad():
        for s in range(0, len(idx), bs):
            xb, lfb, yb = batcher.batch(idx[s : s + bs])
            total += float(torch.sum((model(xb, lfb) - yb) ** 2))
    return total / max(len(idx), 1)


def _agreement(model, batcher: WindowBatcher, idx: torch.Tensor, span: float) -> dict:
    """Student vs teacher HF on validation hours: correlation and RMSE in m3 m-3."""
    model.eval()
    with torch.no_grad():
        xb, lfb, yb = batcher.batch(idx)
        pred = model(xb, lfb).numpy().astype(np.float64)
    target = yb.numpy().astype(np.float64)
    r = float(np.corrcoef(pred, target)[0, 1]) if len(target) > 2 else math.nan
    return {
        "hf_r_student_teacher": round(r, 5),
        "hf_rmse_m3m3": float(np.sqrt(np.mean((pred - target) ** 2)) * span),
        "n_hours": len(target),
    }


def distill(
    teacher_run: str | os.PathLike,
    out: str | os.PathLike,
    cube: str | os.PathLike | xr.Dataset | None = None,
    arch: str = "gru_student",
    overrides: tuple[str, ...] | list[str] = (),
    *,
    max_samples: int = 65_536,
    label_batch_size: int = 8192,
) -> Path:
    """Train a student to reproduce a teacher run's HF on every hour the teacher can correct.

    Parameters
    ----------
    teacher_run : path
        Trained run directory (``best.pt`` is the teacher).
    out : path
        Run directory of the student (created; must not hold a run).
    cube : path or xarray.Dataset, optional
        Station cube; default: the cube the teacher's ``run.json`` records
        (:func:`smlib.method.runfolder.recorded_cube`: it must exist and be unchanged).
    arch : str
        Student architecture (:data:`STUDENTS`: ``gru_student``, ``tcn_student``; or another
        :data:`smlib.method.model.MODELS` key).
    overrides : sequence of str
        ``section.key=value`` on the student configuration (e.g. ``model.hidden_size=48``,
        ``train.max_epochs=20``, ``train.device=cuda``).
    max_samples : int
        Most training hours the teacher labels (validation: ``train.max_val_samples``).
    label_batch_size : int
        Batch size of the teacher's labelling pass.

    Returns
    -------
    pathlib.Path
        ``out``; ``best.pt`` holds the student of minimum validation MSE.

    Raises
    ------
    FileExistsError
        ``out`` already holds a run.
    ValueError
        No cube given and the recorded one is not recorded, gone or changed (one line saying
        how to pass one), or no hour the teacher can correct.
    """
    t_start = time.perf_counter()
    teacher_run, out = Path(teacher_run), Path(out)
    if (out / "best.pt").exists() or (out / "last.pt").exists():
        raise FileExistsError(f"{out} already holds a run; choose another --out")
    teacher = load_model(teacher_run, device="cpu")
    cfg = student_config(teacher.config, arch, overrides)
    tc = cfg.train
    if tc.num_threads:
        torch.set_num_threads(tc.num_threads)
    device = resolve_device(tc.device)
    teacher.model.to(device)
    teacher.device = device
    torch.manual_seed(tc.seed)
    rng = np.random.default_rng(tc.seed)

    if cube is None:  # the teacher's, found unchanged where its run.json says
        cube = recorded_cube(teacher_run)
    cube_name = str(cube) if not isinstance(cube, xr.Dataset) else "<in-memory Dataset>"
    ds = load_cube(cube)
    prep = prepare(ds, cfg.preprocess, training=False)
    if tuple(prep.features) != tuple(teacher.scaler.features):
        raise ValueError(
            f"the cube gives features {prep.features}, the teacher expects {teacher.scaler.features}"
        )
    tr_idx, va_idx = split_samples(
        prep.valid_end, prep.time.values, window=prep.window_h, val_fraction=tc.val_fraction,
        split=tc.split, block_days=tc.split_block_days, seed=tc.seed,
    )  # fmt: skip
    if len(tr_idx) == 0 or len(va_idx) == 0:
        raise ValueError(
            f"{cube_name}: no hour the teacher can correct in the training ({len(tr_idx)}) or "
            f"validation ({len(va_idx)}) split"
        )
    n_candidates = len(tr_idx) + len(va_idx)
    if len(tr_idx) > max_samples:
        tr_idx = np.sort(rng.choice(tr_idx, max_samples, replace=False))
    if tc.max_val_samples and len(va_idx) > tc.max_val_samples:
        va_idx = np.sort(rng.choice(va_idx, tc.max_val_samples, replace=False))
    scaler = teacher.scaler
    x_scaled = scaler.transform(prep.x)
    labeller = WindowBatcher(x_scaled, prep.sm_lf, None, prep.window_h, teacher.device)
    t0 = time.perf_counter()
    ends = np.concatenate([tr_idx, va_idx])
    y = np.full(prep.sm.size, np.nan, dtype=np.float32)
    y[ends] = teacher_targets(teacher, labeller, ends, label_batch_size)
    label_seconds = time.perf_counter() - t0
    del labeller
    log.info(
        "teacher %s labelled %d training + %d validation hours (of %d it can correct) in %.1f s",
        teacher_run, len(tr_idx), len(va_idx), n_candidates, label_seconds,
    )  # fmt: skip

    out.mkdir(parents=True, exist_ok=True)
    header = (
        f"# distilled by smlib.ops.distill (smlib {__version__})\n"
        f"# teacher run: {teacher_run.resolve()}\n"
        f"# student architecture: {cfg.model.name}\n"
    )
    atomic_write_text(out / "config.yaml", header + dump_config(cfg))
    scaler.save(out / "scaler.json")
    batcher = WindowBatcher(x_scaled, prep.sm_lf, y.reshape(prep.sm.shape), prep.window_h, device)
    model = build_model(cfg.model, len(prep.features), scaler.y_min, scaler.y_max).to(device)
    history, best_epoch, best_val, wall = _fit(model, batcher, tr_idx, va_idx, cfg, out, scaler)
    state = torch.load(out / "best.pt", map_location="cpu", weights_only=True)["model_state"]
    model.load_state_dict(state)
    span = scaler.y_max - scaler.y_min
    agreement = _agreement(model.cpu(), batcher, torch.from_numpy(va_idx), span)
    info = {
        "smlib_version": __version__,
        "torch_version": torch.__version__,
        "python": platform.python_version(),
        "kind": "distilled",
        "teacher_run": str(teacher_run.resolve()),
        "teacher_model": config_to_dict(teacher.config.model),
        "arch": cfg.model.name,
        "n_parameters": int(sum(p.numel() for p in model.parameters())),
        **cube_record(cube),
        "device": str(device),
        "threads": torch.get_num_threads(),
        "features": list(prep.features),
        "n_candidate_hours": n_candidates,
        "n_train_samples": len(tr_idx),
        "n_val_samples": len(va_idx),
        "label_seconds": round(label_seconds, 2),
        "train_seconds": round(wall, 2),
        "epochs": len(history),
        "best_epoch": best_epoch,
        "best_val_loss": best_val,
        "validation_agreement": agreement,
        "status": "finished",
        "wall_seconds": round(time.perf_counter() - t_start, 2),
    }
    atomic_write_text(out / "run.json", json.dumps(info, indent=1, default=str))
    print(
        f"distilled {cfg.model.name} ({info['n_parameters']} weights) from {teacher_run.name}: "
        f"{len(history)} epochs, best at {best_epoch}; HF r(student, teacher) = "
        f"{agreement['hf_r_student_teacher']:.4f}, RMSE {agreement['hf_rmse_m3m3']:.2e} m3 m-3"
    )
    return out


def _fit(
    model: torch.nn.Module,
    batcher: WindowBatcher,
    tr_idx: np.ndarray,
    va_idx: np.ndarray,
    cfg: RunConfig,
    out: Path,
    scaler,
) -> tuple[list[dict], int, float, float]:
    """Adam on the MSE to the teacher's output, early stopping; writes best.pt, metrics.csv."""
    tc = cfg.train
    t0 = time.perf_counter()
    opt = torch.optim.Adam(model.parameters(), lr=tc.lr)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.3, patience=2)
    gen = torch.Generator().manual_seed(tc.seed)
    tr_t, va_t = torch.from_numpy(tr_idx), torch.from_numpy(va_idx)
    n_epoch = min(len(tr_t), tc.max_samples_per_epoch or len(tr_t))
    best_val, best_epoch, bad = math.inf, -1, 0
    history: list[dict] = []
    bar = progress_bar(total=tc.max_epochs, desc="distil", unit="ep")
    for epoch in range(tc.max_epochs):
        te = time.perf_counter()
        model.train()
        order = tr_t[torch.randperm(len(tr_t), generator=gen)[:n_epoch]]
        total = 0.0
        for s in range(0, n_epoch, tc.batch_size):
            xb, lfb, yb = batcher.batch(order[s : s + tc.batch_size])
            loss = torch.mean((model(xb, lfb) - yb) ** 2)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(yb)
        if not math.isfinite(total):
            raise FloatingPointError(f"non-finite distillation loss at epoch {epoch}")
        val = _mse(model, batcher, va_t, tc.eval_batch_size)
        sched.step(val)
        improved = val < best_val
        if improved:
            best_val, best_epoch, bad = val, epoch, 0
            save_checkpoint(
                out / "best.pt",
                {
                    "config": config_to_dict(cfg),
                    "model_state": model.state_dict(),
                    "scaler": scaler.to_dict(),
                    "features": list(scaler.features),
                    "epoch": epoch,
                    "val_loss": val,
                },
            )
        else:
            bad += 1
        history.append(
            {"epoch": epoch, "train_loss": total / n_epoch, "val_loss": val,
             "best": int(improved), "seconds": round(time.perf_counter() - te, 3)}
        )  # fmt: skip
        bar.update(1)
        bar.set_postfix(val=f"{val:.3g}", best=best_epoch)
        if bad >= tc.patience:
            break
    bar.close()
    lines = ["epoch,train_loss,val_loss,best,seconds"]
    lines += [
        f"{h['epoch']},{h['train_loss']:.6g},{h['val_loss']:.6g},{h['best']},{h['seconds']}"
        for h in history
    ]
    atomic_write_text(out / "metrics.csv", "\n".join(lines) + "\n")
    return history, best_epoch, best_val, time.perf_counter() - t0
