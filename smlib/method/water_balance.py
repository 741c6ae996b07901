"""The tower's own evaporation as an estimate of the true diurnal drying of its soil.

At a flux tower the latent heat flux is measured beside the soil-moisture probe. By the top
layer's water balance, evaporation dries the soil by day and not by night: the true diurnal SM
cycle holds

.. math:: \\theta_{ET}(t) = -\\frac{1}{\\rho_w \\lambda\\, z} \\sum_{t' \\le t} LE^{+}(t')\\, \\Delta t ,

up to the effective depth :math:`z` (and the share of the evaporation drawn from the probe's
layer), which the guided fit leaves free: this series enters it as one more signal estimate
(``correct.tower_water_balance``), beside the network and the reanalysis. Unlike an in-situ
network's series it is not a function of the probe's own temperature, so it tells the
artefact from the true cycle where the network cannot (issue 18, item 4: the towers'
SM-LH coupling). It says nothing of rain, drainage or redistribution: the fit uses rain-free
hours and the series' diurnal part only.

Numpy kernel on ``(station, time)`` arrays; a station without a latent heat flux has none.
"""

from __future__ import annotations

import numpy as np

__all__ = ["LATENT_HEAT_J_KG", "WATER_DENSITY_KG_M3", "evaporative_drying"]

#: Latent heat of vaporisation, J kg-1 (at about 20 degC).
LATENT_HEAT_J_KG = 2.45e6
#: Density of liquid water, kg m-3.
WATER_DENSITY_KG_M3 = 1000.0


def evaporative_drying(lh: np.ndarray, depth_m: float = 0.1, step_s: float = 3600.0) -> np.ndarray:
    """Cumulative evaporative drying of a layer ``depth_m`` thick, m3 m-3.

    Parameters
    ----------
    lh : numpy.ndarray, shape (station, time)
        Latent heat flux, W m-2 (negative values, condensation, count as 0); NaN where not
        measured.
    depth_m : float
        Layer depth, m (a scale only: the fit's coefficient absorbs it).
    step_s : float
        Time step, s.

    Returns
    -------
    numpy.ndarray of float32, shape (station, time)
        :math:`-\\sum LE^{+} \\Delta t / (\\rho_w \\lambda z)`; NaN where ``lh`` is NaN, and at
        every hour of a station that has no flux at all.

    Examples
    --------
    >>> lh = np.array([[0.0, 245.0, 245.0, np.nan, 0.0]])
    >>> np.round(evaporative_drying(lh, depth_m=0.1).astype(float) * 1e3, 2).tolist()
    [[-0.0, -3.6, -7.2, nan, -7.2]]
    """
    lh = np.asarray(lh, dtype=np.float64)
    flux = np.where(np.isfinite(lh), np.clip(lh, 0.0, None), 0.0)
    drying = -np.cumsum(flux, axis=-1) * step_s / (WATER_DENSITY_KG_M3 * LATENT_HEAT_J_KG * depth_m)
    return np.where(np.isfinite(lh), drying, np.nan).astype(np.float32)
