"""Tables and figures of the book's sections, computed from the products of one study run.

The notebooks in ``notebooks/`` stay thin: each one calls :func:`smlib.pipeline.run_pipeline`
and hands the returned paths (or the datasets behind them) to the functions here. Everything a
section states as a number comes from these functions -- nothing is typed into the text.

=================================  ============================================================
section                            functions
=================================  ============================================================
01 data and quality control        :func:`reader_findings`, :func:`qc_table`, :func:`qc_reasons`,
                                   :func:`station_table`
02 the spurious diurnal signal     :func:`daily_r`, :func:`plot_r_sm_ts`,
                                   :func:`r_sm_ts_day_summary`
03 preprocessing and training      :func:`example_station`, :func:`plot_decomposition`,
                                   :func:`training_filter_table`, :func:`plot_learning_curves`,
                                   :func:`run_summary`, :func:`config_differences`
04 evaluation                      :func:`headline_table`, :func:`plot_reference_pair`,
                                   :func:`reference_composites`
05 lag sensitivity                 :func:`read_sensitivity`, :func:`sensitivity_shares`,
                                   :func:`plot_sensitivity_by_part`, :func:`describe_sensitivity`
06 land coupling                   :func:`read_coupling`, :func:`coupling_table`,
                                   :func:`describe_coupling`
any                                :func:`read_summary`, :func:`read_table`,
                                   :func:`show_or_explain` (with :class:`Unavailable`)
=================================  ============================================================
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from smlib import diagnostics as dg
from smlib import plots
from smlib.config import PreprocessConfig, differences, load_config
from smlib.timeutils import solar_offset_hours

__all__ = [
    "read_summary",
    "read_table",
    "reader_findings",
    "qc_table",
    "qc_reasons",
    "station_table",
    "daily_r",
    "plot_r_sm_ts",
    "r_sm_ts_day_summary",
    "example_station",
    "plot_decomposition",
    "training_filter_table",
    "plot_learning_curves",
    "run_summary",
    "config_differences",
    "headline_table",
    "plot_reference_pair",
    "reference_composites",
    "read_sensitivity",
    "sensitivity_shares",
    "plot_sensitivity_by_part",
    "read_coupling",
    "show_or_explain",
    "Unavailable",
    "describe_sensitivity",
    "describe_coupling",
    "coupling_table",
    "screen_comparison",
]

if TYPE_CHECKING:
    from IPython.display import Markdown

from smlib.methods import METHODS

log = logging.getLogger(__name__)

#: Title label of each method in the R(SM, TS) heatmaps (paper Figs. 1 and 3).
_HEATMAP_LABEL = {k: m.label for k, m in METHODS.items()}


# --------------------------------------------------------------------------------------------
# report files
# --------------------------------------------------------------------------------------------
def read_summary(report_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """``summary.json`` of a report folder written by :func:`smlib.evaluate.evaluate`."""
    path = Path(report_dir) / "summary.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: run smlib.pipeline.run_pipeline first")
    return json.loads(path.read_text())


#: Report table -> the part of :func:`smlib.evaluate.evaluate` that writes it.
_TABLE_PART = {
    "r_sm_ts_station": "r_sm_ts",
    "r_sm_ts_by_sensor": "r_sm_ts",
    "hf_r_reference": "reference_pairs",
    "land_coupling": "land_coupling",
    "skill_truth": "skill_vs_truth",
    "skill_truth_by_sensor": "skill_vs_truth",
    "lag_sensitivity": "lag_sensitivity",
}


def read_table(report_dir: str | os.PathLike[str], name: str) -> pd.DataFrame:
    """One CSV table of a report folder (``name`` without ``.csv``).

    Raises
    ------
    FileNotFoundError
        The table was not written; the message gives the reason the evaluation recorded for
        skipping the part that writes it.
    """
    path = Path(report_dir) / f"{name}.csv"
    if not path.is_file():
        skipped = read_summary(report_dir).get("skipped", {})
        part = _TABLE_PART.get(name)
        if part in skipped:
            why = skipped[part]
        else:
            why = "; ".join(f"{k}: {v}" for k, v in skipped.items()) or "no reason recorded"
        log.info("%s not found", path)
        raise FileNotFoundError(f"the evaluation wrote no {path.name} ({why})")
    return pd.read_csv(path)


class Unavailable:
    """A result that could not be computed for this data, with the reason.

    Displays as a short italic note in a notebook and is falsy; passed on to
    :func:`show_or_explain` it is returned again without calling anything, so a chain of
    steps that starts from a missing table shows the first reason once per step.
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"Unavailable({self.reason!r})"

    def _repr_markdown_(self) -> str:
        return f"*Not available for this data: {self.reason}*"


def show_or_explain(make: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Return ``make(*args, **kwargs)``, or an :class:`Unavailable` saying why not.

    For the parts of a section that need data a data set may lack (reference stations within
    reach, flux towers, the truth of the twin): the notebook shows the reason instead of
    failing. Only ``ValueError``, ``KeyError`` and ``FileNotFoundError`` are caught, and each
    is logged. If an argument is already :class:`Unavailable`, it is returned unchanged.
    """
    for value in (*args, *kwargs.values()):
        if isinstance(value, Unavailable):
            return value
    try:
        return make(*args, **kwargs)
    except (ValueError, KeyError, FileNotFoundError) as err:
        log.warning("not available: %s", err)
        return Unavailable(str(err))


# --------------------------------------------------------------------------------------------
# 01: data and quality control
# --------------------------------------------------------------------------------------------
def _qc_rules(cube: xr.Dataset) -> dict[str, dict[str, Any]]:
    text = cube.attrs.get("qc_summary")
    if text is None:
        raise ValueError("the dataset has no 'qc_summary' attribute (not a cube from smlib ingest)")
    return json.loads(text)


def _kind(ds: xr.Dataset) -> np.ndarray:
    if "kind" in ds.coords or "kind" in ds:
        return np.asarray(ds["kind"].values).astype(str)
    return np.full(ds.sizes["station"], "ismn")


def reader_findings(cube: xr.Dataset) -> pd.DataFrame:
    """What the readers found: sources, files, stations by kind, period, reanalysis coverage.

    Parameters
    ----------
    cube : xarray.Dataset
        Station cube (:func:`smlib.cube.open_cube`).

    Returns
    -------
    pandas.DataFrame
        Index ``item``, one column ``value`` (text).
    """
    kind = _kind(cube)
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
            "kind": _kind(cube),
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


# --------------------------------------------------------------------------------------------
# 02: R(SM, TS)
# --------------------------------------------------------------------------------------------
def _ismn(ds: xr.Dataset) -> xr.Dataset:
    return ds.isel(station=np.flatnonzero(_kind(ds) == "ismn"))


def daily_r(ds: xr.Dataset, method: str = "raw") -> xr.DataArray:
    """R(SM, TS) per ISMN station and local solar day for one method.

    Parameters
    ----------
    ds : xarray.Dataset
        Cube or corrected file, dims (station, time), with ``ts`` and the method's variable.
    method : {"raw", "fft", "lstm"}
        Key of :data:`smlib.diagnostics.METHOD_VARIABLES`.

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
    return dg.daily_r_sm_ts(_ismn(ds), var).compute()


def plot_r_sm_ts(ds: xr.Dataset, method: str = "raw", title: str | None = None) -> Figure:
    """Heatmap and histogram of R(SM, TS) by site and day of year (paper Figs. 1 and 3)."""
    ismn = _ismn(ds)
    clim = dg.r_sm_ts_climatology(daily_r(ismn, method))
    sm_clim = np.asarray(ismn["sm"].mean("time").values, dtype=float)
    return plots.plot_r_sm_ts_heatmap(
        clim, sm_clim, title=title or f"R(SM, TS): {_HEATMAP_LABEL[method]}"
    )


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
    ismn = _ismn(ds)
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


# --------------------------------------------------------------------------------------------
# 03: preprocessing and training
# --------------------------------------------------------------------------------------------
def example_station(ds: xr.Dataset) -> str:
    """The non-reference ISMN station with the strongest spurious cycle (largest mean raw R)."""
    ismn = _ismn(ds)
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
    from smlib.preprocess import daily_correlation, decompose

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
    from smlib.preprocess import prepare, rain_flags, training_stations

    ismn = _ismn(cube).load()
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


# --------------------------------------------------------------------------------------------
# 04: evaluation
# --------------------------------------------------------------------------------------------
_HEADLINES = (
    ("median_hf_r_vs_reference", "median HF R vs reference (paired stations)"),
    ("median_hf_r_vs_truth", "median HF R vs truth"),
    ("median_composite_rmse_vs_truth", "median RMSE of diurnal composite vs truth (m3 m-3)"),
    ("median_abs_phase_error_h", "median |phase error| of diurnal minimum (h)"),
    ("median_r_sm_lh", "median R(SM, LH) at towers"),
    ("median_tci", "median TCI(SM, LH) at towers (W m-2)"),
)


def headline_table(summary: dict[str, Any]) -> pd.DataFrame:
    """The evaluation's headline medians, one row per metric and one column per method.

    Metrics absent from ``summary`` (parts the evaluation skipped) are left out.
    """
    methods = summary.get("methods", [])
    rows = {
        label: {m: summary[key].get(m) for m in methods}
        for key, label in _HEADLINES
        if isinstance(summary.get(key), dict)
    }
    return pd.DataFrame(rows, columns=None).T.astype(float).rename_axis("metric")


def plot_reference_pair(
    ds: xr.Dataset, station: str | None = None, max_km: float = 50.0, days: int = 5
) -> Figure:
    """Paper Fig. 5 for ``station`` (default: the pair of smallest distance).

    Raises
    ------
    ValueError
        No station-reference pair within ``max_km``, or ``station`` has no reference.
    """
    pairs = dg.reference_pairs(ds, max_km=max_km)
    if pairs.empty:
        raise ValueError(f"no non-reference station within {max_km:g} km of a reference")
    row = pairs.iloc[0] if station is None else pairs.loc[pairs["station"] == station]
    if isinstance(row, pd.DataFrame):
        if row.empty:
            raise ValueError(f"{station} has no reference station within {max_km:g} km")
        row = row.iloc[0]
    return plots.plot_station_pair(ds, row["station"], row["reference"], days=days)


def reference_composites(
    ds: xr.Dataset, truth: xr.Dataset | None = None, max_km: float = 50.0
) -> dict[str, xr.DataArray]:
    """Composite diurnal cycles of the reference-paired stations (paper Fig. 6a).

    Parameters
    ----------
    ds : xarray.Dataset
        Corrected file.
    truth : xarray.Dataset, optional
        ``truth.nc`` of the twin: its composite at the same stations is added as ``truth``.
    max_km : float
        Largest distance of a pair.

    Returns
    -------
    dict of str to xarray.DataArray, dims (station, local_hour)
        Keys ``reference``, the methods present and optionally ``truth`` (m3 m-3); input of
        :func:`smlib.plots.plot_composite_cycles`.
    """
    pairs = dg.reference_pairs(ds, max_km=max_km)
    if pairs.empty:
        raise ValueError(f"no non-reference station within {max_km:g} km of a reference")
    stations = pairs["station"].to_numpy()
    lon = ("station", ds["lon"].sel(station=stations).values)
    ref = ds["sm"].sel(station=pairs["reference"].to_numpy())
    ref = ref.assign_coords(station=stations, lon=lon)
    out = {"reference": dg.diurnal_composite(ref)}
    for m, var in dg.METHOD_VARIABLES.items():
        if var in ds:
            out[m] = dg.diurnal_composite(ds[var].sel(station=stations))
    if truth is not None:
        tr = truth["sm"].reset_coords(drop=True).sel(station=stations)
        tr = tr.reindex(time=ds["time"]).assign_coords(lon=lon)
        out["truth"] = dg.diurnal_composite(tr)
    return out


# --------------------------------------------------------------------------------------------
# 05: lag sensitivity
# --------------------------------------------------------------------------------------------
def read_sensitivity(report_dir: str | os.PathLike[str]) -> xr.DataArray:
    """The lag sensitivity S(feature, lag) stored by the evaluation (``lag_sensitivity.csv``)."""
    table = read_table(report_dir, "lag_sensitivity").set_index("feature")
    lags = [int(c.removeprefix("lag_").removesuffix("h")) for c in table.columns]
    summary = read_summary(report_dir)
    return xr.DataArray(
        table.to_numpy(dtype=float),
        dims=("feature", "lag"),
        coords={"feature": table.index.to_numpy(str), "lag": lags},
        name="sensitivity",
        attrs={
            "units": "m3 m-3",
            "long_name": "mean |d SM_HF / d x_i(t - lag)| times the training sigma of x_i",
            "n_windows": summary.get("lag_sensitivity_windows"),
        },
    )


def _feature_parts(feature: str) -> tuple[str, str, str]:
    """(source, variable, part) of a feature name such as ``era5_lh_hf`` or ``tod_sin``."""
    if feature.startswith("tod_"):
        return "time of day", "tod", "clock"
    var, part = feature.rsplit("_", 1)
    source, _, name = var.rpartition("_")
    label = {"": "in situ", "era5": "ERA5-Land", "merra2": "MERRA-2"}.get(source, source)
    return label, name.upper(), part.upper()


def sensitivity_shares(sensitivity: xr.DataArray, recent_hours: int = 6) -> pd.DataFrame:
    """Share of the total lag sensitivity per feature, and how recent it is.

    Parameters
    ----------
    sensitivity : xarray.DataArray, dims (feature, lag)
    recent_hours : int
        Lags ``0 .. recent_hours - 1`` count as recent.

    Returns
    -------
    pandas.DataFrame
        Index ``feature``; ``source``, ``variable``, ``part`` (LF / HF), ``share`` of the sum
        over all features and lags, ``recent_share`` (fraction of the feature's own sensitivity
        at lags < ``recent_hours``) and ``mean_lag_h`` (sensitivity-weighted mean lag);
        sorted by ``share``.
    """
    s = sensitivity.transpose("feature", "lag")
    values = np.nan_to_num(np.asarray(s.values, dtype=float))
    lags = np.asarray(s["lag"].values, dtype=float)
    total = values.sum()
    if not total > 0:
        raise ValueError("the sensitivity is zero or undefined everywhere")
    per_feature = values.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        recent = values[:, lags < recent_hours].sum(1) / per_feature
        mean_lag = (values * lags).sum(1) / per_feature
    names = [str(f) for f in s["feature"].values]
    parts = [_feature_parts(f) for f in names]
    frame = pd.DataFrame(
        {
            "feature": names,
            "source": [p[0] for p in parts],
            "variable": [p[1] for p in parts],
            "part": [p[2] for p in parts],
            "share": per_feature / total,
            "recent_share": recent,
            "mean_lag_h": mean_lag,
        }
    )
    return frame.set_index("feature").sort_values("share", ascending=False)


def describe_sensitivity(shares: pd.DataFrame) -> Markdown:
    """One sentence on the HF/LF balance and the leading input of :func:`sensitivity_shares`."""
    from IPython.display import Markdown

    by_part = shares.groupby("part")["share"].sum()
    top = shares.index[0]
    return Markdown(
        f"In this run the HF features hold **{by_part.get('HF', 0.0):.0%}** of the total "
        f"sensitivity and the LF features **{by_part.get('LF', 0.0):.0%}**; the single most "
        f"influential input is `{top}` ({shares.loc[top, 'share']:.0%} of the total, "
        f"sensitivity-weighted mean lag {shares.loc[top, 'mean_lag_h']:.1f} h)."
    )


def plot_sensitivity_by_part(sensitivity: xr.DataArray) -> Figure:
    """Sensitivity summed over the HF and over the LF features, per lag, each per source.

    Returns
    -------
    matplotlib.figure.Figure
        Left: the sum over HF features and over LF features against lag. Right: the same split
        by source (in situ, ERA5-Land, MERRA-2), as a share of the total.
    """
    s = sensitivity.transpose("feature", "lag")
    values = np.nan_to_num(np.asarray(s.values, dtype=float))
    lags = np.asarray(s["lag"].values)
    parts = [_feature_parts(str(f)) for f in s["feature"].values]
    fig = Figure(figsize=(10.0, 3.8), layout="constrained")
    ax_lag, ax_src = fig.subplots(1, 2)
    colours = {"HF": "#d62728", "LF": "#1f77b4", "CLOCK": "0.5"}
    for part in dict.fromkeys(p[2] for p in parts):
        rows = [i for i, p in enumerate(parts) if p[2] == part]
        ax_lag.plot(lags, values[rows].sum(0), "o-", ms=3, color=colours[part], label=part)
    ax_lag.set_xlabel("Lag $\\tau$ before the predicted hour (h)")
    ax_lag.set_ylabel("Summed $S_{i,\\tau}$")
    ax_lag.set_xticks(lags[::2])
    ax_lag.legend(title="features", fontsize=8)
    ax_lag.set_title("(a) HF against LF inputs by lag", loc="left", fontsize=10)

    total = values.sum()
    sources = list(dict.fromkeys(p[0] for p in parts))
    x = np.arange(len(sources))
    bottom = np.zeros(len(sources))
    for part in dict.fromkeys(p[2] for p in parts):
        heights = np.array(
            [
                sum(values[i].sum() for i, p in enumerate(parts) if p[0] == src and p[2] == part)
                for src in sources
            ]
        ) / (total if total > 0 else 1.0)
        ax_src.bar(x, heights, bottom=bottom, color=colours[part], label=part, width=0.6)
        bottom += heights
    ax_src.set_xticks(x, sources)
    ax_src.set_ylabel("Share of total sensitivity")
    ax_src.legend(fontsize=8)
    ax_src.set_title("(b) Share by source and part", loc="left", fontsize=10)
    return fig


# --------------------------------------------------------------------------------------------
# 06: land coupling
# --------------------------------------------------------------------------------------------
def read_coupling(report_dir: str | os.PathLike[str]) -> xr.Dataset:
    """R(SM, LH), sigma(LH) and TCI per tower and method (``land_coupling.csv``).

    Returns
    -------
    xarray.Dataset, dims (station, product)
        Input of :func:`smlib.plots.plot_coupling_violins`.
    """
    table = read_table(report_dir, "land_coupling")
    order = list(dict.fromkeys(table["method"]))
    ds = table.rename(columns={"method": "product"}).set_index(["station", "product"]).to_xarray()
    ds = ds.reindex(product=order)
    ds["r_sm_lh"].attrs = {"units": "1", "long_name": "correlation of hourly SM and LH anomalies"}
    ds["sigma_lh"].attrs = {"units": "W m-2", "long_name": "standard deviation of LH anomalies"}
    ds["tci"].attrs = {"units": "W m-2", "long_name": "terrestrial coupling index TCI(SM, LH)"}
    return ds


def coupling_table(coupling: xr.Dataset) -> pd.DataFrame:
    """:func:`read_coupling` as a table: one row per tower, columns (variable, method)."""
    frame = coupling[["r_sm_lh", "sigma_lh", "tci"]].to_dataframe().unstack("product")
    return frame.reindex(columns=coupling["product"].values, level="product")


def describe_coupling(coupling: xr.Dataset) -> Markdown:
    """One sentence: how many towers have an R(SM, LH), and its median per method."""
    from IPython.display import Markdown

    n_finite = int(coupling["r_sm_lh"].notnull().any("product").sum())
    text = (
        f"{n_finite} of {coupling.sizes['station']} towers have enough warm-season hours with "
        "diurnal anomalies of SM (every method) and LH for the index. "
    )
    if n_finite:
        medians = coupling["r_sm_lh"].median("station").to_series()
        text += (
            "Median R(SM, LH): "
            + ", ".join(f"{m} **{v:.2f}**" for m, v in medians.items() if np.isfinite(v))
            + "."
        )
    else:
        text += (
            "The figure is therefore empty: a longer twin, or real tower records through "
            "`data_dir`, give the towers the complete days the index needs."
        )
    return Markdown(text)


def screen_comparison(runs: dict[str, Any]) -> pd.DataFrame:
    """Training data and skill of study runs that differ only in their rain screen.

    Parameters
    ----------
    runs : dict
        Label -> :class:`smlib.pipeline.Products` of each run.

    Returns
    -------
    pandas.DataFrame
        One row per run: training windows, best validation MSE, and the medians over the
        non-reference ISMN stations of the LSTM's HF correlation with the truth, absolute phase
        error of the diurnal minimum (h) and composite RMSE (m3 m-3). Truth columns are NaN
        for real data.
    """
    rows = {}
    for label, products in runs.items():
        info = json.loads((Path(products.run_dir) / "run.json").read_text())
        summary = read_summary(products.report_dir)

        def lstm(key: str, summary: dict[str, Any] = summary) -> float:
            value = (summary.get(key) or {}).get("lstm")
            return float("nan") if value is None else float(value)

        rows[label] = {
            "training windows": info.get("n_train_samples"),
            "best validation MSE": info.get("best_val_loss"),
            "LSTM HF R vs truth": lstm("median_hf_r_vs_truth"),
            "LSTM |phase error| (h)": lstm("median_abs_phase_error_h"),
            "LSTM composite RMSE (m3 m-3)": lstm("median_composite_rmse_vs_truth"),
        }
    return pd.DataFrame(rows).T.rename_axis("rain screen")
