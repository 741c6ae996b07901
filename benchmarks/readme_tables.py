"""Regenerate the skill benchmark's tables in benchmarks/README.md from a result file.

    python -m benchmarks.readme_tables [benchmarks/results/bench_skill.json]

Replaces the block of ``benchmarks/README.md`` between the markers ``<!-- skill tables -->``
and ``<!-- /skill tables -->`` with the network's gain per world, the numbers of the run read
as sentences (:func:`smlib.evaluation.skill.describe_cross_scenario` and the targets of issue
18), and one table per metric, so no number in that block is typed by hand.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from smlib.evaluation.skill import cross_scenario_table, describe_cross_scenario
from smlib.report.study.evaluation import GAIN_COLUMNS, network_gain_by_world, signed_gain

README = Path(__file__).resolve().parent / "README.md"
RESULT = Path(__file__).resolve().parent / "results" / "bench_skill.json"
START, END = "<!-- skill tables -->", "<!-- /skill tables -->"
#: (metric, heading, decimals)
METRICS = (
    ("hf_r", "median HF R vs the true SM, rain-free days", 2),
    ("hf_r_share_of_ceiling", "median rain-free HF R as a share of the noise ceiling", 2),
    ("phase_error_h", "median |phase error| of the composite diurnal minimum (h)", 1),
    ("hf_r_all", "median HF R vs truth, all hours", 2),
    ("rmse_all", "median RMSE vs truth, all hours (m3 m-3)", 3),
    ("coverage_towers", "share of QC-passed tower hours corrected", 2),
    (
        "coverage_towers_method_itself",
        "share of QC-passed tower hours with the method's own value (for a network: a network "
        "value)",
        3,
    ),
    ("tower_r_error", "median |R(SM, LH) - R_truth(SM, LH)| at towers", 2),
    (
        "sign_turned",
        "of the stations whose raw SM-TS composite correlation is positive, the share negative "
        "after the method",
        2,
    ),
)


def _gain_table(result: dict) -> str:
    """:func:`network_gain_by_world` as Markdown, the gains signed (:func:`signed_gain`)."""
    table = network_gain_by_world(result)
    text = ["the network"]
    for col in table.columns:
        if col in GAIN_COLUMNS:
            table[col] = [signed_gain(g) for g in table[col]]
        elif col not in text:
            table[col] = [f"{v:.3f}" if isinstance(v, float) else str(v) for v in table[col]]
    align = ["left"] + ["left" if c in text else "right" for c in table.columns]
    return table.to_markdown(disable_numparse=True, colalign=align)  # keep the signs


def _reading(result: dict) -> str:
    """The targets of issue 18 counted from the run, in one paragraph."""
    scen = result["scenarios"]
    gain = network_gain_by_world(result)["network's gain"]
    hurt = gain[gain < 0]
    share = {w: s.get("recommended", {}).get("hf_r_share_of_ceiling") for w, s in scen.items()}
    share = {w: v for w, v in share.items() if v is not None and np.isfinite(v)}
    high = [f"{w} ({v:.2f})" for w, v in share.items() if v >= 0.95]
    towers = [s.get("recommended", {}).get("tower_r_error") for s in scen.values()]
    towers = [t for t in towers if t is not None and np.isfinite(t)]
    n = len(scen)
    nights = _against(scen, "recommended_no_nights", "without the night equations")
    turned = {w: (s["recommended"].get("sign_turned"), s["recommended"].get("n_positive_raw"))
              for w, s in scen.items() if isinstance(s.get("recommended"), dict)}  # fmt: skip
    left = [f"{w} ({round((1 - t) * k)} of {k})" for w, (t, k) in turned.items()
            if t is not None and k and t < 1.0]  # fmt: skip
    counted = [w for w, (t, _) in turned.items() if t is not None]
    hurts = ", ".join(f"{w} {signed_gain(g)}" for w, g in hurt.items())
    return (
        f"Read with the tables (numbers from this run): the network's gain is below zero in "
        f"{len(hurt)} of {n} worlds{f' ({hurts})' if hurts else ''}; it adds up to "
        f"{gain.max():.2f}. The product reaches 0.95 of the "
        f"noise ceiling in {len(high)} of {n} worlds"
        f"{': ' + ', '.join(high) if high else ''}; its median share over the worlds is "
        f"{np.median(list(share.values())):.3f}{nights}. At the towers the product's R(SM, LH) is "
        f"within 0.1 of the truth's in {sum(t <= 0.1 for t in towers)} of {len(towers)} worlds "
        f"(median error {np.median(towers):.3f})."
        + (
            f" Stations whose raw SM-TS composite correlation is positive are all negative after "
            f"the product in {len(counted) - len(left)} of {len(counted)} worlds"
            f"{'; left positive or zero: ' + ', '.join(left) if left else ''}."
            if counted
            else ""
        )
    )


def _against(scen: dict, other: str, label: str) -> str:
    """`` (LABEL 0.888; with them better by more than 0.005 in N worlds and worse in M, by at
    most D)``: the product's share of the ceiling against ``other``'s; empty without it."""
    pairs = [
        (s["recommended"].get("hf_r_share_of_ceiling"), s[other].get("hf_r_share_of_ceiling"))
        for s in scen.values()
        if isinstance(s.get(other), dict) and isinstance(s.get("recommended"), dict)
    ]
    pairs = [(a, b) for a, b in pairs if a is not None and b is not None]
    if not pairs:
        return ""
    diff = np.array([a - b for a, b in pairs])
    return (
        f" ({label} {np.median([b for _, b in pairs]):.3f}; with them better by more than "
        f"0.005 in {int((diff > 0.005).sum())} worlds and worse in {int((diff < -0.005).sum())}"
        f", by at most {max(0.0, -diff.min()):.3f})"
    )


def tables(result: dict) -> str:
    """The Markdown block between the markers."""
    parts = [
        "**The network's gain per world** (product minus the same fit without the network, "
        "median rain-free HF R)",
        _gain_table(result),
        _reading(result),
        "What the numbers say (generated from `results/bench_skill.json` by "
        "`smlib.evaluation.skill.describe_cross_scenario`):",
        describe_cross_scenario(result),
    ]
    for metric, heading, decimals in METRICS:
        parts += [
            f"**{heading}**",
            cross_scenario_table(result, metric).round(decimals).to_markdown(),
        ]
    return "\n\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    result = json.loads(Path(args[0] if args else RESULT).read_text())
    text = README.read_text()
    if START not in text or END not in text:
        print(f"{README}: no {START} ... {END} block", file=sys.stderr)
        return 2
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    README.write_text(f"{head}{START}\n\n{tables(result)}\n\n{END}{tail}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
