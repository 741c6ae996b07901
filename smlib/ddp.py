"""Data-parallel training with PyTorch DistributedDataParallel (DDP), launched by ``torchrun``.

Launch (one node, two processes; gloo on CPU, nccl when CUDA is present)::

    torchrun --standalone --nproc_per_node=2 -m smlib.ddp cube.nc --out runs/ddp \\
        --profile paper [--set key=value]... [--resume]

    # several nodes: the same on each node, with a rendezvous
    torchrun --nnodes=4 --nproc_per_node=8 --rdzv_backend=c10d \\
        --rdzv_endpoint=head-node:29500 -m smlib.ddp cube.nc --out runs/ddp --profile paper

What changes under DDP (:func:`smlib.train.train` detects an initialised process group):

* **Same global batch.** Every rank draws the same per-epoch sample order (same seed) and takes
  its contiguous share of each global batch of ``train.batch_size`` samples
  (:func:`shard`). Each rank's loss is its sum of squared errors times
  ``world_size / global_batch``; DDP averages gradients over ranks, so the update is the
  gradient of the global batch's MSE -- the single-process update, up to floating-point
  summation order. ``batch_size`` therefore keeps its meaning (32 in the paper profile).
* **Same validation loss.** Validation samples are split over ranks and the squared errors
  all-reduced; early stopping decides identically everywhere.
* **Rank 0 writes** ``config.yaml``, ``scaler.json``, ``metrics.csv``, ``run.json`` and the
  checkpoints (which hold the unwrapped model's weights, loadable without DDP).
* Dropout masks are drawn per rank, so with dropout > 0 the curves agree statistically, not to
  rounding; with ``model.dropout=0`` they agree to rounding (tested). Each rank preprocesses the
  whole cube (cheap next to training); resume restores every rank's RNG state.
"""

from __future__ import annotations

import argparse
import datetime
import logging
import os
import sys
from dataclasses import dataclass

import torch
import torch.distributed as dist

__all__ = ["DistContext", "context", "init_from_env", "shard", "main"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistContext:
    """Where this process stands in a data-parallel job.

    Attributes
    ----------
    rank, world_size : int
        ``(0, 1)`` outside a process group.
    """

    rank: int = 0
    world_size: int = 1

    @property
    def active(self) -> bool:
        """True when more than one process trains."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """True on the process that writes files (rank 0)."""
        return self.rank == 0


def context() -> DistContext:
    """The current :class:`DistContext` (from ``torch.distributed`` when initialised)."""
    if dist.is_available() and dist.is_initialized():
        return DistContext(dist.get_rank(), dist.get_world_size())
    return DistContext()


def init_from_env(backend: str | None = None, timeout_s: float = 1800.0) -> DistContext:
    """Initialise the default process group from the ``torchrun`` environment.

    Parameters
    ----------
    backend : {"gloo", "nccl"}, optional
        Default: ``nccl`` when CUDA is available, else ``gloo``.
    timeout_s : float
        Collective timeout, seconds.

    Returns
    -------
    DistContext
        ``(0, 1)`` without error when ``WORLD_SIZE`` is unset or 1 (plain single process).
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1 or (dist.is_available() and dist.is_initialized()):
        return context()
    if not dist.is_available():
        raise RuntimeError("torch.distributed is not available in this PyTorch build")
    if backend is None:
        backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend, timeout=datetime.timedelta(seconds=timeout_s))
    ctx = context()
    log.info("rank %d of %d initialised (%s)", ctx.rank, ctx.world_size, backend)
    return ctx


def shard(batch: torch.Tensor, ctx: DistContext) -> tuple[torch.Tensor, float]:
    """This rank's contiguous share of a global batch, and its loss weight.

    Parameters
    ----------
    batch : torch.Tensor, shape (n,)
        Sample indices of one global batch (identical on every rank).
    ctx : DistContext

    Returns
    -------
    local : torch.Tensor, shape (m,)
        ``torch.tensor_split(batch, world_size)[rank]``; when a short last batch leaves this rank
        nothing, one sample of the batch is returned with weight 0 (DDP needs every rank to run
        a backward pass).
    weight : float
        Multiply the rank's *mean* loss by this: ``m * world_size / n`` (0 for the placeholder),
        so that the DDP-averaged gradient is that of the global batch mean.
    """
    if not ctx.active:
        return batch, 1.0
    local = torch.tensor_split(batch, ctx.world_size)[ctx.rank]
    if len(local) == 0:
        return batch[:1], 0.0
    return local, len(local) * ctx.world_size / len(batch)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``torchrun ... -m smlib.ddp`` (same options as ``smlib train``)."""
    p = argparse.ArgumentParser(
        prog="torchrun --nproc_per_node=N -m smlib.ddp",
        description="data-parallel training of the stacked LSTM (smlib train under DDP)",
    )
    p.add_argument("cube", help="station cube (NetCDF)")
    p.add_argument("--out", required=True, help="run directory")
    p.add_argument("--profile", default="quick", choices=("quick", "paper"))
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--resume", action="store_true")
    p.add_argument("--backend", default=None, choices=("gloo", "nccl"))
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from smlib.train import train

    ctx = init_from_env(a.backend)
    try:
        train(a.cube, a.out, a.profile, a.overrides, a.resume)
    finally:
        if ctx.active:
            dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
