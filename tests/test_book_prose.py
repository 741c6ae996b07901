"""The book's prose describes the build it belongs to (issue 21): on a real-format folder
without reanalysis no sentence says "twin" or lists ERA5-Land / MERRA-2 among the rain screens.

The sentences come from helpers (the overview's data paragraph, the evaluation's scope line
shown at a glance, the build note under the intro); they are built here on a real-format folder
-- an ISMN tree and one FLUXNET tower written by ``smlib.synth.write_twin``, its reanalysis
folders removed -- and, for the contrast, on the same folder with its reanalysis.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import matplotlib
import pytest
import xarray as xr

matplotlib.use("Agg")

from smlib.report.book.pages import build_info_md
from smlib.report.book.plan import load_plan
from smlib.report.evaluate import evaluate
from smlib.report.glance import glance_markdown
from smlib.report.pipeline import ingest_data_dir
from smlib.report.study import describe_data, rain_screen_sources
from smlib.synth import write_twin

ROOT = Path(__file__).resolve().parents[1]
REANALYSIS_WORDS = ("ERA5", "MERRA", "reanalys")


@pytest.fixture(autouse=True)
def _no_downloads(monkeypatch):
    from cartopy.io import Downloader

    def _refuse(self, url):
        raise AssertionError(f"cartopy tried to download {url}")

    monkeypatch.setattr(Downloader, "_urlopen", _refuse)


@pytest.fixture(scope="module")
def cubes(tmp_path_factory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("prose")
    twin = write_twin(tmp / "twin", n_stations=4, n_days=20, seed=1)
    folder = tmp / "folder"
    shutil.copytree(twin, folder)
    for name in ("era5land", "merra2", "truth.nc"):
        path = folder / name
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    assert sorted(p.name for p in folder.iterdir() if p.is_dir()) == ["fluxnet", "ismn"]
    ingest_data_dir(twin, tmp / "twin_cube.nc", min_days=5)
    ingest_data_dir(folder, tmp / "folder_cube.nc", min_days=5)
    return {"twin": tmp / "twin_cube.nc", "folder": tmp / "folder_cube.nc"}


def test_data_paragraph_follows_the_cube(cubes):
    with xr.open_dataset(cubes["folder"]) as cube:
        text = describe_data(cube, on_twin=False).data
        n_gauges = int(cube.attrs["n_stations_with_gauge"])
    assert "twin" not in text.lower()
    assert not [w for w in REANALYSIS_WORDS if w in text.replace("no reanalysis", "")], text
    assert "it holds no reanalysis, so the network uses the in-situ features only" in text
    assert "latent heat flux of **1** flux tower;" in text
    expect = "in-situ SM tendency and station rain gauges" if n_gauges else "in-situ SM tendency"
    assert text.endswith(f"Rain days are screened with {expect}."), text

    with xr.open_dataset(cubes["twin"]) as cube:
        text = describe_data(cube, on_twin=True).data
        assert rain_screen_sources(cube)[-2:] == ["ERA5-Land", "MERRA-2"]
    assert text.startswith("The data of this build are the embedded synthetic twin")
    assert "ERA5-Land and MERRA-2 are sampled at the stations" in text
    assert text.endswith("ERA5-Land and MERRA-2.")


def test_scope_line_at_a_glance_names_only_the_screens_applied(cubes, tmp_path):
    with xr.open_dataset(cubes["folder"]) as cube:
        corrected = cube[["sm", "ts", "lh"]].load()
    corrected["sm_lin"] = corrected["sm"] - 0.001  # any corrected series: the text is checked
    summary = evaluate(corrected, out=tmp_path / "report", cube=cubes["folder"])
    assert summary["hf_hours"].startswith("hours of rain-free days (strict screen: in-situ SM")
    scope = glance_markdown(summary, {}).strip().splitlines()[-1]
    assert scope.startswith("Evaluated over ") and "HF scores over hours of rain-free" in scope
    assert not [w for w in REANALYSIS_WORDS if w in scope], scope
    on_disk = json.loads((tmp_path / "report" / "summary.json").read_text())
    assert on_disk["hf_hours"] == summary["hf_hours"]


@pytest.mark.parametrize("params", ["quick.yml", "paper.yml"])
def test_build_note_says_nothing_of_the_data_it_was_not_built_on(params):
    plan = load_plan(ROOT / "params" / params)
    note = build_info_md(plan, "the data in `data/scan`", "2026-01-01 00:00 UTC")
    assert "the data in `data/scan`" in note
    assert "twin" not in note.lower(), note
    assert "Small twin and a reduced model" not in note


def test_overview_takes_its_data_paragraph_from_the_cube():
    nb = json.loads((ROOT / "notebooks" / "00_overview.ipynb").read_text(encoding="utf-8"))
    code = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    assert any("study.describe_data(cube, on_twin=products.truth is not None)" in c for c in code)
    prose = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    # reanalysis is named only as something the data may hold, not as what this build used
    assert "where\nthe data hold them, the ERA5-Land and MERRA-2 reanalyses" in prose
    assert "the meteorological\ncontext from the ERA5-Land and MERRA-2 reanalyses" not in prose
