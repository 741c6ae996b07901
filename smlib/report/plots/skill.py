"""Twin only: skill of every method against the true soil moisture."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from smlib.report.plots.style import (
    METHOD_STYLE,
    SM_UNITS,
    _finite,
    _new_figure,
    _panel_label,
    _sensor_style,
    _sensor_types,
    _strip,
)


def plot_skill_vs_truth(skill: pd.DataFrame, methods: Sequence[str] | None = None) -> Figure:
    """Skill against the true SM by sensor type and method (twin only).

    Parameters
    ----------
    skill : pandas.DataFrame
        Long form from :func:`smlib.evaluation.diagnostics.skill_vs_truth`.
    methods : sequence of str, optional
        Methods to show (default ``raw``, ``fft``, ``lstm`` where present).

    Returns
    -------
    matplotlib.figure.Figure
        Three axes: HF correlation, RMSE of the diurnal composite (m3 m-3), phase error of the
        diurnal minimum (h); boxes grouped by sensor type, coloured by method; legend gives
        each method's overall median.
    """
    present = set(skill["method"])
    methods = [m for m in (methods or ("raw", "fft", "lstm")) if m in present]
    if not methods:
        raise ValueError("skill table holds none of the methods raw, fft, lstm")
    sensors = _sensor_types(skill["sensor_type"])
    panels = [
        ("hf_r", "HF correlation with truth", (-1.05, 1.05)),
        ("composite_rmse", f"RMSE of diurnal composite ({SM_UNITS})", None),
        ("phase_error_h", "Phase error of diurnal minimum (h)", (-12.5, 12.5)),
    ]
    fig = _new_figure((13.0, 4.3))
    axes = fig.subplots(1, 3)
    width = 0.8 / len(methods)
    for k, (ax, (col, label, lims)) in enumerate(zip(axes, panels, strict=True)):
        for j, m in enumerate(methods):
            style = METHOD_STYLE[m]
            sub = skill[skill["method"] == m]
            data = [_finite(sub.loc[sub["sensor_type"] == s, col]) for s in sensors]
            pos = np.arange(len(sensors)) + (j - (len(methods) - 1) / 2) * width
            keep = [i for i, d in enumerate(data) if d.size]
            if keep:
                bp = ax.boxplot(
                    [data[i] for i in keep],
                    positions=pos[keep],
                    widths=width * 0.9,
                    patch_artist=True,
                    showfliers=False,
                    medianprops={"color": "black"},
                )
                _strip(ax, pos[keep], [data[i] for i in keep], width * 0.9)
                for box in bp["boxes"]:
                    box.set_facecolor(style["color"])
                    box.set_alpha(0.85)
        ax.set_xticks(
            np.arange(len(sensors)), [_sensor_style(s)["label"] for s in sensors], rotation=30
        )
        ax.set_xlim(-0.6, len(sensors) - 0.4)
        if lims:
            ax.set_ylim(*lims)
        if col != "composite_rmse":
            ax.axhline(0.0, color="0.5", linewidth=0.8)
        ax.set_ylabel(label)
        ax.set_xlabel("Sensor type")
        _panel_label(ax, k)
    handles = []
    for m in methods:
        vals = _finite(skill.loc[skill["method"] == m, "hf_r"])
        med = f"{np.median(vals):.2f}" if vals.size else "n/a"
        handles.append(
            Patch(
                facecolor=METHOD_STYLE[m]["color"],
                label=f"{METHOD_STYLE[m]['label']} (median R = {med}, n = {vals.size})",
            )
        )
    fig.legend(
        handles=handles, fontsize=8, loc="outside lower center", ncols=len(handles), frameon=False
    )
    fig.suptitle("Skill against the true soil moisture (synthetic twin)")
    return fig
