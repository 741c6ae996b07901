"""The digests that decide when a cached stage or notebook is stale."""

from __future__ import annotations

import os

import pytest

from smlib.digests import (
    PACKAGE_DIR,
    json_digest,
    module_sources,
    package_modules,
    source_digest,
    tree_signature,
)
from smlib.report.pipeline import STAGE_MODULES


def _names(paths):
    return {p.relative_to(PACKAGE_DIR).as_posix() for p in paths}


def test_module_sources_follow_imports_transitively():
    names = _names(module_sources(["smlib.report.study"]))
    # the package, its section modules, and what they import in turn
    assert {
        "report/study/__init__.py",
        "report/study/training.py",
        "report/study/reports.py",
    } <= names
    assert {
        "report/plots/__init__.py",
        "report/plots/style.py",
        "method/registry.py",
        "data/schema.py",
    } <= names
    assert "__init__.py" in names  # importing smlib.report.study runs smlib/__init__.py first
    assert "method/train.py" not in names  # nothing in the study helpers trains


def test_function_level_imports_count():
    # smlib.report.pipeline imports each stage's entry point inside a function
    names = _names(module_sources(["smlib.report.pipeline"]))
    assert {"method/train.py", "method/correct.py", "report/evaluate.py", "synth/twin.py"} <= names


def test_stages_depend_on_the_modules_they_run():
    train = _names(module_sources(STAGE_MODULES["train"]))
    assert {
        "method/train.py",
        "method/runfolder.py",
        "method/model.py",
        "method/preprocess.py",
        "config.py",
    } <= train
    assert "report/plots/style.py" not in train
    evaluate = _names(module_sources(STAGE_MODULES["evaluate"]))
    assert {"report/evaluate.py", "evaluation/metrics.py", "report/plots/reference.py"} <= evaluate
    assert STAGE_MODULES["train_baseline"] == STAGE_MODULES["train"]


def test_unknown_module_is_an_error():
    with pytest.raises(ValueError, match="numpy"):
        module_sources(["numpy"])
    with pytest.raises(ValueError, match="smlib.nothing"):
        module_sources(["smlib.nothing"])


def test_source_digest_is_stable_and_distinguishes():
    assert source_digest(["smlib.timeutils"]) == source_digest(["smlib.timeutils"])
    assert source_digest(["smlib.timeutils"]) != source_digest(["smlib.atomic"])
    assert "smlib.report.plots.style" in package_modules() and "smlib" in package_modules()


def test_json_digest_ignores_key_order():
    assert json_digest({"a": 1, "b": [1, 2]}) == json_digest({"b": [1, 2], "a": 1})
    assert json_digest({"a": 1}) != json_digest({"a": 2})


def test_tree_signature_sees_new_and_touched_files(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "a.txt").write_text("1")
    first = tree_signature(folder)
    assert tree_signature(folder) == first
    (folder / "b.txt").write_text("2")
    second = tree_signature(folder)
    assert second != first
    st = (folder / "a.txt").stat()
    os.utime(folder / "a.txt", ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert tree_signature(folder) != second
    assert tree_signature(folder / "a.txt") != tree_signature(folder)
    assert tree_signature(None) is None
