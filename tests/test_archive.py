"""Archive correction: block-wise, resumable NetCDF / zarr / ISMN output equal to ``correct()``."""

from __future__ import annotations

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
from smlib.ops import archive

# imported before netCDF4 first opens a file: pyproj (which ismn imports) loaded after netCDF4
# has been used aborts the interpreter at exit with the pinned wheels ("free(): invalid pointer")
ismn_interface = pytest.importorskip("ismn.interface")
torch.set_num_threads(1)


def cube_file(path, n_ismn: int = 5, n_days: int = 30):
    """A tiny station cube written as an smlib cube file (the coordinates ingest writes)."""
    ds, _ = make_tiny_cube(n_ismn=n_ismn, n_days=n_days, rain_days=(12,))
    n = ds.sizes["station"]
    ds = ds.assign_coords(
        elevation=("station", np.linspace(100.0, 200.0, n)),
        network=("station", [s.split("/")[0] for s in ds["station"].values.astype(str)]),
        sensor=("station", np.array(["5TM"] * n)),
        depth_from=("station", np.full(n, 0.05)),
        depth_to=("station", np.full(n, 0.05)),
    )
    ds.attrs["smlib_cube_schema"] = "1"
    ds.to_netcdf(path)
    return ds


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    d = tmp_path_factory.mktemp("archive")
    ds = cube_file(d / "cube.nc")
    run = train(ds, d / "run", profile="quick", overrides=TINY)
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


def test_ismn_tree_reads_back_with_ismn(work, tmp_path):
    d, ds, run, ref = work
    out = tmp_path / "ismn_tree"
    archive.correct_archive(d / "cube.nc", run, out, fmt="ismn", block_stations=4)
    readme = (out / "README.txt").read_text()
    assert str(run) in readme and "correction_flag" in readme
    assert not (out / ".smlib_archive").exists()
    iface = ismn_interface.ISMN_Interface(out)
    net = iface["NET"]
    i = list(ref["station"].values).index("NET/S1")
    station = net["S1"]
    sm_sensors = [s for s in station.sensors.values() if "soil_moisture" in s.variable]
    assert len(sm_sensors) == 1
    data = sm_sensors[0].read_data()
    expect = ref["sm_lstm"].isel(station=i).to_series().dropna()
    got = data["soil_moisture"]
    assert len(got) == len(expect)
    np.testing.assert_array_equal(pd.DatetimeIndex(got.index), pd.DatetimeIndex(expect.index))
    np.testing.assert_allclose(got.values, expect.values, atol=5.1e-5)
    assert set(data["soil_moisture_flag"].unique()) == {"G"}
    flags = ref["sm_lstm_flag"].isel(station=i).to_series()[expect.index]
    np.testing.assert_array_equal(data["soil_moisture_orig_flag"].astype(int).values, flags.values)
    assert station.lat == pytest.approx(float(ds["lat"].values[i]), abs=1e-5)
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
    with pytest.raises(
        ValueError, match="flagged guided product; this correction has product=paper"
    ):
        archive.correct_archive(d / "cube.nc", work[2], tmp_path / "p.nc", coefficients=table)
    assert not list(tmp_path.glob("p.nc*"))  # refused before any output
