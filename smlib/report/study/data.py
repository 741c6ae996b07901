"""Section 01, data and quality control: what the readers found and what QC removed."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr

from smlib.data import station_kind

if TYPE_CHECKING:
    from IPython.display import Markdown


def _qc_rules(cube: xr.Dataset) -> dict[str, dict[str, Any]]:
    text = cube.attrs.get("qc_summary")
    if text is None:
        raise ValueError("the dataset has no 'qc_summary' attribute (not a cube from smlib ingest)")
    return json.loads(text)


def reader_findings(cube: xr.Dataset) -> pd.DataFrame:
    """What the readers found: sources, files, stations by kind, period, reanalysis coverage.

    Parameters
    ----------
    cube : xarray.Dataset
        Station cube (:func:`smlib.data.schema.open_cube`).

    Returns
    -------
    pandas.DataFrame
        Index ``item``, one column ``value`` (text).
    """
    kind = station_kind(cube)
    is_ref = np.asarray(cube["is_reference"].values).astype(bool)
    time = pd.DatetimeIndex(cube["time"].values)
    uncovered = json.loads(cube.attrs.get("reanalysis_uncovered_stations", "{}") or "{}")
    products = {"era5": "ERA5-Land", "merra2": "MERRA-2"}
    reanalysis = [name for p, name in products.items() if any(v.startswith(f"{p}_") for v in cube)]
    rows = {
        "sources": cube.attrs.get("source", "?"),
        "source files read": str(cube.attrs.get("n_source_files", "?")),
        "ISMN stations kept": str(int((kind == "ismn").sum())),
        "of which references": f"{int((is_ref & (kind == 'ismn')).sum())} "
        f"({cube.attrs.get('reference_designation', '?')})",
        "flux towers kept": str(int((kind == "tower").sum())),
        "period (UTC)": f"{time[0]:%Y-%m-%d} to {time[-1]:%Y-%m-%d} ({len(time)} hours)",
        "reanalysis products sampled": ", ".join(reanalysis) or "none",
        "stations outside the reanalysis boxes": ", ".join(
            f"{p}: {len(v)}" for p, v in uncovered.items()
        )
        or "none",
        "QC: deepest sensor kept": f"{cube.attrs.get('qc_max_depth_m', '?')} m",
        "QC: minimum complete local days": str(cube.attrs.get("qc_min_days", "?")),
    }
    return pd.DataFrame({"value": rows}).rename_axis("item")


def qc_table(cube: xr.Dataset) -> pd.DataFrame:
    """Stations, station-days and values each QC rule removed, in the order the rules ran.

    Returns
    -------
    pandas.DataFrame
        Index ``rule``; columns ``description``, ``stations_removed``, ``days_removed``,
        ``values_removed`` and ``detail`` (e.g. values per ISMN flag, as text).
    """
    rules = _qc_rules(cube)
    frame = pd.DataFrame(
        [
            {
                "rule": name,
                "description": r.get("description", ""),
                "stations_removed": int(r.get("stations_removed", 0)),
                "days_removed": int(r.get("days_removed", 0)),
                "values_removed": int(r.get("values_removed", 0)),
                "detail": ", ".join(f"{k}: {v}" for k, v in (r.get("detail") or {}).items()),
            }
            for name, r in rules.items()
        ]
    )
    return frame.set_index("rule")


def qc_reasons(cube: xr.Dataset) -> pd.DataFrame:
    """Every station a QC rule removed, with the reason (empty when none was removed)."""
    rows = [
        {"rule": name, "station": sid, "reason": why}
        for name, r in _qc_rules(cube).items()
        for sid, why in (r.get("reasons") or {}).items()
    ]
    return pd.DataFrame(rows, columns=["rule", "station", "reason"])


def station_table(cube: xr.Dataset) -> pd.DataFrame:
    """One row per station of the cube: metadata, complete local days and mean SM.

    Returns
    -------
    pandas.DataFrame
        Index ``station``; ``kind``, ``network``, ``sensor``, ``sensor_type``, ``depth_cm``
        (SM sensor, top-bottom), ``is_reference``, ``lat``, ``lon``, ``complete_days``
        (QC keeps whole local days only, so kept SM hours / 24), ``first_day``, ``last_day``
        and ``sm_mean`` (m3 m-3).
    """
    sm = np.asarray(cube["sm"].transpose("station", "time").values, dtype=float)
    finite = np.isfinite(sm)
    time = pd.DatetimeIndex(cube["time"].values)
    first = [time[f[0]].strftime("%Y-%m-%d") if f.size else "" for f in map(np.flatnonzero, finite)]
    last = [time[f[-1]].strftime("%Y-%m-%d") if f.size else "" for f in map(np.flatnonzero, finite)]
    top = np.asarray(cube["depth_from"].values, dtype=float) * 100
    bottom = np.asarray(cube["depth_to"].values, dtype=float) * 100
    depth = [
        f"{a:g}-{b:g}" if np.isfinite(a) and np.isfinite(b) else ""
        for a, b in zip(top, bottom, strict=True)
    ]
    mean = np.where(finite, sm, 0.0).sum(1) / np.maximum(finite.sum(1), 1)
    mean[~finite.any(1)] = np.nan
    frame = pd.DataFrame(
        {
            "station": cube["station"].values.astype(str),
            "kind": station_kind(cube),
            "network": cube["network"].values.astype(str),
            "sensor": cube["sensor"].values.astype(str),
            "sensor_type": cube["sensor_type"].values.astype(str),
            "depth_cm": depth,
            "is_reference": np.asarray(cube["is_reference"].values).astype(bool),
            "lat": np.round(np.asarray(cube["lat"].values, dtype=float), 3),
            "lon": np.round(np.asarray(cube["lon"].values, dtype=float), 3),
            "complete_days": finite.sum(1) // 24,
            "first_day": first,
            "last_day": last,
            "sm_mean": np.round(mean, 3),
        }
    )
    return frame.set_index("station")


def describe_references_and_gauges(extras: pd.DataFrame) -> Markdown:
    """One sentence on the reference stations, the SM-only ones and the rain gauges.

    Parameters
    ----------
    extras : pandas.DataFrame
        From :func:`smlib.data.references.reference_and_gauge_table`. Day counts of -1 (a cube written
        without ``insitu_rain_source``) are reported as unrecorded, never summed.
    """
    from IPython.display import Markdown

    refs = extras["is_reference"].astype(bool)
    gauge = extras["gauge"].astype(bool)
    text = (
        f"**{int(refs.sum())}** reference stations, of which "
        f"**{int((refs & extras['sm_only'].astype(bool)).sum())}** with SM only; "
        f"**{int(gauge.sum())}** stations have a rain gauge"
    )
    days_gauge, days_sm = extras["days_gauge"], extras["days_sm_tendency"]
    if (days_gauge < 0).any() or (days_sm < 0).any():
        text += " (this cube does not record which source screened each day for rain)."
    else:
        text += (
            f", which screens **{int(days_gauge.sum()):,}** station-days for rain (the SM "
            f"tendency screens **{int(days_sm.sum()):,}**)."
        )
    return Markdown(text)


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def rain_screen_sources(cube: xr.Dataset) -> list[str]:
    """The rain sources the strict rain screen of this cube uses, in words.

    :func:`smlib.method.screens.rain_flags` screens a local day with the in-situ SM tendency
    (always), the stations' own gauges (``precip``, where any station has one) and the
    reanalysis precipitation (``era5_precip``, ``merra2_precip``) that the cube holds: a cube
    built without reanalysis is screened by the in-situ sources alone.

    Parameters
    ----------
    cube : xarray.Dataset
        Station cube.

    Returns
    -------
    list of str
        E.g. ``["in-situ SM tendency", "station rain gauges", "ERA5-Land", "MERRA-2"]``.
    """
    sources = ["in-situ SM tendency"]
    if "precip" in cube and bool(np.isfinite(cube["precip"].values).any()):
        sources.append("station rain gauges")
    for var, name in (("era5_precip", "ERA5-Land"), ("merra2_precip", "MERRA-2")):
        if var in cube and bool(np.isfinite(cube[var].values).any()):
            sources.append(name)
    return sources


def describe_data(cube: xr.Dataset, on_twin: bool) -> Markdown:
    """What the data of this build are, in a few sentences that follow the cube.

    Parameters
    ----------
    cube : xarray.Dataset
        Station cube of the build.
    on_twin : bool
        Whether the data are a synthetic twin (its folder holds the true soil moisture,
        ``truth.nc``: ``run_pipeline(...).truth is not None``); the book runner passes the
        twin's folder as ``data_dir`` too.

    Returns
    -------
    IPython.display.Markdown
        The origin (twin or data folder), the stations by kind, the reanalysis products sampled
        (or none) and the sources the rain screen uses (:func:`rain_screen_sources`).
    """
    from IPython.display import Markdown

    kind = station_kind(cube)
    is_ref = np.asarray(cube["is_reference"].values).astype(bool)
    n_ismn, n_tower = int((kind == "ismn").sum()), int((kind == "tower").sum())
    n_ref = int((is_ref & (kind == "ismn")).sum())
    origin = (
        "the embedded synthetic twin: simulated stations written in the real file formats and "
        "read by the same readers, with the true soil moisture known"
        if on_twin
        else "the files of the data folder given to the build"
    )
    held = [f"in-situ SM and TS of **{n_ismn}** ISMN stations ({n_ref} of them references)"]
    if n_tower:
        held.append(
            f"SM, TS and latent heat flux of **{n_tower}** flux tower{'s' if n_tower != 1 else ''}"
        )
    products = {"era5": "ERA5-Land", "merra2": "MERRA-2"}
    reanalysis = [n for p, n in products.items() if any(str(v).startswith(f"{p}_") for v in cube)]
    text = f"The data of this build are {origin}. It holds {_join(held)}; "
    if reanalysis:
        text += f"{_join(reanalysis)} {'is' if len(reanalysis) == 1 else 'are'} sampled at the stations. "
    else:
        text += "it holds no reanalysis, so the network uses the in-situ features only. "
    text += f"Rain days are screened with {_join(rain_screen_sources(cube))}."
    return Markdown(text)
