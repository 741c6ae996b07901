"""Every notebook of the book runs under papermill with tiny parameters.

One tiny study (a twin of 8 stations x 120 days, a one-epoch model) is computed once per test
session by :func:`smlib.report.pipeline.run_pipeline`; every notebook then gets the same parameters, as
the book runner gives them, so its own ``run_pipeline`` call reuses the cached stages and only
the notebook's tables and figures are computed.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))

TINY_TWIN = {"n_stations": 8, "n_days": 120, "seed": 0}
TINY_OVERRIDES = [
    "train.max_epochs=1",
    "model.hidden_size=8",
    "train.max_samples_per_epoch=512",
    "train.max_val_samples=512",
    "train.num_threads=1",
]
TINY_MIN_DAYS = 30
#: Extra tiny parameters per notebook (only those the notebook declares are passed).
TINY_EXTRA = {
    "00_overview": {"map_extent": [-170.0, 20.0, 20.0, 75.0]},
    "07_explorer": {"dpi": 30, "zoom_weeks": 1},
}
#: A cell running longer than this fails the test instead of hanging the suite.
CELL_TIMEOUT_S = 240
#: The skeleton of ../shared/CONVENTIONS.md item 1, in order (regex on markdown headings).
SKELETON = (r"^# \S", r"^## Overview", r"^## Prerequisites", r"^## Imports")
ENDING = (r"^## Summary", r"^### What's next\?", r"^## References")


def _outputs(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]


def _images(nb: nbformat.NotebookNode) -> int:
    return sum("image/png" in o.get("data", {}) for o in _outputs(nb))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_follows_the_skeleton(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    headings = [
        line
        for c in nb.cells
        if c.cell_type == "markdown"
        for line in c.source.splitlines()
        if line.startswith("#")
    ]
    found = [next((i for i, h in enumerate(headings) if re.match(p, h)), -1) for p in SKELETON]
    assert -1 not in found and found == sorted(found), f"{path.name}: headings {headings}"
    tail = [next((i for i, h in enumerate(headings) if re.match(p, h)), -1) for p in ENDING]
    assert -1 not in tail and tail == sorted(tail) and tail[0] > found[-1], headings
    params = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    imports = next(i for i, c in enumerate(nb.cells) if c.source.startswith("## Imports"))
    assert imports < params, f"{path.name}: the parameters cell must follow the imports"


@pytest.fixture(scope="session")
def tiny_study(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Write a tiny twin and run the whole pipeline on it once; return the common parameters."""
    from smlib.report.pipeline import run_pipeline
    from smlib.synth import write_twin

    root = tmp_path_factory.mktemp("study")
    data = write_twin(root / "data", **TINY_TWIN)
    params = {
        "data_dir": str(data),
        "work_dir": str(root / "work"),
        "profile": "quick",
        "overrides": TINY_OVERRIDES,
        "twin": TINY_TWIN,
        "min_days": TINY_MIN_DAYS,
    }
    products = run_pipeline(
        data_dir=data,
        work_dir=params["work_dir"],
        overrides=TINY_OVERRIDES,
        twin=TINY_TWIN,
        min_days=TINY_MIN_DAYS,
    )
    return {"params": params, "products": products, "out": root / "executed"}


@pytest.fixture(scope="session")
def kernel() -> str:
    from smlib.report.book.execution import kernel_name as _kernel_name

    return _kernel_name()


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_with_tiny_parameters(path: Path, tiny_study: dict, kernel: str) -> None:
    import papermill

    declared = set(papermill.inspect_notebook(str(path)))
    wanted = {**tiny_study["params"], **TINY_EXTRA.get(path.stem, {})}
    out = tiny_study["out"] / path.name
    out.parent.mkdir(exist_ok=True)
    papermill.execute_notebook(
        str(path),
        str(out),
        parameters={k: v for k, v in wanted.items() if k in declared},
        kernel_name=kernel,
        cwd=str(NOTEBOOK_DIR),
        progress_bar=False,
        execution_timeout=CELL_TIMEOUT_S,
    )
    nb = nbformat.read(out, as_version=4)
    errors = [o for o in _outputs(nb) if o.output_type == "error"]
    assert not errors
    if path.stem[:2] in {"01", "02", "03", "04", "05", "06"}:
        assert _images(nb) >= 1, f"{path.name} shows no figure"
    if path.stem == "00_overview":  # the data paragraph follows the build's data (the twin)
        texts = [str(o.get("data", {}).get("text/markdown", "")) for o in _outputs(nb)]
        (data,) = [t for t in texts if t.startswith("The data of this build are")]
        assert data.startswith("The data of this build are the embedded synthetic twin"), data
        assert "ERA5-Land and MERRA-2 are sampled at the stations" in data
    if {"overrides", "twin", "min_days"} <= declared:
        # every stage was reused: the notebook got the very parameters of the shared run
        timings = next(
            o["data"]["text/plain"]
            for o in _outputs(nb)
            if "'evaluate':" in o.get("data", {}).get("text/plain", "")
        )
        assert re.findall(r"'(\w+)': ([\d.]+)", timings), timings
        assert all(float(v) == 0.0 for _, v in re.findall(r"'(\w+)': ([\d.]+)", timings))


@pytest.mark.slow
def test_evaluation_notebook_shows_every_part_on_the_twin(tiny_study: dict, kernel: str) -> None:
    path = tiny_study["out"] / "04_evaluation.ipynb"
    if not path.exists():
        test_notebook_runs_with_tiny_parameters(NOTEBOOK_DIR / path.name, tiny_study, kernel)
    nb = nbformat.read(path, as_version=4)
    texts = [str(o.get("data", {}).get("text/markdown", "")) for o in _outputs(nb)]
    assert not [t for t in texts if "Not available" in t]
    assert _images(nb) >= 7  # Figs. 3 (LSTM, FFT), 4, 5, 6a, 6b and skill vs truth


@pytest.mark.slow
def test_explorer_notebook_saves_a_selectable_widget_state(tiny_study: dict, kernel: str) -> None:
    path = tiny_study["out"] / "07_explorer.ipynb"
    if not path.exists():
        test_notebook_runs_with_tiny_parameters(NOTEBOOK_DIR / path.name, tiny_study, kernel)
    nb = nbformat.read(path, as_version=4)
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    by_model: dict[str, list[dict]] = {}
    for model_id, model in state.items():
        by_model.setdefault(model["model_name"], []).append({"id": model_id, **model["state"]})
    (stack,) = [m for m in by_model["StackModel"] if "smlib-explorer-plots" in m["_dom_classes"]]
    import xarray as xr

    with xr.open_dataset(tiny_study["products"].corrected) as ds:
        n_station = ds.sizes["station"]
    assert len(stack["children"]) == n_station
    assert {c.removeprefix("IPY_MODEL_") for c in stack["children"]} <= set(state)
    station = next(
        m for m in by_model["DropdownModel"] if "smlib-explorer-station" in m["_dom_classes"]
    )
    assert len(station["_options_labels"]) == n_station
    links = [(m["source"], m["target"]) for m in by_model["LinkModel"]]
    assert (
        [f"IPY_MODEL_{station['id']}", "index"],
        [f"IPY_MODEL_{stack['id']}", "selected_index"],
    ) in links
