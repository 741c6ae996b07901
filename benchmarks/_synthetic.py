"""Synthetic station cubes for the benchmarks, generated directly as arrays (no twin writers).

The series only need realistic *structure* for timing: a seasonal drying SM with rain steps, a
diurnal TS cycle and an SM artefact following TS, per-station longitudes (local solar days
differ), reanalysis copies with a phase lag, and a few NaN gaps.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

__all__ = ["synthetic_arrays", "synthetic_cube", "REANALYSIS_VARS"]

REANALYSIS_VARS = (
    "era5_sm", "era5_ts", "era5_lh", "era5_precip",
    "merra2_sm", "merra2_ts", "merra2_lh", "merra2_precip",
)  # fmt: skip


def synthetic_arrays(
    n_station: int,
    n_time: int,
    *,
    seed: int = 0,
    reanalysis: bool = False,
    dtype: type = np.float32,
    station0: int = 0,
) -> dict[str, np.ndarray]:
    """``(station, time)`` arrays ``sm`` (m3 m-3), ``ts`` (degC) [+ reanalysis] and ``lon``.

    ``station0`` offsets the random stream so that blocks of a large cube can be generated
    independently (block ``k`` of ``n`` stations uses ``seed + station0``).
    """
    rng = np.random.default_rng(seed + station0)
    lon = rng.uniform(-125.0, 150.0, n_station)
    offs = np.rint(lon / 15.0)
    t = np.arange(n_time, dtype=np.float64)
    local = (t[None, :] + offs[:, None]) / 24.0  # local solar days
    phase = 2 * np.pi * local
    season = 10.0 * np.sin(2 * np.pi * t / (24 * 365.25))[None, :]
    ts = 15.0 + season + 6.0 * np.sin(phase - 2.0) + rng.normal(0, 0.3, (n_station, n_time))
    # drying SM with rain steps roughly every 10 days
    rain = rng.random((n_station, n_time)) < 1.0 / 240.0
    steps = np.cumsum(rain * rng.uniform(0.02, 0.08, (n_station, n_time)), axis=1)
    decay = 0.0004 * t[None, :]
    truth = 0.15 + np.mod(steps - decay, 0.25)
    sm = truth + 0.003 * (ts - ts.mean(1, keepdims=True)) + rng.normal(0, 0.002, ts.shape)
    gaps = rng.random((n_station, n_time)) < 1e-3
    sm[gaps] = np.nan
    out = {"sm": sm.astype(dtype), "ts": ts.astype(dtype), "lon": lon}
    if reanalysis:
        for prod, lag in (("era5", 2.5), ("merra2", 1.5)):
            lagged = 2 * np.pi * (local - lag / 24.0)
            out[f"{prod}_sm"] = (truth + 0.01 + 0.004 * np.sin(lagged + 1.0)).astype(dtype)
            out[f"{prod}_ts"] = (15.0 + season + 5.0 * np.sin(lagged - 2.0)).astype(dtype)
            lh = (300 + 10 * season) * np.sin(lagged - 1.5)
            out[f"{prod}_lh"] = np.maximum(0.0, lh).astype(dtype)
            out[f"{prod}_precip"] = (rain * rng.uniform(0.2, 3.0, rain.shape)).astype(dtype)
    return out


def synthetic_cube(
    n_station: int,
    n_days: int,
    *,
    seed: int = 0,
    reanalysis: bool = False,
    start: str = "2015-01-01",
    dtype: type = np.float32,
) -> xr.Dataset:
    """A station cube (docs/architecture.md layout) of ``n_station`` ISMN stations x ``n_days`` hourly days."""
    n_time = 24 * n_days
    a = synthetic_arrays(n_station, n_time, seed=seed, reanalysis=reanalysis, dtype=dtype)
    lon = a.pop("lon")
    units = {"sm": "m3 m-3", "ts": "degC", "lh": "W m-2", "precip": "mm h-1"}
    data = {
        k: (("station", "time"), v, {"units": units[k.rsplit("_", 1)[-1]]}) for k, v in a.items()
    }
    return xr.Dataset(
        data,
        coords={
            "station": [f"SYN/S{i:05d}" for i in range(n_station)],
            "time": pd.date_range(start, periods=n_time, freq="h"),
            "lon": ("station", lon),
            "lat": ("station", np.zeros(n_station)),
            "kind": ("station", np.array(["ismn"] * n_station)),
            "is_reference": ("station", np.zeros(n_station, dtype=bool)),
        },
    )
