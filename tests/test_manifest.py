"""data_manifest.yml: validation, presence report, sha256 checks."""

from __future__ import annotations

import shutil

import pytest
import yaml

from smlib.data.manifest import (
    data_status,
    dataset_status,
    default_manifest_path,
    load_manifest,
    validate_manifest,
    verified_file,
)

EXPECTED = {"ismn", "era5_land", "merra2", "fluxnet2015", "ameriflux", "icos", "twin"}
AMF = "flux_chuhousen_amerifluxr/AMF_US-CRT_BASE_HH_2-5.csv"


def test_repository_manifest_is_valid_and_complete():
    datasets = load_manifest()
    assert EXPECTED <= set(datasets)
    assert "cdsapi" in datasets["era5_land"]["obtain"]
    assert "earthaccess" in datasets["merra2"]["obtain"]
    assert datasets["merra2"]["variables"]["PRECTOTLAND"]["units"] == "kg m-2 s-1"


def _doc():
    return yaml.safe_load(default_manifest_path().read_text())


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["datasets"]["ismn"].pop("licence"), r"'ismn': missing key\(s\) \['licence'\]"),
        (lambda d: d["datasets"]["ismn"].update(colour="red"), r"unknown key\(s\) \['colour'\]"),
        (
            lambda d: d["datasets"]["ismn"]["variables"]["sm"].pop("units"),
            "variable 'sm' has no units",
        ),
        (lambda d: d["datasets"]["ismn"].update(local_path="../x"), "must be relative"),
        (lambda d: d["datasets"]["sample_files"]["files"].update({"a.csv": "abc"}), "sha256"),
        (lambda d: d.update(manifest_version=7), "manifest_version"),
    ],
)
def test_validation_names_dataset_and_key(edit, message):
    doc = _doc()
    edit(doc)
    with pytest.raises(ValueError, match=message):
        validate_manifest(doc)


def test_status_of_a_data_folder(tmp_path):
    (tmp_path / "ismn" / "N" / "S").mkdir(parents=True)
    (tmp_path / "ismn" / "N" / "S" / "N_N_S_sm_0.0_0.05_X_20200101_20200101.stm").write_text("x")
    (tmp_path / "fluxnet").mkdir()
    (tmp_path / "fluxnet" / "AMF_US-Xyz_BASE_HH_1-5.csv").write_text("x")
    status = {s.key: s for s in dataset_status(tmp_path)}
    assert status["ismn"].present and status["ismn"].n_files == 1
    assert status["ameriflux"].present and not status["fluxnet2015"].present
    assert not status["era5_land"].present and not status["twin"].present
    text = data_status(tmp_path)
    assert "ismn           present" in text and "absent datasets:" in text and "era5_land" in text
    assert "the book trains on the in-situ-only feature set" in text  # ISMN without reanalysis


@pytest.mark.realdata
def test_sample_files_sha256(realdata, tmp_path):
    status = {s.key: s for s in dataset_status(realdata)}
    assert set(status["sample_files"].checked.values()) == {"ok"}
    assert verified_file("sample_files", AMF, realdata) == realdata / AMF
    # a changed copy is refused
    (tmp_path / AMF).parent.mkdir(parents=True)
    shutil.copy(realdata / AMF, tmp_path / AMF)
    with open(tmp_path / AMF, "a") as fh:
        fh.write("\n")
    with pytest.raises(ValueError, match="differs from the manifest"):
        verified_file("sample_files", AMF, tmp_path)
    with pytest.raises(KeyError):
        verified_file("sample_files", "nope.csv", tmp_path)
