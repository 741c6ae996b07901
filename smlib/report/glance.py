"""The book's results at a glance: this build's evaluation summary as one table and a few lines.

:func:`glance_markdown` turns the ``summary.json`` that :func:`smlib.report.evaluate.evaluate` wrote
for the build into MyST Markdown for the introduction page (the book runner writes it to
``sections/_glance.md``, which ``intro.md`` includes). Nothing in it is fixed text about the
results: the columns are the methods the summary lists (raw, Fourier, the default product and whichever
others the evaluation ran), the rows are the metrics it holds (a part the evaluation skipped is
left out), the best value of each row is bold, and every sentence is chosen from the numbers.

Which value is best:

=======================================  ==================================================
metric (summary key)                     best
=======================================  ==================================================
HF R vs truth, vs reference              highest
phase error, composite RMSE vs truth     lowest
R(SM, TS) per sensor type                not ranked: physics expects a negative value; the
                                         text counts the sensor types where it is negative
R(SM, LH), TCI at towers                 closest to the value with the true SM (twin only)
=======================================  ==================================================
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from smlib.report.display import method_label

__all__ = ["GLANCE_SECTIONS", "glance_markdown"]

log = logging.getLogger(__name__)

#: Section (notebook stem) each part of the block links to, by topic.
GLANCE_SECTIONS: dict[str, str] = {
    "evaluation": "04_evaluation",
    "spurious": "02_spurious_signal",
    "coupling": "06_land_coupling",
}


@dataclass(frozen=True)
class _Metric:
    key: str
    label: str
    topic: str
    digits: int
    better: str  # "high", "low" or "truth" (closest to the truth's value)
    says: str  # sentence start; "{best}" is filled with the best method(s)


_METRICS = (
    _Metric(
        "median_hf_r_vs_truth",
        "HF R against the truth",
        "evaluation",
        2,
        "high",
        "Against the true soil moisture of the twin, {best} follows the diurnal cycle best",
    ),
    _Metric(
        "median_abs_phase_error_h",
        "absolute phase error of the diurnal minimum (h)",
        "evaluation",
        1,
        "low",
        "{best} places the diurnal minimum closest to the true one in time",
    ),
    _Metric(
        "median_composite_rmse_vs_truth",
        "composite diurnal RMSE against the truth (m³ m⁻³)",
        "evaluation",
        4,
        "low",
        "{best} has the smallest error of the composite diurnal cycle",
    ),
    _Metric(
        "median_hf_r_vs_reference",
        "HF R against a reference station",
        "evaluation",
        2,
        "high",
        "Against nearby reference sensors, {best} agrees best",
    ),
    _Metric(
        "median_r_sm_lh",
        "R(SM, LH) at flux towers",
        "coupling",
        2,
        "truth",
        "At the flux towers, {best} comes closest to the SM-latent heat coupling of the true SM",
    ),
    _Metric(
        "median_tci",
        "terrestrial coupling index at flux towers (W m⁻²)",
        "coupling",
        1,
        "truth",
        "{best} comes closest to the true terrestrial coupling index",
    ),
)


def _number(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def _fmt(value: float | None, digits: int) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}".replace("-", "−")


def _join(words: Sequence[str]) -> str:
    words = list(words)
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def _best(values: Mapping[str, float], better: str, target: float | None) -> list[str]:
    """Methods with the best value (ties all count)."""
    if not values:
        return []
    if better == "high":
        score: Callable[[float], float] = lambda v: -v  # noqa: E731
    elif better == "low":
        score = lambda v: v  # noqa: E731
    else:
        if target is None:
            return []
        score = lambda v: abs(v - target)  # noqa: E731
    top = min(score(v) for v in values.values())
    return [m for m, v in values.items() if math.isclose(score(v), top, abs_tol=1e-12)]


def _link(topic: str, pages: Mapping[str, str], text: str) -> str:
    page = pages.get(topic)
    return f"{{doc}}`{text} </{page}>`" if page else text


def glance_markdown(
    summary: Mapping[str, Any] | None,
    pages: Mapping[str, str] | None = None,
    heading: str = "## Results at a glance",
) -> str:
    """MyST Markdown of the results-at-a-glance block for one build.

    Parameters
    ----------
    summary : mapping or None
        The content of ``summary.json`` (:func:`smlib.report.evaluate.evaluate`); None when the build
        has none (the block then says so).
    pages : mapping, optional
        Topic (``evaluation``, ``spurious``, ``coupling``) -> document path from the book root
        without suffix (e.g. ``sections/04_evaluation``); topics left out are not linked.
    heading : str
        First line of the block.

    Returns
    -------
    str
        A table (rows: metrics, columns: the summary's methods, best bold) followed by one
        sentence per metric and the count of metrics each method is best on.
    """
    pages = dict(pages or {})
    out = [heading, ""]
    if not summary:
        out.append(
            "This build has no evaluation summary (the evaluation did not run), so there are "
            "no results to show here."
        )
        return "\n".join(out) + "\n"
    methods = [str(m) for m in summary.get("methods", [])]
    if not methods:
        out.append("The evaluation summary of this build lists no correction method.")
        return "\n".join(out) + "\n"
    rows: list[str] = []
    lines: list[str] = []
    wins = dict.fromkeys(methods, 0)
    beats_raw = dict.fromkeys(methods, 0)
    ranked = with_raw = 0
    for metric in _METRICS:
        raw = summary.get(metric.key)
        if not isinstance(raw, Mapping):
            continue
        values = {m: v for m in methods if (v := _number(raw.get(m))) is not None}
        if not values:
            continue
        target = _number(raw.get("truth")) if metric.better == "truth" else None
        best = _best(values, metric.better, target)
        cells = []
        for m in methods:
            text = _fmt(values.get(m), metric.digits)
            cells.append(f"**{text}**" if m in best else text)
        label = _link(metric.topic, pages, metric.label)
        if target is not None:
            label += f" (true SM: {_fmt(target, metric.digits)})"
        rows.append(f"| {label} | " + " | ".join(cells) + " |")
        if not best:  # nothing to rank against (no truth at the towers)
            shown = ", ".join(
                f"{method_label(m)} {_fmt(v, metric.digits)}" for m, v in values.items()
            )
            lines.append(f"- {metric.label}: {shown}.")
            continue
        ranked += 1
        for m in best:
            wins[m] += 1
        if "raw" in values:
            with_raw += 1
            for m, v in values.items():
                if _best({"raw": values["raw"], m: v}, metric.better, target) == [m]:
                    beats_raw[m] += 1
        rest = [m for m in values if m not in best]
        others = ", ".join(f"{method_label(m)} {_fmt(values[m], metric.digits)}" for m in rest)
        sentence = metric.says.format(best=_join([method_label(m) for m in best]))
        sentence = sentence[0].upper() + sentence[1:]
        value = _fmt(values[best[0]], metric.digits)
        lines.append(f"- {sentence} ({value}" + (f"; {others})." if others else ")."))
    coverage = _coverage_row(summary.get("coverage"), methods)
    if coverage:
        rows.append(coverage)
    sensor_table, sensor_lines = _r_sm_ts_part(summary.get("median_r_sm_ts"), methods, pages)
    if rows:
        out += [
            "Medians of this build (best of each row in bold); each row links to the section "
            "that shows the full distribution.",
            "",
            "| metric | " + " | ".join(method_label(m) for m in methods) + " |",
            "| --- | " + " | ".join("---:" for _ in methods) + " |",
            *rows,
            "",
        ]
    if ranked:
        tally = sorted(((m, n) for m, n in wins.items() if n), key=lambda kv: -kv[1])
        verdict = _join([f"{method_label(m)} on {n}" for m, n in tally])
        out.append(f"Best of the {ranked} ranked metrics: {verdict}.")
        corrected = [m for m in methods if m != "raw"]
        if with_raw and corrected:
            better = _join([f"{method_label(m)} on {beats_raw[m]}" for m in corrected])
            out.append(f"Better than the raw sensor, of {with_raw}: {better}.")
        out.append("")
    out += lines + sensor_lines + sensor_table
    scope = _scope(summary)
    if scope:
        out += ["", scope]
    return "\n".join(out) + "\n"


def _coverage_row(coverage: Any, methods: Sequence[str]) -> str | None:
    """Table row: the share of the stations' hours with a raw value that each method
    corrected (``coverage[method]["stations"]`` of the summary); not ranked."""
    if not isinstance(coverage, Mapping):
        return None
    cells, any_value = [], False
    for m in methods:
        entry = coverage.get(m)
        value = _number(entry.get("stations")) if isinstance(entry, Mapping) else None
        any_value |= value is not None
        cells.append("—" if value is None else f"{100 * value:.0f} %")
    if not any_value:
        return None
    return "| share of the stations' hours corrected | " + " | ".join(cells) + " |"


def _r_sm_ts_part(
    by_method: Any, methods: Sequence[str], pages: Mapping[str, str]
) -> tuple[list[str], list[str]]:
    """Table of the median R(SM, TS) per sensor type and method, and one line counting, per
    method, the sensor types where it is negative (the physical sign)."""
    if not isinstance(by_method, Mapping):
        return [], []
    from smlib.report.plots import SENSOR_STYLE

    values = {
        m: {s: v for s, r in by_method[m].items() if (v := _number(r)) is not None}
        for m in methods
        if isinstance(by_method.get(m), Mapping)
    }
    values = {m: v for m, v in values.items() if v}
    if not values:
        return [], []
    sensors = sorted(
        {s for v in values.values() for s in v},
        key=lambda s: (list(SENSOR_STYLE).index(s) if s in SENSOR_STYLE else len(SENSOR_STYLE), s),
    )
    shown = list(values)
    link = _link("spurious", pages, "R(SM, TS)")
    table = [
        "",
        f"Median {link} by sensor type (negative, the sign physics expects, in bold):",
        "",
        "| sensor type | " + " | ".join(method_label(m) for m in shown) + " |",
        "| --- | " + " | ".join("---:" for _ in shown) + " |",
    ]
    for sensor in sensors:
        cells = []
        for m in shown:
            v = values[m].get(sensor)
            text = _fmt(v, 2)
            cells.append(f"**{text}**" if v is not None and v < 0 else text)
        label = SENSOR_STYLE.get(sensor, {}).get("label", sensor)
        table.append(f"| {label} | " + " | ".join(cells) + " |")
    counts = "; ".join(
        f"{method_label(m)} {sum(x < 0 for x in v.values())} of {len(v)}" for m, v in values.items()
    )
    line = (
        f"- {link}, the diagnostic of the artefact, has a negative median for this many "
        f"sensor types: {counts}."
    )
    return table, [line]


def _scope(summary: Mapping[str, Any]) -> str:
    """What the medians are taken over, from the summary's counts."""
    bits = []
    if summary.get("n_stations") is not None:
        bits.append(f"{summary['n_stations']} stations")
    if summary.get("n_reference_pairs") is not None:
        bits.append(f"{summary['n_reference_pairs']} station-reference pairs")
    if summary.get("n_towers") is not None:
        n = summary["n_towers"]
        bits.append(f"{n} flux tower{'s' if n != 1 else ''}")
    period = summary.get("period")
    text = "Evaluated over " + _join(bits) if bits else ""
    if isinstance(period, Sequence) and len(period) == 2:
        text += f", {str(period[0])[:10]} to {str(period[1])[:10]}"
    if summary.get("truth_scope"):
        text += f"; scores against the truth over {summary['truth_scope']}"
    if summary.get("hf_hours"):
        text += f"; HF scores over {summary['hf_hours']}"
    return text + "." if text else ""
