"""One archive with every problem at once: the ingest finishes and loses only the damaged stations.

Built from a tiny twin (real file formats) and damaged copies of its files: per-station
reanalysis boxes that overlap (identical records), a truncated NetCDF, a truncated ``.stm``, a
station logged in percent, an SM-only cosmic-ray reference station, stations with a rain gauge
(the twin writes ISMN ``p`` files) and a station whose instrument is ``n.s.``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from smlib.data import (
    RAIN_SOURCE_FLAGS,
    ingest,
    reference_and_gauge_table,
    sensor_notes,
    skipped_inputs,
)
from smlib.io.errors import InputError
from smlib.synth import write_twin

MIN_DAYS = 5


def _sm_file(root: Path, station: str) -> Path:
    (f,) = sorted((root / "ismn").glob(f"*/{station}/*_sm_*.stm"))
    return f


@pytest.fixture(scope="module")
def twin(tmp_path_factory) -> Path:
    return write_twin(tmp_path_factory.mktemp("twin") / "data", n_stations=6, n_days=20, seed=3)


def _stations(twin: Path) -> list[str]:
    return sorted(p.name for p in (twin / "ismn").glob("*/*") if p.is_dir())


@pytest.fixture(scope="module")
def damaged(twin, tmp_path_factory) -> dict:
    """A copy of the twin with every damage; returns paths and what must happen to whom."""
    root = tmp_path_factory.mktemp("damaged") / "data"
    shutil.copytree(twin, root)
    names = _stations(root)
    truncated, percent, not_specified = names[0], names[1], names[2]

    # a truncated .stm: an interrupted copy, cut in the middle of a line
    f = _sm_file(root, truncated)
    raw = f.read_bytes()
    f.write_bytes(raw[: len(raw) // 2 + 7])
    # a station whose SM is in percent
    f = _sm_file(root, percent)
    lines = f.read_text().splitlines()
    body = []
    for line in lines[1:]:
        tok = line.split()
        tok[2] = f"{100 * float(tok[2]):.2f}"
        body.append(" ".join(tok))
    f.write_text("\n".join([lines[0], *body, ""]))
    # a station whose instrument ISMN lists as n.s. (not specified)
    f = _sm_file(root, not_specified)
    head, rest = f.read_text().split("\n", 1)
    sensor = head.split()[-1]
    f.with_name(f.name.replace(f"_{sensor}_", "_n.s._")).write_text(
        head.replace(sensor, "n.s.") + "\n" + rest
    )
    f.unlink()
    # an SM-only cosmic-ray reference station next to the n.s. station (same network)
    ref = f.parent.parent / "CRNS-1"
    ref.mkdir()
    lat, lon = (float(x) for x in head.split()[3:5])
    t = pd.date_range("2019-04-01", periods=24 * 20, freq="h")
    sm = 0.25 + 0.01 * np.sin(2 * np.pi * np.arange(t.size) / 24)
    net = f.parent.parent.name
    hdr = f"{net} {net} CRNS-1 {lat:.5f} {lon + 0.05:.5f} 300.00 0.00 0.19 Cosmic-ray-Probe"
    rows = [f"{x:%Y/%m/%d %H:%M} {v:.4f} G M" for x, v in zip(t, sm, strict=True)]
    (ref / f"{net}_{net}_CRNS-1_sm_0.000000_0.190000_Cosmic-ray-Probe_20190401_20190420.stm"
     ).write_text("\n".join([hdr, *rows, ""]))  # fmt: skip
    # reanalysis: a neighbour's box holding the same cells and hours, and a truncated download
    era = sorted((root / "era5land").glob("*.nc"))
    with xr.open_dataset(era[0]) as ds:
        ds.isel(latitude=slice(1, 4), longitude=slice(0, 3)).load().to_netcdf(
            root / "era5land" / "neighbour_box.nc"
        )
    shutil.copy(era[1], root / "era5land" / "same_box_again.nc")
    m2 = sorted((root / "merra2").glob("*.nc"))
    raw = m2[0].read_bytes()
    (root / "merra2" / "interrupted_download.nc").write_bytes(raw[: len(raw) // 3])
    return {
        "root": root,
        "lost": {truncated, percent},
        "ns": not_specified,
        "ref": f"{net}/CRNS-1",
        "names": names,
    }


def _ingest(damaged, **kw) -> xr.Dataset:
    r = damaged["root"]
    return ingest(r / "ismn", era5=r / "era5land", merra2=r / "merra2", fluxnet=r / "fluxnet",
                  min_days=MIN_DAYS, **kw)  # fmt: skip


@pytest.mark.slow
def test_every_damage_at_once_costs_only_the_damaged_stations(twin, damaged):
    clean = ingest(twin / "ismn", era5=twin / "era5land", merra2=twin / "merra2",
                   fluxnet=twin / "fluxnet", min_days=MIN_DAYS)  # fmt: skip
    cube = _ingest(damaged)
    ids = set(cube.station.values)
    clean_ids = set(clean.station.values)
    lost = {sid for sid in clean_ids if sid.split("/")[1] in damaged["lost"]}
    assert len(lost) == 2
    assert ids == (clean_ids - lost) | {damaged["ref"]}

    qc = json.loads(cube.attrs["qc_summary"])
    assert qc["unreadable"]["stations_removed"] == 2
    reasons = qc["unreadable"]["reasons"]
    assert set(reasons) == lost
    assert any("outside the possible range" in r and "percent" in r for r in reasons.values())
    assert all(".stm:" in r for r in reasons.values())  # file and line named
    skipped = json.loads(cube.attrs["skipped_inputs"])
    assert {Path(s["file"]).name for s in skipped if s["source"] == "merra2"} == {
        "interrupted_download.nc"
    }
    assert len(skipped) == 3

    # SM-only cosmic-ray station: kept as a reference, TS NaN, never a training station
    from smlib.method.preprocess import training_stations

    ref = cube.sel(station=damaged["ref"])
    assert bool(ref["is_reference"]) and str(ref["sensor_type"].values) == "cosmic-ray"
    assert np.isnan(ref["ts"].values).all() and np.isfinite(ref["sm"].values).sum() >= 24 * 5
    assert not training_stations(cube)[list(cube.station.values).index(damaged["ref"])]
    assert cube.attrs["n_sm_only_references"] == 1

    # n.s. instrument: kept, unknown technique, listed in sensor_notes
    (ns,) = [s for s in ids if s.endswith("/" + damaged["ns"])]
    assert str(cube["sensor_type"].sel(station=ns).values) == "unknown"
    assert "not specified" in json.loads(cube.attrs["sensor_notes"])[ns]

    # rain gauges: ISMN p is in the cube, and the gauge screens the days it covers
    assert cube["precip"].attrs["units"] == "mm h-1"
    gauged = np.isfinite(cube["precip"].values).any(axis=1)  # ISMN p and tower P
    assert (gauged & (cube["kind"].values == "ismn")).any() and not gauged.all()
    src = cube["insitu_rain_source"]
    assert src.attrs["flag_meanings"] == " ".join(RAIN_SOURCE_FLAGS.values())
    assert (src.values[gauged] == 2).mean() > 0.8
    assert (src.values[~gauged] != 2).all() and (src.values[~gauged] == 1).any()

    # the tables notebook 01 shows
    table = skipped_inputs(cube)
    assert sorted(table["source"]) == ["ismn", "ismn", "merra2"]
    assert table["line"].notna().sum() == 2 and "\n" not in "".join(table["reason"])
    assert sensor_notes(cube).index.tolist() == [ns]
    extras = reference_and_gauge_table(cube)
    assert extras.loc[damaged["ref"], "sm_only"] and extras["sm_only"].sum() == 1
    # the stations with a gauge are those whose input holds one: an ISMN p file, or a tower
    with_p = {f"{f.parent.parent.name}/{f.parent.name}" for f in damaged["root"].rglob("*_p_*.stm")}
    kinds = dict(zip(cube.station.values, cube["kind"].values.astype(str), strict=True))
    expect = {sid for sid, k in kinds.items() if sid in with_p or k == "tower"}
    assert set(extras.index[extras["gauge"].astype(bool)]) == expect
    assert any(kinds[s] == "ismn" for s in expect) and extras["days_gauge"].sum() > 0

    # reanalysis unchanged by the identical overlapping boxes and the skipped file
    common = sorted(ids & clean_ids)
    for v in ("era5_sm", "era5_lh", "merra2_ts"):
        np.testing.assert_array_equal(
            cube[v].sel(station=common).values, clean[v].sel(station=common).values
        )


def test_raise_stops_at_the_first_damaged_file(damaged):
    with pytest.raises(InputError) as err:
        _ingest(damaged, on_error="raise")
    assert ".stm:" in str(err.value) and "\n" not in str(err.value)


@pytest.mark.slow
def test_cli_ingest_on_the_damaged_archive(damaged, tmp_path):
    r = damaged["root"]
    out = tmp_path / "cube.nc"
    cmd = [sys.executable, "-m", "smlib.cli", "ingest", "--ismn", str(r / "ismn"),
           "--era5", str(r / "era5land"), "--merra2", str(r / "merra2"),
           "--min-days", str(MIN_DAYS), "--out", str(out)]  # fmt: skip
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert "skipped" in res.stderr and "interrupted_download.nc" in res.stderr
    assert "Traceback" not in res.stderr
    with xr.open_dataset(out) as ds:
        assert json.loads(ds.attrs["qc_summary"])["unreadable"]["stations_removed"] == 2
    # --on-error raise: one line, exit code 2, no traceback
    res = subprocess.run([*cmd[:-2], "--on-error", "raise", "--out", str(tmp_path / "x.nc")],
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert res.returncode == 2 and "Traceback" not in res.stderr
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("ERROR")]
    assert len(errors) == 1 and ".stm:" in errors[0]
    assert not (tmp_path / "x.nc").exists()
