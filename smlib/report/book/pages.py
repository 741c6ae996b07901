"""The generated pages of the book: the build notice, the results at a glance and the
reproducibility page (versions, profile, data, timings, benchmarks).
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import os
import platform
from pathlib import Path
from typing import Any

from smlib import __version__
from smlib.atomic import atomic_write_text
from smlib.report.book.plan import BookPlan

__all__ = [
    "write_if_changed",
    "read_json",
    "display_path",
    "glance_md",
    "build_info_md",
    "reproducibility_md",
]

log = logging.getLogger(__name__)

#: Distributions whose versions the reproducibility page lists.
_REPORTED_PACKAGES = (
    "numpy",
    "pandas",
    "xarray",
    "scipy",
    "torch",
    "dask",
    "matplotlib",
    "cartopy",
    "shapely",
    "pyshp",
    "netCDF4",
    "h5netcdf",
    "ismn",
    "papermill",
    "nbclient",
    "ipykernel",
    "ipywidgets",
    "jupyter-book",
    "sphinx",
    "myst-nb",
    "sphinx-book-theme",
)


# helpers
# --------------------------------------------------------------------------------------------
def write_if_changed(path: Path, text: str) -> bool:
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return False
    atomic_write_text(path, text)
    return True


def _versions() -> dict[str, str]:
    versions = {"python": platform.python_version(), "smlib": __version__}
    for dist in _REPORTED_PACKAGES:
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def display_path(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root))
    except ValueError:
        return str(path)


def _fence(text: str, lang: str = "") -> str:
    return f"````{lang}\n{text.rstrip()}\n````\n"


def glance_md(plan: BookPlan, work_dir: Path) -> str:
    """The introduction's results at a glance, from this build's evaluation summary."""
    from smlib.report.glance import GLANCE_SECTIONS, glance_markdown

    stems = {spec.stem for spec in plan.notebooks}
    pages = {topic: f"sections/{stem}" for topic, stem in GLANCE_SECTIONS.items() if stem in stems}
    # smlib.report.pipeline.run_pipeline writes the evaluation into <work_dir>/report_<name>/; the
    # newest one is that of the notebooks just run
    reports = sorted(work_dir.glob("report_*/summary.json"), key=lambda p: p.stat().st_mtime)
    summary = read_json(reports[-1]) if reports else None
    if reports:
        log.info("results at a glance from %s", reports[-1])
    return glance_markdown(summary if isinstance(summary, dict) else None, pages)


def build_info_md(plan: BookPlan, data_label: str, built_at: str) -> str:
    return (
        ":::{admonition} How this book was built\n"
        ":class: note\n"
        f"Built on {built_at} with the **{plan.profile}** profile "
        f"(`params/{plan.source.name}`) on {data_label}, smlib {__version__}. "
        f"{plan.description}\n"
        "See [reproducibility](reproducibility.md) for versions and timings.\n"
        ":::\n"
    )


def reproducibility_md(
    plan: BookPlan,
    data_label: str,
    built_at: str,
    timings: dict[str, Any],
    previous_html_s: float | None,
    book_dir: Path,
    root: Path,
) -> str:
    out = [
        "## Build",
        "",
        "| | |",
        "| --- | --- |",
        f"| profile | **{plan.profile}** (`{plan.source.name}`) |",
        f"| data | {data_label} |",
        f"| built | {built_at} |",
        f"| machine | {platform.platform()}, {os.cpu_count()} CPU cores |",
        "",
        "### Parameters",
        "",
        _fence(plan.source.read_text(encoding="utf-8"), "yaml"),
        "## Timings",
        "",
        "| stage | status | seconds |",
        "| --- | --- | ---: |",
    ]
    if timings.get("twin") is not None:
        out.append(f"| synthetic twin | {timings['twin']['status']} | {timings['twin']['s']:.1f} |")
    for name, t in timings["notebooks"].items():
        out.append(f"| `{name}` | {t['status']} | {t['s']:.1f} |")
    if previous_html_s is not None:
        out.append(f"| HTML (previous build) | | {previous_html_s:.1f} |")
    stages = timings.get("pipeline") or {}
    if stages:
        out += [
            "",
            "The notebooks share the cached stages of `smlib.report.pipeline`; each took, when it last",
            "ran for this build (inside the first notebook that needed it):",
            "",
            "| pipeline stage | seconds |",
            "| --- | ---: |",
        ]
        out += [f"| {name} | {sec:.1f} |" for name, sec in stages.items()]
    out += ["", "## Versions", "", "| package | version |", "| --- | --- |"]
    out += [f"| {k} | {v} |" for k, v in _versions().items()]
    vendor = read_json(book_dir / "_assets" / "vendor" / "VERSIONS.json") or {}
    out += [f"| {k} (npm, served from the book) | {v} |" for k, v in sorted(vendor.items())]
    from smlib.report.naturalearth import natural_earth_dir

    ne = read_json(natural_earth_dir() / "SOURCE.json")
    if ne:
        out.append(
            f"| Natural Earth {ne['resolution']} (from world-atlas) | `{ne['sha256'][:12]}` |"
        )
    manifest = root / "data_manifest.yml"
    if manifest.is_file():
        out += ["", "## Data manifest", "", f"`{manifest.name}`:", ""]
        out.append(_fence(manifest.read_text(encoding="utf-8"), "yaml"))
    results = sorted((root / "benchmarks" / "results").glob("*.json"))
    if results:
        out += [
            "",
            "## Benchmarks",
            "",
            "Measured by `./run bench` (`python -m benchmarks`); every speed is also given as a "
            "ratio to a baseline run in the same process, so that noisy machines still compare. "
            "The headline numbers of each benchmark, then the machine it ran on; the full "
            "results are in the JSON files named.",
            "",
        ]
        for path in results:
            payload = read_json(path)
            if not isinstance(payload, dict):
                out += [f"`benchmarks/results/{path.name}`: unreadable JSON", ""]
                continue
            shown = {k: payload[k] for k in ("summary", "_machine") if k in payload} or payload
            text = json.dumps(shown, indent=2)
            out += [f"### `{path.stem}`", "", _fence(text, "json")]
    return "\n".join(out) + "\n"
