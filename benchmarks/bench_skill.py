"""Skill across twin worlds: every method against the truth, in every scenario and left-out world.

For each scenario of :data:`smlib.synth.scenarios.SCENARIOS` the benchmark writes a twin in
the real formats, ingests it, trains the LSTM twice with the quick budget -- the paper's method
(profile ``quick``) and the recommended one (profile ``recommended``) -- corrects, and scores
against ``truth.nc`` with :func:`smlib.evaluation.skill.score_against_truth`:

``raw``            the sensor as measured
``fft``            the Fourier baseline (Han, Seo and Dirmeyer 2026), flagged product
``lin``            per-probe linear temperature compensation fitted on rain-free days
``paper``          the paper's LSTM series (network output, NaN without inputs)
``recommended``    the recommended product (guided artefact compensation, flagged)
``recommended_net`` the recommended configuration's network output alone
``recommended_stage1``, ``recommended_stage1_net``  where ``recommended`` self-trains
                   (``train.target=product``): the product and network of its stage 1 (the
                   paper's target, :mod:`smlib.method.self_training`): what self-training adds
``recommended_no_nights``  the recommended product without the night equations
                   (``correct.night_weight=0``, ``night_weight_network_only=0``; the same
                   network; :data:`ARTEFACT_VARIANTS`): the default before they came
``recommended_tendency``  with the artefact model before issue 18 chose the lags:
                   :math:`b_1 T_{HF} + b_2 \\partial_t T_{HF}` (``correct.artefact_lags_h=0``,
                   no night equations)
``recommended_lag12``  with TS HF lags up to 12 h (``correct.artefact_lags_h=12``)
``ceiling``        the noise ceiling: the truth plus the probe's own noise (``truth.nc``)
``recommended_without_network``  the recommended product refitted without the network
                   (the same fit with the reanalysis alone; the temperature terms alone in
                   an in-situ-only world): what the network adds
                   (:mod:`smlib.evaluation.signal_ablation`)

Per world, ``_signal_ablation`` holds the recommended product refitted with every subset of its
signal estimates (all, without the network, without ERA5-Land / MERRA-2, the network alone,
none), scored like the methods, and the network's gain (product minus product without the
network, median rain-free HF R) with its verdict, and ``paired``: the same gain station by
station (:func:`smlib.evaluation.signal_ablation.paired_network_gain`: the median and mean of
the per-station differences, the stations lifted and lowered); the summary says in which
worlds the network never hurts (``product>=without_network``). Only refits: no training.

Every method's rain-free HF R is also stated as a share of the ceiling's
(``hf_r_share_of_ceiling``, :func:`smlib.evaluation.skill.add_ceiling_shares`).

In-situ-only worlds (``<name>_insitu``: no reanalysis files) are trained with
``preprocess.feature_set=insitu``; their signal estimate in the guided fit is the network
alone. They take no part in the left-out-world runs.

Across worlds: for every scenario with reanalysis, the recommended configuration is trained on
the cubes of all *other* such scenarios together and corrects the left-out one
(``loo_recommended``).

A restricted run (a few worlds, no left-out or ablation part) from the command line::

    python -m benchmarks.bench_skill --worlds delayed_element,default --no-left-out \
        --no-ablations --out /tmp/skill.json

Sizes: 24 ISMN stations x 240 days per scenario (``--quick``: two worlds of 10 x 120, a smoke
run whose numbers are not skill estimates). Measured
wall time on 2 CPU cores: see ``benchmarks/README.md``. Results: ``bench_skill.json`` and the
figure ``bench_skill.png`` beside it; the book's evaluation section reads both.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import json
import logging
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import xarray as xr

from smlib.atomic import atomic_path
from smlib.evaluation.calibration import interval_coverage
from smlib.evaluation.signal_ablation import (
    ablation_summary,
    paired_network_gain,
    score_signal_ablation,
    signal_ablation,
)
from smlib.evaluation.skill import add_ceiling_shares, score_against_truth, with_noise_ceiling
from smlib.method.correct import correct, rain_affected_hours
from smlib.method.network_purge import purged_signals
from smlib.method.network_series import network_for_fit_of
from smlib.method.product import fit_product_table
from smlib.method.runfolder import load_model
from smlib.method.self_training import STAGE1_DIR
from smlib.method.train import train
from smlib.report.pipeline import ingest_data_dir
from smlib.synth import write_twin
from smlib.synth.scenarios import SCENARIOS, base_scenarios

log = logging.getLogger(__name__)

RESULTS = Path(__file__).resolve().parent / "results"
#: Artefact models measured on the recommended network (issue 18; ``correct.artefact_lags_h``,
#: the default 6): method key -> (largest lag in h, 0 = TS HF and its tendency; interaction
#: with the SM level).
ARTEFACT_VARIANTS: dict[str, dict[str, object]] = {
    "recommended_no_nights": {"night_weight": 0.0, "night_weight_network_only": 0.0},
    "recommended_tendency": {
        "artefact_lags_h": 0,
        "night_weight": 0.0,
        "night_weight_network_only": 0.0,
    },
    "recommended_lag12": {"artefact_lags_h": 12},
}
METHODS_SHOWN = ("raw", "fft", "lin", "chanzy", "paper", "recommended", "recommended_net",
                 "recommended_stage1", "recommended_stage1_net", "recommended_without_network",
                 *ARTEFACT_VARIANTS, "loo_recommended", "ceiling")  # fmt: skip
#: Options of the method measured one at a time on top of ``recommended`` (full run only).
ABLATIONS: dict[str, list[str]] = {
    "strict_screen": ["preprocess.rain_screen=strict"],
    "lookahead_9h": ["preprocess.lookahead_h=9"],
}
ABLATION_SCENARIOS = ("default", "sensor_lag")
QUICK_SCENARIOS = ("default", "sensor_lag")
"""The ``--quick`` smoke run: two worlds, tiny (its numbers are not skill estimates)."""
TARGETS = {
    "hf_r": (">=", 0.90),
    "phase_error_h": ("<=", 1.0),
    "tower_r_error": ("<=", 0.10),
    "coverage_stations": (">=", 0.90),
    "coverage_towers": (">=", 0.90),
}


def _world(name: str, root: Path, n_stations: int, n_days: int, seed: int) -> tuple[Path, Path]:
    data = write_twin(root / name / "twin", n_stations=n_stations, n_days=n_days, seed=seed,
                      scenario=name)  # fmt: skip
    cube = root / name / "cube.nc"
    ingest_data_dir(data, cube, min_days=min(92, n_days // 3))
    return cube, data / "truth.nc"


def _load(path: Path) -> xr.Dataset:
    with xr.open_dataset(path) as ds:
        return ds.load()


def _pooled_cube(cubes: dict[str, xr.Dataset], leave_out: str) -> xr.Dataset:
    """Stations of every scenario but ``leave_out`` in one cube (ids prefixed by scenario)."""
    parts = []
    for name, ds in cubes.items():
        if name == leave_out:
            continue
        ids = np.array([f"{name}:{s}" for s in ds["station"].values.astype(str)])
        parts.append(ds.assign_coords(station=ids))
    return xr.concat(parts, dim="station", join="outer", data_vars="all", coords="minimal",
                     compat="override", combine_attrs="drop_conflicts")  # fmt: skip


def _insitu_overrides(cube: xr.Dataset) -> list[str]:
    """A cube without reanalysis trains on the in-situ features."""
    return [] if "era5_sm" in cube else ["preprocess.feature_set=insitu"]


def _train(cube, run: Path, profile: str) -> float:
    t0 = time.perf_counter()
    train(cube, run, profile=profile, overrides=["train.device=cpu", *_insitu_overrides(cube)])
    return time.perf_counter() - t0


def _artefact_variant(cube: xr.Dataset, rec: xr.Dataset, cc, changes: dict) -> xr.DataArray:
    """The recommended product with other ``correct`` settings (``changes``): the same network
    and signal estimates, fitted as ``smlib correct`` fits the default
    (:func:`smlib.method.product.fit_product_table`: anchor, rain screen and fallbacks)."""
    raw = np.asarray(cube["sm"].transpose("station", "time").values, dtype=np.float32)
    ts = np.asarray(cube["ts"].transpose("station", "time").values, dtype=np.float32)
    signal = [network_for_fit_of(rec)]  # the hours with a carried LF do not guide the fit
    signal += [np.asarray(cube[v].transpose("station", "time").values, np.float32)
               for v in ("era5_sm", "merra2_sm") if v in cube]  # fmt: skip
    rain = rain_affected_hours(cube, cc.rain_screen)
    cc = dataclasses.replace(cc, **changes)
    signal, _ = purged_signals(cube, raw, ts, signal, rain, cc)  # as smlib correct does
    prod, _, _, _ = fit_product_table(cube, raw, ts, signal, rain, cc)
    return rec["sm_lstm"].copy(data=prod.astype(np.float32))


def _score(corrected: xr.Dataset, truth: xr.Dataset, cube: xr.Dataset, methods: dict) -> dict:
    """Scores of ``methods`` and of the noise ceiling, with every HF R as a share of it."""
    both = with_noise_ceiling(corrected, truth)
    scores = score_against_truth(both, truth, cube, {**methods, "ceiling": "sm_ceiling"})
    return add_ceiling_shares(scores)


def _network_part(cube: xr.Dataset, rec: xr.Dataset, truth: xr.Dataset, cc) -> dict:
    """The recommended product refitted with each subset of its signal estimates, scored:
    ``_signal_ablation`` (:func:`ablation_summary`) and the method row
    ``recommended_without_network``; ``_signal_ablation_error`` where it cannot be refitted."""
    try:
        ablated = signal_ablation(cube, rec, cc)
    except ValueError as err:  # not the guided product, or a refit that does not reproduce it
        return {"_signal_ablation_error": str(err)}
    table = score_signal_ablation(ablated, rec, truth, cube)
    out: dict = {"_signal_ablation": ablation_summary(table)}
    # station by station: the medians of two columns can move against their differences
    out["_signal_ablation"]["paired"] = paired_network_gain(ablated, rec, truth, cube)
    if "without_network" in table.index:
        row = table.loc["without_network"]
        out["recommended_without_network"] = {
            k: (None if pd.isna(row[k]) else float(row[k]))
            for k in row.index
            if k not in ("signal_estimates", "stations_scored")
        }
    return out


def _world_scores(name: str, root: Path, n_st: int, n_days: int, seed: int) -> tuple:
    """One world end to end (a worker process): twin, ingest, two trainings, scores."""
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    cube_path, truth_path = _world(name, root, n_st, n_days, seed)
    cube, truth = _load(cube_path), _load(truth_path)
    timing: dict = {}
    # the Fourier baseline copies the reanalysis' diurnal shape: none in an in-situ-only world
    baselines = ("fft", "lin", "chanzy") if "era5_sm" in cube else ("lin", "chanzy")
    base_vars = {"raw": "sm", "fft": "sm_fft", "lin": "sm_lin", "chanzy": "sm_chanzy"}
    base_vars = {m: v for m, v in base_vars.items() if m in ("raw", *baselines)}
    try:
        timing["train_paper_s"] = round(_train(cube, root / name / "paper", "quick"), 1)
        timing["train_recommended_s"] = round(_train(cube, root / name / "rec", "recommended"), 1)
    except ValueError as err:  # e.g. no day passes the training filter: a result, not a crash
        flagged = correct(cube, None, baselines, product="flagged")
        scores = _score(flagged, truth, cube, base_vars)
        scores["_error"] = f"training failed: {err}"
        timing["total_s"] = round(time.perf_counter() - t0, 1)
        return name, scores, timing
    paper = correct(cube, load_model(root / name / "paper", "cpu"), ("lstm",),
                    product="paper")  # fmt: skip
    flagged = correct(cube, None, baselines, product="flagged")
    rec_model = load_model(root / name / "rec", "cpu")
    rec = correct(cube, rec_model, ("lstm",))
    # a self-trained network (train.target=product): its stage 1, the paper's target, beside it
    stage1 = root / name / "rec" / STAGE1_DIR
    first = correct(cube, load_model(stage1, "cpu"), ("lstm",)) if stage1.is_dir() else None
    staged = {} if first is None else {
        "sm_recommended_stage1": first["sm_lstm"], "sm_recommended_stage1_net": first["sm_lstm_net"]
    }  # fmt: skip
    both = flagged.assign(
        sm_paper=paper["sm_lstm"],
        sm_recommended=rec["sm_lstm"],
        sm_recommended_flag=rec["sm_lstm_flag"],
        sm_recommended_net=rec["sm_lstm_net"],
        **staged,
        **{
            f"sm_{m}": _artefact_variant(cube, rec, rec_model.config.correct, how)
            for m, how in ARTEFACT_VARIANTS.items()
        },
    )
    scores = _score(both, truth, cube, {
        **base_vars, "paper": "sm_paper",
        "recommended": "sm_recommended", "recommended_net": "sm_recommended_net",
        **{m: f"sm_{m}" for m in ARTEFACT_VARIANTS}, **{v[3:]: v for v in staged},
    })  # fmt: skip
    # what the network adds: the same product refitted without it (issue 18; refits only)
    t_abl = time.perf_counter()
    scores.update(_network_part(cube, rec, truth, rec_model.config.correct))
    timing["signal_ablation_s"] = round(time.perf_counter() - t_abl, 1)
    # is the per-hour uncertainty honest here? (issue 19: 85-95 % inside the 90 % interval)
    calib = pd.concat(
        [interval_coverage(rec, truth, cube), interval_coverage(flagged, truth, cube)]
    )
    scores["_calibration"] = {
        var: {k: (None if v is None or not np.isfinite(v) else float(v)) for k, v in row.items()}
        for var, row in calib.to_dict("index").items()
    }
    timing["total_s"] = round(time.perf_counter() - t0, 1)
    return name, scores, timing


def _left_out(name: str, root: Path, names: tuple[str, ...]) -> tuple:
    """Train ``recommended`` on every other world, correct ``name`` (a worker process)."""
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    cubes = {n: _load(root / n / "cube.nc") for n in names}
    run_dir = root / name / "loo"
    _train(_pooled_cube(cubes, name), run_dir, "recommended")
    out = correct(cubes[name], load_model(run_dir, "cpu"), ("lstm",))
    truth = _load(root / name / "twin" / "truth.nc")
    s = score_against_truth(out, truth, cubes[name], {"loo_recommended": "sm_lstm"})
    return name, s["loo_recommended"], round(time.perf_counter() - t0, 1)


def _parallel(fn, jobs: list[tuple], workers: int):
    """``fn(*job)`` for each job in ``workers`` processes, yielding results as they finish."""
    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=ctx) as pool:
        futures = [pool.submit(fn, *job) for job in jobs]
        for fut in concurrent.futures.as_completed(futures):
            yield fut.result()


def run(
    quick: bool = False,
    workers: int | None = None,
    budget_s: float | None = None,
    worlds: tuple[str, ...] | None = None,
    left_out: bool = True,
    ablations: bool = True,
    keep: Path | None = None,
) -> dict:
    """Run the benchmark; return a JSON-ready dict (see the module docstring).

    The worlds run in ``workers`` processes (default: the CPU count, at most 2); the
    left-out-world and ablation parts stop starting new runs after ``budget_s`` seconds
    (default 75 min) and say so in ``skipped``. Partial results are written to
    ``<tmp>/bench_skill.partial.json`` as worlds finish. ``worlds`` restricts the run to
    those scenarios (default: every one, in-situ-only variants included; ``--quick``: two);
    ``left_out`` / ``ablations`` False skip those parts. A restricted run writes no figure.
    ``keep``: a folder that keeps every world (twin, cube, trained models) after the run, so
    further variants of the correction can be scored on the same networks without training
    again (default: a temporary folder, removed); it must not already hold a world of this run
    (FileExistsError).
    """
    n_st, n_days = (10, 120) if quick else (24, 240)
    names = tuple(worlds) if worlds else QUICK_SCENARIOS if quick else tuple(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        raise KeyError(f"unknown worlds {unknown}; valid: {', '.join(SCENARIOS)}")
    taken = [str(Path(keep) / n) for n in names if keep is not None and (Path(keep) / n).exists()]
    if taken:  # a killed run's workers may still be writing there; worlds would mix
        raise FileExistsError(f"--keep folder already holds these worlds: {', '.join(taken)}; "
                              "use a new folder")  # fmt: skip
    workers = workers or min(2, os.cpu_count() or 1)
    budget_s = budget_s or 75 * 60.0
    seed = 11  # not the book's seed: the worlds are new to the method
    t_start = time.perf_counter()
    result: dict = {
        "size": {"ismn_stations": n_st, "days": n_days, "seed": seed},
        "profiles": {"paper": "quick", "recommended": "recommended"},
        "workers": workers,
        "scenarios": {},
        "skipped": [],
    }
    timings: dict = {}
    partial = Path(tempfile.gettempdir()) / "bench_skill.partial.json"
    with contextlib.ExitStack() as stack:
        if keep is None:
            root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench_skill_")))
        else:
            root = Path(keep)
            root.mkdir(parents=True, exist_ok=True)
        jobs = [(n, root, n_st, n_days, seed) for n in names]
        for name, scores, timing in _parallel(_world_scores, jobs, workers):
            result["scenarios"][name] = scores
            timings[name] = timing
            partial.write_text(json.dumps(result, default=str))
            sa = scores.get("_signal_ablation")
            if sa and sa["network_gain_hf_r"] is not None:
                t = sa["table"]
                print(f"[skill] {name}: product {t['all']['hf_r']:.3f} vs without the network "
                      f"{t['without_network']['hf_r']:.3f} (gain {sa['network_gain_hf_r']:+.3f}: "
                      f"the network {sa['network']})", flush=True)  # fmt: skip
            print(f"[skill] {name}: " + ", ".join(
                f"{m} {v['hf_r']:.2f}" for m, v in scores.items() if not m.startswith("_")
                and v.get("hf_r") is not None), scores.get("_error", ""), flush=True)  # fmt: skip
        trained = tuple(n for n in names if "_error" not in result["scenarios"][n])
        pooled = tuple(n for n in trained if n in base_scenarios())  # reanalysis worlds only
        loo_jobs = [(n, root, pooled) for n in pooled]
        if not left_out or len(pooled) < 2:
            result["skipped"].append("left-out worlds: not asked for or fewer than two")
        elif time.perf_counter() - t_start < budget_s:
            for name, s, secs in _parallel(_left_out, loo_jobs, workers):
                result["scenarios"][name]["loo_recommended"] = s
                timings[name]["loo_s"] = secs
                partial.write_text(json.dumps(result, default=str))
                print(f"[skill] left out {name}: {s['hf_r']}", flush=True)
        else:
            result["skipped"].append("left-out worlds: time budget")
        if not quick and ablations:
            if time.perf_counter() - t_start < budget_s:
                result["ablations"] = _ablations(root, trained)
            else:
                result["skipped"].append("ablations: time budget")
        result["timings"] = timings
    result["wall_seconds"] = round(time.perf_counter() - t_start, 1)
    result["summary"] = summarise(result["scenarios"])
    if not quick and not worlds:
        _figure(result["scenarios"], RESULTS / "bench_skill")
    return result


def _one_ablation(name: str, label: str, root: Path) -> tuple:
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    cube, truth = _load(root / name / "cube.nc"), _load(root / name / "twin" / "truth.nc")
    run_dir = root / name / f"abl_{label}"
    train(cube, run_dir, profile="recommended",
          overrides=["train.device=cpu", *ABLATIONS[label]])  # fmt: skip
    corr = correct(cube, load_model(run_dir, "cpu"), ("lstm",))
    s = score_against_truth(corr, truth, cube, {"product": "sm_lstm", "network": "sm_lstm_net"})
    row = {
        "overrides": ABLATIONS[label],
        **{
            f"{k}_{m}": s[m].get(k)
            for m in ("product", "network")
            for k in ("hf_r", "phase_error_h")
        },  # fmt: skip
        "seconds": round(time.perf_counter() - t0, 1),
    }
    return name, label, row


def _ablations(root: Path, trained: tuple[str, ...], workers: int = 2) -> dict:
    """Each option of :data:`ABLATIONS` on top of ``recommended``: network and product skill."""
    out: dict = {}
    jobs = [(n, lab, root) for n in ABLATION_SCENARIOS if n in trained for lab in ABLATIONS]
    for name, label, row in _parallel(_one_ablation, jobs, workers):
        out.setdefault(name, {})[label] = row
        print(f"[skill] ablation {name} {label}: {row}", flush=True)
    return out


def summarise(scen: dict) -> dict:
    """Worst case and median over scenarios of each headline metric, and the targets' verdicts."""
    out: dict = {}
    for m in METHODS_SHOWN:
        rows = [s[m] for s in scen.values() if m in s]
        if not rows:
            continue
        d = {}
        for k in ("hf_r", "hf_r_share_of_ceiling", "phase_error_h", "composite_rmse",
                  "hf_r_all", "rmse_all", "hf_r_rain", "rmse_rain", "coverage_stations",
                  "coverage_towers", "tower_r_error", "sign_turned"):  # fmt: skip
            v = np.array([r.get(k) for r in rows if r.get(k) is not None], dtype=float)
            if v.size:
                worst = v.min() if k.startswith(("hf_r", "coverage", "sign")) else v.max()
                d[k] = {"median": round(float(np.median(v)), 3), "worst": round(float(worst), 3)}
        out[m] = d
    verdict = {}
    for name, s in scen.items():
        rec = s.get("recommended", {})
        raw = s.get("raw", {})
        v = {}
        for k, (op, thr) in TARGETS.items():
            x = rec.get(k)
            v[k] = None if x is None else bool(x >= thr if op == ">=" else x <= thr)
        for k in ("hf_r_all", "hf_r_rain"):
            if rec.get(k) is not None and raw.get(k) is not None:
                v[f"{k}>=raw"] = bool(rec[k] >= raw[k])
        for k in ("rmse_all", "rmse_rain"):
            if rec.get(k) is not None and raw.get(k) is not None:
                v[f"{k}<=raw"] = bool(rec[k] <= raw[k] + 1e-4)
        others = [
            s[m]["hf_r"] for m in ("raw", "fft", "lin") if s.get(m, {}).get("hf_r") is not None
        ]
        if rec.get("hf_r") is not None and others:
            v["ahead_of_raw_fft_lin"] = bool(rec["hf_r"] > max(others))
        loo = s.get("loo_recommended", {}).get("hf_r")
        v["loo_hf_r>=0.90"] = None if loo is None else bool(loo >= 0.90)
        share = rec.get("hf_r_share_of_ceiling")
        v["hf_r>=0.95_ceiling"] = None if share is None else bool(share >= 0.95)
        gain = s.get("_signal_ablation", {}).get("network_gain_hf_r")
        v["product>=without_network"] = None if gain is None else bool(gain >= 0)
        net_towers = s.get("recommended_net", {}).get("coverage_towers_method_itself")
        v["network_tower_hours>=0.90"] = None if net_towers is None else bool(net_towers >= 0.9)
        turned = rec.get("sign_turned")  # positive raw SM-TS coupling: negative after
        v["positive_raw_turned_negative"] = None if turned is None else bool(turned == 1.0)
        cov = s.get("_calibration", {}).get("sm_lstm", {}).get("coverage")
        v["interval_90_holds_85_95"] = None if cov is None else bool(0.85 <= cov <= 0.95)
        verdict[name] = v
    out["targets"] = verdict
    out["signal_ablation"] = {  # what the network adds to the product, per world (issue 18)
        name: {k: s["_signal_ablation"][k] for k in ("network_gain_hf_r", "network")}
        for name, s in scen.items()
        if s.get("_signal_ablation")
    }
    gains = [g["network_gain_hf_r"] for g in out["signal_ablation"].values()
             if g["network_gain_hf_r"] is not None]  # fmt: skip
    out["network_never_hurts"] = bool(min(gains) >= 0) if gains else None
    out["calibration"] = {  # the product's 90 % intervals, per world (issue 19)
        name: {
            k: s["_calibration"]["sm_lstm"].get(k)
            for k in ("coverage", "mean_width", "rank_corr_width_error")
        }
        for name, s in scen.items()
        if s.get("_calibration", {}).get("sm_lstm")
    }
    return out


def _figure(scen: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from smlib.report.plots import save_figure

    names = list(scen)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2), constrained_layout=True)
    for ax, key, label in ((axes[0], "hf_r", "median HF R vs truth (rain-free days)"),
                           (axes[1], "phase_error_h", "median |phase error| of the minimum (h)")):  # fmt: skip
        for j, m in enumerate(METHODS_SHOWN):
            y = [scen[n].get(m, {}).get(key) for n in names]
            y = [np.nan if v is None else v for v in y]
            ax.plot(np.arange(len(names)) + (j - 4) * 0.07, y, "o", label=m, ms=5)
        ax.set_xticks(range(len(names)), names, rotation=35, ha="right")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].axhline(0.9, color="k", lw=0.8, ls="--")
    axes[1].axhline(1.0, color="k", lw=0.8, ls="--")
    axes[0].legend(fontsize=8, ncol=2)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_figure(fig, path, formats=("png",), dpi=110)
    plt.close(fig)


def _main(argv: list[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python -m benchmarks.bench_skill",
                                description="the skill benchmark, restricted")  # fmt: skip
    p.add_argument("--worlds", default=None, help="comma-separated scenario names")
    p.add_argument("--quick", action="store_true", help="tiny sizes (smoke run)")
    p.add_argument("--workers", type=int, default=None)
    p.add_argument("--no-left-out", action="store_true")
    p.add_argument("--no-ablations", action="store_true")
    p.add_argument("--out", type=Path, required=True, help="JSON file to write")
    p.add_argument(
        "--keep",
        type=Path,
        default=None,
        help="folder that keeps the worlds and trained models (default: removed)",
    )
    a = p.parse_args(argv)
    worlds = tuple(w.strip() for w in a.worlds.split(",")) if a.worlds else None
    unknown = [w for w in worlds or () if w not in SCENARIOS]
    if unknown:
        print(f"bench_skill: unknown worlds {unknown}; valid: {', '.join(SCENARIOS)}",
              file=sys.stderr)  # fmt: skip
        return 2
    try:
        result = run(quick=a.quick, workers=a.workers, worlds=worlds,
                     left_out=not a.no_left_out, ablations=not a.no_ablations,
                     keep=a.keep)  # fmt: skip
    except FileExistsError as err:
        print(f"bench_skill: {err}", file=sys.stderr)
        return 2
    a.out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(a.out) as tmp:
        Path(tmp).write_text(json.dumps(result, indent=1, default=str))
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    sys.exit(_main())
