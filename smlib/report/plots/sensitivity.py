"""Gradient-based lag sensitivity of the network (paper Fig. 7)."""

from __future__ import annotations

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from smlib.report.plots.style import (
    SM_UNITS,
    _new_figure,
)


def plot_lag_sensitivity(sensitivity: xr.DataArray) -> Figure:
    """Heatmap of the gradient-based lag sensitivity S(i, tau) (Fig. 7).

    Parameters
    ----------
    sensitivity : xarray.DataArray, dims (feature, lag)
        From :func:`smlib.evaluation.sensitivity.lag_sensitivity`.

    Returns
    -------
    matplotlib.figure.Figure
        Heatmap axis (features top to bottom in input order, lag 0-17 h) and its colour bar.
    """
    s = sensitivity.transpose("feature", "lag")
    lags = np.asarray(s["lag"].values)
    names = [str(f) for f in s["feature"].values]
    fig = _new_figure((8.0, 0.32 * len(names) + 1.8))
    ax = fig.add_subplot(1, 1, 1)
    mesh = ax.pcolormesh(
        np.append(lags, lags[-1] + 1) - 0.5,
        np.arange(len(names) + 1),
        np.ma.masked_invalid(np.asarray(s.values, dtype=float)),
        cmap="magma_r",
        vmin=0.0,
    )
    ax.set_ylim(len(names), 0)
    ax.set_yticks(np.arange(len(names)) + 0.5, names)
    ax.set_xticks(lags)
    ax.set_xlabel("Lag $\\tau$ before the predicted hour (h)")
    ax.set_ylabel("Input feature")
    n = s.attrs.get("n_windows")
    ax.set_title("Gradient-based lag sensitivity" + (f" (N = {n} windows)" if n else ""))
    units = {"m3 m-3": SM_UNITS, "1": "normalised"}.get(
        s.attrs.get("units", "1"), s.attrs.get("units")
    )
    fig.colorbar(mesh, ax=ax, label=f"$S_{{i,\\tau}}$ ({units} per $\\sigma_i$)")
    return fig
