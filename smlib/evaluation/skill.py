"""Skill of every correction against a known truth, on the hours each number covers.

One function, :func:`score_against_truth`, turns a corrected file, the twin's ``truth.nc`` and
the station cube into the numbers the cross-scenario skill benchmark and the book report
(issue #11). Every number says which stations and hours it covers:

=========================  ======================================================================
key                        meaning (median over the stations of the scope)
=========================  ======================================================================
``hf_r``                   R of HF anomalies vs the true SM on rain-free days (strict screen)
``phase_error_h``          abs. error (h) of the local hour of the composite diurnal minimum
``composite_rmse``         RMSE (m3 m-3) between the composite diurnal cycles, rain-free days
``hf_r_all``, ``rmse_all`` HF R and RMSE of SM (m3 m-3) vs the truth over all hours
``hf_r_rain``,             the same over rain-affected hours only (days the strict screen flags,
``rmse_rain``              and the day on either side)
``r_sm_ts``                median daily R(SM, TS) on rain-free days, per sensor type
``coverage_stations``      share of QC-passed hours (raw SM finite) holding a correction, ISMN
``coverage_towers``        the same at flux towers
``tower_r_sm_lh``          composite R(SM, LH) at each tower; ``tower_r_sm_lh_truth`` the true
                           SM's on the same hours; ``tower_r_error`` the median abs. difference
                           (each method on the warm-season hours it shares with the truth and LH)
``sign_turned``            of the stations whose raw SM-TS composite correlation (rain-free days)
                           is positive -- the artefact outweighs the true, evaporative cycle --
                           the share whose series' is negative after the method (issue 18's
                           target for real stations, which have no truth); ``n_positive_raw``
                           how many stations that is
=========================  ======================================================================

Scope of ``hf_r`` ... ``rmse_rain``: dielectric (impedance, capacitance, FDR, unknown)
non-reference ISMN stations -- the stations the correction is for.

Noise ceiling (issue 18): no correction can remove the probe's own random noise, so the best
any method can score is that of the truth plus that noise. :func:`with_noise_ceiling` adds it
(``sm_ceiling``: ``truth.nc``'s ``sm + sm_noise`` on the hours the probe measured) to a
corrected file, to be scored by :func:`score_against_truth` like a method, and
:func:`add_ceiling_shares` states each method's score as a share of it
(``hf_r_share_of_ceiling`` = the method's median HF R / the ceiling's).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from smlib.evaluation import diagnostics as dg
from smlib.io.sensors import REFERENCE_TECHNIQUES, TECHNIQUES
from smlib.method.decomposition import high_frequency
from smlib.method.network_anchor import composite_correlation

__all__ = [
    "station_hf_r",
    "DIELECTRIC",
    "score_against_truth",
    "load_skill_benchmark",
    "benchmark_figure",
    "cross_scenario_table",
    "describe_cross_scenario",
    "scope_table",
    "coupling_vs_truth",
    "ablation_table",
    "describe_ablations",
    "coverage_table",
    "noise_ceiling_kernel",
    "with_noise_ceiling",
    "add_ceiling_shares",
]

log = logging.getLogger(__name__)

#: Sensor types whose readings carry the temperature artefact: every technique that is not a
#: reference by sensor physics (``unknown`` counts as dielectric).
DIELECTRIC: tuple[str, ...] = tuple(t for t in TECHNIQUES if t not in REFERENCE_TECHNIQUES)


def _median(x) -> float | None:
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    return float(np.median(x)) if x.size else None


def _rmse_kernel(x: np.ndarray, y: np.ndarray, keep: np.ndarray) -> np.ndarray:
    ok = keep & np.isfinite(x) & np.isfinite(y)
    d = np.where(ok, x - y, 0.0)
    n = ok.sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n >= 48, np.sqrt((d**2).sum(-1) / np.maximum(n, 1)), np.nan)


def _scoring_frame(corrected: xr.Dataset, truth: xr.Dataset, cube: xr.Dataset) -> tuple:
    """The stations and hours every score uses: the stations in both files (ids), the
    corrected file and the true SM on them and their common hours, the cube on those, the
    rain-free hours (strict screen) and the mask of the dielectric non-reference ISMN
    stations whose rain-free scores are reported."""
    common = np.intersect1d(corrected["station"].values, truth["station"].values)
    c = corrected.sel(station=common)
    t = truth["sm"].reset_coords(drop=True).sel(station=common)
    c, t = xr.align(c, t, join="inner", exclude=["station"])
    cb = cube.sel(station=common).reindex(time=c["time"])
    free = dg.rain_free_hours(cb, "strict")
    kind = np.asarray(c["kind"].values).astype(str)
    ref = np.asarray(c["is_reference"].values).astype(bool)
    stype = np.asarray(c["sensor_type"].values).astype(str)
    target = (kind == "ismn") & ~ref & np.isin(stype, DIELECTRIC)
    return common, c, t, cb, free, target


def station_hf_r(
    corrected: xr.Dataset, truth: xr.Dataset, cube: xr.Dataset, methods: dict[str, str]
) -> pd.DataFrame:
    """Each method's rain-free HF R against the truth at each station that
    :func:`score_against_truth` scores (its ``hf_r`` is the median of a column).

    Returns
    -------
    pandas.DataFrame
        Index ``station`` (the dielectric non-reference ISMN stations), one column per method
        key; NaN where a station has too few hours.
    """
    common, c, _, _, free, target = _scoring_frame(corrected, truth, cube)
    skill = dg.skill_vs_truth(c, truth.sel(station=common), methods, keep=free)
    ids = common.astype(str)[target]
    out = {
        m: skill[skill["method"] == m].set_index("station")["hf_r"].reindex(ids).to_numpy()
        for m in methods
    }
    return pd.DataFrame(out, index=pd.Index(ids, name="station"))


def score_against_truth(
    corrected: xr.Dataset,
    truth: xr.Dataset,
    cube: xr.Dataset,
    methods: dict[str, str],
) -> dict[str, dict]:
    """Score each method's series against the truth (module docstring for the keys).

    Parameters
    ----------
    corrected : xarray.Dataset
        Output of :func:`smlib.method.correct.correct` (dims station, time).
    truth : xarray.Dataset
        ``truth.nc`` of the twin (``sm``, and ``lh`` at towers).
    cube : xarray.Dataset
        The station cube the correction was made from (rain screens, ``lh``).
    methods : dict
        Method key -> variable of ``corrected`` (e.g. ``{"raw": "sm", "lstm": "sm_lstm"}``);
        a ``<variable>_flag`` variable, where present, defines the coverage.

    Returns
    -------
    dict
        Method key -> {metric key -> value}; ``"_scope"`` describes stations and hours.
    """
    missing = [v for v in methods.values() if v not in corrected]
    if missing:
        log.warning("skipping methods whose variables are missing: %s", missing)
        methods = {m: v for m, v in methods.items() if v in corrected}
    common, c, t, cb, free, target = _scoring_frame(corrected, truth, cube)
    wet = ~free
    kind = np.asarray(c["kind"].values).astype(str)
    ref = np.asarray(c["is_reference"].values).astype(bool)
    stype = np.asarray(c["sensor_type"].values).astype(str)
    towers = kind == "tower"
    raw_ok = np.isfinite(np.asarray(c["sm"].values))
    skill = dg.skill_vs_truth(c, truth.sel(station=common), methods, keep=free)
    ts_hf = high_frequency(np.asarray(c["ts"].transpose("station", "time").values, float))
    free_st = np.asarray(free.transpose("station", "time").values)

    def composite_r(var: str) -> np.ndarray:
        x = high_frequency(np.asarray(c[var].transpose("station", "time").values, float))
        return composite_correlation(x, ts_hf, free_st)

    positive = target & (composite_r("sm") > 0)
    out: dict[str, dict] = {}
    tv = np.asarray(t.values, dtype=float)
    for m, var in methods.items():
        x = c[var]
        xv = np.asarray(x.values, dtype=float)
        rows = skill[skill["method"] == m].set_index("station").reindex(common.astype(str))
        res: dict = {
            "hf_r": _median(rows["hf_r"].to_numpy()[target]),
            "phase_error_h": _median(np.abs(rows["phase_error_h"].to_numpy()[target])),
            "composite_rmse": _median(rows["composite_rmse"].to_numpy()[target]),
        }
        everything = np.ones_like(raw_ok)
        for label, keep in (("all", everything), ("rain", np.asarray(wet.values))):
            r = dg.hf_correlation(x, t, keep=xr.DataArray(keep, dims=x.dims, coords=x.coords))
            res[f"hf_r_{label}"] = _median(np.asarray(r.values)[target])
            res[f"rmse_{label}"] = _median(_rmse_kernel(xv, tv, keep)[target])
        # daily R(SM, TS) on rain-free days, per sensor type
        rd = dg.daily_r_sm_ts(c.assign(_x=x.where(free)), "_x", "ts")
        by_type = {}
        for st in np.unique(stype[kind == "ismn"]):
            sel = (stype == st) & (kind == "ismn")
            by_type[st] = _median(np.nanmedian(np.asarray(rd.values)[sel], axis=1))
        res["r_sm_ts"] = by_type
        res["n_positive_raw"] = int(positive.sum())
        res["sign_turned"] = (
            float(np.mean(composite_r(var)[positive] < 0)) if positive.any() else None
        )
        flag_var = f"{var}_flag"
        if flag_var in c:
            has = np.isin(np.asarray(c[flag_var].values), (0, 1, 2))
            net = np.asarray(c[flag_var].values) == 0
        else:
            has = np.isfinite(xv)
            net = has
        for label, sel in (("stations", (kind == "ismn") & ~ref), ("towers", towers)):
            n = raw_ok[sel].sum()
            res[f"coverage_{label}"] = float((has & raw_ok)[sel].sum() / n) if n else None
            res[f"coverage_{label}_method_itself"] = (
                float((net & raw_ok)[sel].sum() / n) if n else None
            )
        out[m] = res
    _tower_part(c, t, cb, truth, methods, out)
    out["_scope"] = {
        "stations_scored": int(target.sum()),
        "towers": int(towers.sum()),
        "hours_rain_free_share": float(np.asarray(free.values)[target].mean())
        if target.any()
        else None,
        "hf_r, phase_error_h, composite_rmse": "dielectric non-reference ISMN stations, "
        "rain-free days (strict screen)",
        "hf_r_all, rmse_all": "the same stations, all hours with values",
        "hf_r_rain, rmse_rain": "the same stations, rain-affected days only",
        "sign_turned": "the same stations whose raw SM-TS composite correlation on rain-free "
        "days is positive",
    }
    return out


def _tower_part(c, t, cube, truth, methods, out) -> None:
    kind = np.asarray(c["kind"].values).astype(str)
    if not (kind == "tower").any():
        return
    lh = cube["lh"] if "lh" in cube else None
    if lh is None:
        return
    ds = c.assign(lh=lh.reset_coords(drop=True), sm_true=t)
    for m, var in methods.items():
        # each method on the hours it and the truth share with LH: its score does not depend
        # on which other methods are scored beside it (a gappy one would thin the common hours)
        r = dg.land_coupling(ds, {m: var, "truth": "sm_true"})["r_sm_lh"]
        rm, r_true = (np.asarray(r.sel(product=k).values) for k in (m, "truth"))
        out[m]["tower_r_sm_lh"] = _median(rm)
        out[m]["tower_r_sm_lh_truth"] = _median(r_true)
        out[m]["tower_r_error"] = _median(np.abs(rm - r_true))


def noise_ceiling_kernel(
    sm_true: np.ndarray, noise: np.ndarray, measured: np.ndarray
) -> np.ndarray:
    """The truth plus the probe's own noise, on the hours the probe measured.

    Parameters
    ----------
    sm_true : numpy.ndarray, shape (station, time)
        True SM of the sensor layer, m3 m-3.
    noise : numpy.ndarray, shape (station, time)
        The reading's random noise and quantisation error, m3 m-3.
    measured : numpy.ndarray of bool, shape (station, time)
        Hours with a (QC-passed) reading.

    Returns
    -------
    numpy.ndarray of float32, shape (station, time)
        ``sm_true + noise`` where ``measured``, NaN elsewhere.

    Examples
    --------
    >>> noise_ceiling_kernel(np.array([[0.2, 0.3]]), np.array([[0.01, -0.01]]),
    ...                      np.array([[True, False]]))
    array([[0.21,  nan]], dtype=float32)
    """
    out = np.where(measured, np.asarray(sm_true, float) + np.asarray(noise, float), np.nan)
    return out.astype(np.float32)


def with_noise_ceiling(
    corrected: xr.Dataset, truth: xr.Dataset, name: str = "sm_ceiling"
) -> xr.Dataset:
    """``corrected`` plus the noise-ceiling series ``name`` (:func:`noise_ceiling_kernel`).

    Parameters
    ----------
    corrected : xarray.Dataset
        Dims (station, time) with the raw ``sm`` (its finite hours are the measured ones).
    truth : xarray.Dataset
        ``truth.nc`` of the twin with ``sm`` and ``sm_noise``.
    name : str

    Returns
    -------
    xarray.Dataset
        ``corrected`` with ``name`` (m3 m-3; NaN for stations or hours without truth).

    Raises
    ------
    KeyError
        ``truth`` has no ``sm_noise`` (a twin written before the noise was recorded).
    """
    if "sm_noise" not in truth:
        raise KeyError(
            "truth.nc has no sm_noise (the probe noise): rewrite the twin with this smlib "
            "(`smlib synth`) to score the noise ceiling"
        )
    st, tm = corrected["station"], corrected["time"]
    sm = truth["sm"].reset_coords(drop=True).reindex(station=st, time=tm)
    noise = truth["sm_noise"].reset_coords(drop=True).reindex(station=st, time=tm)
    raw = corrected["sm"].transpose("station", "time")
    vals = noise_ceiling_kernel(
        np.asarray(sm.transpose("station", "time").values),
        np.asarray(noise.transpose("station", "time").values),
        np.isfinite(np.asarray(raw.values)),
    )
    da = xr.DataArray(
        vals,
        dims=("station", "time"),
        coords={"station": st, "time": tm},
        attrs={
            "units": "m3 m-3",
            "standard_name": "volume_fraction_of_condensed_water_in_soil",
            "long_name": "noise ceiling: true SM plus the probe's own noise, hours with a reading",
        },
    )
    return corrected.assign({name: da})


def add_ceiling_shares(
    scores: dict[str, dict], ceiling: str = "ceiling", metrics: tuple[str, ...] = ("hf_r",)
) -> dict[str, dict]:
    """Add ``<metric>_share_of_ceiling`` (method / ceiling) to each method's scores, in place.

    Parameters
    ----------
    scores : dict
        :func:`score_against_truth` output holding the ``ceiling`` method.
    ceiling : str
        Key of the noise ceiling's scores.
    metrics : tuple of str
        Metrics to state as a share (ratio of the medians over the scored stations).

    Returns
    -------
    dict
        ``scores`` (None where either value is missing or the ceiling is not positive).

    Examples
    --------
    >>> add_ceiling_shares({"ceiling": {"hf_r": 0.8}, "a": {"hf_r": 0.6}})["a"]
    {'hf_r': 0.6, 'hf_r_share_of_ceiling': 0.75}
    """
    top = scores.get(ceiling, {})
    for m, res in scores.items():
        if m.startswith("_") or m == ceiling or not isinstance(res, dict):
            continue
        for k in metrics:
            c, v = top.get(k), res.get(k)
            ok = c is not None and v is not None and c > 0
            res[f"{k}_share_of_ceiling"] = round(v / c, 4) if ok else None
    return scores


# --------------------------------------------------------------------------------------------
# the cross-scenario benchmark, as the book shows it
# --------------------------------------------------------------------------------------------
#: Where ``python -m benchmarks --only skill`` writes its result.
BENCHMARK_JSON = "benchmarks/results/bench_skill.json"

_LABELS = {
    "raw": "raw",
    "fft": "Fourier",
    "lin": "per-probe linear",
    "chanzy": "per-probe night slope (Chanzy)",
    "paper": "LSTM, paper's method",
    "recommended": "guided fit, recommended (default)",
    "recommended_no_nights": "recommended without the night equations (before)",
    "recommended_tendency": "recommended, artefact b1 TS + b2 dTS/dt (before issue 18)",
    "recommended_net": "recommended network alone",
    "recommended_stage1": "recommended, stage-1 network (before self-training)",
    "recommended_stage1_net": "stage-1 network alone (paper's target)",
    "recommended_without_network": "recommended, refitted without the network",
    "loo_recommended": "recommended, world left out of training",
    "ceiling": "noise ceiling (truth + probe noise)",
}


def load_skill_benchmark(path: str | os.PathLike[str] | None = None) -> dict:
    """The skill benchmark's JSON (default: the repository's ``benchmarks/results``).

    Raises
    ------
    FileNotFoundError
        The benchmark has not been run (``python -m benchmarks --only skill``).
    """
    p = Path(path) if path is not None else Path(__file__).resolve().parents[2] / BENCHMARK_JSON
    if not p.exists():
        raise FileNotFoundError(f"{p}: run `python -m benchmarks --only skill` first")
    return json.loads(p.read_text())


def benchmark_figure() -> Path:
    """Path of the skill benchmark's figure (``benchmarks/results/bench_skill.png``)."""
    return Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "bench_skill.png"


def cross_scenario_table(result: dict, metric: str = "hf_r") -> pd.DataFrame:
    """One row per scenario, one column per method: ``metric`` (keys of the module table)."""
    rows = {
        name: {_LABELS.get(m, m): (res.get(metric) if isinstance(res, dict) else None)
               for m, res in scen.items() if not m.startswith("_")}
        for name, scen in result["scenarios"].items()
    }  # fmt: skip
    return pd.DataFrame(rows).T.astype(float).rename_axis("scenario")


def describe_cross_scenario(result: dict) -> str:
    """Sentences on the benchmark that follow its numbers (which method wins where, targets)."""
    scen = result["scenarios"]
    n = len(scen)
    hf = cross_scenario_table(result, "hf_r")
    rec, paper = _LABELS["recommended"], _LABELS["paper"]
    rivals = [_LABELS[k] for k in ("raw", "fft", "lin", "chanzy")] + [paper]
    rivals = [c for c in rivals if c in hf]
    ahead = hf.index[(hf[rec] > hf[rivals].max(axis=1))].tolist() if rec in hf else []
    behind = [s for s in hf.index if s not in ahead]
    parts = [
        f"Across {n} twin worlds the recommended product's median HF correlation with the true "
        f"SM on rain-free days ranges from {hf[rec].min():.2f} ({hf[rec].idxmin()}) to "
        f"{hf[rec].max():.2f} ({hf[rec].idxmax()}); the paper's method ranges from "
        f"{hf[paper].min():.2f} to {hf[paper].max():.2f}."
    ]
    if behind:
        best_other = {s: hf.loc[s, rivals].idxmax() for s in behind}
        parts.append(
            "It is ahead of raw, Fourier, the per-probe compensations and the paper's LSTM in "
            f"{len(ahead)} of {n} worlds; behind in "
            + ", ".join(f"{s} (best: {best_other[s]})" for s in behind)
            + "."
        )
    else:
        parts.append(f"It is ahead of every other method in all {n} worlds.")
    failed = {n: s["_error"] for n, s in scen.items() if "_error" in s}
    if failed:
        parts.append(
            "No LSTM could be trained in "
            + "; ".join(f"{n} ({why})" for n, why in failed.items())
            + " -- there the per-probe compensations and the Fourier baseline are the options."
        )
    targets = result.get("summary", {}).get("targets", {})
    if targets:
        keys = next(iter(targets.values()))
        miss = {k: [s for s, v in targets.items() if v.get(k) is False] for k in keys}
        # a target no world could be judged on (None everywhere: e.g. no left-out run) is not met
        unmeasured = [k for k in keys if all(v.get(k) is None for v in targets.values())]
        met = [k for k, v in miss.items() if not v and k not in unmeasured]
        missed = {k: v for k, v in miss.items() if v}
        if met:
            parts.append("Targets met in every world: " + ", ".join(met) + ".")
        if unmeasured:
            parts.append("Not measured in this run: " + ", ".join(unmeasured) + ".")
        if missed:
            parts.append(
                "Missed: " + "; ".join(f"{k} in {', '.join(v)}" for k, v in missed.items()) + "."
            )
    return " ".join(parts)


def scope_table(summary: dict) -> pd.DataFrame:
    """Skill by hour scope (rain-free / all / rain-affected) from an evaluation summary."""
    by = summary.get("skill_by_scope") or {}
    cols = ["hf_r", "phase_error_h", "hf_r_all", "rmse_all", "hf_r_rain", "rmse_rain",
            "coverage_stations", "coverage_towers", "tower_r_sm_lh", "tower_r_sm_lh_truth"]  # fmt: skip
    frame = pd.DataFrame(by).T
    return frame[[c for c in cols if c in frame]].astype(float).rename_axis("method")


def coupling_vs_truth(coupling: xr.Dataset) -> tuple[pd.DataFrame, str]:
    """Each method's tower R(SM, LH) beside the true SM's, with a sentence that follows them.

    Parameters
    ----------
    coupling : xarray.Dataset, dims (station, product)
        :func:`smlib.evaluation.diagnostics.land_coupling` output (or the book's ``land_coupling`` table)
        holding a ``truth`` product (the twin).

    Returns
    -------
    table : pandas.DataFrame
        One row per method: median R(SM, LH), median |R - R_truth| over the towers, and the
        number of towers within 0.1 of the truth.
    sentence : str
    """
    r = coupling["r_sm_lh"]
    products = [str(p) for p in r["product"].values]
    if "truth" not in products:
        return pd.DataFrame(), "No true SM here (real data): the coupling cannot be judged."
    rt = r.sel(product="truth")
    rows = {}
    for p in products:
        if p == "truth":
            continue
        d = np.abs(r.sel(product=p) - rt)
        rows[p] = {
            "median R(SM, LH)": float(r.sel(product=p).median()),
            "median |R - R_truth|": float(d.median()),
            "towers within 0.1": int((d <= 0.1).sum()),
            "towers": int(np.isfinite(d).sum()),
        }
    table = pd.DataFrame(rows).T.rename_axis("method")
    best = table["median |R - R_truth|"].idxmin()
    text = (
        f"The true SM gives a median R(SM, LH) of {float(rt.median()):.2f}. Closest to it: "
        f"{best} (median |R - R_truth| = {table.loc[best, 'median |R - R_truth|']:.2f}, "
        f"{int(table.loc[best, 'towers within 0.1'])} of {int(table.loc[best, 'towers'])} "
        "towers within 0.1); "
        + ", ".join(
            f"{m} {row['median |R - R_truth|']:.2f}" for m, row in table.iterrows() if m != best
        )
        + "."
    )
    return table, text


def ablation_table(result: dict) -> pd.DataFrame:
    """The benchmark's ablations beside the recommended run: HF R and phase error of the
    network alone and of the product, per world and option."""
    rows = []
    for world, opts in (result.get("ablations") or {}).items():
        base = result["scenarios"][world]
        rows.append({
            "world": world, "option": "recommended",
            "HF R, network": base["recommended_net"]["hf_r"],
            "HF R, product": base["recommended"]["hf_r"],
            "phase error (h), network": base["recommended_net"]["phase_error_h"],
        })  # fmt: skip
        for label, r in opts.items():
            rows.append({
                "world": world, "option": label,
                "HF R, network": r["hf_r_network"], "HF R, product": r["hf_r_product"],
                "phase error (h), network": r["phase_error_h_network"],
            })  # fmt: skip
    return pd.DataFrame(rows).set_index(["world", "option"]) if rows else pd.DataFrame()


def describe_ablations(table: pd.DataFrame) -> str:
    """One sentence per option of :func:`ablation_table`: what it did to network and product."""
    lines = []
    for world in table.index.get_level_values(0).unique():
        base = table.loc[(world, "recommended")]
        for option, row in table.loc[world].iterrows():
            if option == "recommended":
                continue
            lines.append(
                f"*{world}, {option}*: network HF R {base['HF R, network']:.2f} -> "
                f"{row['HF R, network']:.2f}, product {base['HF R, product']:.2f} -> "
                f"{row['HF R, product']:.2f}."
            )
    return "\n\n".join(lines)


def coverage_table(summary: dict) -> pd.DataFrame:
    """Share of QC-passed hours holding a correction, per method, at stations and towers."""
    frame = pd.DataFrame(summary.get("coverage") or {}).T
    return frame[[c for c in ("stations", "towers") if c in frame]].astype(float)
