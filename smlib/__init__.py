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
    "ingest": "data",
    "InputError": "errors",
    "CheckpointError": "errors",
    "TrainingDivergedError": "errors",
    "SkippedInput": "io.errors",
    "load_sensor_table": "io.sensors",
    "SensorTable": "io.sensors",
    "merge_records": "io.reanalysis",
    "open_reanalysis_file": "io.reanalysis",
    "skipped_inputs": "data",
    "sensor_notes": "data",
    "reference_and_gauge_table": "data",
    "choices_for_data": "report.pipeline",
    "open_cube": "data",
    "validate_cube": "data",
    "data_status": "data.manifest",
    "dataset_status": "data.manifest",
    "load_manifest": "data.manifest",
    # embedded twin and its scenarios
    "write_twin": "synth",
    "simulate_twin": "synth",
    "Scenario": "synth.scenarios",
    "SCENARIOS": "synth.scenarios",
    "get_scenario": "synth.scenarios",
    # correction products and their skill
    "correct_file": "method.correct",
    "correct_archive": "ops.archive",
    "distill": "ops.distill",
    "export_onnx": "ops.export",
    "guided_compensation": "method.correct",
    "flagged_product": "method.correct",
    "FLAG_MEANINGS": "method.correct",
    "linear_compensation_kernel": "method.compensation",
    "apply_product": "method.product",
    "read_coefficients": "method.product",
    "ProductCoefficients": "method.product",
    "product_uncertainty": "method.uncertainty",
    "guided_uncertainty": "method.uncertainty",
    "interval_coverage": "evaluation.calibration",
    "distributed_lag_compensation": "method.lagged_artefact",
    "METHODS": "method.registry",
    "score_against_truth": "evaluation.skill",
    "signal_ablation": "evaluation.signal_ablation",
    "score_signal_ablation": "evaluation.signal_ablation",
    # diagnostics and figures
    "evaluate": "report.evaluate",
    "lag_sensitivity": "evaluation.sensitivity",
    "lag_sensitivity_from_run": "evaluation.sensitivity",
    "daily_r_sm_ts": "evaluation.diagnostics",
    "r_sm_ts_climatology": "evaluation.diagnostics",
    "hf_correlation": "evaluation.diagnostics",
    "hf_correlation_vs_reference": "evaluation.diagnostics",
    "reference_pairs": "evaluation.diagnostics",
    "diurnal_composite": "evaluation.diagnostics",
    "land_coupling": "evaluation.diagnostics",
    "skill_vs_truth": "evaluation.diagnostics",
    "hf_anomaly": "evaluation.diagnostics",
    "pearson_r": "evaluation.diagnostics",
    "save_figure": "report.plots",
    "plot_r_sm_ts_heatmap": "report.plots",
    "plot_r_by_sensor_type": "report.plots",
    "plot_station_pair": "report.plots",
    "plot_composite_cycles": "report.plots",
    "plot_hf_r_distribution": "report.plots",
    "plot_lag_sensitivity": "report.plots",
    "plot_coupling_violins": "report.plots",
    "plot_station_map": "report.plots",
    "plot_skill_vs_truth": "report.plots",
    # scale-out
    "prepare_lazy": "ops.scale",
    "correct_lazy": "ops.scale",
    "station_summary": "ops.scale",
    # study orchestration and the book
    "run_pipeline": "report.pipeline",
    "Products": "report.pipeline",
    "build_book": "report.book",
    "load_plan": "report.book",
    "show_table": "report.display",
    "NotebookFailed": "report.book",
    "configure_cartopy": "report.naturalearth",
    "block_cartopy_downloads": "report.naturalearth",
}

__all__ = ["__version__", *sorted(_LAZY)]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'smlib' has no attribute {name!r}")
    return getattr(importlib.import_module(f"smlib.{module}"), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
