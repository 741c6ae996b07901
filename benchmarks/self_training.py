"""Self-training measured on kept worlds: the same stage-1 networks, trained once more.

``python -m benchmarks.bench_skill --keep DIR`` keeps every world (twin, cube, trained runs).
This script takes each kept world's recommended run as stage 1 of a self-trained run
(:mod:`smlib.method.self_training`: it is copied to ``<out>/<world>/stage1`` and reused, not
retrained), trains stage 2 with ``train.target=product`` exactly as ``smlib train`` does, and
scores, against the twin's truth, the product and the network of both stages, the noise
ceiling, the self-trained product refitted without the network (what the network adds), and
the interval coverage::

    python -m benchmarks.self_training --kept DIR --out FILE [--worlds a,b] [--runs DIR]

Not part of ``python -m benchmarks`` (it needs a kept benchmark run). On 2 cores stage 2 takes
1-6 minutes a world (24 ISMN stations x 240 days, the quick budget).
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import torch

from benchmarks.bench_skill import _insitu_overrides, _load, _network_part, _score
from smlib.evaluation.calibration import interval_coverage
from smlib.method.correct import correct
from smlib.method.runfolder import load_model
from smlib.method.self_training import STAGE1_DIR
from smlib.method.train import train

#: Scores kept per method.
KEYS = ("hf_r", "hf_r_share_of_ceiling", "phase_error_h", "tower_r_error", "hf_r_all",
        "rmse_all", "hf_r_rain", "rmse_rain", "coverage_stations_method_itself")  # fmt: skip


def self_train_world(kept: Path, runs: Path) -> dict:
    """Stage 2 on one kept world (``kept``: its folder with ``cube.nc``, ``twin/truth.nc`` and
    the run ``rec``), scored; the self-trained run is written to ``runs``."""
    cube, truth = _load(kept / "cube.nc"), _load(kept / "twin" / "truth.nc")
    shutil.rmtree(runs, ignore_errors=True)
    shutil.copytree(kept / "rec", runs / STAGE1_DIR)
    t0 = time.perf_counter()
    overrides = ["train.device=cpu", *_insitu_overrides(cube), "train.target=product"]
    train(cube, runs, profile="recommended", overrides=overrides)
    seconds = time.perf_counter() - t0
    lm = load_model(runs, "cpu")
    rec = correct(cube, lm, ("lstm",))
    first = correct(cube, load_model(runs / STAGE1_DIR, "cpu"), ("lstm",))
    both = rec.assign(sm_stage1=first["sm_lstm"], sm_stage1_net=first["sm_lstm_net"])
    names = {"raw": "sm", "stage1": "sm_stage1", "stage1_net": "sm_stage1_net",
             "self_trained": "sm_lstm", "self_trained_net": "sm_lstm_net"}  # fmt: skip
    scores = _score(both, truth, cube, names)
    scores.update(_network_part(cube, rec, truth, lm.config.correct))
    out = {m: {k: scores[m].get(k) for k in KEYS} for m in scores if not m.startswith("_")}
    out["_signal_ablation"] = scores.get("_signal_ablation")
    cov = interval_coverage(rec, truth, cube)
    out["_coverage_90"] = float(cov.loc["sm_lstm", "coverage"]) if "sm_lstm" in cov.index else None
    info = json.loads((runs / "run.json").read_text())
    out["_stage2"] = {"seconds": round(seconds, 1), "epochs": info.get("epochs"),
                      "best_epoch": info.get("best_epoch"),
                      "n_train_samples": info.get("n_train_samples"),
                      "target_share": info.get("target_share")}  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kept", type=Path, required=True, help="folder of bench_skill --keep")
    ap.add_argument("--out", type=Path, required=True, help="JSON file (resumed if it exists)")
    ap.add_argument("--worlds", default=None, help="comma-separated worlds (default: all kept)")
    ap.add_argument("--runs", type=Path, default=None, help="folder of the self-trained runs")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    worlds = a.worlds.split(",") if a.worlds else sorted(
        p.name for p in a.kept.iterdir() if (p / "rec" / "best.pt").exists()
    )  # fmt: skip
    runs = a.runs or a.out.with_suffix("")
    res = json.loads(a.out.read_text()) if a.out.exists() else {}
    for name in worlds:
        if name in res:
            continue
        res[name] = self_train_world(a.kept / name, runs / name)
        a.out.write_text(json.dumps(res, indent=1, default=str))
        share = {m: round(v["hf_r_share_of_ceiling"], 3) for m, v in res[name].items()
                 if not m.startswith("_") and v.get("hf_r_share_of_ceiling") is not None}  # fmt: skip
        print(name, share, res[name]["_stage2"], flush=True)
    return res


if __name__ == "__main__":
    main()
