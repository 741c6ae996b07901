"""What the per-hour uncertainty costs ``smlib correct`` (issue #19: at most 1.5x its time).

Measured in one process on one synthetic cube (:func:`benchmarks._synthetic.synthetic_cube`,
reanalysis included, so the default guided product and its three signal estimates are used),
with an untrained network of the ``recommended`` architecture (timing does not depend on the
weights):

* **correct** -- :func:`smlib.method.correct.correct` with ``lstm`` and ``lin``, as ``smlib
  correct`` runs by default (product, flags and both uncertainties), best of ``rounds``;
* **uncertainty** -- :func:`smlib.method.uncertainty.guided_uncertainty` and
  :func:`~smlib.method.uncertainty.linear_uncertainty` alone on the same arrays, best of
  ``rounds``.

The ratio printed is ``correct / (correct - uncertainty)``: how much longer correction takes
because it computes the uncertainty. Target: <= 1.5.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from benchmarks._synthetic import synthetic_cube
from smlib.config import get_profile
from smlib.method.correct import correct, rain_affected_hours
from smlib.method.model import build_model
from smlib.method.preprocess import prepare
from smlib.method.runfolder import LoadedModel
from smlib.method.scaling import MinMaxScaler
from smlib.method.uncertainty import guided_uncertainty, linear_uncertainty


def _best(fn, rounds: int) -> float:
    best = np.inf
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def run(quick: bool = False) -> dict:
    n_station, days, rounds = (4, 60, 1) if quick else (24, 365, 3)
    cfg = get_profile("recommended", ["train.device=cpu"])
    ds = synthetic_cube(n_station, days, seed=5, reanalysis=True)
    prep = prepare(ds, cfg.preprocess, training=False)
    ok = prep.valid_end & np.isfinite(prep.sm_hf)
    scaler = MinMaxScaler.fit(prep.x[ok], prep.sm_hf[ok], prep.features)
    torch.manual_seed(0)
    model = build_model(cfg.model, len(prep.features), scaler.y_min, scaler.y_max)
    lm = LoadedModel(model.eval(), cfg, scaler, Path("."), torch.device("cpu"))
    out = correct(ds, lm, ("lstm", "lin"))  # warm-up, and the inputs of the parts below
    t_correct = _best(lambda: correct(ds, lm, ("lstm", "lin")), rounds)

    cc = cfg.correct
    raw = np.asarray(ds["sm"].transpose("station", "time").values, dtype=np.float32)
    ts = np.asarray(ds["ts"].transpose("station", "time").values, dtype=np.float32)
    rain = rain_affected_hours(ds, cc.rain_screen)
    signal = [np.asarray(out["sm_lstm_net"].values, dtype=np.float32)] + [
        np.asarray(ds[v].transpose("station", "time").values, dtype=np.float32)
        for v in ("era5_sm", "merra2_sm")
    ]
    flag_lstm = out["sm_lstm_flag"].values
    flag_lin = out["sm_lin_flag"].values

    def parts() -> None:
        guided_uncertainty(raw, ts, signal, ~rain, flag_lstm, cc.min_rule_hours)
        linear_uncertainty(raw, ts, ~rain, flag_lin, cc.min_rule_hours)

    t_unc = _best(parts, rounds)
    ratio = t_correct / max(t_correct - t_unc, 1e-9)
    station_hours = n_station * days * 24
    return {
        "station_hours": station_hours,
        "seconds_correct": t_correct,
        "seconds_uncertainty": t_unc,
        "summary": {
            "correct_over_correct_without_uncertainty": round(ratio, 3),
            "target_at_most": 1.5,
            "uncertainty_station_hours_per_s": round(station_hours / t_unc),
        },
    }
