"""Apply the trained LSTM (batch and streaming) and the Fourier baseline to a station cube.

The LSTM is applied to **every** station -- reference stations and flux towers included,
whatever their R(SM, TS): corrected SM = SM LF + predicted SM HF, non-negative through the
Physics Constraint Layer. Hours without a complete input window (or without SM LF) stay NaN.

Streaming and latency
    :class:`StreamingCorrector` accepts new hourly observations as they arrive and returns
    corrected values as soon as they are defined. The value at hour ``t`` needs the LF of every
    input hour of its window and of SM at ``t``; a centred 24-h moving average reaches
    ``lf_reach()[1]`` hours into the future (11 h for ``centred``, 12 h for ``symmetric``), so
    the correction of hour ``t`` is released once hour ``t + 11`` has arrived. A model trained
    with ``--set preprocess.lf_centering=trailing`` (causal LF, ``x[t-23 .. t]``) has zero
    latency; it is a different model and must be trained as such. The streamed values equal the
    batch result for the same hours (the batch pipeline is run on a rolling buffer long enough
    that every value it releases depends only on buffered hours).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import xarray as xr

from smlib import __version__
from smlib.atomic import atomic_path
from smlib.config import RunConfig, config_from_dict, load_config
from smlib.fourier import fourier_correct
from smlib.model import build_model
from smlib.preprocess import MinMaxScaler, Prepared, lf_reach, prepare
from smlib.train import WindowBatcher, load_checkpoint, open_cube, resolve_device

__all__ = [
    "LoadedModel",
    "load_model",
    "predict_hf",
    "correct",
    "correct_file",
    "StreamingCorrector",
]

log = logging.getLogger(__name__)

_SM_ATTRS = {"units": "m3 m-3", "standard_name": "volume_fraction_of_condensed_water_in_soil"}


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
    smlib.train.CheckpointError
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


@torch.no_grad()
def predict_hf(lm: LoadedModel, prep: Prepared, batch_size: int = 8192) -> np.ndarray:
    """Predicted SM HF (m3 m-3) for every hour with a complete window.

    Parameters
    ----------
    lm : LoadedModel
    prep : Prepared
        From :func:`smlib.preprocess.prepare` with the model's preprocessing configuration.
    batch_size : int

    Returns
    -------
    numpy.ndarray of float32, shape (station, time)
        NaN where ``prep.valid_end`` is False.
    """
    if tuple(prep.features) != tuple(lm.scaler.features):
        raise ValueError(f"features {prep.features} differ from the model's {lm.scaler.features}")
    batcher = WindowBatcher(lm.scaler.transform(prep.x), prep.sm_lf, None, prep.window_h, lm.device)
    ends = torch.from_numpy(np.flatnonzero(prep.valid_end))
    out = np.full(prep.sm.size, np.nan, dtype=np.float32)
    preds = []
    for start in range(0, len(ends), batch_size):
        xb, lfb, _ = batcher.batch(ends[start : start + batch_size])
        preds.append(lm.model(xb, lfb).float().cpu().numpy())
    if preds:
        out[ends.numpy()] = lm.scaler.inverse_target(np.concatenate(preds))
    return out.reshape(prep.sm.shape)


def _lstm_sm(lm: LoadedModel, ds: xr.Dataset) -> xr.DataArray:
    prep = prepare(ds, lm.config.preprocess, training=False)
    hf = predict_hf(lm, prep)
    sm = np.maximum(prep.sm_lf + hf, 0.0)  # the constraint already ensures >= 0 up to rounding
    return xr.DataArray(
        sm.astype(np.float32),
        dims=("station", "time"),
        coords={"station": ds["station"], "time": ds["time"]},
        name="sm_lstm",
        attrs={
            **_SM_ATTRS,
            "long_name": "soil moisture corrected by the stacked LSTM (LF + predicted HF)",
            "model_run": str(lm.run_dir),
            "feature_set": lm.config.preprocess.feature_set,
        },
    )


def correct(
    cube_ds: xr.Dataset,
    model_dir: str | os.PathLike | LoadedModel | None,
    methods: Sequence[str] = ("lstm", "fft"),
    fft_product: str = "mean",
) -> xr.Dataset:
    """Corrected dataset (DESIGN.md): ``sm``, ``ts``, ``sm_lstm``, ``sm_fft``.

    Parameters
    ----------
    cube_ds : xarray.Dataset
        Station cube.
    model_dir : path, LoadedModel or None
        Trained run (required for ``lstm``).
    methods : sequence of {"lstm", "fft"}
    fft_product : {"era5", "merra2", "mean"}
        Reanalysis whose diurnal shape the Fourier baseline adopts.

    Returns
    -------
    xarray.Dataset
        Same ``station`` coordinates and ``time``; NaN where a method cannot produce a value.
    """
    unknown = set(methods) - {"lstm", "fft"}
    if unknown:
        raise ValueError(f"unknown correction methods {sorted(unknown)}; use lstm and/or fft")
    ds = cube_ds
    out = xr.Dataset(
        coords={k: v for k, v in ds.coords.items() if "time" in v.dims or "station" in v.dims}
    )
    out["sm"] = ds["sm"].astype(np.float32)
    out["sm"].attrs = {**_SM_ATTRS, "long_name": "soil moisture as measured (raw)"}
    out["ts"] = ds["ts"].astype(np.float32)
    out["ts"].attrs = {
        "units": "degC",
        "standard_name": "soil_temperature",
        "long_name": "soil temperature",
    }
    if "lstm" in methods:
        if model_dir is None:
            raise ValueError("method 'lstm' needs a trained model (--model runs/NAME)")
        lm = model_dir if isinstance(model_dir, LoadedModel) else load_model(model_dir)
        out["sm_lstm"] = _lstm_sm(lm, ds)
    if "fft" in methods:
        out["sm_fft"] = fourier_correct(ds, fft_product)
    out.attrs = {
        "Conventions": "CF-1.8",
        "title": "diurnally corrected in-situ soil moisture",
        "source": f"smlib {__version__}",
        "methods": ",".join(methods),
        "history": f"smlib correct (methods={','.join(methods)}, fft_product={fft_product})",
    }
    return out


def correct_file(
    cube: str | os.PathLike | xr.Dataset,
    model_dir: str | os.PathLike | None = None,
    out: str | os.PathLike = "corrected.nc",
    methods: Sequence[str] = ("lstm", "fft"),
    fft_product: str = "mean",
) -> xr.Dataset:
    """:func:`correct` a cube file and write the result atomically to ``out`` (NetCDF)."""
    ds = open_cube(cube)
    result = correct(ds, model_dir, methods, fft_product)
    with atomic_path(out) as tmp:
        result.to_netcdf(tmp)
    log.info("wrote %s (%s)", out, ", ".join(v for v in result.data_vars))
    return result


class StreamingCorrector:
    """Operational LSTM correction of hourly observations as they arrive.

    Parameters
    ----------
    model : path or LoadedModel
        Trained run (rain screening at inference is not supported while streaming).
    stations : xarray.Dataset
        A cube slice holding at least the station coordinates (``lon`` ...) of the stations.

    Notes
    -----
    Latency: the correction of hour ``t`` is released when hour ``t + forward`` arrives, with
    ``forward = lf_reach(...)[1]`` (11 h for the default centred LF, 0 for ``trailing``). The
    buffer keeps ``window_h - 1 + back + forward`` hours before the first unreleased hour.

    Examples
    --------
    >>> sc = StreamingCorrector("runs/quick", cube.isel(time=slice(0, 0)))  # doctest: +SKIP
    >>> for chunk in hourly_chunks:                                          # doctest: +SKIP
    ...     ready = sc.update(chunk)   # DataArray sm_lstm for newly defined hours
    """

    def __init__(self, model: str | os.PathLike | LoadedModel, stations: xr.Dataset) -> None:
        self.lm = model if isinstance(model, LoadedModel) else load_model(model)
        pc = self.lm.config.preprocess
        if pc.screen_at_inference:
            raise ValueError("streaming does not support preprocess.screen_at_inference=true")
        back, fwd = lf_reach(pc.lf_window_h, pc.lf_centering)
        self.latency_h = fwd
        self.history_h = pc.window_h - 1 + back + fwd
        self._buffer: xr.Dataset | None = None
        self._released_until: np.datetime64 | None = None
        self._station = stations["station"]

    def update(self, new: xr.Dataset) -> xr.DataArray:
        """Add hours (dims station, time; contiguous with the previous ones); return new values.

        Returns
        -------
        xarray.DataArray ``sm_lstm``, dims (station, time)
            Corrected SM for every hour that became computable with this update (possibly none).
        """
        if not np.array_equal(new["station"].values, self._station.values):
            raise ValueError("streamed chunks must hold the same stations in the same order")
        buf = new if self._buffer is None else xr.concat([self._buffer, new], dim="time")
        t = buf["time"].values
        if len(t) > 1 and not (np.diff(t) == np.timedelta64(1, "h")).all():
            raise ValueError(
                "streamed chunks must continue the hourly series without gaps or overlap"
            )
        last = t[-1]
        ready_until = last - np.timedelta64(self.latency_h, "h")
        res = _lstm_sm(self.lm, buf)
        sel = res["time"] <= ready_until
        if self._released_until is not None:
            sel &= res["time"] > self._released_until
        out = res.isel(time=np.flatnonzero(sel.values))
        if out.sizes["time"]:
            self._released_until = out["time"].values[-1]
        # keep enough history for hours not yet released
        keep_from = len(t) - (self.history_h + self.latency_h)
        self._buffer = buf.isel(time=slice(max(keep_from, 0), None))
        return out
