"""Gradient-based lag-dependent sensitivity of a sequence model (the paper's Eq. 1).

For a model :math:`Y_t = f(X_{t-17}, \\ldots, X_t)` the standardised sensitivity of the output
to input feature :math:`i` at lag :math:`\\tau` is

.. math::

    S_{i,\\tau} = \\frac{1}{N} \\sum_{j=1}^{N}
        \\left| \\frac{\\partial Y_t^j}{\\partial X_{i,t-\\tau}^j} \\right| \\, \\sigma_i

with :math:`\\tau = 0 \\ldots L-1` hours, :math:`N` windows (the paper uses every window of the
reference stations) and :math:`\\sigma_i` the training-set standard deviation of feature
:math:`i` in the units the model sees (Simonyan et al., 2013; Seo et al., 2026, Sect. 3.2).

The gradients are exact (PyTorch autograd). Because the windows of a batch are independent,
one backward pass of :math:`\\sum_j Y^j` gives every per-window gradient of the batch.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch
import xarray as xr

from smlib.progress import progress_bar

__all__ = ["lag_sensitivity", "lag_sensitivity_array", "lag_sensitivity_from_run"]

if TYPE_CHECKING:
    import os

    from smlib.method.runfolder import LoadedModel

log = logging.getLogger(__name__)


def lag_sensitivity_array(
    model: torch.nn.Module,
    windows: np.ndarray | torch.Tensor,
    sigma: np.ndarray | Sequence[float],
    extra: Sequence[np.ndarray | torch.Tensor] = (),
    batch_size: int = 4096,
    device: str | torch.device | None = None,
    output_scale: float = 1.0,
) -> tuple[np.ndarray, int]:
    """Mean absolute input gradient times sigma, per feature and lag (NumPy result).

    Parameters
    ----------
    model : torch.nn.Module
        Maps ``[batch, L, n_features]`` (plus ``*extra``) to ``[batch]`` (or ``[batch, 1]``).
        It is put in ``eval`` mode (no dropout) for the computation and restored afterwards.
    windows : array_like, shape (N, L, n_features)
        Input windows, position ``L-1`` being time ``t``; may be a strided view. Windows with
        any non-finite value (in ``windows`` or ``extra``) are skipped and counted.
    sigma : array_like, shape (n_features,)
        Training-set standard deviation of each feature, in the units of ``windows``.
    extra : sequence of array_like, each with first dimension N
        Further per-window inputs passed positionally after the window batch (e.g. the LF of
        the in-situ SM that a physics-constraint layer needs). Not differentiated.
    batch_size : int
        Windows per backward pass.
    device : str or torch.device, optional
        Default: the device of the model's first parameter (CPU for a parameter-free model).
    output_scale : float
        Multiplies the result, e.g. the min-max range of the target to express S in m3 m-3.

    Returns
    -------
    S : numpy.ndarray, shape (n_features, L)
        ``S[i, tau]``, lag ``tau`` hours before ``t`` (``tau = 0`` is the last window step).
    n_used : int
        Number of windows averaged (N in Eq. 1).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    if windows.ndim != 3:
        raise ValueError(f"windows must have shape (N, L, n_features), got {tuple(windows.shape)}")
    n, length, n_feat = (int(s) for s in windows.shape)
    sig = np.asarray(sigma, dtype=np.float64)
    if sig.shape != (n_feat,):
        raise ValueError(f"sigma has shape {sig.shape}, expected ({n_feat},)")
    for k, e in enumerate(extra):
        if int(e.shape[0]) != n:
            raise ValueError(f"extra input {k} has {e.shape[0]} rows, expected {n}")
    if device is None:
        first = next(model.parameters(), None)
        device = first.device if first is not None else torch.device("cpu")
    device = torch.device(device)
    dtype = next((p.dtype for p in model.parameters()), torch.float32)

    total = torch.zeros(length, n_feat, dtype=torch.float64, device=device)
    n_used = 0
    n_skipped = 0
    was_training = model.training
    model.eval()
    # cuDNN cannot backpropagate through an RNN in eval mode; the native kernels can
    cudnn_off = torch.backends.cudnn.flags(enabled=False)
    try:
        with cudnn_off:
            for start in progress_bar(
                range(0, n, batch_size),
                desc="lag sensitivity",
                file=sys.stdout,
                disable=None,
                leave=False,
            ):
                stop = min(start + batch_size, n)
                xb = _to_tensor(windows[start:stop], device, dtype)
                eb = [_to_tensor(e[start:stop], device, dtype) for e in extra]
                ok = torch.isfinite(xb).flatten(1).all(dim=1)
                for e in eb:
                    if e.is_floating_point():
                        ok &= torch.isfinite(e.reshape(e.shape[0], -1)).all(dim=1)
                if not bool(ok.all()):
                    n_skipped += int((~ok).sum())
                    xb = xb[ok]
                    eb = [e[ok] for e in eb]
                if xb.shape[0] == 0:
                    continue
                xb.requires_grad_(True)
                y = model(xb, *eb)
                y = y.reshape(xb.shape[0], -1)
                if y.shape[1] != 1:
                    raise ValueError(
                        f"model output must be [batch] or [batch, 1], got {tuple(y.shape)}"
                    )
                (grad,) = torch.autograd.grad(y.sum(), xb)
                total += grad.abs().sum(dim=0).to(torch.float64)
                n_used += xb.shape[0]
    finally:
        model.train(was_training)
    if n_skipped:
        log.info("lag sensitivity: %d of %d windows skipped (non-finite input)", n_skipped, n)
    if n_used == 0:
        raise ValueError("no window with finite inputs: lag sensitivity undefined")
    mean_abs = (total / n_used).cpu().numpy()  # (L, n_features), position L-1 is lag 0
    s = mean_abs[::-1, :].T * sig[:, None] * float(output_scale)
    return np.ascontiguousarray(s), n_used


def lag_sensitivity(
    model: torch.nn.Module,
    windows: np.ndarray | torch.Tensor,
    sigma: np.ndarray | Sequence[float],
    feature_names: Sequence[str] | None = None,
    extra: Sequence[np.ndarray | torch.Tensor] = (),
    batch_size: int = 4096,
    device: str | torch.device | None = None,
    output_scale: float = 1.0,
    units: str = "1",
) -> xr.DataArray:
    """Standardised lag sensitivity :math:`S_{i,\\tau}` as a labelled array (paper Fig. 7).

    Parameters are those of :func:`lag_sensitivity_array`, plus

    feature_names : sequence of str, optional
        Names of the ``n_features`` inputs (default ``f0, f1, ...``).
    units : str
        Units of the model output times ``output_scale`` (``"1"`` for normalised output).

    Returns
    -------
    xarray.DataArray, dims (feature, lag)
        ``lag`` in hours (0 = the predicted hour); attribute ``n_windows`` is N of Eq. 1.

    Examples
    --------
    A linear model's sensitivity is its absolute weights times sigma:

    >>> import torch
    >>> lin = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(2 * 3, 1, bias=False))
    >>> s = lag_sensitivity(lin, torch.ones(5, 3, 2), sigma=[1.0, 2.0])
    >>> s.dims
    ('feature', 'lag')
    """
    s, n_used = lag_sensitivity_array(
        model,
        windows,
        sigma,
        extra=extra,
        batch_size=batch_size,
        device=device,
        output_scale=output_scale,
    )
    n_feat, length = s.shape
    names = list(feature_names) if feature_names is not None else [f"f{i}" for i in range(n_feat)]
    if len(names) != n_feat:
        raise ValueError(f"{len(names)} feature names for {n_feat} features")
    return xr.DataArray(
        s,
        dims=["feature", "lag"],
        coords={"feature": names, "lag": np.arange(length)},
        name="lag_sensitivity",
        attrs={
            "units": units,
            "long_name": "standardised gradient sensitivity S(i, tau), Eq. 1",
            "n_windows": n_used,
            "lag_units": "h",
        },
    )


def lag_sensitivity_from_run(
    model: str | os.PathLike[str] | LoadedModel,
    cube: str | os.PathLike[str] | xr.Dataset,
    max_windows: int | None = None,
    batch_size: int = 4096,
    seed: int = 0,
) -> xr.DataArray:
    """Eq. 1 for a trained run over every window of the reference stations (paper Fig. 7).

    The model sees the min-max scaled features of the reference stations (ISMN stations with
    ``is_reference``, excluded from training) at every hour with a complete input window;
    :math:`\\sigma_i` is the standard deviation of scaled feature ``i`` over the training samples
    (non-reference stations, rain screen and R(SM, TS) filter applied, as in training). The
    result is multiplied by the target range, so S is in m3 m-3 of SM HF per standard deviation.

    Parameters
    ----------
    model : path or smlib.method.runfolder.LoadedModel
        Run directory (``best.pt`` is loaded) or an already loaded model.
    cube : path or xarray.Dataset
        Station cube the model was trained on (or one with the same variables).
    max_windows : int, optional
        Evaluate a random subset of this many windows (default: all, as the paper does).
    batch_size : int
        Windows per backward pass.
    seed : int
        Seed of the subset draw.

    Returns
    -------
    xarray.DataArray, dims (feature, lag)
        See :func:`lag_sensitivity`; ``attrs["stations"]`` counts the reference stations.
    """
    from smlib.method.preprocess import prepare, training_stations
    from smlib.method.runfolder import LoadedModel, load_cube, load_model

    lm = model if isinstance(model, LoadedModel) else load_model(model)
    ds = load_cube(cube)
    cfg = lm.config.preprocess
    kind = np.asarray(ds["kind"].values).astype(str)
    refs = np.flatnonzero((kind == "ismn") & np.asarray(ds["is_reference"].values, dtype=bool))
    if refs.size == 0:
        raise ValueError("the cube has no ISMN reference station: lag sensitivity undefined")
    prep = prepare(ds.isel(station=refs), cfg, training=False)
    if tuple(prep.features) != tuple(lm.scaler.features):
        raise ValueError(
            f"cube features {prep.features} differ from the model's {lm.scaler.features}"
        )
    s_idx, t_idx = np.nonzero(prep.valid_end)
    if max_windows is not None and s_idx.size > max_windows:
        pick = np.sort(np.random.default_rng(seed).choice(s_idx.size, max_windows, replace=False))
        s_idx, t_idx = s_idx[pick], t_idx[pick]
    windows = _GatheredWindows(lm.scaler.transform(prep.x), s_idx, t_idx, prep.window_h)
    lf = prep.sm_lf[s_idx, t_idx].astype(np.float32)
    sigma = _training_sigma(ds.isel(station=np.flatnonzero(training_stations(ds))), lm)
    out = lag_sensitivity(
        lm.model,
        windows,
        sigma,
        feature_names=list(prep.features),
        extra=(lf,),
        batch_size=batch_size,
        device=lm.device,
        output_scale=lm.scaler.y_max - lm.scaler.y_min,
        units="m3 m-3",
    )
    out.attrs["stations"] = int(refs.size)
    return out


def _training_sigma(train_ds: xr.Dataset, lm: LoadedModel) -> np.ndarray:
    """Standard deviation of each scaled feature over the training samples' end hours."""
    from smlib.method.preprocess import prepare

    if train_ds.sizes["station"] == 0:
        raise ValueError("the cube has no training station (non-reference ISMN)")
    prep = prepare(train_ds, lm.config.preprocess, training=True)
    rows = lm.scaler.transform(prep.x[prep.training_mask()])
    if rows.shape[0] < 2:
        raise ValueError("fewer than 2 training samples: feature sigma undefined")
    return np.nanstd(rows.astype(np.float64), axis=0)


class _GatheredWindows:
    """Windows ``x[s, t-L+1 .. t]`` for given end hours, gathered per slice (no full copy)."""

    def __init__(self, x: np.ndarray, s_idx: np.ndarray, t_idx: np.ndarray, length: int) -> None:
        self.x, self.s, self.t = x, s_idx, t_idx
        self.lags = np.arange(-length + 1, 1)
        self.shape = (s_idx.size, length, x.shape[-1])
        self.ndim = 3

    def __getitem__(self, sl: slice) -> np.ndarray:
        s, t = self.s[sl], self.t[sl]
        return self.x[s[:, None], t[:, None] + self.lags]


def _to_tensor(
    a: np.ndarray | torch.Tensor, device: torch.device, dtype: torch.dtype
) -> torch.Tensor:
    if isinstance(a, torch.Tensor):
        t = a.detach()
    else:
        t = torch.from_numpy(np.ascontiguousarray(a))
    if t.is_floating_point():
        t = t.to(dtype)
    return t.to(device)
