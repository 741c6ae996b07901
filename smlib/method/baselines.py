"""The per-probe baselines as variables of a corrected file: ``lin`` and ``chanzy``.

Both remove one fitted temperature coefficient times the TS HF from each probe's series and
need no network or reanalysis: ``lin`` fits it over whole rain-free days
(:func:`smlib.method.compensation.linear_compensation_kernel`, after Cobos & Campbell 2007 and
Rosenbaum et al. 2011), ``chanzy`` over the rain-free nights
(:mod:`smlib.method.night_slope`, after Chanzy et al. 2012). :func:`per_probe_baseline`
returns the series and its ``<name>_coefficient`` for :func:`smlib.method.correct.correct`.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from smlib.config import CorrectConfig

__all__ = ["PER_PROBE_BASELINES", "per_probe_baseline"]

#: Method keys of the per-probe baselines, in the order a corrected file holds them.
PER_PROBE_BASELINES = ("lin", "chanzy")

_SM_ATTRS = {"units": "m3 m-3", "standard_name": "volume_fraction_of_condensed_water_in_soil"}
#: long_name of each baseline's series and of its coefficient.
_LONG_NAMES = {
    "lin": (
        "soil moisture, per-probe linear temperature compensation",
        "fitted temperature coefficient (lin)",
    ),
    "chanzy": (
        "soil moisture, per-probe temperature slope from the night window "
        "(after Chanzy et al. 2012)",
        "night-window temperature slope (chanzy)",
    ),
}


def per_probe_baseline(
    name: str, ds: xr.Dataset, rain_free: np.ndarray, cc: CorrectConfig
) -> tuple[xr.DataArray, xr.DataArray]:
    """The baseline ``name`` of a station cube.

    Parameters
    ----------
    name : {"lin", "chanzy"}
    ds : xarray.Dataset
        Station cube (``sm``, ``ts``, ``lon``; dims station, time).
    rain_free : numpy.ndarray of bool, shape (station, time)
        Hours the fit may use.
    cc : CorrectConfig
        ``min_rule_hours`` (``lin``'s fewest fitted hours) and ``night_window_h`` (``chanzy``).

    Returns
    -------
    series : xarray.DataArray, dims (station, time)
        ``sm_<name>``, m3 m-3 (NaN where the probe has no coefficient or no TS HF).
    coefficient : xarray.DataArray, dims (station,)
        ``<name>_coefficient``, m3 m-3 K-1.
    """
    if name == "chanzy":
        from smlib.method.night_slope import night_slope_compensation

        values, coef = night_slope_compensation(ds, rain_free, cc.night_window_h)
    elif name == "lin":
        from smlib.method.compensation import linear_compensation_kernel

        raw = np.asarray(ds["sm"].transpose("station", "time").values, dtype=np.float32)
        ts = np.asarray(ds["ts"].transpose("station", "time").values, dtype=np.float32)
        values, coef = linear_compensation_kernel(raw, ts, rain_free, min_hours=cc.min_rule_hours)
    else:
        raise ValueError(f"unknown per-probe baseline {name!r}; use one of {PER_PROBE_BASELINES}")
    series_name, coef_name = _LONG_NAMES[name]
    series = xr.DataArray(
        values, dims=("station", "time"), coords={"station": ds["station"], "time": ds["time"]},
        attrs={**_SM_ATTRS, "long_name": series_name},
    )  # fmt: skip
    coefficient = xr.DataArray(
        coef.astype(np.float32), dims=("station",), coords={"station": ds["station"]},
        attrs={"units": "m3 m-3 K-1", "long_name": coef_name},
    )  # fmt: skip
    return series, coefficient
