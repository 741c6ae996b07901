"""Data-parallel training with PyTorch DistributedDataParallel (DDP), launched by ``torchrun``.

Launch (one node, two processes; gloo on CPU, nccl when CUDA is present)::

    torchrun --standalone --nproc_per_node=2 -m smlib.method.ddp cube.nc --out runs/ddp \\
        --profile paper [--set key=value]... [--resume]

    # several nodes: the same on each node, with a rendezvous
    torchrun --nnodes=4 --nproc_per_node=8 --rdzv_backend=c10d \\
        --rdzv_endpoint=head-node:29500 -m smlib.method.ddp cube.nc --out runs/ddp --profile paper

This module is the launcher; the distributed context that training reads lives in
:mod:`smlib.method.distributed` (re-exported here). What changes under DDP
(:func:`smlib.method.train.train` detects an initialised process group):

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
import logging
import sys

import torch.distributed as dist

from smlib.method.distributed import DistContext, context, init_from_env, shard

__all__ = ["DistContext", "context", "init_from_env", "shard", "main"]

log = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``torchrun ... -m smlib.method.ddp`` (same options as ``smlib train``)."""
    p = argparse.ArgumentParser(
        prog="torchrun --nproc_per_node=N -m smlib.method.ddp",
        description="data-parallel training of the stacked LSTM (smlib train under DDP)",
    )
    p.add_argument("cube", help="station cube (NetCDF)")
    p.add_argument("--out", required=True, help="run directory")
    p.add_argument(
        "--profile",
        default="recommended",
        choices=("recommended", "recommended_full", "quick", "paper"),
    )
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--resume", action="store_true")
    p.add_argument("--backend", default=None, choices=("gloo", "nccl"))
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from smlib.method.train import train

    ctx = init_from_env(a.backend)
    try:
        train(a.cube, a.out, a.profile, a.overrides, a.resume)
    finally:
        if ctx.active:
            dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
