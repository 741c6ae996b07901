"""Tables and figures of the book's sections, computed from the products of one study run.

The notebooks in ``notebooks/`` stay thin: each one calls :func:`smlib.report.pipeline.run_pipeline`
and hands the returned paths (or the datasets behind them) to the functions here. Everything a
section states as a number comes from these functions -- nothing is typed into the text.

One module per section of the book; every public name is re-exported here, so notebooks write
``from smlib import study`` and ``study.qc_table(cube)``.

=================================  ============================================================
section (module)                   functions
=================================  ============================================================
00 overview, 01 data and quality  :func:`describe_data`, :func:`rain_screen_sources`,
control (:mod:`.data`)             :func:`reader_findings`, :func:`qc_table`, :func:`qc_reasons`,
                                   :func:`station_table`, :func:`describe_references_and_gauges`
02 the spurious diurnal signal     :func:`daily_r`, :func:`plot_r_sm_ts`,
(:mod:`.diurnal_signal`)           :func:`r_sm_ts_day_summary`
03 preprocessing and training      :func:`example_station`, :func:`plot_decomposition`,
(:mod:`.training`)                 :func:`training_filter_table`, :func:`plot_learning_curves`,
                                   :func:`run_summary`, :func:`config_differences`
04 evaluation                      :func:`headline_table`, :func:`plot_reference_pair`,
(:mod:`.evaluation`)               :func:`reference_composites`, :func:`calibration_table`,
                                   :func:`describe_uncertainty`, :func:`plot_calibration`,
                                   :func:`signal_ablation_table`,
                                   :func:`describe_signal_ablation`,
                                   :func:`network_gain_by_world`, :func:`signed_gain`
05 lag sensitivity                 :func:`read_sensitivity`, :func:`sensitivity_shares`,
(:mod:`.sensitivity`)              :func:`plot_sensitivity_by_part`, :func:`describe_sensitivity`
06 land coupling                   :func:`read_coupling`, :func:`coupling_table`,
(:mod:`.coupling`)                 :func:`describe_coupling`, :func:`describe_network_coverage`
any (:mod:`.reports`)              :func:`read_summary`, :func:`read_table`,
                                   :func:`show_or_explain` (with :class:`Unavailable`)
=================================  ============================================================

The twin's skill tables (all worlds, ablations) live in :mod:`smlib.evaluation.skill`, the results at a
glance of the intro page in :mod:`smlib.report.glance` and the explorer in :mod:`smlib.report.explorer`.
"""

from __future__ import annotations

from smlib.report.study.coupling import (
    coupling_table,
    describe_coupling,
    describe_network_coverage,
    network_coverage_sentence,
    read_coupling,
)
from smlib.report.study.data import (
    describe_data,
    describe_references_and_gauges,
    qc_reasons,
    qc_table,
    rain_screen_sources,
    reader_findings,
    station_table,
)
from smlib.report.study.diurnal_signal import daily_r, plot_r_sm_ts, r_sm_ts_day_summary
from smlib.report.study.evaluation import (
    GAIN_COLUMNS,
    calibration_table,
    describe_signal_ablation,
    describe_uncertainty,
    headline_table,
    network_gain_by_world,
    plot_calibration,
    plot_reference_pair,
    reference_composites,
    signal_ablation_table,
    signed_gain,
)
from smlib.report.study.reports import Unavailable, read_summary, read_table, show_or_explain
from smlib.report.study.sensitivity import (
    describe_sensitivity,
    plot_sensitivity_by_part,
    read_sensitivity,
    sensitivity_shares,
)
from smlib.report.study.training import (
    config_differences,
    example_station,
    plot_decomposition,
    plot_learning_curves,
    run_summary,
    training_filter_table,
)

__all__ = [
    "read_summary",
    "read_table",
    "show_or_explain",
    "Unavailable",
    "reader_findings",
    "qc_table",
    "qc_reasons",
    "station_table",
    "describe_references_and_gauges",
    "describe_data",
    "rain_screen_sources",
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
    "calibration_table",
    "describe_uncertainty",
    "plot_calibration",
    "plot_reference_pair",
    "reference_composites",
    "signal_ablation_table",
    "describe_signal_ablation",
    "network_gain_by_world",
    "GAIN_COLUMNS",
    "signed_gain",
    "read_sensitivity",
    "sensitivity_shares",
    "plot_sensitivity_by_part",
    "describe_sensitivity",
    "read_coupling",
    "coupling_table",
    "describe_coupling",
    "describe_network_coverage",
    "network_coverage_sentence",
]
