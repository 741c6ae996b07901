#!/usr/bin/env python3
"""Correct one station's soil moisture with an exported smlib model: numpy + onnxruntime only.

For a logger-side PC or any system without PyTorch or smlib. The model file comes from::

    smlib distill runs/paper --out runs/paper-op          # a small operational student
    smlib export runs/paper-op --format onnx --out model.onnx

and carries everything this script needs in its metadata (feature list, scaler, window
length, moving average). The default product -- the series the book evaluates -- needs no
network at all, only the station's two coefficients that ``smlib correct`` fitted and stored
beside its output (``corrected.coefficients.json``). Usage::

    python correct_station_onnx.py [model.onnx] --stm NET_NET_ST_sm_*.stm NET_NET_ST_ts_*.stm \\
        [--csv reanalysis.csv] [--coefficients corrected.coefficients.json [--station NET/ST]] \\
        --out corrected.csv

Inputs
    ``--stm``: ISMN Header+values files of the station (variable from the file name, ``sm``
    and ``ts`` at least; longitude from the header). Only values flagged ``G`` are used, as in
    smlib; times must be whole UTC hours. ``--csv``: further hourly series, one column per
    variable named as in the smlib station cube (``era5_sm``, ``era5_ts``, ``era5_lh``,
    ``merra2_sm``, ...; SM in m3 m-3, TS in degC, LH in W m-2), first column ``time``
    (``YYYY-MM-DD HH:MM[:SS]`` or ISO, UTC); a model on the ``paper14`` feature set needs the
    reanalysis columns, an ``insitu`` model needs none.
Steps (what smlib's preprocessing does at inference; see ``smlib.method.preprocess``)
    1. Put every series on one gap-free hourly UTC axis (missing hours NaN).
    2. LF = moving average over ``lf_window_h`` hours (``centred``: mean of
       ``x[t-12 .. t+11]``; ``symmetric``: 2 x 24 average; ``trailing``: ``x[t-23 .. t]``),
       NaN unless every hour of the window is finite; HF = x - LF.
    3. Features in the model's order: ``<var>_lf``, ``<var>_hf``, and ``tod_sin``/``tod_cos``
       of the local solar hour (UTC hour + round(lon / 15)).
    4. Scale: ``(x - x_min) / (x_max - x_min)``; windows of ``window_h`` hours ending at each
       hour ``t`` whose features are all finite and whose SM LF is finite.
    5. The network gives normalised HF; HF = y (y_max - y_min) + y_min; corrected SM =
       max(SM LF + HF, 0) in m3 m-3.
The default product (``--coefficients``; see ``smlib.method.product``)
    6. TS HF: gaps of at most ``max_gap_h`` hours interpolated linearly, TS minus its
       ``lf_window_h`` moving average (next to a gap the nearest defined average within
       ``lf_window_h / 2`` hours, earlier first); its tendency: the centred hourly difference
       (one-sided next to a gap).
    7. product = max(SM - b1 TS_HF - b2 dTS_HF/dt, 0), or with a distributed-lag table
       (``product.artefact_terms`` ts_hf_lag0h .. ts_hf_lagKh, the ``recommended`` default)
       max(SM - sum_k w_k TS_HF(t - k h), 0); raw SM where that is undefined or the station has
       no coefficients (never fitted: flag 3, raw is never worse than raw).
    8. Flags: 0 corrected, 1 corrected on a rain-affected hour, 3 left raw, 4 no value. Rain
       days (local solar days): the station gauge ``precip`` on days it covers (20 hours or
       more), else a daily-mean SM rise above ``insitu_tendency_sd`` times the stored spread;
       ``era5_precip`` / ``merra2_precip`` days above ``precip_mm_per_day`` (``--csv``
       columns, mm h-1); under the ``strict`` screen also every gauge day, and each rain day
       widened by ``widen_days``.
    Latency: the value of hour ``t`` needs TS up to ``t + 12`` (the 24-h centred LF reaches
    11 h ahead, the tendency one more), more while a gap may still be filled or after a long
    gap; a rain flag is settled when its local day (strict: and the next) has ended.
Output
    CSV ``time,sm,sm_lf,sm_hf_predicted,sm_corrected``, with ``--coefficients`` also
    ``sm_product,flag``; empty where there is no value. ``sm_corrected`` is the network's
    correction (smlib's ``product=paper``); ``sm_product`` is smlib's default product.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort


# ---------------------------------------------------------------------------------- inputs
def read_stm(path: Path) -> tuple[str, float, np.ndarray, np.ndarray]:
    """``(variable, lon, times[h], values)`` of an ISMN Header+values file, ``G`` values only."""
    variable = path.name.split("_")[3]
    lines = path.read_text().splitlines()
    lon = float(lines[0].split()[4])
    times, values = [], []
    for line in lines[1:]:
        parts = line.split()
        if len(parts) < 4 or parts[3] != "G":
            continue
        stamp = np.datetime64(parts[0].replace("/", "-") + "T" + parts[1], "m")
        if stamp != stamp.astype("datetime64[h]"):
            continue  # not a whole hour (smlib's hourly cube holds whole hours only)
        times.append(stamp.astype("datetime64[h]"))
        values.append(float(parts[2]))
    return variable, lon, np.array(times, dtype="datetime64[h]"), np.array(values)


def read_csv(path: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Hourly columns of a CSV whose first column is the UTC time."""
    lines = [ln for ln in path.read_text().splitlines() if ln.strip()]
    names = [n.strip() for n in lines[0].split(",")]
    rows = [ln.split(",") for ln in lines[1:]]
    times = np.array(
        [np.datetime64(r[0].strip().replace(" ", "T"), "h") for r in rows], dtype="datetime64[h]"
    )
    out = {}
    for j, name in enumerate(names[1:], start=1):
        vals = np.array([float(r[j]) if r[j].strip() else np.nan for r in rows])
        out[name] = (times, vals)
    return out


def on_hourly_axis(series: dict[str, tuple[np.ndarray, np.ndarray]]):
    """One gap-free hourly axis covering every series; float32 arrays with NaN gaps."""
    t0 = min(t.min() for t, _ in series.values())
    t1 = max(t.max() for t, _ in series.values())
    axis = np.arange(t0, t1 + np.timedelta64(1, "h"), dtype="datetime64[h]")
    gridded = {}
    for name, (t, v) in series.items():
        a = np.full(len(axis), np.nan, dtype=np.float32)
        a[(t - t0).astype(np.int64)] = v
        gridded[name] = a
    return axis, gridded


# ---------------------------------------------------------------------------- preprocessing
def trailing_mean(x: np.ndarray, window: int) -> np.ndarray:
    """Mean of ``x[t-window+1 .. t]`` (float64), NaN unless all ``window`` values are finite."""
    ok = np.isfinite(x)
    s = np.concatenate([[0.0], np.cumsum(np.where(ok, x, 0.0).astype(np.float64))])
    n = np.concatenate([[0], np.cumsum(ok)])
    out = np.full(len(x), np.nan)
    if len(x) >= window:
        total = s[window:] - s[:-window]
        count = n[window:] - n[:-window]
        out[window - 1 :] = np.where(count == window, total / window, np.nan)
    return out


def moving_average(x: np.ndarray, window: int, centering: str) -> np.ndarray:
    """LF of a float32 series as smlib defines it (module docstring, step 2); float32."""
    tr = trailing_mean(x, window)
    if centering == "trailing":
        return tr.astype(np.float32)
    fwd = window - 1 - window // 2  # hours after t in the centred window (11 for 24 h)
    out = np.full(len(x), np.nan)
    out[: len(x) - fwd] = tr[fwd:]
    if centering == "symmetric" and window % 2 == 0:
        nxt = np.full(len(x), np.nan)
        nxt[: len(x) - fwd - 1] = tr[fwd + 1 :]
        out = 0.5 * (out + nxt)
    elif centering not in ("centred", "symmetric"):
        raise ValueError(f"unknown lf_centering {centering!r}")
    return out.astype(np.float32)


def solar_offset_hours(lon: float) -> int:
    """Whole hours of local solar time east of UTC: round(lon / 15) in [-12, 12]."""
    lon = ((lon + 180.0) % 360.0) - 180.0
    return int(np.clip(np.rint(lon / 15.0), -12, 12))


def features(meta: dict, axis: np.ndarray, data: dict[str, np.ndarray], lon: float):
    """``(x [time, feature] float32 unscaled, sm, sm_lf)`` in the model's feature order."""
    pre = json.loads(meta["preprocess"])
    if pre.get("screen_at_inference"):
        raise SystemExit("this model screens rain at inference; use smlib for it")
    win, centering = int(meta["lf_window_h"]), meta["lf_centering"]
    names = json.loads(meta["features"])
    x = np.empty((len(axis), len(names)), dtype=np.float32)
    hour = (axis - axis.astype("datetime64[D]")).astype(np.int64)
    local = (hour + solar_offset_hours(lon)) % 24
    for j, name in enumerate(names):
        if name in ("tod_sin", "tod_cos"):
            ang = 2 * np.pi * local / 24.0
            x[:, j] = np.sin(ang) if name == "tod_sin" else np.cos(ang)
            continue
        var, part = name.rsplit("_", 1)
        if var not in data:
            raise SystemExit(f"the model needs the series {var!r}; give it in --stm or --csv")
        lf = moving_average(data[var], win, centering)
        x[:, j] = lf if part == "lf" else data[var] - lf
    sm = data["sm"]
    return x, sm, moving_average(sm, win, centering)


# ------------------------------------------------------------------------------- inference
def correct_station(model: Path, data: dict, axis: np.ndarray, lon: float, batch: int = 8192):
    """Corrected SM (float32, NaN where not correctable) and its parts on ``axis``."""
    sess = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    meta = sess.get_modelmeta().custom_metadata_map
    x, sm, sm_lf = features(meta, axis, data, lon)
    x_min, x_max = np.array(json.loads(meta["x_min"])), np.array(json.loads(meta["x_max"]))
    xs = ((x - x_min) / (x_max - x_min)).astype(np.float32)
    w = int(meta["window_h"])
    finite = np.isfinite(xs).all(1)
    complete = np.zeros(len(axis), dtype=bool)
    if len(axis) >= w:
        run = np.concatenate([[0], np.cumsum(finite)])
        complete[w - 1 :] = (run[w:] - run[:-w]) == w
    ends = np.flatnonzero(complete & np.isfinite(sm_lf))
    xs = np.nan_to_num(xs, nan=0.0)
    windows = np.lib.stride_tricks.sliding_window_view(xs, w, axis=0)  # [n, feature, w]
    y = np.empty(len(ends), dtype=np.float32)
    for s in range(0, len(ends), batch):
        e = ends[s : s + batch]
        xb = np.ascontiguousarray(windows[e - w + 1].transpose(0, 2, 1))
        y[s : s + batch] = sess.run(["hf_norm"], {"x": xb, "lf": sm_lf[e]})[0]
    y_min, y_max = float(meta["y_min"]), float(meta["y_max"])
    hf = np.full(len(axis), np.nan, dtype=np.float32)
    hf[ends] = (y.astype(np.float64) * (y_max - y_min) + y_min).astype(np.float32)
    corrected = np.maximum(sm_lf + hf, 0.0).astype(np.float32)
    return sm, sm_lf, hf, corrected


# --------------------------------------------------------------------- the default product
def fill_short_gaps(x: np.ndarray, max_gap: int) -> np.ndarray:
    """NaN runs of at most ``max_gap`` hours with finite values on both sides, interpolated."""
    ok = np.isfinite(x)
    if max_gap <= 0 or ok.all() or not ok.any():
        return x
    idx = np.arange(len(x))
    prev = np.maximum.accumulate(np.where(ok, idx, -1))
    nxt = np.minimum.accumulate(np.where(ok, idx, len(x))[::-1])[::-1]
    gap = ~ok & (prev >= 0) & (nxt < len(x)) & (nxt - prev - 1 <= max_gap)
    out = x.copy()
    out[gap] = np.interp(idx[gap], idx[ok], x[ok])
    return out


def fill_nearest(lf: np.ndarray, reach: int) -> np.ndarray:
    """Undefined values from the last defined one up to ``reach`` hours before, else from the
    next one up to ``reach`` hours after."""
    idx = np.arange(len(lf))
    ok = np.isfinite(lf)
    prev = np.maximum.accumulate(np.where(ok, idx, -1))
    nxt = np.minimum.accumulate(np.where(ok, idx, len(lf))[::-1])[::-1]
    out = lf.copy()
    back = ~ok & (prev >= 0) & (idx - prev <= reach)
    out[back] = lf[prev[back]]
    ahead = ~ok & ~back & (nxt < len(lf)) & (nxt - idx <= reach)
    out[ahead] = lf[nxt[ahead]]
    return out


def temperature_regressors(ts: np.ndarray, window: int, centering: str, max_gap: int):
    """TS HF (K) and its hourly tendency (K h-1), float32 (step 6)."""
    ts = fill_short_gaps(ts.astype(np.float32), max_gap)
    lf = fill_nearest(moving_average(ts, window, centering), window // 2)
    hf = (ts - lf).astype(np.float32)
    dhf = np.full_like(hf, np.nan)
    mid = 0.5 * (hf[2:] - hf[:-2])
    mid = np.where(np.isnan(mid), hf[2:] - hf[1:-1], mid)
    dhf[1:-1] = np.where(np.isnan(mid), hf[1:-1] - hf[:-2], mid)
    return hf, dhf


def station_coefficients(path: Path, station: str) -> dict:
    """The station's row and the product definition of a ``smlib correct`` coefficient file."""
    doc = json.loads(path.read_text())
    if doc.get("format") != "smlib-product-coefficients" or doc.get("version") != 1:
        raise SystemExit(f"{path}: not an smlib coefficient file of version 1")
    p, st = doc["product"], doc["stations"]
    terms = p.get("artefact_terms", ["ts_hf", "ts_hf_tendency"])
    lagged = terms != ["ts_hf", "ts_hf_tendency"]
    if lagged and terms != [f"ts_hf_lag{k}h" for k in range(len(terms))]:
        raise SystemExit(f"{path}: unknown artefact terms {terms}")
    row = st["station"].index(station) if station in st["station"] else None
    if row is None:
        print(f"{station} is not in {path}: left raw (flag 3)", file=sys.stderr)

    def get(key: str) -> float:
        v = None if row is None else st[key][row]
        return np.nan if v is None else float(v)

    if lagged:  # weights of ts_hf(t - k h), k = 0 .. K
        w = None if row is None else st["weights"][row]
        weights = np.full(len(terms), np.nan) if w is None else np.array(w, dtype=np.float64)
        return {**p, "weights": weights, "sd": get("rain_tendency_sd")}
    return {**p, "b1": get("b1"), "b2": get("b2"), "sd": get("rain_tendency_sd")}


def local_day_index(axis: np.ndarray, lon: float) -> np.ndarray:
    """Index into ``axis`` of hour h of each local solar day, shape [day, 24] (-1 outside)."""
    off = solar_offset_hours(lon)
    first = (axis[0] + np.timedelta64(off, "h")).astype("datetime64[D]")
    last = (axis[-1] + np.timedelta64(off, "h")).astype("datetime64[D]")
    days = np.arange(first, last + np.timedelta64(1, "D"), dtype="datetime64[D]")
    start = (days.astype("datetime64[h]") - axis[0]).astype(np.int64) - off
    index = start[:, None] + np.arange(24)[None, :]
    index[(index < 0) | (index >= len(axis))] = -1
    return index


def rain_hours(data: dict, axis: np.ndarray, lon: float, coef: dict) -> np.ndarray:
    """Rain-affected hours of the default product's flags (step 8)."""
    screen = coef["rain_screen"]
    if screen["rain_screen"] == "none":
        return np.zeros(len(axis), dtype=bool)
    index = local_day_index(axis, lon)

    def days(x: np.ndarray) -> np.ndarray:  # float32, as smlib holds the series
        d = x[np.clip(index, 0, None)].astype(np.float32)
        d[index < 0] = np.nan
        return d

    def wet(x: np.ndarray) -> np.ndarray:
        return np.nansum(days(x), axis=1) > screen["precip_mm_per_day"]

    sm = days(data["sm"])
    n = np.isfinite(sm).sum(1)
    mean = np.nanmean(np.where(n[:, None] > 0, sm, 0.0), axis=1)  # a day of >= 18 hours
    mean[n < 18] = np.nan
    tend = np.full(len(mean), np.nan, dtype=np.float32)
    tend[1:] = mean[1:] - mean[:-1]
    with np.errstate(invalid="ignore"):
        rain = tend > screen["insitu_tendency_sd"] * coef["sd"]
    if "precip" in data:
        gauge = wet(data["precip"])
        rain = np.where(np.isfinite(days(data["precip"])).sum(1) >= 20, gauge, rain)
    for var in ("era5_precip", "merra2_precip"):
        if var in data:
            rain = rain | wet(data[var])
    if screen["rain_screen"] == "strict":
        if "precip" in data:
            rain = rain | gauge
        wide = rain.copy()
        for k in range(1, screen["widen_days"] + 1):
            wide[k:] |= rain[:-k]
            wide[:-k] |= rain[k:]
        rain = wide
    hours = np.zeros(len(axis), dtype=bool)
    hours[index[index >= 0]] = np.broadcast_to(rain[:, None], index.shape)[index >= 0]
    return hours


def default_product(data: dict, axis: np.ndarray, lon: float, coef: dict):
    """``(product, flag)`` of smlib's default product from stored coefficients (steps 6-8)."""
    raw = data["sm"].astype(np.float32)
    if "ts" not in data:
        raise SystemExit("the default product needs the station's ts series")
    hf, dhf = temperature_regressors(
        data["ts"], int(coef["lf_window_h"]), coef["lf_centering"], int(coef["max_gap_h"])
    )
    if "weights" in coef:  # the distributed-lag artefact: sum_k w_k TS_HF(t - k)
        artefact = np.zeros(len(hf))
        for k, w in enumerate(coef["weights"]):
            lag = np.full(len(hf), np.nan)
            lag[k:] = hf[: len(hf) - k]
            artefact += 0.0 if w == 0 else w * lag
        out = raw.astype(np.float64) - artefact
    else:
        out = raw.astype(np.float64) - coef["b1"] * hf - coef["b2"] * dhf
    out = np.maximum(out, 0.0).astype(np.float32)
    have = np.isfinite(raw)
    done = have & np.isfinite(out)
    rain = rain_hours(data, axis, lon, coef)
    product = np.where(done, out, raw).astype(np.float32)
    flag = np.where(done, np.where(rain, 1, 0), np.where(have, 3, 4))
    return product, flag


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model", type=Path, nargs="?", help="model.onnx from smlib export")
    p.add_argument("--stm", type=Path, nargs="*", default=[], help="ISMN .stm files")
    p.add_argument("--csv", type=Path, default=None, help="further hourly series (CSV)")
    p.add_argument("--lon", type=float, default=None, help="longitude (default: .stm header)")
    p.add_argument(
        "--coefficients",
        type=Path,
        default=None,
        help="<out>.coefficients.json of smlib correct: adds the default product",
    )
    p.add_argument(
        "--station",
        default=None,
        help="station in the coefficient file (default: NETWORK/STATION of --stm)",
    )
    p.add_argument("--out", type=Path, required=True, help="output CSV")
    a = p.parse_args(argv)
    if a.model is None and a.coefficients is None:
        p.error("give the model, --coefficients, or both")
    series, lon, station = {}, a.lon, a.station
    for f in a.stm:
        var, file_lon, t, v = read_stm(f)
        series[var] = (t, v)
        lon = file_lon if lon is None else lon
        parts = f.name.split("_")
        station = station or f"{parts[0]}/{parts[2]}"
    if a.csv is not None:
        series.update(read_csv(a.csv))
    if "sm" not in series or lon is None:
        p.error("need the station's sm series and its longitude (--stm or --csv and --lon)")
    if a.coefficients is not None and station is None:
        p.error("name the station in the coefficient file: --station NETWORK/STATION")
    axis, data = on_hourly_axis(series)
    nan = np.full(len(axis), np.nan, dtype=np.float32)
    sm, sm_lf, hf, corr = data["sm"], nan, nan, nan
    if a.model is not None:
        sm, sm_lf, hf, corr = correct_station(a.model, data, axis, lon)

    def fmt(v: float) -> str:
        return "" if not np.isfinite(v) else f"{v:.6f}"

    header = "time,sm,sm_lf,sm_hf_predicted,sm_corrected"
    cols = [sm, sm_lf, hf, corr]
    if a.coefficients is not None:
        product, flag = default_product(
            data, axis, lon, station_coefficients(a.coefficients, station)
        )
        header += ",sm_product,flag"
        cols.append(product)
    rows = [header]
    for i, t in enumerate(axis):
        line = f"{t}:00Z," + ",".join(fmt(c[i]) for c in cols)
        rows.append(line + (f",{flag[i]}" if a.coefficients is not None else ""))
    a.out.write_text("\n".join(rows) + "\n")
    n = int(np.isfinite(cols[-1]).sum())
    print(f"{a.out}: {n} of {len(axis)} hours with a value")
    return 0


if __name__ == "__main__":
    sys.exit(main())
