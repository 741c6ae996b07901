"""smlib.report.book.present_parameters: one visible parameters cell, holding the executed values."""

from __future__ import annotations

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from smlib.report.book import present_parameters

DEFAULTS = """# Parameters (papermill replaces this cell's values)
data_dir = None  # data folder
days = 7  # length of the figure, days
twin = {
    "n_stations": 4,
}  # keyword arguments of the twin
note = "a # inside a string"
"""


def _executed(defaults: str = DEFAULTS) -> nbformat.NotebookNode:
    return new_notebook(
        cells=[
            new_code_cell("import os"),
            new_code_cell(defaults, metadata={"tags": ["parameters"]}),
            new_code_cell(
                '# Parameters\ndata_dir = "../build/twin"\ndays = 3\n',
                metadata={"tags": ["injected-parameters"]},
            ),
            new_code_cell("print(days)"),
        ]
    )


def _namespace(source: str) -> dict:
    scope: dict = {}
    exec(source, scope)  # the notebook's own parameter cells
    scope.pop("__builtins__")
    return scope


def test_one_visible_cell_with_every_value_as_executed() -> None:
    nb = _executed()
    given = {"data_dir": "../build/twin", "days": 3}
    assert present_parameters(nb, given)
    defaults_cell, injected = nb.cells[1], nb.cells[2]
    assert "remove-cell" in defaults_cell.metadata["tags"]
    assert "remove-cell" not in injected.metadata["tags"]
    assert injected.metadata["tags"] == ["injected-parameters"]
    # running the shown cell gives what defaults + papermill's cell gave
    expected = _namespace(DEFAULTS)
    expected.update(given)
    assert _namespace(injected.source) == expected
    lines = injected.source.splitlines()
    # each value below the comment it had in the defaults cell; given values marked
    at = lines.index('data_dir = "../build/twin"  # set for this build')
    assert lines[at - 1] == "# data folder"
    at = lines.index("days = 3  # set for this build")
    assert lines[at - 1] == "# length of the figure, days"
    at = lines.index("twin = {")
    assert lines[at - 1] == "# keyword arguments of the twin" and lines[at + 2] == "}"
    assert lines[-1] == 'note = "a # inside a string"'  # a '#' in a string is no comment


def test_a_defaults_cell_with_code_is_folded_not_rewritten() -> None:
    nb = _executed("import math\ndays = math.floor(7.5)  # days\n")
    source = nb.cells[2].source
    assert present_parameters(nb, {"days": 3})
    assert nb.cells[1].metadata["tags"] == ["parameters", "hide-input"]
    assert nb.cells[2].source == source


def test_a_notebook_without_injected_parameters_is_left_alone() -> None:
    nb = _executed()
    del nb.cells[2]
    assert not present_parameters(nb, {})
    assert nb.cells[1].metadata["tags"] == ["parameters"]
