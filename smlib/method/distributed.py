"""The distributed context of a data-parallel training job (no launcher, no training code).

:func:`smlib.method.train.train` reads where its process stands from here; the ``torchrun`` launcher
(:mod:`smlib.method.ddp`) imports the training code, so keeping the two apart leaves no import cycle.
The protocol (same global batch, rank 0 writes) is described in :mod:`smlib.method.ddp`.
"""

from __future__ import annotations

import datetime
import logging
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

__all__ = ["DistContext", "context", "init_from_env", "shard"]

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
