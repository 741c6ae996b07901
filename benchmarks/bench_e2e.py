"""End-to-end wall time of the README's main command (``./run book``), by stage.

The book build records its own stage timings (:mod:`smlib.report.book` writes
``book/sections/_timings.json``: synthetic twin, each notebook, HTML); this benchmark does not
rebuild the book -- it collects the timings of the last build (and any ``build/*/timings.json``
left by other runners) so that they sit with the other benchmark results. Run ``./run book``
first for fresh numbers; without a build the result says so.
"""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = (ROOT / "book" / "sections" / "_timings.json", *sorted(ROOT.glob("build/*/timings.json")))


def _stages(t: dict) -> dict[str, float]:
    """Flatten a book timings dict to ``{stage: seconds}``."""
    out: dict[str, float] = {}
    if isinstance(t.get("twin"), dict):
        out["twin"] = float(t["twin"].get("s", 0.0))
    for name, nb in (t.get("notebooks") or {}).items():
        out[f"notebook:{name}"] = float(nb.get("s", 0.0))
    for name, sec in (t.get("pipeline") or {}).items():  # cached stages run inside notebooks
        out[f"pipeline:{name}"] = float(sec)
    if t.get("html_s") is not None:
        out["html"] = float(t["html_s"])
    return out


def run(quick: bool = False) -> dict:
    """Collect the recorded stage timings; JSON-ready dict (``found: false`` when none)."""
    found = []
    for path in SOURCES:
        if not path.is_file():
            continue
        try:
            t = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            found.append({"file": str(path.relative_to(ROOT)), "error": f"unreadable: {err}"})
            continue
        stages = _stages(t)
        found.append(
            {
                "file": str(path.relative_to(ROOT)),
                "profile": t.get("profile"),
                "built_at": t.get("built_at"),
                "stages_s": stages,
                "total_s": t.get("total_s"),
                "recorded": t,
            }
        )
    ok = [f for f in found if "stages_s" in f]
    summary: dict = {"found": bool(ok)}
    if ok:
        main = ok[0]
        summary.update(
            source=main["file"],
            profile=main["profile"],
            built_at=main["built_at"],
            total_s=None if main["total_s"] is None else round(main["total_s"], 1),
            stages_s={k: round(v, 1) for k, v in main["stages_s"].items()},
            note="'up to date' stages were cached (0 s); rebuild from clean for full timings",
        )
    else:
        summary["note"] = "no recorded build timings: run ./run book first"
    return {"sources": found, "summary": summary}
