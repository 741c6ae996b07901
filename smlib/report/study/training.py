"""Section 03, preprocessing and training: decomposition, training filter, learning curves, runs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from smlib.config import PreprocessConfig, differences, load_config
from smlib.data import ismn_stations
from smlib.report import plots
from smlib.report.study.diurnal_signal import daily_r
from smlib.timeutils import solar_offset_hours


def example_station(ds: xr.Dataset) -> str:
    """The non-reference ISMN station with the strongest spurious cycle (largest mean raw R)."""
    ismn = ismn_stations(ds)
    candidates = ~np.asarray(ismn["is_reference"].values).astype(bool)
    if not candidates.any():
        raise ValueError("no non-reference ISMN station in the dataset")
    r = daily_r(ismn.isel(station=np.flatnonzero(candidates)), "raw")
    with np.errstate(all="ignore"):
        mean = np.nanmean(np.where(np.isfinite(r.values), r.values, np.nan), axis=1)
    if not np.isfinite(mean).any():
        raise ValueError("no non-reference ISMN station has a complete day")
    return str(r["station"].values[int(np.nanargmax(mean))])


def _first_complete_window(finite: np.ndarray, time: pd.DatetimeIndex, hours: int) -> int:
    """Start (00 UTC) of the first window with every value finite, else of the fullest one."""
    starts = np.flatnonzero(time.hour == 0)
    starts = starts[starts + hours <= len(time)]
    if starts.size == 0:
        raise ValueError(f"the record is shorter than {hours} hours")
    counts = np.array([finite[i : i + hours].sum() for i in starts])
    full = np.flatnonzero(counts == hours)
    return int(starts[full[0]] if full.size else starts[int(np.argmax(counts))])


def plot_decomposition(
    ds: xr.Dataset,
    station: str,
    start: str | pd.Timestamp | None = None,
    days: int = 7,
    cfg: PreprocessConfig | None = None,
) -> Figure:
    """The LF/HF split of SM and TS at one station, local days coloured by their R(SM, TS).

    Parameters
    ----------
    ds : xarray.Dataset
        Station cube.
    station : str
        Station id.
    start : str or Timestamp, optional
        First hour shown (UTC); default: the first window of ``days`` complete days.
    days : int
        Length of the window shown.
    cfg : PreprocessConfig, optional
        LF window and centring and the training-filter threshold (default: the paper's).

    Returns
    -------
    matplotlib.figure.Figure
        (a) SM and its 24-h LF; (b) TS and its LF; (c) SM HF and TS HF on twin axes, each local
        solar day shaded blue when R(SM, TS) < threshold (passes the training filter) and red
        when R > 0.
    """
    from smlib.method.decomposition import decompose
    from smlib.method.screens import daily_correlation

    cfg = cfg or PreprocessConfig()
    x = ds.sel(station=[station])
    time = pd.DatetimeIndex(ds["time"].values)
    hours = 24 * days
    if start is None:
        finite = np.isfinite(x["sm"].values[0]) & np.isfinite(x["ts"].values[0])
        i0 = _first_complete_window(finite, time, hours)
    else:
        i0 = int(time.get_indexer([pd.Timestamp(start)])[0])
        if i0 < 0:
            raise ValueError(f"start {start} is not on the time axis")
    window = slice(i0, i0 + hours)
    t = time[window]
    parts = {}
    for v in ("sm", "ts"):
        lf, hf = decompose(x[v], cfg.lf_window_h, cfg.lf_centering)
        parts[v] = (x[v].values[0, window], lf.values[0, window], hf.values[0, window])
    r = daily_correlation(x["sm"], x["ts"]).isel(station=0)

    fig = Figure(figsize=(9.0, 7.0), layout="constrained")
    axes = fig.subplots(3, 1, sharex=True)
    for ax, v, unit in ((axes[0], "sm", plots.SM_UNITS), (axes[1], "ts", "°C")):
        raw, lf, _ = parts[v]
        ax.plot(t, raw, color="#1f77b4" if v == "sm" else "#d62728", lw=1.2, label=v.upper())
        ax.plot(t, lf, color="k", lw=1.6, label=f"LF ({cfg.lf_window_h}-h {cfg.lf_centering} mean)")
        ax.set_ylabel(f"{v.upper()} ({unit})")
        ax.legend(fontsize=8, loc="upper right")
    ax = axes[2]
    ax.plot(t, parts["sm"][2], color="#1f77b4", lw=1.2, label="SM HF")
    ax.axhline(0.0, color="0.6", lw=0.7)
    ax.set_ylabel(f"SM HF ({plots.SM_UNITS})", color="#1f77b4")
    ax_ts = ax.twinx()
    ax_ts.plot(t, parts["ts"][2], color="#d62728", lw=1.0, ls="--", label="TS HF")
    ax_ts.set_ylabel("TS HF (°C)", color="#d62728")
    offset = int(solar_offset_hours(np.atleast_1d(float(x["lon"].values[0])))[0])
    for day, value in zip(pd.DatetimeIndex(r["day"].values), r.values, strict=True):
        d0 = day - pd.Timedelta(hours=offset)  # local solar midnight in UTC
        if d0 + pd.Timedelta(hours=24) <= t[0] or d0 >= t[-1] or not np.isfinite(value):
            continue
        colour = "#4c72b0" if value < cfg.r_threshold else ("#c44e52" if value > 0 else None)
        if colour:
            ax.axvspan(d0, d0 + pd.Timedelta(hours=24), color=colour, alpha=0.12, lw=0)
        if not t[0] <= d0 + pd.Timedelta(hours=12) <= t[-1]:
            continue
        ax.text(
            d0 + pd.Timedelta(hours=12),
            1.0,
            f"R={value:.2f}",
            transform=ax.get_xaxis_transform(),
            ha="center",
            va="bottom",
            fontsize=7,
        )
    handles = ax.get_legend_handles_labels()[0] + ax_ts.get_legend_handles_labels()[0]
    ax.legend(handles=handles, fontsize=8, loc="lower right")
    ax.set_xlabel("Time (UTC)")
    ax.set_xlim(t[0], t[-1])
    fig.suptitle(
        f"{station} ({x['sensor_type'].values[0]}): LF/HF split; shaded local days "
        f"R < {cfg.r_threshold:g} (blue, passes the training filter) or R > 0 (red)",
        fontsize=10,
    )
    fig.autofmt_xdate()
    return fig


def training_filter_table(cube: xr.Dataset, cfg: PreprocessConfig) -> pd.DataFrame:
    """How the rain screen and the R(SM, TS) filter thin out each ISMN station's days.

    Parameters
    ----------
    cube : xarray.Dataset
        Station cube.
    cfg : PreprocessConfig
        The run's preprocessing configuration.

    Returns
    -------
    pandas.DataFrame
        Index ``station``; ``sensor_type``, ``used_for_training`` (non-reference ISMN),
        ``complete_days``, ``rain_screened_days`` (complete days the in-situ screen masks),
        ``days_r_below`` (screened days with R(SM, TS) < threshold) and ``training_hours``
        (end hours of complete 18-h windows on those days; 0 for stations not trained on).
        A last row ``total`` sums the columns.
    """
    from smlib.method.preprocess import prepare, training_stations
    from smlib.method.screens import rain_flags

    ismn = ismn_stations(cube).load()
    prep = prepare(ismn, cfg, training=True)
    flags = rain_flags(ismn, cfg)["insitu"]
    sm = np.asarray(ismn["sm"].transpose("station", "time").values)
    use = training_stations(ismn)
    mask = prep.training_mask()
    frame = pd.DataFrame(
        {
            "station": prep.station,
            "sensor_type": ismn["sensor_type"].values.astype(str),
            "used_for_training": use,
            "complete_days": np.isfinite(sm).sum(1) // 24,
            "rain_screened_days": (flags & np.isfinite(sm)).sum(1) // 24,
            "days_r_below": (prep.r_ok & np.isfinite(prep.sm)).sum(1) // 24,
            "training_hours": np.where(use, mask.sum(1), 0),
        }
    ).set_index("station")
    total = frame[["complete_days", "rain_screened_days", "days_r_below", "training_hours"]].sum()
    frame.loc["total"] = {**total.to_dict(), "sensor_type": "", "used_for_training": use.any()}
    return frame


def plot_learning_curves(run_dir: str | os.PathLike[str]) -> Figure:
    """Training and validation loss per epoch from the run's ``metrics.csv``."""
    path = Path(run_dir) / "metrics.csv"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: the run has not finished an epoch")
    m = pd.read_csv(path)
    fig = Figure(figsize=(6.0, 3.6), layout="constrained")
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(m["epoch"], m["train_loss"], "o-", ms=3, label="training")
    ax.plot(m["epoch"], m["val_loss"], "s-", ms=3, label="validation")
    best = m.loc[m["val_loss"].idxmin()]
    ax.axvline(best["epoch"], color="0.5", ls=":", lw=1)
    ax.plot(best["epoch"], best["val_loss"], "k*", ms=10, label="best (weights kept)")
    ax.text(
        0.5,
        0.97,
        f"best epoch {int(best['epoch'])}: validation MSE {best['val_loss']:.3g}",
        transform=ax.transAxes,
        ha="center",
        va="top",
        fontsize=8,
    )
    if (m[["train_loss", "val_loss"]] > 0).all().all():
        ax.set_yscale("log")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("Epoch")
    ax.set_ylabel("MSE of normalised SM HF")
    ax.legend(fontsize=8, loc="upper right")
    ax.set_title(f"Learning curves ({len(m)} epoch{'s' if len(m) != 1 else ''})")
    return fig


def run_summary(run_dir: str | os.PathLike[str]) -> pd.DataFrame:
    """Facts of a training run from its ``run.json`` (status, samples, epochs, device, time)."""
    path = Path(run_dir) / "run.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: not a training run directory")
    info = json.loads(path.read_text())
    keys = [
        ("status", "status"),
        ("stop_reason", "stopped because"),
        ("epochs", "epochs run"),
        ("best_epoch", "best epoch"),
        ("best_val_loss", "best validation MSE"),
        ("target", "training target (self-trained: the stage-1 product)"),
        ("target_share", "share of measured values kept as targets"),
        ("n_train_samples", "training samples (windows)"),
        ("n_val_samples", "validation samples (windows)"),
        ("samples_per_epoch", "samples drawn per epoch"),
        ("device", "device"),
        ("threads", "CPU threads"),
        ("wall_seconds_last_call", "wall time (s)"),
    ]
    rows = {label: info[k] for k, label in keys if k in info}
    rows["stations trained on"] = len(info.get("stations_trained", []))
    rows["input features"] = len(info.get("features", []))
    return pd.DataFrame({"value": {k: str(v) for k, v in rows.items()}}).rename_axis("item")


def config_differences(run_dir: str | os.PathLike[str]) -> pd.DataFrame:
    """Every configuration key in which the run departs from the ``paper`` profile."""
    cfg = load_config(Path(run_dir) / "config.yaml")
    rows = [(key, str(paper), str(mine)) for key, paper, mine in differences(cfg)]
    return pd.DataFrame(rows, columns=["key", "paper", "this run"]).set_index("key")
