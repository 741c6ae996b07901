"""The ``smlib`` verbs end to end on tiny data, bad input at the command line, ``book --set``.

``synth -> ingest -> train -> correct -> evaluate`` runs in-process through
:func:`smlib.cli.main` on a twin of 8 stations x 120 days with a one-epoch model; an ISMN-only
copy of it takes the in-situ feature set. Bad input must give exit code 2 and one line, with
the traceback only under ``-v``.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest
import torch
import xarray as xr

from smlib.cli import build_parser, main
from smlib.report.book import NotebookFailed, book_work_dir, load_plan, split_overrides
from smlib.report.pipeline import choices_for_data

torch.set_num_threads(1)

ROOT = Path(__file__).resolve().parents[1]
TINY = [
    "train.max_epochs=1",
    "model.hidden_size=8",
    "train.max_samples_per_epoch=512",
    "train.max_val_samples=256",
    "train.num_threads=1",
    "train.device=cpu",
]


def _sets(overrides: list[str]) -> list[str]:
    return [a for o in overrides for a in ("--set", o)]


@pytest.fixture(scope="module")
def twin(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "twin"
    assert main(["synth", str(out), "--stations", "8", "--days", "120", "--seed", "0"]) == 0
    return out


@pytest.mark.slow
def test_verbs_end_to_end(twin, tmp_path):
    cube = tmp_path / "cube.nc"
    args = ["ingest", "--ismn", str(twin / "ismn"), "--era5", str(twin / "era5land"),
            "--merra2", str(twin / "merra2"), "--fluxnet", str(twin / "fluxnet"),
            "--min-days", "30", "--out", str(cube)]  # fmt: skip
    assert main(args) == 0
    with xr.open_dataset(cube) as ds:
        assert {"sm", "ts", "era5_sm", "merra2_lh", "insitu_rain_source"} <= set(ds.data_vars)
    run = tmp_path / "run"
    assert main(["train", str(cube), "--out", str(run), "--profile", "quick", *_sets(TINY)]) == 0
    assert (run / "best.pt").is_file()
    corrected = tmp_path / "corrected.nc"
    assert main(["correct", str(cube), "--model", str(run), "--out", str(corrected),
                 "--methods", "lstm,fft"]) == 0  # fmt: skip
    with xr.open_dataset(corrected) as ds:
        assert {"sm_lstm", "sm_fft"} <= set(ds.data_vars)
    report = tmp_path / "report"
    assert main(["evaluate", str(corrected), "--truth", str(twin / "truth.nc"),
                 "--out", str(report)]) == 0  # fmt: skip
    assert json.loads((report / "summary.json").read_text())


@pytest.mark.slow
def test_ismn_only_data_train_with_the_insitu_feature_set(twin, tmp_path, caplog):
    only = tmp_path / "ismn_only"
    shutil.copytree(twin / "ismn", only / "ismn")
    cube = tmp_path / "cube.nc"
    assert main(["ingest", "--ismn", str(only / "ismn"), "--min-days", "30",
                 "--out", str(cube)]) == 0  # fmt: skip
    choice = choices_for_data(cube, TINY)
    assert choice["feature_set"] == "insitu" and choice["dropped_methods"] == ["fft"]
    assert choice["overrides"][-1] == "preprocess.feature_set=insitu"
    run = tmp_path / "run"
    with caplog.at_level(logging.INFO, logger="smlib.method.train"):
        assert (
            main(["train", str(cube), "--out", str(run), "--profile", "quick", *_sets(TINY)]) == 0
        )
    assert "feature set insitu: the data hold no ERA5-Land and MERRA-2" in caplog.text
    assert "feature_set: insitu" in (run / "config.yaml").read_text()
    # a user's choice always wins
    assert choices_for_data(cube, ["preprocess.feature_set=paper14"])["feature_set"] == "paper14"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["ingest", "--ismn", "{tmp}/absent", "--out", "{tmp}/c.nc"], "does not exist"),
        (["train", "{tmp}/absent.nc", "--out", "{tmp}/run"], "absent.nc"),
        (["correct", "{tmp}/junk.nc", "--out", "{tmp}/o.nc", "--methods", "fft"], "junk.nc"),
        (["evaluate", "{tmp}/junk.nc", "--out", "{tmp}/r"], "junk.nc"),
        (
            ["ingest", "--ismn", "{tmp}/bad", "--on-error", "raise", "--out", "{tmp}/c.nc"],
            "soil moisture 40 outside",
        ),  # fmt: skip
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(tmp_path, capsys, caplog, argv, message, stm_writer):
    import pandas as pd

    (tmp_path / "junk.nc").write_bytes(b"CDF\x01 truncated")
    t = pd.date_range("2020-01-01", periods=3, freq="h")
    stm_writer(tmp_path / "bad", "N", "S", "sm", 0, 0.05, "EC5", t, [0.2, 40.0, 0.2])
    argv = [a.format(tmp=tmp_path) for a in argv]
    caplog.clear()
    with caplog.at_level(logging.ERROR):
        assert main(argv) == 2
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and message in errors[0].getMessage()
    assert "\n" not in errors[0].getMessage() and not errors[0].exc_info
    assert "Traceback" not in capsys.readouterr().err
    caplog.clear()
    with caplog.at_level(logging.ERROR):
        assert main(["-v", *argv]) == 2
    assert any(r.exc_info for r in caplog.records)  # -v shows the traceback


def test_internal_errors_are_one_line_too(monkeypatch, caplog):
    import smlib.cli

    def boom(a):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(smlib.cli, "_cmd_data", boom)
    with caplog.at_level(logging.ERROR):
        assert main(["data"]) == 1
    assert "internal error ZeroDivisionError: division by zero" in caplog.text


def test_ingest_and_book_options_parse():
    a = build_parser().parse_args(
        ["ingest", "--ismn", "x", "--out", "c.nc", "--on-error", "raise", "--sensor-map", "m.yml"]
    )
    assert (a.on_error, a.sensor_map) == ("raise", "m.yml")
    assert build_parser().parse_args(["ingest", "--ismn", "x", "--out", "c.nc"]).on_error == "skip"
    a = build_parser().parse_args(["book", "--set", "min_days=30", "--set", "train.max_epochs=2"])
    assert a.set == ["min_days=30", "train.max_epochs=2"]
    with pytest.raises(SystemExit):
        build_parser().parse_args(["ingest", "--ismn", "x", "--out", "c", "--on-error", "ignore"])


def test_book_set_splits_parameters_from_config_overrides():
    plan = load_plan(ROOT / "params" / "quick.yml")
    params, config = split_overrides(
        plan, ["min_days=30", "preprocess.feature_set=insitu", "days=3"]
    )
    assert params == {"min_days": 30, "days": 3}
    assert config == ["preprocess.feature_set=insitu"]
    with pytest.raises(ValueError, match="no_such_key"):
        split_overrides(plan, ["preprocess.no_such_key=1"])
    with pytest.raises(ValueError, match="set by the runner"):
        split_overrides(plan, ["data_dir=/x"])
    with pytest.raises(ValueError, match="KEY=VALUE"):
        split_overrides(plan, ["min_days"])


def test_each_data_folder_gets_its_own_work_folder(tmp_path):
    twin = book_work_dir(tmp_path, "quick", None)
    a = book_work_dir(tmp_path, "quick", tmp_path / "site A")
    b = book_work_dir(tmp_path, "quick", tmp_path / "other" / "site A")
    assert twin == (tmp_path / "book-work" / "quick").resolve()
    assert len({twin, a, b}) == 3 and a.name.startswith("quick-site-A-")
    assert a == book_work_dir(tmp_path, "quick", tmp_path / "site A")  # stable
    assert all(p.is_dir() for p in (twin, a, b))


def test_failed_notebook_summary_is_one_line(tmp_path):
    err = NotebookFailed("00_overview.ipynb", 4, "KeyError", "'era5_sm'\nmore", "tb", tmp_path)
    line = err.summary()
    assert "\n" not in line
    assert line.startswith("notebook 00_overview.ipynb failed in cell [4]: KeyError: 'era5_sm'")


@pytest.mark.slow
def test_pipeline_on_an_ismn_only_folder(twin, tmp_path):
    """What `./run book --data DIR` runs first, on a folder with ismn/ alone."""
    from smlib.report.pipeline import run_pipeline

    only = tmp_path / "ismn_only"
    shutil.copytree(twin / "ismn", only / "ismn")
    products = run_pipeline(data_dir=only, work_dir=tmp_path / "work", profile="recommended",
                            overrides=TINY, methods=("lstm", "fft"), min_days=30)  # fmt: skip
    choice = json.loads((tmp_path / "work" / "data_choices.json").read_text())
    assert choice["feature_set"] == "insitu" and choice["methods"] == ["lstm"]
    with xr.open_dataset(products.corrected) as ds:
        assert "sm_lstm" in ds and "sm_fft" not in ds
    assert (products.report_dir / "summary.json").is_file()


@pytest.mark.slow
def test_book_set_reaches_the_notebooks(tmp_path, monkeypatch):
    import nbformat
    import yaml

    import smlib.report.book

    monkeypatch.setattr(
        smlib.report.book.build, "library_digest", lambda pattern="**/*.py": "fixed"
    )
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(
        "data_dir = None\nwork_dir = None\nprofile = 'quick'\nn = 1\noverrides = []"
    )
    cell.metadata["tags"] = ["parameters"]
    body = "import json, pathlib\npathlib.Path(work_dir, 'seen.json').write_text(json.dumps([n, overrides]))"
    nb.cells = [cell, nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, nbs / "a.ipynb")
    params = tmp_path / "p.yml"
    params.write_text(yaml.safe_dump({"profile": "quick", "defaults": {"overrides": ["x.y=1"]},
                                      "notebooks": [{"notebook": "a.ipynb",
                                                     "parameters": {"n": 2}}]}))  # fmt: skip
    data = tmp_path / "data"
    data.mkdir()
    smlib.report.book.build_book(params=params, book_dir=tmp_path / "book", notebooks_dir=nbs,
                          work_root=tmp_path / "work", data=data, skip_html=True,
                          overrides=["n=7", "train.max_epochs=3"])  # fmt: skip
    seen = json.loads((book_work_dir(tmp_path / "work", "quick", data) / "seen.json").read_text())
    assert seen == [7, ["x.y=1", "train.max_epochs=3"]]
