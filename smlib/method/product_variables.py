"""The variables a corrected file carries beside each product series, with their CF attributes.

One place for what ``smlib correct``, :func:`smlib.method.product.apply_product` and the
streaming corrector write, so that every path names and describes them alike:

==========================  ===================  =============================================
variable                    dims                 holds
==========================  ===================  =============================================
``<var>_flag``              (station, time)      what each hour holds (:data:`FLAG_MEANINGS`)
``<var>_uncertainty``       (station, time)      the hour's standard uncertainty, m3 m-3
``rule_coefficient``        (station, regressor) the artefact's fitted coefficients
``rule_wetness_slope``      (station,)           relative change of the artefact's gain per
                                                 m3 m-3 of the wetness level (flux towers)
``rule_wetness_level_mean`` (station,)           the wetness level the gain is centred on
==========================  ===================  =============================================
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

__all__ = [
    "FLAG_MEANINGS",
    "FLAG_CORRECTED",
    "DEFAULT_TERMS",
    "flag_variable",
    "uncertainty_variable",
    "coefficient_variable",
    "wetness_variables",
]

#: Per-hour flag of every corrected variable (CF ``flag_values`` / ``flag_meanings``).
FLAG_MEANINGS: dict[int, str] = {
    0: "corrected",
    1: "rain_affected_temperature_artefact_removed",
    2: "no_method_input_temperature_artefact_removed",
    3: "left_raw",
    4: "no_value",
}
FLAG_CORRECTED = (0, 1, 2)
"""Flags of hours that hold a correction (network or rule)."""

#: The artefact's regressors of the default product (``correct.artefact_lags_h=0``).
DEFAULT_TERMS = ("ts_hf", "ts_hf_tendency")


def _hourly(values: np.ndarray, like: xr.DataArray, attrs: dict[str, Any]) -> xr.DataArray:
    return xr.DataArray(
        values,
        dims=("station", "time"),
        coords={"station": like["station"], "time": like["time"]},
        attrs=attrs,
    )


def flag_variable(flag: np.ndarray, like: xr.DataArray, var: str) -> xr.DataArray:
    """``<var>_flag``: int8 flags, shape (station, time) of ``like``, with CF flag attributes."""
    return _hourly(
        np.asarray(flag, dtype=np.int8),
        like,
        {
            "long_name": f"what each hour of {var} holds",
            "flag_values": np.array(list(FLAG_MEANINGS), dtype=np.int8),
            "flag_meanings": " ".join(FLAG_MEANINGS.values()),
        },
    )


def uncertainty_variable(
    sigma: np.ndarray, like: xr.DataArray, var: str, attrs: dict[str, str]
) -> xr.DataArray:
    """``<var>_uncertainty``: sigma (m3 m-3, float32), shape (station, time) of ``like``;
    ``attrs``: :data:`smlib.method.uncertainty.UNCERTAINTY_ATTRS`."""
    return _hourly(
        np.asarray(sigma, dtype=np.float32),
        like,
        {"long_name": f"standard uncertainty of the diurnal correction in {var}", **attrs},
    )


def coefficient_variable(coef: np.ndarray, terms: Sequence[str], station) -> xr.DataArray:
    """``rule_coefficient`` (station, regressor) of a corrected file: the artefact's
    coefficients per station, named by ``terms``, with units."""
    lagged = tuple(terms) != DEFAULT_TERMS
    return xr.DataArray(
        np.asarray(coef).astype(np.float32),
        dims=("station", "regressor"),
        coords={"station": station, "regressor": list(terms)},
        attrs={
            "long_name": "per-station temperature-artefact coefficients",
            "units": "m3 m-3 K-1" if lagged
            else "m3 m-3 K-1 (ts_hf), m3 m-3 h K-1 (ts_hf_tendency)",
        },
    )  # fmt: skip


def wetness_variables(
    wetness: tuple[np.ndarray, np.ndarray] | None, station
) -> dict[str, xr.DataArray]:
    """``rule_wetness_slope`` and ``rule_wetness_level_mean`` (station,), or none.

    Parameters
    ----------
    wetness : (slope, level_mean) or None
        Per station, aligned to ``station`` (:func:`smlib.method.wetness_gain.wetness_for_stations`):
        the relative change of the artefact's gain per m3 m-3 of the wetness level, and the
        mean level (m3 m-3) it is centred on; NaN where the station has no such term. None
        (the product has no wetness term): no variables.
    station : array-like or xarray.DataArray
        The station coordinate.

    Returns
    -------
    dict of str to xarray.DataArray
        float32 variables, dims ``station``; the gain applied at hour ``t`` is
        ``clip(1 + slope * (L(t) - level_mean), 0.5, 2)`` times the fitted artefact, ``L`` the
        measured SM's mean over the past 24 h (:mod:`smlib.method.wetness_level`).

    Examples
    --------
    >>> v = wetness_variables((np.array([np.nan, -1.5]), np.array([np.nan, 0.2])), ["A", "B"])
    >>> sorted(v), v["rule_wetness_slope"].attrs["units"]
    (['rule_wetness_level_mean', 'rule_wetness_slope'], 'm-3 m3')
    >>> wetness_variables(None, ["A"])
    {}
    """
    if wetness is None:
        return {}
    slope, mean = (np.asarray(a, dtype=np.float32) for a in wetness)
    rule = (
        "artefact at hour t scaled by clip(1 + rule_wetness_slope * (L(t) - "
        "rule_wetness_level_mean), 0.5, 2), L the measured SM's mean over the past 24 h; "
        "NaN: no wetness term at that station (its artefact has one gain)"
    )
    coords = {"station": station}
    return {
        "rule_wetness_slope": xr.DataArray(
            slope,
            dims=("station",),
            coords=coords,
            attrs={
                "long_name": "relative change of the temperature artefact's gain per unit "
                "volumetric water content of the soil's wetness level",
                "units": "m-3 m3",
                "comment": rule,
            },
        ),
        "rule_wetness_level_mean": xr.DataArray(
            mean,
            dims=("station",),
            coords=coords,
            attrs={
                "long_name": "wetness level the artefact's gain is centred on (mean over the "
                "fitted hours of the measured SM's past-24-h mean)",
                "units": "m3 m-3",
            },
        ),
    }
