"""Figures of the paper (Seo et al., 2026) and of the twin's skill against the truth.

Every function takes tables or arrays from :mod:`smlib.evaluation.diagnostics` and returns a
:class:`matplotlib.figure.Figure`; nothing is shown or written here except by
:func:`save_figure`. Method colours, labels and sensor-type colours are defined once, in
:mod:`smlib.report.plots.style` (:data:`METHOD_STYLE`, :data:`SENSOR_STYLE`), and used by every figure.
One module per figure group; every public name is re-exported here (``plots.plot_...``).

=====================================  =======================================================
function (module)                      paper figure
=====================================  =======================================================
:func:`plot_r_sm_ts_heatmap`           Fig. 1 (raw) and Fig. 3 (default product): R(SM, TS) by site and DOY
(:mod:`.r_sm_ts`)
:func:`plot_daily_r_heatmap`           the same, from daily R of one method
(:mod:`.r_sm_ts`)
:func:`plot_r_by_sensor_type`          Fig. 4: R(SM, TS) by sensor type, per method
(:mod:`.r_sm_ts`)
:func:`plot_station_pair`              Fig. 5: five days at a station and its reference
(:mod:`.reference`)
:func:`plot_composite_cycles`          Fig. 6a: composite diurnal cycles against references
(:mod:`.reference`)
:func:`plot_hf_r_distribution`         Fig. 6b: hourly R against the reference
(:mod:`.reference`)
:func:`plot_lag_sensitivity`           Fig. 7: gradient-based lag sensitivity
(:mod:`.sensitivity`)
:func:`plot_coupling_violins`          Fig. 8: R(SM, LH), sigma(LH) and TCI at towers
(:mod:`.coupling`)
:func:`plot_station_map`               station map (sensor type, references, towers)
(:mod:`.station_map`)
:func:`plot_skill_vs_truth`            twin only: skill against the true soil moisture
(:mod:`.skill`)
:func:`plot_calibration`               twin only: reliability and spread-skill of the
(:mod:`.calibration`)                  per-hour uncertainty
=====================================  =======================================================
"""

from __future__ import annotations

from smlib.report.plots.calibration import plot_calibration
from smlib.report.plots.coupling import plot_coupling_violins
from smlib.report.plots.r_sm_ts import (
    plot_daily_r_heatmap,
    plot_r_by_sensor_type,
    plot_r_sm_ts_heatmap,
)
from smlib.report.plots.reference import (
    plot_composite_cycles,
    plot_hf_r_distribution,
    plot_station_pair,
)
from smlib.report.plots.sensitivity import plot_lag_sensitivity
from smlib.report.plots.skill import plot_skill_vs_truth
from smlib.report.plots.station_map import plot_station_map
from smlib.report.plots.style import (
    METHOD_STYLE,
    SENSOR_STYLE,
    SM_UNITS,
    TOWER_LABELS,
    product_labels,
    save_figure,
    set_product_labels,
)

__all__ = [
    "METHOD_STYLE",
    "TOWER_LABELS",
    "product_labels",
    "set_product_labels",
    "SENSOR_STYLE",
    "SM_UNITS",
    "save_figure",
    "plot_r_sm_ts_heatmap",
    "plot_daily_r_heatmap",
    "plot_r_by_sensor_type",
    "plot_station_pair",
    "plot_composite_cycles",
    "plot_hf_r_distribution",
    "plot_lag_sensitivity",
    "plot_coupling_violins",
    "plot_station_map",
    "plot_skill_vs_truth",
    "plot_calibration",
]
