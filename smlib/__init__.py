"""smlib: correct temperature-induced diurnal errors in dielectric in-situ soil moisture.

The public API is flat: the most used functions of every module are importable from
``smlib`` directly (resolved lazily so that ``import smlib`` stays cheap and does not
import torch).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it
_LAZY: dict[str, str] = {
    # data layer
    "read_ismn": "io.ismn",
    "sensor_technique": "io.sensors",
    "open_era5_land": "io.reanalysis",
    "open_merra2": "io.reanalysis",
    "deaccumulate": "io.reanalysis",
    "read_fluxnet": "io.fluxnet",
    "ingest": "cube",
    "InputError": "errors",
    "CheckpointError": "errors",
    "TrainingDivergedError": "errors",
    "SkippedInput": "io.errors",
    "load_sensor_table": "io.sensors",
    "SensorTable": "io.sensors",
    "merge_records": "io.reanalysis",
    "open_reanalysis_file": "io.reanalysis",
    "skipped_inputs": "cube",
    "sensor_notes": "cube",
    "reference_and_gauge_table": "cube",
    "choices_for_data": "pipeline",
    "open_cube": "cube",
    "validate_cube": "cube",
    "data_status": "manifest",
    "dataset_status": "manifest",
    "load_manifest": "manifest",
    # embedded twin and its scenarios
    "write_twin": "synth",
    "simulate_twin": "synth",
    "Scenario": "synth.scenarios",
    "SCENARIOS": "synth.scenarios",
    "get_scenario": "synth.scenarios",
    # correction products and their skill
    "correct_file": "correct",
    "correct_archive": "archive",
    "distill": "distill",
    "export_onnx": "export",
    "guided_compensation": "correct",
    "flagged_product": "correct",
    "FLAG_MEANINGS": "correct",
    "linear_compensation_kernel": "compensation",
    "METHODS": "methods",
    "score_against_truth": "skill",
    # diagnostics and figures
    "evaluate": "evaluate",
    "lag_sensitivity": "sensitivity",
    "lag_sensitivity_from_run": "sensitivity",
    "daily_r_sm_ts": "diagnostics",
    "r_sm_ts_climatology": "diagnostics",
    "hf_correlation": "diagnostics",
    "hf_correlation_vs_reference": "diagnostics",
    "reference_pairs": "diagnostics",
    "diurnal_composite": "diagnostics",
    "land_coupling": "diagnostics",
    "skill_vs_truth": "diagnostics",
    "hf_anomaly": "diagnostics",
    "pearson_r": "diagnostics",
    "save_figure": "plots",
    "plot_r_sm_ts_heatmap": "plots",
    "plot_r_by_sensor_type": "plots",
    "plot_station_pair": "plots",
    "plot_composite_cycles": "plots",
    "plot_hf_r_distribution": "plots",
    "plot_lag_sensitivity": "plots",
    "plot_coupling_violins": "plots",
    "plot_station_map": "plots",
    "plot_skill_vs_truth": "plots",
    # scale-out
    "prepare_lazy": "scale",
    "correct_lazy": "scale",
    "station_summary": "scale",
    # study orchestration and the book
    "run_pipeline": "pipeline",
    "Products": "pipeline",
    "build_book": "book",
    "load_plan": "book",
    "show_table": "display",
    "NotebookFailed": "book",
    "configure_cartopy": "naturalearth",
    "block_cartopy_downloads": "naturalearth",
}

__all__ = ["__version__", *sorted(_LAZY)]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'smlib' has no attribute {name!r}")
    return getattr(importlib.import_module(f"smlib.{module}"), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
