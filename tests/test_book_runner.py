"""The book runner: strict params files, the generated TOC, skipping, failing notebooks."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
import yaml

import smlib.report.book
from smlib.report.book import NotebookFailed, build_book, execution_key, load_plan, toc_yaml

ROOT = Path(__file__).resolve().parents[1]
PROFILES = ("quick", "paper")


def _notebook(path: Path, body: str, params: str = "") -> Path:
    """A minimal notebook with the runner's parameters cell and one content cell."""
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(
        f"data_dir = None\nwork_dir = None\nprofile = 'quick'\n{params}"
    )
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [cell, nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)
    return path


def _plan(path: Path, notebooks: list[dict], **extra: object) -> Path:
    path.write_text(yaml.safe_dump({"profile": "quick", "notebooks": notebooks, **extra}))
    return path


@pytest.mark.parametrize("profile", PROFILES)
def test_profiles_load_and_list_existing_notebooks(profile: str) -> None:
    plan = load_plan(ROOT / "params" / f"{profile}.yml")
    assert plan.profile == profile
    for spec in plan.notebooks:
        assert (ROOT / "notebooks" / spec.notebook).is_file()


def test_committed_toc_is_the_one_generated_from_the_params() -> None:
    quick, paper = (load_plan(ROOT / "params" / f"{p}.yml") for p in PROFILES)
    assert [s.notebook for s in quick.notebooks] == [s.notebook for s in paper.notebooks]
    assert (ROOT / "book" / "_toc.yml").read_text() == toc_yaml(quick)
    toc = yaml.safe_load(toc_yaml(quick))
    files = [c["file"] for part in toc["parts"] for c in part["chapters"]]
    assert files[: len(quick.notebooks)] == [f"sections/{s.stem}" for s in quick.notebooks]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"profile": "quick", "notebooks": [{"notebook": "a.ipynb"}], "extra": 1}, "unknown key"),
        ({"profile": "quick", "notebooks": [{"notebook": "a.ipynb", "param": {}}]}, "unknown key"),
        ({"profile": "quick", "notebooks": []}, "non-empty"),
        ({"notebooks": [{"notebook": "a.ipynb"}]}, "missing required key 'profile'"),
        (
            {
                "profile": "quick",
                "notebooks": [{"notebook": "a.ipynb", "parameters": {"data_dir": 1}}],
            },
            "set by the runner",
        ),
        (
            {"profile": "quick", "notebooks": [{"notebook": "a.ipynb"}, {"notebook": "a.ipynb"}]},
            "twice",
        ),
    ],
)
def test_load_plan_is_strict(tmp_path: Path, content: dict, message: str) -> None:
    path = tmp_path / "bad.yml"
    path.write_text(yaml.safe_dump(content))
    with pytest.raises(ValueError, match=message) as err:
        load_plan(path)
    assert str(path) in str(err.value)


def test_execution_key_changes_with_each_input(tmp_path: Path) -> None:
    nb = _notebook(tmp_path / "a.ipynb", "x = 1")
    base = execution_key(nb, {"a": 1}, "data", "lib", "")
    assert base == execution_key(nb, {"a": 1}, "data", "lib", "")
    assert base != execution_key(nb, {"a": 2}, "data", "lib", "")
    assert base != execution_key(nb, {"a": 1}, "data2", "lib", "")
    assert base != execution_key(nb, {"a": 1}, "data", "lib2", "")
    assert base != execution_key(nb, {"a": 1}, "data", "lib", "upstream")
    _notebook(nb, "x = 2")
    assert base != execution_key(nb, {"a": 1}, "data", "lib", "")


def test_undeclared_parameter_is_refused_before_running(tmp_path: Path) -> None:
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    _notebook(nbs / "a.ipynb", "x = 1")
    params = _plan(tmp_path / "p.yml", [{"notebook": "a.ipynb", "parameters": {"typo": 3}}])
    with pytest.raises(ValueError, match="typo"):
        build_book(params=params, book_dir=tmp_path / "book", notebooks_dir=nbs, data=tmp_path)
    assert not (tmp_path / "book" / "sections" / "a.ipynb").exists()


@pytest.mark.slow
def test_failing_notebook_stops_with_its_traceback_and_keeps_earlier_copies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        smlib.report.book.build, "library_digest", lambda pattern="**/*.py": "fixed"
    )
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    _notebook(
        nbs / "a.ipynb",
        "from pathlib import Path\nPath(work_dir, 'a.txt').write_text(str(n))",
        "n = 1\n",
    )
    _notebook(nbs / "b.ipynb", "raise RuntimeError(f'broken on purpose {n}')", "n = 1\n")
    _notebook(nbs / "c.ipynb", "y = 3")
    params = _plan(
        tmp_path / "p.yml",
        [
            {"notebook": "a.ipynb", "parameters": {"n": 7}},
            {"notebook": "b.ipynb", "parameters": {"n": 8}},
            {"notebook": "c.ipynb"},
        ],
    )
    data = tmp_path / "data"
    data.mkdir()
    kwargs = dict(
        params=params,
        book_dir=tmp_path / "book",
        notebooks_dir=nbs,
        work_root=tmp_path / "work",
        data=data,
        skip_html=True,
    )
    with pytest.raises(NotebookFailed) as err:
        build_book(**kwargs)
    assert err.value.notebook == "b.ipynb"
    assert err.value.ename == "RuntimeError"
    assert "broken on purpose 8" in str(err.value)
    assert "\x1b[" not in str(err.value)  # no terminal colour codes in the message
    sections = tmp_path / "book" / "sections"
    assert (sections / "a.ipynb").is_file() and (sections / "a.key.json").is_file()
    assert (sections / "b.failed.ipynb").is_file()
    assert not (sections / "b.ipynb").exists() and not (sections / "c.ipynb").exists()
    # a data folder gets its own work folder (never the twin's book-work/quick)
    work_dir = smlib.report.book.book_work_dir(tmp_path / "work", "quick", data)
    assert work_dir.name.startswith("quick-data-") and (work_dir / "a.txt").read_text() == "7"

    # fix b: a is reused, b and c run
    _notebook(nbs / "b.ipynb", "z = n", "n = 1\n")
    build_book(**kwargs)
    timings = json.loads((sections / "_timings.json").read_text())["notebooks"]
    assert {k: v["status"] for k, v in timings.items()} == {
        "a": "up to date",
        "b": "executed",
        "c": "executed",
    }
    assert not (sections / "b.failed.ipynb").exists()
