"""The run folder: everything a trained model is saved as and loaded from.

A run folder (``runs/NAME``) holds ``config.yaml`` (the resolved :class:`smlib.config.RunConfig`),
``scaler.json``, ``metrics.csv``, ``run.json`` and the checkpoints ``best.pt`` / ``last.pt``.
This module owns their formats and the pieces that training, correction, sensitivity and
distillation share: opening the cube, choosing the device, gathering windows, and writing and
checking checkpoints, and loading a trained model for inference (:func:`load_model`). :mod:`smlib.method.train` re-exports the names it always had.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import xarray as xr

from smlib import __version__
from smlib.atomic import atomic_path
from smlib.config import RunConfig, config_from_dict, config_to_dict, load_config
from smlib.digests import file_sha256
from smlib.errors import CheckpointError, reading_netcdf
from smlib.method.model import build_model
from smlib.method.scaling import MinMaxScaler

__all__ = [
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_VERSION",
    "CheckpointError",
    "load_cube",
    "cube_record",
    "recorded_cube",
    "resolve_device",
    "WindowBatcher",
    "save_checkpoint",
    "load_checkpoint",
    "LoadedModel",
    "load_model",
]


CHECKPOINT_FORMAT = "smlib-lstm-checkpoint"
CHECKPOINT_VERSION = 1


# --------------------------------------------------------------------------- data plumbing
def load_cube(cube: str | os.PathLike | xr.Dataset) -> xr.Dataset:
    """The station cube in memory, for training and correction (they read every value).

    A Dataset is returned as given; a path is opened and loaded whole. Unlike
    :func:`smlib.data.schema.open_cube` (lazy, for whole archives) the schema is not checked here:
    training and correction name each variable they need when it is missing, so hand-made
    cubes with just those variables work too.
    """
    if isinstance(cube, xr.Dataset):
        return cube
    path = Path(cube)
    if not path.exists():
        raise FileNotFoundError(f"station cube {path} does not exist")
    with reading_netcdf(path), xr.open_dataset(path) as ds:  # a damaged file: one line, named
        return ds.load()


def cube_record(cube: str | os.PathLike | xr.Dataset) -> dict[str, Any]:
    """What a run folder's ``run.json`` records of the cube it was made from.

    Parameters
    ----------
    cube : path or xarray.Dataset
        The cube as passed to :func:`smlib.method.train.train` (or :func:`smlib.ops.distill.distill`).

    Returns
    -------
    dict
        ``cube`` (absolute path), ``cube_bytes`` and ``cube_sha256`` (SHA-256 of the file's
        bytes: a copy or a touched file still matches, a rewritten cube does not; reading the
        file costs about a second per GB, nothing beside a training). All ``None`` for an
        in-memory Dataset, which has no file to find again.
    """
    if isinstance(cube, xr.Dataset):
        return {"cube": None, "cube_bytes": None, "cube_sha256": None}
    path = Path(cube).resolve()
    return {"cube": str(path), "cube_bytes": path.stat().st_size, "cube_sha256": file_sha256(path)}


def recorded_cube(run: str | os.PathLike) -> Path:
    """The cube a run folder was made from, as its ``run.json`` records it, checked unchanged.

    Parameters
    ----------
    run : path
        A run folder written by :func:`smlib.method.train.train` or :func:`smlib.ops.distill.distill`.

    Returns
    -------
    pathlib.Path
        The recorded cube; it exists and its size and SHA-256 are those recorded.

    Raises
    ------
    ValueError
        One line saying why the cube cannot be used (not recorded, gone, changed) and how to
        pass one (``smlib distill RUN --cube CUBE``).
    """
    run = Path(run)
    how = f"pass the cube: smlib distill {run} --cube CUBE"
    path = run / "run.json"
    info = json.loads(path.read_text()) if path.is_file() else {}
    recorded = info.get("cube")
    if not recorded or not Path(recorded).is_absolute():  # in-memory, or a run of older smlib
        raise ValueError(f"{path} does not record the cube the run was made from; {how}")
    cube = Path(recorded)
    if not cube.is_file():
        raise ValueError(f"the cube {run} was made from, {cube}, no longer exists; {how}")
    size, digest = info.get("cube_bytes"), info.get("cube_sha256")
    if digest is not None and (cube.stat().st_size != size or file_sha256(cube) != digest):
        raise ValueError(
            f"the cube {run} was made from, {cube}, has changed since (its SHA-256 differs from "
            f"the one in {path}); {how}"
        )
    return cube


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` -> CUDA when available, else CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("train.device=cuda but no CUDA device is available")
    return torch.device(name)


class WindowBatcher:
    """Batches of windows gathered by index from contiguous tensors.

    Parameters
    ----------
    x : numpy.ndarray, shape (station, time, feature)
        Scaled features; NaN are replaced by 0 (they never fall inside a valid window).
    lf : numpy.ndarray, shape (station, time)
        SM LF, m3 m-3.
    y : numpy.ndarray, shape (station, time)
        Normalised SM HF target (may be NaN outside samples).
    window : int
    device : torch.device

    Notes
    -----
    A sample is identified by its flat end index ``s * n_time + t``; its window is the rows
    ``s * n_time + t - window + 1 .. s * n_time + t`` of the flattened feature tensor, which
    never crosses stations because valid end hours satisfy ``t >= window - 1``.
    """

    def __init__(
        self, x: np.ndarray, lf: np.ndarray, y: np.ndarray | None, window: int, device: torch.device
    ) -> None:
        n_st, n_t, n_f = x.shape
        self.n_time = n_t
        self.window = window
        self.device = device
        self.x = torch.from_numpy(np.nan_to_num(x, nan=0.0).reshape(n_st * n_t, n_f)).to(device)
        self.lf = torch.from_numpy(np.nan_to_num(lf, nan=0.0).reshape(-1).astype(np.float32)).to(
            device
        )
        self.y = (
            None
            if y is None
            else torch.from_numpy(np.nan_to_num(y, nan=0.0).reshape(-1).astype(np.float32)).to(
                device
            )
        )
        self.offsets = torch.arange(-window + 1, 1, device=device)

    def windows(self, end: torch.Tensor) -> torch.Tensor:
        """Input windows ``[batch, window, feature]`` for flat end indices ``end`` ``[batch]``."""
        return self.x[end[:, None] + self.offsets]

    def batch(self, end: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """``(x [batch, window, feature], lf [batch], y [batch])`` for flat end indices."""
        end = end.to(self.device)
        return self.windows(end), self.lf[end], None if self.y is None else self.y[end]


# --------------------------------------------------------------------------- checkpoints
def _atomic_torch_save(obj: Any, path: Path) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        torch.save(obj, fh)
        fh.flush()
        os.fsync(fh.fileno())


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` with the smlib checkpoint header, atomically."""
    obj = {
        "format": CHECKPOINT_FORMAT,
        "format_version": CHECKPOINT_VERSION,
        "smlib_version": __version__,
    }
    obj.update(payload)
    _atomic_torch_save(obj, Path(path))


def load_checkpoint(path: str | Path, config: RunConfig | None = None) -> dict[str, Any]:
    """Read a checkpoint, refusing truncated, corrupt or foreign files.

    Parameters
    ----------
    path : path-like
    config : RunConfig, optional
        When given, the checkpoint must have been written by a run with this configuration.

    Raises
    ------
    FileNotFoundError
    CheckpointError
        Unreadable (truncated / corrupt), not written by smlib, of a newer format, or of a run
        with another configuration.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types for damaged zip/pickle data
        raise CheckpointError(
            f"{path}: cannot be read as a checkpoint (truncated or corrupt file?): "
            f"{type(err).__name__}: {err}"
        ) from err
    if not isinstance(obj, dict) or obj.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path}: not an smlib LSTM checkpoint (foreign file)")
    if int(obj.get("format_version", -1)) > CHECKPOINT_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format {obj['format_version']} is newer than this smlib"
        )
    if config is not None:
        # compare resolved configurations: keys added to smlib since the run default to the
        # same values on both sides, so an older run folder stays usable
        try:
            saved = config_to_dict(config_from_dict(obj.get("config") or {}))
        except (KeyError, TypeError, ValueError) as err:
            raise CheckpointError(f"{path}: unreadable configuration in checkpoint: {err}") from err
        if saved != config_to_dict(config):
            raise CheckpointError(f"{path}: written by a run with a different configuration")
    return obj


# --------------------------------------------------------------------------- trained model
@dataclass
class LoadedModel:
    """A trained model ready for inference.

    Attributes
    ----------
    model : torch.nn.Module
        In eval mode, on ``device``.
    config : RunConfig
    scaler : MinMaxScaler
    run_dir : pathlib.Path
    device : torch.device
    """

    model: torch.nn.Module
    config: RunConfig
    scaler: MinMaxScaler
    run_dir: Path
    device: torch.device


def load_model(run_dir: str | os.PathLike, device: str = "auto") -> LoadedModel:
    """Load ``best.pt`` of a run directory (weights of minimum validation loss).

    Raises
    ------
    FileNotFoundError
        No run directory / checkpoint.
    smlib.method.train.CheckpointError
        Truncated, corrupt or foreign checkpoint, or one that disagrees with ``config.yaml``.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"model run directory {run_dir} does not exist")
    cfg = load_config(run_dir / "config.yaml")
    ck = load_checkpoint(run_dir / "best.pt", cfg)
    scaler = MinMaxScaler.from_dict(ck["scaler"])
    dev = resolve_device(device)
    model = build_model(cfg.model, len(scaler.features), scaler.y_min, scaler.y_max)
    model.load_state_dict(ck["model_state"])
    model.to(dev).eval()
    return LoadedModel(model, config_from_dict(ck["config"]), scaler, run_dir, dev)
