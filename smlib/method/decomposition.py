"""Frequency separation (paper section 3.1.1): LF is a 24-h moving average, HF = x - LF.

An even window has no centre sample; ``centred`` (the default) averages ``x[t-12 .. t+11]`` like
``pandas.Series.rolling(24, center=True)``, ``symmetric`` is the 2x24 average (25 taps, half
weight at ``t-12`` and ``t+12``), ``trailing`` the causal mean of ``x[t-23 .. t]``. All three
remove a 24-h periodic signal exactly. LF is NaN unless the whole window is finite, so screened
days widen into ~12-h NaN margins.
"""

from __future__ import annotations

import logging

import bottleneck as bn
import numpy as np
import pandas as pd
import xarray as xr

__all__ = [
    "lf_reach",
    "moving_average",
    "high_frequency",
    "held_high_frequency",
    "decompose",
]

log = logging.getLogger(__name__)


def lf_reach(window: int = 24, centering: str = "centred") -> tuple[int, int]:
    """Hours before and after ``t`` that the moving average at ``t`` uses.

    Returns
    -------
    (back, forward) : tuple of int
        ``(12, 11)`` for ``centred``, ``(12, 12)`` for ``symmetric``, ``(23, 0)`` for
        ``trailing`` with a 24-h window. ``forward`` is the latency of a streaming correction.
    """
    if centering == "centred":
        return window // 2, window - 1 - window // 2
    if centering == "symmetric":
        return window // 2, window // 2
    if centering == "trailing":
        return window - 1, 0
    raise ValueError(f"unknown centering {centering!r}")


def moving_average(x: np.ndarray, window: int = 24, centering: str = "centred") -> np.ndarray:
    """Moving average along the last axis; NaN unless every sample of the window is finite.

    Parameters
    ----------
    x : numpy.ndarray, shape (..., time)
        Hourly values.
    window : int
        Window length, hours.
    centering : {"centred", "symmetric", "trailing"}
        See the module docstring; :func:`lf_reach` gives the reach of each.

    Returns
    -------
    numpy.ndarray, same shape and dtype as ``x`` (float)
        Computed in float64 with :func:`bottleneck.move_mean`, vectorised over leading axes.

    Examples
    --------
    >>> t = np.arange(96.0)
    >>> lf = moving_average(np.sin(2 * np.pi * t / 24) + 3.0)
    >>> bool(np.allclose(lf[12:-12], 3.0))
    True
    """
    x = np.asarray(x)
    out_dtype = np.result_type(x.dtype, np.float32)
    if x.shape[-1] < window:  # no complete window anywhere
        return np.full(x.shape, np.nan, dtype=out_dtype)
    trailing = bn.move_mean(x.astype(np.float64), window=window, min_count=window, axis=-1)
    out = np.full(x.shape, np.nan, dtype=np.float64)
    n = x.shape[-1]
    if centering == "trailing":
        out = trailing
    else:
        back, fwd = lf_reach(window, "centred")
        # trailing[t + fwd] averages x[t - back .. t + fwd]
        if n > fwd:
            out[..., : n - fwd] = trailing[..., fwd:]
        if centering == "symmetric" and window % 2 == 0:
            # mean of the windows ending at t+fwd and t+fwd+1 = 2 x window average
            nxt = np.full(x.shape, np.nan, dtype=np.float64)
            if n > fwd + 1:
                nxt[..., : n - fwd - 1] = trailing[..., fwd + 1 :]
            out = 0.5 * (out + nxt)
        elif centering not in ("centred", "symmetric"):
            raise ValueError(f"unknown centering {centering!r}")
    return out.astype(out_dtype)


def high_frequency(x: np.ndarray, window: int = 24, centering: str = "centred") -> np.ndarray:
    """The high-frequency part ``x - moving_average(x, window, centering)`` of a numpy array.

    Parameters
    ----------
    x : numpy.ndarray, shape (..., time)
        Hourly values (NaN = missing); the result keeps their dtype where numpy does.

    Returns
    -------
    numpy.ndarray, shape (..., time)
        NaN where the window is incomplete (:func:`moving_average`).

    Examples
    --------
    >>> high_frequency(np.tile([1.0, 3.0], 24)[None, :])[0, 12:14]
    array([-1.,  1.])
    """
    return x - moving_average(x, window, centering)


def held_high_frequency(x: np.ndarray, window: int = 24, centering: str = "centred") -> np.ndarray:
    """:func:`high_frequency` with the LF held across gaps: where the window is incomplete,
    the nearest defined LF at most ``window // 2`` hours away stands in for it.

    The daily mean moves slowly, so next to a missing day (or at the edge of a record) the
    mean of the nearest complete window is a fair LF; a complete day between two missing ones
    gets its own mean. The guided fit takes it where complete windows leave a station too few
    hours (:func:`smlib.method.compensation.fit_inputs`); the soil-temperature regressors have
    always been decomposed so (:func:`smlib.method.compensation.temperature_regressors`).

    Parameters
    ----------
    x : numpy.ndarray, shape (..., time)
        Hourly values (NaN = missing).

    Returns
    -------
    numpy.ndarray, shape (..., time)
        NaN where ``x`` is, or no LF is defined within reach.

    Examples
    --------
    >>> day = np.r_[np.full(24, np.nan), np.tile([1.0, 3.0], 12), np.full(24, np.nan)]
    >>> hf = held_high_frequency(day[None, :])[0]
    >>> hf[24:28].tolist(), int(np.isfinite(hf).sum())
    ([-1.0, 1.0, -1.0, 1.0], 24)
    """
    x = np.asarray(x)
    lf = moving_average(x, window, centering)
    reach = window // 2
    flat = lf.reshape(-1, lf.shape[-1])
    held = pd.DataFrame(flat.T).ffill(limit=reach).bfill(limit=reach).to_numpy().T
    return x - held.reshape(lf.shape).astype(lf.dtype)


def decompose(
    da: xr.DataArray, window: int = 24, centering: str = "centred"
) -> tuple[xr.DataArray, xr.DataArray]:
    """Split a ``(..., time)`` DataArray into low- and high-frequency parts.

    .. math:: x_\\mathrm{LF} = \\overline{x}^{(24\\,\\mathrm{h})},\\qquad x_\\mathrm{HF} = x - x_\\mathrm{LF}

    Dask-backed input is processed chunk by chunk along the other dimensions (``time`` must be
    a single chunk).
    """
    lf = xr.apply_ufunc(
        moving_average,
        da,
        input_core_dims=[["time"]],
        output_core_dims=[["time"]],
        kwargs={"window": window, "centering": centering},
        dask="parallelized",
        output_dtypes=[np.result_type(da.dtype, np.float32)],
    )
    units = da.attrs.get("units", "")
    name = da.attrs.get("long_name", da.name or "x")
    lf.attrs = {
        "units": units,
        "long_name": f"low-frequency part ({window}-h {centering} mean) of {name}",
    }
    hf = da - lf
    hf.attrs = {"units": units, "long_name": f"high-frequency part (x - LF) of {name}"}
    return lf, hf
