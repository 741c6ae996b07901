"""Section 02, the spurious diurnal signal: daily R(SM, TS) by station, day and sensor type."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.figure import Figure

from smlib.data import ismn_stations
from smlib.evaluation import diagnostics as dg
from smlib.report import plots


def daily_r(ds: xr.Dataset, method: str = "raw") -> xr.DataArray:
    """R(SM, TS) per ISMN station and local solar day for one method.

    Parameters
    ----------
    ds : xarray.Dataset
        Cube or corrected file, dims (station, time), with ``ts`` and the method's variable.
    method : {"raw", "fft", "lstm"}
        Key of :data:`smlib.evaluation.diagnostics.METHOD_VARIABLES`.

    Returns
    -------
    xarray.DataArray, dims (station, day)
        Towers are left out (their SM has no matching TS).
    """
    if method not in dg.METHOD_VARIABLES:
        raise KeyError(f"unknown method {method!r}; choose one of {sorted(dg.METHOD_VARIABLES)}")
    var = dg.METHOD_VARIABLES[method]
    if var not in ds:
        raise KeyError(f"method {method!r} needs variable {var!r}, which the dataset lacks")
    return dg.daily_r_sm_ts(ismn_stations(ds), var).compute()


def plot_r_sm_ts(ds: xr.Dataset, method: str = "raw", title: str | None = None) -> Figure:
    """Heatmap and histogram of R(SM, TS) by site and day of year (paper Figs. 1 and 3)."""
    ismn = ismn_stations(ds)
    sm_clim = np.asarray(ismn["sm"].mean("time").values, dtype=float)
    return plots.plot_daily_r_heatmap(daily_r(ismn, method), sm_clim, method, title=title)


def r_sm_ts_day_summary(
    ds: xr.Dataset, methods: Sequence[str] = ("raw",), threshold: float = -0.34
) -> pd.DataFrame:
    """Daily R(SM, TS) summarised by sensor type: how often the diurnal cycle has the wrong sign.

    Parameters
    ----------
    ds : xarray.Dataset
        Cube or corrected file.
    methods : sequence of str
        Method keys.
    threshold : float
        The paper's "physically consistent day" threshold (R < -0.34).

    Returns
    -------
    pandas.DataFrame
        Rows per sensor type and ``all``; for each method the columns ``days`` (station-days
        with a defined R), ``median_r``, ``share_positive`` and ``share_below_threshold``.
    """
    ismn = ismn_stations(ds)
    sensor = ismn["sensor_type"].values.astype(str)
    groups = [*dict.fromkeys(sensor), "all"]
    out = {}
    for m in methods:
        r = np.asarray(daily_r(ismn, m).values, dtype=float)
        for g in groups:
            vals = r[sensor == g] if g != "all" else r
            vals = vals[np.isfinite(vals)]
            n = vals.size
            out[(g, m)] = {
                "days": n,
                "median_r": float(np.median(vals)) if n else np.nan,
                "share_positive": float((vals > 0).mean()) if n else np.nan,
                "share_below_threshold": float((vals < threshold).mean()) if n else np.nan,
            }
    frame = pd.DataFrame(out).T
    frame.index.names = ["sensor_type", "method"]
    frame["days"] = frame["days"].astype(int)
    wide = frame.unstack("method").swaplevel(axis=1)
    stats = ["days", "median_r", "share_positive", "share_below_threshold"]
    columns = pd.MultiIndex.from_product([list(methods), stats], names=["method", None])
    return wide.reindex(index=groups, columns=columns)
