"""The explorer's series: one variable per method, the nearest reference and the truth."""

from __future__ import annotations

import numpy as np
import xarray as xr

from smlib.evaluation import diagnostics as dg
from smlib.report.display import method_label

__all__ = [
    "series_keys",
    "series_label",
    "explorer_data",
]


#: Series besides the correction methods, drawn after them.
_CONTEXT_SERIES = ("reference", "truth")
#: Style of a series the method registry does not know.
_FALLBACK_STYLE = {"color": "0.3", "linestyle": "-."}


def series_keys(data: xr.Dataset) -> list[str]:
    """The series ``data`` holds, in drawing order: the correction methods in the order of
    :data:`smlib.evaluation.diagnostics.METHOD_VARIABLES` (``raw`` first), then ``reference``, ``truth``.
    A series' ``<key>_uncertainty`` is its band, not a series of its own."""
    keys = [k for k in dg.METHOD_VARIABLES if k in data]
    keys += [
        k
        for k in data.data_vars
        if k not in keys and k not in _CONTEXT_SERIES and not str(k).endswith("_uncertainty")
    ]
    return keys + [k for k in _CONTEXT_SERIES if k in data]


def series_label(key: str) -> str:
    """Plain label of a series (checkboxes, attributes): ``Fourier``, ``guided fit (LSTM + reanalysis)``, ``truth``..."""
    return method_label(key)


def explorer_data(
    corrected: xr.Dataset, truth: xr.Dataset | None = None, max_km: float = 50.0
) -> xr.Dataset:
    """Collect the series the explorer shows, one variable per series, on the corrected grid.

    Parameters
    ----------
    corrected : xarray.Dataset
        Corrected output, dims (station, time): ``sm`` and ``sm_fft`` / ``sm_lstm`` where
        present; station coordinates ``lat``, ``lon``, ``sensor_type``, ``is_reference``.
    truth : xarray.Dataset, optional
        ``truth.nc`` of the twin (variable ``sm``); reindexed to the corrected grid.
    max_km : float
        Largest distance to the reference station shown with a non-reference station.

    Returns
    -------
    xarray.Dataset, dims (station, time)
        One variable per method of the corrected file (its key: ``raw``, ``fft``, ``lstm``,
        ...), plus ``reference`` and ``truth`` (m3 m-3); ``reference`` holds the nearest reference
        station's SM for stations that have one within ``max_km`` (NaN elsewhere). Station
        coordinates ``reference_station`` (id or "") and ``reference_km`` are added.
    """
    if "sm" not in corrected:
        raise KeyError("the corrected dataset has no variable 'sm'")
    keep_coords = [c for c in corrected.coords if corrected[c].dims == ("station",)]
    out = xr.Dataset(coords={c: corrected[c] for c in [*keep_coords, "time"]})
    for key, var in dg.METHOD_VARIABLES.items():
        if var in corrected:
            out[key] = corrected[var].reset_coords(drop=True)
            if f"{var}_uncertainty" in corrected:  # drawn as the 90 % band of that series
                out[f"{key}_uncertainty"] = corrected[f"{var}_uncertainty"].reset_coords(drop=True)
    n = corrected.sizes["station"]
    ref_id = np.full(n, "", dtype=object)
    ref_km = np.full(n, np.nan)
    reference = np.full((n, corrected.sizes["time"]), np.nan, dtype=np.float32)
    if corrected["is_reference"].values.astype(bool).any():
        pairs = dg.reference_pairs(corrected, max_km=max_km)
        stations = corrected["station"].values.astype(str)
        where = {s: i for i, s in enumerate(stations)}
        sm = corrected["sm"].transpose("station", "time").values
        for row in pairs.itertuples(index=False):
            i = where[row.station]
            ref_id[i], ref_km[i] = row.reference, row.distance_km
            reference[i] = sm[where[row.reference]]
    if np.isfinite(reference).any():
        out["reference"] = (("station", "time"), reference)
    if truth is not None:
        if "sm" not in truth:
            raise KeyError("the truth dataset has no variable 'sm'")
        t = (
            truth["sm"]
            .reset_coords(drop=True)
            .reindex(station=corrected["station"].values, time=corrected["time"].values)
        )
        out["truth"] = t.astype(np.float32)
    for v in out.data_vars:
        if v.endswith("_uncertainty"):
            out[v].attrs = {
                "units": "m3 m-3",
                "long_name": f"standard uncertainty of {series_label(v.removesuffix('_uncertainty'))}",
            }
            continue
        label = "nearest reference station" if v == "reference" else series_label(v)
        out[v].attrs = {
            "units": "m3 m-3",
            "standard_name": "volume_fraction_of_condensed_water_in_soil",
            "long_name": f"soil moisture, {label}",
        }
    out = out.assign_coords(
        reference_station=("station", ref_id.astype(str)), reference_km=("station", ref_km)
    )
    out["reference_km"].attrs = {"units": "km", "long_name": "distance to the reference station"}
    return out


def _describe(data: xr.Dataset, station: str) -> str:
    """``flux tower``, ``reference, tdr`` or the sensor type of a station."""
    x = data.sel(station=station)
    if "kind" in x.coords and str(x["kind"].values) == "tower":
        return "flux tower"
    sensor = str(x["sensor_type"].values)
    return f"reference, {sensor}" if bool(x["is_reference"]) else sensor


def _station_options(data: xr.Dataset) -> list[tuple[str, int]]:
    stations = data["station"].values.astype(str)
    return [(f"{s} ({_describe(data, s)})", i) for i, s in enumerate(stations)]
