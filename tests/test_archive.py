"""Archive correction: block-wise, resumable NetCDF / zarr / ISMN output equal to ``correct()``."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import xarray as xr
from test_preprocess import TINY_TRAIN as TINY
from test_preprocess import make_tiny_cube

from smlib.cli import main
from smlib.method.correct import correct
from smlib.method.runfolder import load_model
from smlib.method.train import train
from smlib.ops import archive, ismn_writer

# imported before netCDF4 first opens a file: pyproj (which ismn imports) loaded after netCDF4
# has been used aborts the interpreter at exit with the pinned wheels ("free(): invalid pointer")
ismn_interface = pytest.importorskip("ismn.interface")
torch.set_num_threads(1)


#: A station's static variables as ISMN downloads hold them (columns and rows of a real file).
STATIC_CSV = (
    "quantity_name;unit;depth_from[m];depth_to[m];value;description;quantity_source_name;"
    "quantity_source_description;quantity_source_provider;quantity_source_version;"
    "quantity_source_resolution;quantity_source_timerange;quantity_source_url;\n"
    "saturation;m^3*m^-3;0.00;0.30;0.46;;HWSD;Harmonized World Soil Database;IIASA;v1.1;30;;;\n"
    "land cover classification;;;;130;Grassland;CCI_landcover_2010;ESA CCI Land Cover;ESA;"
    "2010-v1.6.1;300m;2008-2012;;\n"
    "climate classification;;;;Cfa;Temperate;koeppen_geiger_2007;Koeppen-Geiger;;Peel2007;;;;\n"
)


def cube_file(path, n_ismn: int = 5, n_days: int = 30):
    """A tiny station cube written as an smlib cube file (the coordinates ingest writes): the
    tower's depth unknown (NaN, as ingest leaves it) and the ISMN download it came from holding
    the static variables of NET/S1 only."""
    ds, _ = make_tiny_cube(n_ismn=n_ismn, n_days=n_days, rain_days=(12,))
    n = ds.sizes["station"]
    tower = ds["kind"].values.astype(str) == "tower"
    ds = ds.assign_coords(
        elevation=("station", np.linspace(100.0, 200.0, n)),
        network=("station", [s.split("/")[0] for s in ds["station"].values.astype(str)]),
        sensor=("station", np.where(tower, "SWC_F_MDS_1", "5TM")),
        depth_from=("station", np.where(tower, np.nan, 0.05)),
        depth_to=("station", np.where(tower, np.nan, 0.05)),
    )
    source = Path(path).parent / "ismn_download"
    (source / "NET" / "S1").mkdir(parents=True)
    (source / "NET" / "S1" / "NET_NET_S1_static_variables.csv").write_text(STATIC_CSV)
    ds.attrs["smlib_cube_schema"] = "1"
    ds.attrs["ismn_path"] = str(source)
    ds.to_netcdf(path)
    return ds


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    d = tmp_path_factory.mktemp("archive")
    ds = cube_file(d / "cube.nc")
    # the flagged product: flags other than 0 appear, and the tree must carry them
    run = train(ds, d / "run", profile="quick", overrides=(*TINY, "correct.product=flagged"))
    ref = correct(ds, load_model(run, device="cpu"), ("lstm",))
    return d, ds, run, ref


def _assert_same(got: xr.Dataset, ref: xr.Dataset) -> None:
    for v in ref.data_vars:
        np.testing.assert_array_equal(got[v].values, ref[v].values, err_msg=v)
        assert got[v].attrs.get("units") == ref[v].attrs.get("units"), v
    assert list(got["station"].values) == list(ref["station"].values)
    np.testing.assert_array_equal(got["lon"].values, ref["lon"].values)


def _open(path, fmt):
    return xr.open_dataset(path) if fmt == "netcdf" else xr.open_zarr(path)


@pytest.mark.parametrize("fmt", ["netcdf", "zarr"])
def test_archive_equals_in_memory_and_resumes(work, fmt, monkeypatch, tmp_path):
    if fmt == "zarr":
        pytest.importorskip("zarr")
    d, _, run, ref = work
    out = tmp_path / f"corrected.{'nc' if fmt == 'netcdf' else 'zarr'}"
    calls: list[int] = []
    real = archive.correct_block

    def counting(cube_path, start, stop, *rest):
        calls.append(start)
        return real(cube_path, start, stop, *rest)

    monkeypatch.setattr(archive, "correct_block", counting)
    # an interrupted run: two of three blocks written
    part = archive.correct_archive(d / "cube.nc", run, out, fmt=fmt, block_stations=3, stop_after=1)
    assert part.name.endswith(".partial") and not out.exists()
    assert calls == [0]
    # the same command again redoes only the unwritten block
    done = archive.correct_archive(d / "cube.nc", run, out, fmt=fmt, block_stations=3)
    assert done == out and not part.exists()
    assert calls == [0, 3]
    with _open(out, fmt) as got:
        assert int(got["block_written"].sum()) == 2
        _assert_same(got.load(), ref)
    # the fitted station table, joined over both calls' blocks, is the batch fit's
    from smlib.method.correct import correct_with_table
    from smlib.method.product import coefficients_path, read_coefficients

    _, batch = correct_with_table(work[1], load_model(run, device="cpu"), ("lstm",))
    table = read_coefficients(coefficients_path(out))
    assert list(table.station) == list(batch.station)
    np.testing.assert_allclose(table.coef, batch.coef, rtol=1e-12, equal_nan=True)
    np.testing.assert_array_equal(table.n_signals, batch.n_signals)
    assert np.isfinite(table.coef).all(axis=1).sum() >= 4  # fitted stations, not all NaN
    assert table.provenance["corrected"] == str(out)
    assert not out.with_name(out.name + ".coefficients.partial").exists()


def test_archive_refuses_other_settings_and_existing_output(work, tmp_path):
    d, _, run, _ = work
    out = tmp_path / "c.nc"
    archive.correct_archive(d / "cube.nc", run, out, block_stations=2, stop_after=1)
    with pytest.raises(ValueError, match="other settings"):
        archive.correct_archive(d / "cube.nc", run, out, block_stations=4)
    archive.correct_archive(d / "cube.nc", run, out, block_stations=2)
    with pytest.raises(FileExistsError):
        archive.correct_archive(d / "cube.nc", run, out, block_stations=2)
    with pytest.raises(ValueError, match="needs a trained model"):
        archive.correct_archive(d / "cube.nc", None, tmp_path / "x.nc")
    with pytest.raises(ValueError, match="format"):
        archive.correct_archive(d / "cube.nc", run, tmp_path / "y.nc", fmt="csv")


def test_station_blocks():
    assert archive.station_blocks(7, 3) == [(0, 3), (3, 6), (6, 7)]
    with pytest.raises(ValueError):
        archive.station_blocks(7, 0)


def test_ismn_tree_reads_back_with_ismn(work, tmp_path, capsys, caplog):
    """Every file written, towers included, is a sensor ``ismn`` reads; no "malformed" note;
    values and the correction flags (nonzero ones included) of every station come back."""
    d, ds, run, ref = work
    out = tmp_path / "ismn_tree"
    archive.correct_archive(d / "cube.nc", run, out, fmt="ismn", block_stations=4)
    readme = (out / "README.txt").read_text()
    assert str(run) in readme and "correction_flag" in readme and "0.00-0.05 m" in readme
    assert not (out / ".smlib_archive").exists()
    written = sorted(out.rglob("*.stm"))
    assert not [p.name for p in written if "nan" in p.name.lower()]
    tower_files = [p.name for p in written if p.parent.name == "US-XX"]
    assert sorted(n.split("_")[3:6] for n in tower_files) == [
        ["sm", "0.000000", "0.050000"], ["smuncertainty", "0.000000", "0.050000"],
        ["ts", "0.000000", "0.050000"],
    ]  # fmt: skip
    stations = sorted({(p.parent.parent.name, p.parent.name) for p in written})
    assert len(stations) == ds.sizes["station"]
    for net, st in stations:  # one static-variables file per station folder
        (csv,) = (out / net / st).glob("*_static_variables.csv")
        expect = STATIC_CSV if (net, st) == ("NET", "S1") else ismn_writer.static_variables_text()
        assert csv.read_text() == expect, csv

    capsys.readouterr()
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        iface = ismn_interface.ISMN_Interface(out)
    printed = capsys.readouterr().out
    assert "malformed" not in printed.lower(), printed
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
    read = [
        (net.name, station.name, sensor)
        for net in iface.collection.iter_networks()
        for station in net.stations.values()
        for sensor in station.sensors.values()
    ]
    # sm, its per-hour uncertainty and ts at every station
    assert len(read) == len(written) == 3 * ds.sizes["station"]
    lc = {(n, st): sensor.metadata["lc_2010"].val for n, st, sensor in read}
    assert lc[("NET", "S1")] == 130  # copied from the download
    assert np.isnan(lc[("NET", "S0")]) and np.isnan(lc[("FLUXNET", "US-XX")])  # unknown

    seen_flags: set[int] = set()
    for net, st, sensor in read:
        if "soil_moisture" not in sensor.variable:
            continue
        sid = f"{net}/{st}"
        i = list(ref["station"].values).index(sid)
        data = sensor.read_data()
        expect = ref["sm_lstm"].isel(station=i).to_series().dropna()
        got = data["soil_moisture"]
        np.testing.assert_array_equal(pd.DatetimeIndex(got.index), pd.DatetimeIndex(expect.index))
        np.testing.assert_allclose(got.values, expect.values, atol=5.1e-5, err_msg=sid)
        assert set(data["soil_moisture_flag"].unique()) == {"G"}
        flags = ref["sm_lstm_flag"].isel(station=i).to_series()[expect.index].values
        np.testing.assert_array_equal(data["soil_moisture_orig_flag"].astype(int).values, flags)
        seen_flags |= set(flags.tolist())
        if st == "US-XX":
            assert (sensor.depth.start, sensor.depth.end) == (0.0, 0.05)
        else:
            assert iface[net][st].lat == pytest.approx(float(ds["lat"].values[i]), abs=1e-5)
    assert len(seen_flags - {0}) > 0, seen_flags  # the flagged product's nonzero flags travel
    # smlib's own reader takes the tree back in as well (re-ingesting a corrected archive)
    from smlib.io.ismn import read_ismn

    series = read_ismn(out)
    assert {"sm", "ts"} <= {s.variable for s in series}


def test_cli_correct_archive_options(work, tmp_path):
    d, _, run, ref = work
    out = tmp_path / "cli.nc"
    rc = main(
        ["correct", str(d / "cube.nc"), "--model", str(run), "--out", str(out),
         "--methods", "lstm", "--format", "netcdf", "--block-stations", "2"]
    )  # fmt: skip
    assert rc == 0
    with xr.open_dataset(out) as got:
        _assert_same(got.load(), ref)


@pytest.mark.slow
def test_archive_on_local_cluster_two_workers(work, tmp_path):
    pytest.importorskip("dask.distributed")
    d, _, run, ref = work
    out = tmp_path / "cluster.nc"
    archive.correct_archive(d / "cube.nc", run, out, block_stations=2, workers=2)
    with xr.open_dataset(out) as got:
        _assert_same(got.load(), ref)


def test_static_variables_of_a_real_download_are_copied(realdata, tmp_path, capsys):
    """The real ISMN fixtures' static-variables files travel into the tree unchanged, and
    ``ismn`` reads their land cover back."""
    src = realdata / "ismn_TUW-GEO_ismn_tests" / "Data_seperate_files_header_20170810_20180809"
    found = ismn_writer.find_static_variables(src)
    assert set(found) == {("COSMOS", "ARM-1"), ("COSMOS", "Barrow-ARM")}
    time = pd.date_range("2018-06-01", periods=48, freq="h")
    result = xr.Dataset(
        {"sm_lstm": (("station", "time"), np.full((2, 48), 0.25))},
        coords={
            "station": ["COSMOS/ARM-1", "COSMOS/Other"], "time": time,
            "lat": ("station", [36.6, 36.7]), "lon": ("station", [-97.5, -97.4]),
            "elevation": ("station", [322.0, 300.0]), "sensor": ("station", ["CRP", "CRP"]),
            "depth_from": ("station", [0.0, 0.0]), "depth_to": ("station", [0.19, 0.19]),
        },
    )  # fmt: skip
    written = ismn_writer.write_station_files(tmp_path / "tree", result, "lstm", found)
    assert len(written) == 2
    copied = tmp_path / "tree" / "COSMOS" / "ARM-1" / "COSMOS_COSMOS_ARM-1_static_variables.csv"
    original = src / "COSMOS" / "ARM-1" / "COSMOS_COSMOS_ARM-1_static_variables.csv"
    assert copied.read_bytes() == original.read_bytes()
    other = tmp_path / "tree" / "COSMOS" / "Other" / "COSMOS_COSMOS_Other_static_variables.csv"
    assert other.read_text() == ismn_writer.static_variables_text()
    capsys.readouterr()
    iface = ismn_interface.ISMN_Interface(tmp_path / "tree")
    assert "malformed" not in capsys.readouterr().out.lower()
    (sensor,) = iface["COSMOS"]["ARM-1"].sensors.values()
    assert sensor.metadata["lc_2010"].val == 130


def test_static_variables_found_in_a_zipped_download(tmp_path):
    """The ISMN portal's zip: the static-variables files are found and read from the members."""
    import zipfile

    archive_zip = tmp_path / "Data_separate_files.zip"
    with zipfile.ZipFile(archive_zip, "w") as zf:
        zf.writestr("Data_separate_files/NET/S1/NET_NET_S1_static_variables.csv", STATIC_CSV)
        zf.writestr("Data_separate_files/NET/S1/NET_NET_S1_sm_0.0_0.05_X_2021_2021.stm", "x\n")
    found = ismn_writer.find_static_variables(archive_zip)
    assert list(found) == [("NET", "S1")] and found[("NET", "S1")]().decode() == STATIC_CSV
    assert ismn_writer.find_static_variables(tmp_path / "gone") == {}
    assert ismn_writer.find_static_variables("") == {}


def test_archive_applies_stored_coefficients_like_the_batch_product(work, tmp_path):
    """``smlib correct`` fits the default product and stores its station table; an archive
    corrected with that table holds the same product and flags (a resumed run included), and
    a table changed in between is refused rather than mixed."""
    from smlib.method.correct import correct_file

    d, ds, _, _ = work
    run = train(ds, tmp_path / "run", profile="quick",
                overrides=(*TINY, "correct.product=flagged"))  # fmt: skip
    fitted = correct_file(d / "cube.nc", run, out=tmp_path / "fit.nc", methods=("lstm",))
    table = tmp_path / "fit.coefficients.json"
    assert table.exists() and fitted.attrs["product"] == "flagged"
    out = tmp_path / "archive.nc"
    archive.correct_archive(d / "cube.nc", run, out, block_stations=2, stop_after=1,
                            coefficients=table)  # fmt: skip
    with pytest.raises(ValueError, match="other settings"):
        archive.correct_archive(d / "cube.nc", run, out, block_stations=2)  # without the table
    archive.correct_archive(d / "cube.nc", run, out, block_stations=2, coefficients=table)
    with xr.open_dataset(out) as got:
        for v in ("sm_lstm", "sm_lstm_flag", "sm_lstm_net", "rule_coefficient"):
            np.testing.assert_array_equal(got[v].values, fitted[v].values, err_msg=v)
        assert set(np.unique(got["sm_lstm_flag"].values)) >= {0, 1}
        assert "stored coefficients" in got["sm_lstm"].attrs["product"]
    paper_run = train(ds, tmp_path / "paper_run", profile="quick", overrides=TINY)
    with pytest.raises(
        ValueError, match="flagged guided product; this correction has product=paper"
    ):
        archive.correct_archive(d / "cube.nc", paper_run, tmp_path / "p.nc", coefficients=table)
    assert not list(tmp_path.glob("p.nc*"))  # refused before any output
