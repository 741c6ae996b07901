"""Self-training: the network learns from the corrected product instead of the measured series.

The paper's network learns the HF of the *measured* SM, on the days where R(SM, TS) < -0.34 so
that the artefact it would otherwise learn is small. Its series then guides the per-station
artefact fit (:mod:`smlib.method.lagged_artefact`). With ``train.target = "product"`` the
network is trained twice (:func:`smlib.method.train.train` calls :func:`product_target`):

1. **stage 1** -- as the paper, on the measured target; a complete run in ``<out>/stage1``;
2. the run's corrected product is made with it on the training cube (the artefact fitted per
   station with the stage-1 network, the reanalysis and the night equations, and removed);
3. **stage 2** -- the final network, trained afresh on the HF of that product at every
   rain-free hour whose artefact the product removed (flags 0-2), with the R(SM, TS) filter off:
   the target no longer carries the artefact the filter was there to keep out, so every
   rain-free day teaches the network, not only the days where the artefact happened to be weak.

The stage-2 network sees no station identity: pooled over the stations it learns the true
diurnal cycle as a function of its inputs (TS, the reanalysis, the time of day), which averages
out the error of each station's own fit. ``smlib correct`` then refits the product with it as
the signal estimate. What it does and does not gain, world by world, is measured in the skill
benchmark (benchmarks/README.md, "self-training").
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import xarray as xr

from smlib.config import RunConfig, dump_config
from smlib.method.product import FLAG_CORRECTED

log = logging.getLogger(__name__)

__all__ = ["STAGE1_DIR", "product_target", "product_target_cube"]

#: Sub-folder of a run directory holding the stage-1 run.
STAGE1_DIR = "stage1"


def product_target_cube(cube: xr.Dataset, corrected: xr.Dataset) -> tuple[xr.Dataset, float]:
    """The cube with its SM replaced by the corrected product where it removed the artefact.

    Parameters
    ----------
    cube : xarray.Dataset
        Station cube (``sm`` m3 m-3, dims (station, time)).
    corrected : xarray.Dataset
        :func:`smlib.method.correct.correct` of ``cube`` (``sm_lstm``, ``sm_lstm_flag``).

    Returns
    -------
    target_cube : xarray.Dataset
        ``cube`` with ``sm`` the product at hours with flags 0-2 and NaN elsewhere (rain
        hours held by rule, stations left raw, hours without a value): every other variable,
        the inputs included, unchanged.
    share : float
        Share of the measured SM values kept as targets.

    Examples
    --------
    >>> t = np.arange("2020-06-01T00", "2020-06-01T04", dtype="datetime64[h]")
    >>> cube = xr.Dataset({"sm": (("station", "time"), [[0.2, 0.2, 0.2, np.nan]])},
    ...                   coords={"station": ["A"], "time": t})
    >>> corr = xr.Dataset({"sm_lstm": (("station", "time"), [[0.21, 0.19, 0.2, np.nan]]),
    ...                    "sm_lstm_flag": (("station", "time"), [[0, 1, 3, 4]])},
    ...                   coords={"station": ["A"], "time": t})
    >>> out, share = product_target_cube(cube, corr)
    >>> out["sm"].values.round(2).tolist()[0][:3], round(share, 3)
    ([0.21, 0.19, nan], 0.667)
    """
    flag = corrected["sm_lstm_flag"].transpose(*cube["sm"].dims)
    product = corrected["sm_lstm"].transpose(*cube["sm"].dims)
    keep = np.isin(np.asarray(flag.values), FLAG_CORRECTED)
    target = np.where(keep, np.asarray(product.values), np.nan).astype(cube["sm"].dtype)
    measured = np.isfinite(np.asarray(cube["sm"].values))
    share = float((np.isfinite(target) & measured).sum() / max(measured.sum(), 1))
    out = cube.copy()
    out["sm"] = cube["sm"].copy(data=target)
    out["sm"].attrs["comment"] = (
        "training target of a self-trained network: the stage-1 corrected product at the "
        "hours whose artefact it removed (smlib.method.self_training)"
    )
    return out, share


def product_target(
    cube: xr.Dataset,
    source,
    out: Path,
    cfg: RunConfig,
    device: str,
    train: Callable[..., Path],
) -> tuple[xr.Dataset, dict]:
    """Stage 1 of a self-trained run and the target cube of stage 2.

    Trains (or, where ``out/stage1`` already holds a finished run, reuses; an interrupted one,
    resumes) the stage-1 network with the run's configuration and the measured target, corrects
    ``cube`` with it as ``smlib correct`` would, and returns :func:`product_target_cube`.

    Parameters
    ----------
    cube : xarray.Dataset
        The training cube.
    source : path or xarray.Dataset
        What ``train`` was given (recorded by the stage-1 run).
    out : pathlib.Path
        The run directory of the final network.
    cfg : RunConfig
        The run's configuration (``train.target = "product"``).
    device : str
        Device of the stage-1 inference.
    train : callable
        :func:`smlib.method.train.train` (passed in: that module calls this one).

    Returns
    -------
    target_cube : xarray.Dataset
    record : dict
        For ``run.json``: the stage-1 folder and the share of measured values kept as targets.
    """
    from smlib.method.correct import correct
    from smlib.method.runfolder import load_model

    stage1 = out / STAGE1_DIR
    if not (stage1 / "config.yaml").exists():
        stage1.mkdir(parents=True, exist_ok=True)
        first = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, target="measured"))
        dump_config(first, stage1 / "config.yaml")
    log.info("self-training, stage 1 of 2: the network on the measured target (%s)", stage1)
    train(source, stage1, resume=True)
    corrected = correct(cube, load_model(stage1, device), ("lstm",))
    target, share = product_target_cube(cube, corrected)
    log.info(
        "self-training, stage 2 of 2: the network on the stage-1 product (%.0f %% of the "
        "measured values kept as targets)", 100 * share,
    )  # fmt: skip
    return target, {"target": "product", "stage1": STAGE1_DIR, "target_share": round(share, 4)}
