"""Atomic file output: every file smlib writes appears whole or not at all.

An interrupted ingest, training or evaluation must never leave a half-written cube, checkpoint
or table where a later step would read it. Every writer therefore writes to a temporary file in
the destination's folder (so that the final rename stays on one file system and is atomic on
POSIX) and renames it over the destination only when writing succeeded.

A write that fails because the device is full (``ENOSPC``, or the netCDF library's ``NetCDF:
HDF error`` on a device with next to no space left) raises
:class:`smlib.errors.NoSpaceLeftError`, ``no space left on device while writing PATH``, once
the partial file is removed.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from smlib.errors import NoSpaceLeftError

__all__ = ["atomic_path", "atomic_dir", "atomic_write_text"]


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


#: Permissions of a finished file: those of an ordinary ``open(..., "w")`` (0666 minus umask),
#: not the 0600 that :func:`tempfile.mkstemp` gives its temporary file.
_FILE_MODE = 0o666 & ~_current_umask()


#: Free space (bytes) under which a netCDF/HDF5 write error is taken for a full device: HDF5
#: writes whole chunks (an smlib cube's chunk is one station's record, well under this), and a
#: write it could not finish leaves less than one chunk free.
NEARLY_FULL_BYTES = 16 << 20


def _free_bytes(folder: Path) -> int | None:
    """Bytes this process may still write in ``folder`` (root may use the reserved blocks)."""
    try:
        st = os.statvfs(folder)
    except OSError:
        return None
    blocks = st.f_bfree if hasattr(os, "geteuid") and os.geteuid() == 0 else st.f_bavail
    return blocks * st.f_frsize


def _is_full_device(err: BaseException, folder: Path) -> bool:
    """True when ``err``, raised writing a file in ``folder``, means the device is full."""
    if isinstance(err, OSError) and err.errno == errno.ENOSPC:
        return True
    netcdf = (isinstance(err, OSError) and isinstance(err.errno, int) and err.errno < 0) or (
        isinstance(err, RuntimeError) and str(err).startswith("NetCDF:")
    )  # the netCDF library does not pass ENOSPC on: it reports an HDF error
    free = _free_bytes(folder) if netcdf else None
    return free is not None and free < NEARLY_FULL_BYTES


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it over ``path`` if the block succeeds.

    Parameters
    ----------
    path : path
        Destination file; its folder is created if needed.

    Raises
    ------
    smlib.errors.NoSpaceLeftError
        The device filled up while the block wrote (the partial file is removed first).

    Yields
    ------
    pathlib.Path
        An existing, empty temporary file ``.<name>.<random>.tmp`` in the destination's folder,
        to be written (or overwritten) by the block. It is removed if the block raises.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "table.csv"
    >>> with atomic_path(out) as tmp:
    ...     _ = tmp.write_text("a,b\\n1,2\\n")
    >>> out.read_text()
    'a,b\\n1,2\\n'
    """
    dest = Path(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, dest)
    except BaseException as err:
        full = _is_full_device(err, dest.parent)  # before the partial file frees its space
        tmp.unlink(missing_ok=True)
        if full:
            raise NoSpaceLeftError(dest) from err
        raise


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; return the path."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


@contextmanager
def atomic_dir(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a fresh temporary folder beside ``path``; swap it in for ``path`` on success.

    An existing ``path`` is replaced whole (moved aside, then deleted) only after the block
    succeeded, so readers see either the old folder or the complete new one. On error the
    temporary folder is removed and ``path`` is left as it was; a full device raises
    :class:`smlib.errors.NoSpaceLeftError` naming ``path``.
    """
    dest = Path(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_current_umask())
        old = dest.with_name(f".{dest.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        if dest.exists():
            os.replace(dest, old)
        os.replace(tmp, dest)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException as err:
        full = _is_full_device(err, dest.parent)
        shutil.rmtree(tmp, ignore_errors=True)
        if full:
            raise NoSpaceLeftError(dest) from err
        raise
