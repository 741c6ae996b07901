"""Damaged and unwritable files: one line naming the file and the cause, nothing partial left.

A truncated NetCDF (an interrupted copy or download) must read as "FILE: truncated or damaged
NetCDF", not as ``[Errno -101] NetCDF: HDF error``; a device that fills up while the cube or a
corrected file is written must read as "no space left on device while writing PATH", and the
half-written file must be gone.
"""

from __future__ import annotations

import errno
import logging
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from test_preprocess import make_tiny_cube

from smlib import atomic
from smlib.cli import main
from smlib.data import open_cube, write_atomic
from smlib.errors import DamagedFileError, NoSpaceLeftError, damaged_netcdf
from smlib.method.runfolder import load_cube


@pytest.fixture(scope="module")
def cube_file(tmp_path_factory) -> Path:
    ds, _ = make_tiny_cube(n_ismn=3, n_days=12, rain_days=(5,))
    ds.attrs["smlib_cube_schema"] = "1"
    path = tmp_path_factory.mktemp("cube") / "cube.nc"
    write_atomic(ds, path)
    return path


def _truncated(src: Path, dest: Path, fraction: float = 0.6) -> Path:
    data = src.read_bytes()
    dest.write_bytes(data[: int(len(data) * fraction)])
    return dest


def _cli_errors(caplog, argv: list[str]) -> tuple[int, list[str]]:
    caplog.clear()
    with caplog.at_level(logging.ERROR):
        rc = main(argv)
    return rc, [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


def _left_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# ------------------------------------------------------------------------------ damaged input
@pytest.mark.parametrize("command", ["train", "correct", "correct-archive", "evaluate"])
def test_truncated_netcdf_is_one_line_naming_the_file(cube_file, tmp_path, caplog, command):
    bad = _truncated(cube_file, tmp_path / "cut.nc")
    out = tmp_path / "out"
    argv = {
        "train": ["train", str(bad), "--out", str(out)],  # runfolder.load_cube
        "correct": ["correct", str(bad), "--methods", "fft", "--out", str(out)],
        "correct-archive": [
            "correct",
            str(bad),
            "--methods",
            "fft",
            "--format",
            "netcdf",
            "--out",
            str(out),
        ],  # schema.open_cube  # fmt: skip
        "evaluate": ["evaluate", str(bad), "--out", str(out)],
    }[command]
    rc, errors = _cli_errors(caplog, argv)
    assert rc == 2 and len(errors) == 1 and "\n" not in errors[0]
    assert errors[0].startswith(f"{bad}: truncated or damaged NetCDF (")
    assert "Errno" not in errors[0]
    assert not out.exists() or not any(out.iterdir())


def test_damaged_netcdf_classification(cube_file, tmp_path):
    # truncated: found on opening, OSError errno -101
    cut = _truncated(cube_file, tmp_path / "cut.nc", 0.3)
    with pytest.raises(OSError) as raw:
        xr.open_dataset(cut)
    err = damaged_netcdf(cut, raw.value)
    assert isinstance(err, DamagedFileError) and err.file == str(cut)
    assert err.reason.startswith("truncated or damaged NetCDF (NetCDF: HDF error)")
    # the cube's two openers say so themselves
    for opener in (load_cube, open_cube):
        with pytest.raises(DamagedFileError, match="truncated or damaged NetCDF"):
            opener(cut)
    # a damaged chunk: found on reading it, RuntimeError without the file's name
    assert "NetCDF: HDF error" in str(damaged_netcdf("x.nc", RuntimeError("NetCDF: HDF error")))
    # cut to nothing
    empty = tmp_path / "empty.nc"
    empty.write_bytes(b"")
    with pytest.raises(ValueError) as raw:
        xr.open_dataset(empty)
    assert "(empty file)" in str(damaged_netcdf(empty, raw.value))
    # not damage: a missing file, a foreign error
    assert damaged_netcdf(tmp_path / "nope.nc", FileNotFoundError(2, "No such file")) is None
    assert damaged_netcdf(cut, KeyError("sm")) is None


def test_truncated_reanalysis_names_the_file(tmp_path):
    from smlib.io.reanalysis import era5_land_at_stations

    time = np.arange("2021-06-01T00", "2021-06-03T00", dtype="datetime64[h]").astype(
        "datetime64[ns]"
    )
    shape = (time.size, 2, 2)
    dims = ("valid_time", "latitude", "longitude")
    era = xr.Dataset(
        {
            "swvl1": (dims, np.full(shape, 0.3, "f4"), {"units": "m**3 m**-3"}),
            "stl1": (dims, np.full(shape, 290.0, "f4"), {"units": "K"}),
            "slhf": (dims, np.zeros(shape, "f4"), {"units": "J m**-2"}),
            "tp": (dims, np.zeros(shape, "f4"), {"units": "m"}),
        },
        coords={"valid_time": time, "latitude": [45.5, 45.0], "longitude": [0.0, 0.5]},
    )
    era.to_netcdf(tmp_path / "full.nc", engine="netcdf4")
    bad = _truncated(tmp_path / "full.nc", tmp_path / "era5_cut.nc")
    (tmp_path / "full.nc").unlink()
    with pytest.raises(DamagedFileError) as err:
        era5_land_at_stations(
            bad, ["N/S"], np.array([45.0]), np.array([0.2]), time, on_error="raise"
        )
    assert str(err.value).startswith(f"{bad}: truncated or damaged NetCDF (NetCDF: HDF error)")


# ------------------------------------------------------------------------------ full device
def _fill_then_fail(exc: BaseException):
    """A ``to_netcdf`` that writes part of the file, then fails as a full device does."""

    def to_netcdf(self, path=None, *args, **kwargs):
        Path(path).write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(4096))
        raise exc

    return to_netcdf


def test_full_device_while_writing_the_cube(tmp_path, caplog, monkeypatch):
    from test_cube import _tower_folder

    fl = _tower_folder(tmp_path / "flux")
    out_dir = tmp_path / "cubes"
    out_dir.mkdir()
    out = out_dir / "cube.nc"
    monkeypatch.setattr(
        xr.Dataset, "to_netcdf", _fill_then_fail(OSError(errno.ENOSPC, "No space left on device"))
    )
    rc, errors = _cli_errors(
        caplog, ["ingest", "--fluxnet", str(fl), "--min-days", "3", "--out", str(out)]
    )
    assert rc == 2 and errors == [f"no space left on device while writing {out}"]
    assert _left_in(out_dir) == []  # no partial cube, no temporary file


def test_full_device_while_writing_the_corrected_file(cube_file, tmp_path, caplog, monkeypatch):
    """netCDF4 reports a full device as ``NetCDF: HDF error``: with (next to) no space left on
    the device that is what it means; with space left it stays what it is."""
    out_dir = tmp_path / "corrected"
    out_dir.mkdir()
    out = out_dir / "corrected.nc"
    monkeypatch.setattr(xr.Dataset, "to_netcdf", _fill_then_fail(RuntimeError("NetCDF: HDF error")))
    monkeypatch.setattr(atomic, "_free_bytes", lambda folder: 4096)
    argv = ["correct", str(cube_file), "--methods", "fft", "--out", str(out)]
    rc, errors = _cli_errors(caplog, argv)
    assert rc == 2 and errors == [f"no space left on device while writing {out}"]
    assert _left_in(out_dir) == []
    # plenty of space: not mislabelled as a full device (still one line, nothing left behind)
    monkeypatch.setattr(atomic, "_free_bytes", lambda folder: 10 << 30)
    rc, errors = _cli_errors(caplog, argv)
    assert rc == 2 and errors == ["NetCDF: HDF error"]
    assert _left_in(out_dir) == []


def test_no_space_left_error_is_an_oserror_with_enospc(tmp_path):
    err = NoSpaceLeftError(tmp_path / "x.nc")
    assert isinstance(err, OSError) and err.errno == errno.ENOSPC
    assert str(err) == f"no space left on device while writing {tmp_path / 'x.nc'}"
    with pytest.raises(NoSpaceLeftError), atomic.atomic_dir(tmp_path / "tree") as d:
        (d / "a.txt").write_text("partial")
        raise OSError(errno.ENOSPC, "No space left on device")
    assert _left_in(tmp_path) == []
