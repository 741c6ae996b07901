"""Every exception smlib raises on purpose, in one place (the habit of ismn's ``const.py``).

* :class:`InputError` (``ValueError``): an input file is damaged or holds impossible values;
  the message is one line, ``FILE[:LINE]: reason``.
* :class:`DamagedFileError` (an :class:`InputError`): a NetCDF file is truncated or damaged;
  :func:`damaged_netcdf` and :func:`reading_netcdf` turn the netCDF/HDF5 library's words
  (``[Errno -101] NetCDF: HDF error``) into ``FILE: truncated or damaged NetCDF (...)``.
* :class:`NoSpaceLeftError` (``OSError``, errno ``ENOSPC``): the device filled up while an
  output was written (:func:`smlib.atomic.atomic_path` raises it and removes the partial file).
* :class:`CheckpointError` (``ValueError``): a checkpoint is truncated, foreign, or belongs to
  another configuration.
* :class:`TrainingDivergedError` (``FloatingPointError``): the loss became non-finite.
* :class:`NotebookFailed` (``RuntimeError``): a book notebook raised; names notebook and cell.
* :class:`NaturalEarthMissing` (``FileNotFoundError``): the offline map data are not built.
* :class:`CartopyDownloadBlocked` (``RuntimeError``): cartopy tried to download.

The modules that raise them re-export them under their old names.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = [
    "InputError",
    "DamagedFileError",
    "NoSpaceLeftError",
    "damaged_netcdf",
    "reading_netcdf",
    "CheckpointError",
    "TrainingDivergedError",
    "NotebookFailed",
    "NaturalEarthMissing",
    "CartopyDownloadBlocked",
]


class InputError(ValueError):
    """A file that cannot be read, or that holds impossible values.

    Parameters
    ----------
    file : str
        The file (``archive.zip!member`` for zip members).
    reason : str
        What is wrong, in one line.
    line : int, optional
        1-based line number, where the problem has one.
    """

    def __init__(self, file: str, reason: str, line: int | None = None) -> None:
        self.file = str(file)
        self.reason = " ".join(str(reason).split())  # always one line
        self.line = line
        where = self.file if line is None else f"{self.file}:{line}"
        super().__init__(f"{where}: {self.reason}")


class DamagedFileError(InputError):
    """A NetCDF file that the netCDF/HDF5 library cannot read: truncated or damaged."""


class NoSpaceLeftError(OSError):
    """No space left on the device while writing ``filename``; nothing partial is kept."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__(
            errno.ENOSPC, f"no space left on device while writing {path}", os.fspath(path)
        )

    def __str__(self) -> str:  # one line without OSError's "[Errno 28]" prefix
        return str(self.strerror)


#: How xarray says that no backend recognises a file (an empty or cut-off file, or not NetCDF).
_NO_BACKEND = "did not find a match in any of xarray's currently installed io backends"


def damaged_netcdf(path: str | os.PathLike[str], err: BaseException) -> DamagedFileError | None:
    """The :class:`DamagedFileError` that ``err``, raised reading ``path``, stands for, if any.

    The netCDF4 library reports a damaged HDF5 file as ``OSError`` with a negative (netCDF)
    error number (``[Errno -101] NetCDF: HDF error`` for a truncated file, found on opening) or
    as ``RuntimeError("NetCDF: HDF error")`` (a damaged chunk, found on reading it); xarray
    finds no backend for an empty file (a copy cut before its first byte).

    Parameters
    ----------
    path : path
        The file being read.
    err : BaseException
        What the reading raised.

    Returns
    -------
    DamagedFileError or None
        None when ``err`` is not one of these (a missing file, a foreign format...).
    """
    if isinstance(err, DamagedFileError):
        return err
    text = " ".join(str(err).split())
    if isinstance(err, OSError) and isinstance(err.errno, int) and err.errno < 0:
        cause = str(err.strerror or text)
    elif isinstance(err, (OSError, RuntimeError)) and text.startswith("NetCDF:"):
        cause = text
    elif isinstance(err, ValueError) and _NO_BACKEND in text.lower():
        p = Path(path)
        if not p.is_file() or p.stat().st_size > 0:  # another format: not ours to call damaged
            return None
        cause = "empty file"
    else:
        return None
    return DamagedFileError(
        str(path), f"truncated or damaged NetCDF ({cause}); copy, download or write it again"
    )


@contextmanager
def reading_netcdf(path: str | os.PathLike[str]) -> Iterator[None]:
    """Context in which reading the NetCDF file ``path`` raises :class:`DamagedFileError`
    (one line naming the file) instead of the netCDF library's own words, see
    :func:`damaged_netcdf`; other errors pass unchanged.

    Examples
    --------
    >>> import pytest, tempfile, pathlib
    >>> bad = pathlib.Path(tempfile.mkdtemp()) / "cut.nc"
    >>> _ = bad.write_bytes(b"\\x89HDF\\r\\n\\x1a\\n" + bytes(100))
    >>> import xarray as xr
    >>> with pytest.raises(DamagedFileError, match="truncated or damaged NetCDF"):
    ...     with reading_netcdf(bad):
    ...         _ = xr.open_dataset(bad)
    """
    try:
        yield
    except (OSError, RuntimeError, ValueError) as err:
        damaged = damaged_netcdf(path, err)
        if damaged is None or damaged is err:
            raise
        raise damaged from err


class CheckpointError(ValueError):
    """A checkpoint file is truncated, corrupt, foreign or belongs to another configuration."""


class TrainingDivergedError(FloatingPointError):
    """The loss became non-finite; the message names epoch and batch, ``best.pt`` is kept."""


class NotebookFailed(RuntimeError):
    """A notebook raised during execution; the message holds the failing cell's traceback."""

    def __init__(
        self, notebook: str, cell: int | None, ename: str, evalue: str, traceback: str, copy: Path
    ) -> None:
        self.notebook, self.cell, self.ename, self.evalue = notebook, cell, ename, evalue
        self.traceback_text, self.copy = traceback, copy
        super().__init__(
            f"notebook {notebook} failed in cell [{cell}] with {ename}: {evalue}\n"
            f"{traceback}\n"
            f"The executed copy up to the failure is {copy}; earlier notebooks' copies are kept."
        )

    def summary(self) -> str:
        """One line: the notebook, the cell and the cause (what ``smlib book`` prints)."""
        lines = [ln.strip() for ln in str(self.evalue).splitlines() if ln.strip()]
        cause = lines[0] if lines else ""
        return (
            f"notebook {self.notebook} failed in cell [{self.cell}]: {self.ename}: {cause} "
            f"(executed copy: {self.copy}; -v shows the traceback)"
        )


class NaturalEarthMissing(FileNotFoundError):
    """The offline Natural Earth shapefiles have not been built."""


class CartopyDownloadBlocked(RuntimeError):
    """Raised instead of any network download that cartopy attempts."""
