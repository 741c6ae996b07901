"""The package layout: layers hold, no import circle, the architecture page matches the code."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest

from smlib.digests import PACKAGE_DIR

ROOT = Path(__file__).resolve().parents[1]

_spec = importlib.util.spec_from_file_location("architecture", ROOT / "scripts" / "architecture.py")
architecture = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(architecture)

#: Modules allowed above ~600 lines, and why.
LONG_MODULES = {
    # one reader per format: the CEOP and Header+values layouts, the zip/tree walk and the
    # interrupted-download checks share one file's parsing state
    "io/ismn.py": 700,
    # ERA5-Land and MERRA-2 share the grid joining, de-accumulation and overlap merge
    "io/reanalysis.py": 750,
    # a table: one documented Scenario per world (knobs, units, sources); splitting it would
    # scatter the worlds a reader compares side by side
    "synth/scenarios.py": 700,
    # one documented dataclass per run section, the profiles and their checks: a user reads
    # every knob of a run, its units and where it was chosen, in one place
    "config.py": 700,
}


@pytest.fixture(scope="module")
def graph():
    return architecture.import_graph()


def test_no_import_climbs_a_layer(graph):
    assert architecture.climbing_arrows(graph) == []


def test_no_import_circle(graph):
    assert architecture.circles(graph) == []


def test_a_climbing_arrow_and_a_circle_are_found():
    """The checks can fail: a method module importing the report, and a two-module circle."""
    fake = {
        "smlib.method.correct": ("smlib.report.plots", "smlib.config"),
        "smlib.report.plots": ("smlib.evaluation.metrics",),
        "smlib.evaluation.metrics": ("smlib.ops.scale",),  # sideways into a sibling
        "smlib.ops.scale": ("smlib.method.correct",),
        "smlib.config": (),
    }
    assert architecture.climbing_arrows(fake) == [
        "smlib.evaluation.metrics (evaluation) -> smlib.ops.scale (ops)",
        "smlib.method.correct (method) -> smlib.report.plots (report)",
    ]
    assert architecture.circles(fake) == [
        [
            "smlib.evaluation.metrics",
            "smlib.method.correct",
            "smlib.ops.scale",
            "smlib.report.plots",
        ]
    ]


def test_every_package_is_in_a_layer_and_says_what_it_owns():
    top = sorted(p.name for p in PACKAGE_DIR.iterdir() if (p / "__init__.py").is_file())
    in_layers = {pkg for layer in architecture.LAYERS for pkg in layer}
    assert set(top) <= in_layers
    for name in top:
        doc = ast.get_docstring(ast.parse((PACKAGE_DIR / name / "__init__.py").read_text()))
        assert doc and len(doc.split()) >= 12, f"smlib.{name} has no docstring of what it owns"
        assert "may import" in doc.lower(), (
            f"smlib.{name}'s docstring does not say what it may import"
        )


def test_top_of_the_package_holds_only_shared_modules():
    modules = sorted(p.stem for p in PACKAGE_DIR.glob("*.py") if p.stem != "__init__")
    assert set(modules) <= {*architecture.SHARED, "cli", "__main__"}, modules


def test_no_module_is_over_600_lines_unless_said_why():
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        rel = path.relative_to(PACKAGE_DIR).as_posix()
        n = len(path.read_text().splitlines())
        assert n <= LONG_MODULES.get(rel, 620), f"smlib/{rel} has {n} lines"


def test_architecture_page_shows_the_layers_of_this_code(graph):
    page = (ROOT / "docs" / "architecture.md").read_text()
    assert architecture.document_block(graph) in page, (
        "docs/architecture.md is out of date: run python scripts/architecture.py --write"
    )
