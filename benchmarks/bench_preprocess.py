"""Preprocessing throughput: rain screen + LF/HF split + daily R(SM, TS), vectorised vs pandas.

Both paths compute the same thing on a synthetic cube (500 stations x 5 years by default):

1. the in-situ rain screen: local solar days whose daily-mean SM tendency exceeds 0.5 standard
   deviations of the station's tendencies are removed from SM and TS;
2. LF = 24-h centred moving average, HF = x - LF, for SM and TS;
3. R(SM, TS) over each complete local solar day.

* **vectorised** -- smlib's kernels on the whole ``(station, time)`` array at once
  (:func:`smlib.method.screens.rain_flags`, :func:`~smlib.method.decomposition.moving_average` on
  bottleneck, :func:`~smlib.method.preprocess.local_days` + :func:`~smlib.method.screens.daily_correlation_kernel`);
* **pandas loop** -- the straightforward per-station script: ``groupby(local date).mean()``,
  ``diff``, ``rolling(24, center=True).mean()`` and ``groupby(local date).apply(corr)``. It is
  timed on a subset of stations (its cost is linear in stations) and its results are checked
  against the vectorised ones on that subset, so the ratio compares equal work;
* **prepare (insitu)** and **dask (station chunks)** -- the full :func:`smlib.method.preprocess.prepare`
  (screen, decomposition, features, window validity, R filter) in memory and through
  :func:`smlib.ops.scale.prepare_lazy` on 50-station chunks, for reference.

Rates are station-hours per second, best of interleaved rounds (the machine may be shared).
Target: vectorised / pandas >= 20.
"""

from __future__ import annotations

import time

import dask
import numpy as np
import pandas as pd

from benchmarks._synthetic import synthetic_cube
from smlib.config import get_profile
from smlib.method.decomposition import moving_average
from smlib.method.preprocess import local_days, prepare
from smlib.method.screens import daily_correlation_kernel, rain_flags
from smlib.ops import scale
from smlib.timeutils import solar_offset_hours

TARGET = 20.0


def vectorised(ds, cfg) -> dict[str, np.ndarray]:
    """Rain screen, LF/HF of SM and TS, daily R -- whole array at once."""
    flags = rain_flags(ds, cfg)["insitu"]
    sm = ds["sm"].values.astype(np.float32)  # copies: masked in place
    ts = ds["ts"].values.astype(np.float32)
    sm[flags] = np.nan
    ts[flags] = np.nan
    sm_lf = moving_average(sm)
    ts_lf = moving_average(ts)
    time_, lon = ds["time"].values, ds["lon"].values
    sm_days, dates, _ = local_days(sm, time_, lon)
    ts_days, _, _ = local_days(ts, time_, lon)
    r = daily_correlation_kernel(sm_days, ts_days)
    return {
        "rain": flags, "sm_lf": sm_lf, "sm_hf": sm - sm_lf, "ts_hf": ts - ts_lf,
        "r": r, "dates": dates,
    }  # fmt: skip


def pandas_loop(ds, stations, k_sd: float = 0.5) -> list[dict]:
    """The same steps station by station with plain pandas."""
    time_ = pd.DatetimeIndex(ds["time"].values)
    out = []
    for s in stations:
        off = int(solar_offset_hours(float(ds["lon"].values[s])))
        local_date = (time_ + pd.Timedelta(hours=off)).floor("D")
        df = pd.DataFrame(
            {"sm": ds["sm"].values[s].astype(np.float64), "ts": ds["ts"].values[s]}, index=time_
        )
        g = df["sm"].groupby(local_date)
        daily = g.mean().where(g.count() >= 18)
        tend = daily.diff()
        rainy = tend.index[tend > k_sd * tend.std(ddof=0)]
        mask = np.asarray(local_date.isin(rainy))
        df[mask] = np.nan
        lf = df.rolling(24, center=True).mean()
        hf = df - lf

        def day_r(d: pd.DataFrame) -> float:
            return d["sm"].corr(d["ts"]) if len(d) == 24 and d.notna().all().all() else np.nan

        r = df.groupby(local_date).apply(day_r)
        out.append({"rain": mask, "sm_lf": lf["sm"].values, "ts_hf": hf["ts"].values, "r": r})
    return out


def check_equal(vec: dict, pan: list[dict], stations) -> float:
    """Largest absolute difference of R between the paths (raises if the screens differ)."""
    worst = 0.0
    for k, s in enumerate(stations):
        p = pan[k]
        if not np.array_equal(p["rain"], vec["rain"][s]):
            raise AssertionError(f"station {s}: rain screens differ")
        np.testing.assert_allclose(p["sm_lf"], vec["sm_lf"][s], atol=1e-6, equal_nan=True)
        np.testing.assert_allclose(p["ts_hf"], vec["ts_hf"][s], atol=1e-4, equal_nan=True)
        dates = p["r"].index.values.astype("datetime64[D]")
        rv = vec["r"][s, np.searchsorted(vec["dates"], dates)]
        np.testing.assert_allclose(p["r"].values, rv, atol=1e-5, equal_nan=True)
        both = np.isfinite(rv)
        if both.any():
            worst = max(worst, float(np.nanmax(np.abs(p["r"].values[both] - rv[both]))))
    return worst


def _timed(fn, *args) -> tuple[float, object]:
    t0 = time.perf_counter()
    res = fn(*args)
    return time.perf_counter() - t0, res


def run(quick: bool = False) -> dict:
    """Measure the four paths; return a JSON-ready dict."""
    n_st, n_days = (20, 60) if quick else (500, 5 * 365)
    n_pandas = 4 if quick else 25
    rounds = 1 if quick else 3
    ds = synthetic_cube(n_st, n_days, seed=1)
    cfg = get_profile("quick").preprocess
    cfg_insitu = get_profile("quick", ["preprocess.feature_set=insitu"]).preprocess
    n_t = ds.sizes["time"]
    sub = np.linspace(0, n_st - 1, n_pandas).round().astype(int)
    chunked = ds.chunk({"station": 50})
    best = {
        "vectorised": np.inf,
        "pandas": np.inf,
        "prepare_insitu": np.inf,
        "dask_chunks50": np.inf,
    }
    vec = pan = None
    for _ in range(rounds):  # interleaved rounds, best time of each path
        t, vec = _timed(vectorised, ds, cfg)
        best["vectorised"] = min(best["vectorised"], t)
        t, pan = _timed(pandas_loop, ds, sub)
        best["pandas"] = min(best["pandas"], t)
        t, _ = _timed(lambda: prepare(ds, cfg_insitu, training=True))
        best["prepare_insitu"] = min(best["prepare_insitu"], t)
        with dask.config.set(scheduler="threads"):
            t, _ = _timed(lambda: scale.prepare_lazy(chunked, cfg_insitu, training=True).compute())
        best["dask_chunks50"] = min(best["dask_chunks50"], t)
    max_r_diff = check_equal(vec, pan, sub)
    hours = {k: n_st * n_t for k in best}
    hours["pandas"] = len(sub) * n_t
    rate = {k: hours[k] / best[k] for k in best}
    ratio = rate["vectorised"] / rate["pandas"]
    return {
        "cube": {"stations": n_st, "days": n_days, "station_hours": n_st * n_t},
        "pandas_stations_timed": len(sub),
        "seconds_best": best,
        "station_hours_per_s": rate,
        "max_abs_r_difference": max_r_diff,
        "summary": {
            "vectorised_station_hours_per_s": round(rate["vectorised"]),
            "pandas_station_hours_per_s": round(rate["pandas"]),
            "vectorised_over_pandas": round(ratio, 1),
            "prepare_insitu_station_hours_per_s": round(rate["prepare_insitu"]),
            "dask_chunks50_station_hours_per_s": round(rate["dask_chunks50"]),
            "target_ratio": TARGET,
            "target_met": bool(ratio >= TARGET),
        },
    }
