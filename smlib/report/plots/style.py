"""Colours, labels and shared helpers of every figure; :func:`save_figure`."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib as mpl
import numpy as np
from matplotlib.figure import Figure

from smlib.atomic import atomic_path
from smlib.method.registry import METHODS, guided_label, method_style, product_label

SM_UNITS = "m$^3$ m$^{-3}$"

#: The default product's label in the figures drawn now (:func:`product_labels`).
_PRODUCT_LABEL = [guided_label()]


class _ProductLabelled(Mapping):
    """A read-only mapping whose ``lstm`` entry carries the label of the product drawn now."""

    def __init__(self, base: dict[str, Any], relabel: Any) -> None:
        self._base = base
        self._relabel = relabel

    def __getitem__(self, key: str) -> Any:
        value = self._base[key]
        return self._relabel(value, _PRODUCT_LABEL[0]) if key == "lstm" else value

    def __iter__(self) -> Iterator[str]:
        return iter(self._base)

    def __len__(self) -> int:
        return len(self._base)


#: Label, colour and line style of every series kind (the paper's colours). The default
#: product's label names what made it in the corrected file being drawn (:func:`product_labels`).
METHOD_STYLE: Mapping[str, dict[str, str]] = _ProductLabelled(
    {
        **{k: method_style(k) for k in METHODS},
        "reference": {"label": "Reference", "color": "0.45", "linestyle": "-"},
        "truth": {"label": "Truth", "color": "black", "linestyle": ":"},
    },
    lambda style, label: {**style, "label": label},
)

#: Labels of the methods applied to flux-tower SM (paper Fig. 8).
TOWER_LABELS: Mapping[str, str] = _ProductLabelled(
    {**{k: m.tower_label for k, m in METHODS.items()}, "truth": "True SM (twin)"},
    lambda _, label: f"Fluxtower, {label}",
)


def set_product_labels(corrected: Any) -> str:
    """Label the default product (``sm_lstm``) of the figures drawn from now on after what
    made it in ``corrected`` (:func:`smlib.method.registry.product_label`); return the label.

    ``corrected``: a corrected file's dataset (or the attributes of its ``sm_lstm``, or None
    for the default label). A notebook calls it once after opening its corrected file; code
    that draws for one file uses :func:`product_labels`.
    """
    attrs = corrected
    if corrected is not None and hasattr(corrected, "data_vars"):
        attrs = dict(corrected["sm_lstm"].attrs) if "sm_lstm" in corrected else None
    _PRODUCT_LABEL[0] = product_label(attrs)
    return _PRODUCT_LABEL[0]


@contextlib.contextmanager
def product_labels(corrected: Any) -> Iterator[str]:
    """:func:`set_product_labels` for the figures drawn inside the ``with`` block only."""
    before = _PRODUCT_LABEL[0]
    try:
        yield set_product_labels(corrected)
    finally:
        _PRODUCT_LABEL[0] = before


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
