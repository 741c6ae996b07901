"""Committed notebooks are sources: no outputs, no execution counts, a parameters cell."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from smlib.report.book import RUNNER_PARAMETERS

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks() -> None:
    assert NOTEBOOKS, "notebooks/ holds no notebook"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_clean(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    dirty = [
        i
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count"))
    ]
    assert not dirty, f"{path.name}: cells {dirty} have outputs or execution counts"
    assert "widgets" not in nb.metadata, f"{path.name}: saved widget state in the source"
    assert "papermill" not in nb.metadata, f"{path.name}: this is an executed copy"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_has_a_parameters_cell_declaring_the_runner_parameters(path: Path) -> None:
    import papermill

    nb = nbformat.read(path, as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: expected exactly one 'parameters'-tagged cell"
    declared = set(papermill.inspect_notebook(str(path)))
    missing = set(RUNNER_PARAMETERS) - declared
    assert not missing, f"{path.name}: parameters cell does not declare {sorted(missing)}"
