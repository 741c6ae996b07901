"""Colours, labels and shared helpers of every figure; :func:`save_figure`."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib as mpl
import numpy as np
from matplotlib.figure import Figure

from smlib.atomic import atomic_path
from smlib.method.registry import METHODS, method_style

SM_UNITS = "m$^3$ m$^{-3}$"

#: Label, colour and line style of every series kind (the paper's colours).
METHOD_STYLE: dict[str, dict[str, str]] = {
    **{k: method_style(k) for k in METHODS},
    "reference": {"label": "Reference", "color": "0.45", "linestyle": "-"},
    "truth": {"label": "Truth", "color": "black", "linestyle": ":"},
}

#: Labels of the methods applied to flux-tower SM (paper Fig. 8).
TOWER_LABELS: dict[str, str] = {
    **{k: m.tower_label for k, m in METHODS.items()},
    "truth": "True SM (twin)",
}

#: Sensor types in display order, with label and colour.
SENSOR_STYLE: dict[str, dict[str, str]] = {
    "impedance": {"label": "Impedance", "color": "#d62728"},
    "capacitance": {"label": "Capacitance", "color": "#9467bd"},
    "fdr": {"label": "FDR", "color": "#8c564b"},
    "tdr": {"label": "TDR", "color": "#17becf"},
    "tdt": {"label": "TDT", "color": "#bcbd22"},
    "cosmic-ray": {"label": "Cosmic-ray", "color": "#7f7f7f"},
    "unknown": {"label": "Unknown", "color": "#c7c7c7"},
}

_MISSING_COLOR = "0.78"
_PANEL = "abcdefgh"


def save_figure(
    fig: Figure,
    stem: str | os.PathLike[str],
    formats: Sequence[str] = ("png", "svg"),
    dpi: int = 200,
) -> list[Path]:
    """Write ``fig`` as ``stem.png`` and ``stem.svg`` atomically; return the paths written."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in formats:
        target = stem.with_suffix(f".{fmt}")
        with atomic_path(target) as tmp:
            fig.savefig(tmp, format=fmt, dpi=dpi, bbox_inches="tight")
        written.append(target)
    return written


def _new_figure(figsize: tuple[float, float]) -> Figure:
    # a bare Figure (no pyplot state): safe in scripts, notebooks and tests alike
    return Figure(figsize=figsize, layout="constrained")


def _panel_label(ax: mpl.axes.Axes, i: int) -> None:
    ax.text(0.0, 1.02, f"({_PANEL[i]})", transform=ax.transAxes, fontweight="bold", va="bottom")


def _strip(
    ax: mpl.axes.Axes, positions: Sequence[float], data: Sequence[np.ndarray], width: float
) -> None:
    """Every value as a small jittered point over its box (small samples stay readable)."""
    rng = np.random.default_rng(0)  # fixed jitter: identical figures on every run
    for p, d in zip(positions, data, strict=True):
        jitter = rng.uniform(-width / 4, width / 4, d.size)
        ax.scatter(p + jitter, d, s=6, color="0.15", alpha=0.6, linewidth=0, zorder=3)


def _finite(values: object) -> np.ndarray:
    a = np.asarray(values, dtype=float).ravel()
    return a[np.isfinite(a)]


def _sensor_types(values: Sequence[str]) -> list[str]:
    present = list(dict.fromkeys(str(v) for v in values))
    known = [s for s in SENSOR_STYLE if s in present]
    return known + sorted(s for s in present if s not in SENSOR_STYLE)


def _sensor_style(s: str) -> dict[str, str]:
    return SENSOR_STYLE.get(s, {"label": s, "color": "#c7c7c7"})
