"""Shared, generic fixtures: the real-data folder and a writer of tiny ISMN files."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

# PROJ (pulled in by cartopy and ismn) loaded after netCDF4 has opened a file can abort the
# interpreter at exit although every test passed; loading it first avoids that.
try:
    import pyproj  # noqa: F401
except ImportError:  # pragma: no cover - pyproj comes with cartopy
    pass

REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata"


@pytest.fixture
def realdata() -> Path:
    """The folder of real sample files (../shared/realdata); skips the test when absent."""
    if not REALDATA.is_dir():
        pytest.skip(f"real sample data not found at {REALDATA}")
    return REALDATA


def write_stm(
    folder: Path,
    network: str,
    station: str,
    variable: str,
    depth_from: float,
    depth_to: float,
    sensor: str,
    times: Sequence | pd.DatetimeIndex,
    values: Sequence[float] | np.ndarray,
    flags: Sequence[str] | str = "G",
    *,
    lat: float = 45.0,
    lon: float = 0.0,
    elevation: float = 100.0,
    newline: str = "\n",
) -> Path:
    """Write one ISMN Header+values ``.stm`` file and return its path."""
    times = pd.DatetimeIndex(times)
    values = np.asarray(values, dtype=float)
    if isinstance(flags, str):
        flags = [flags] * len(values)
    start, end = f"{times[0]:%Y%m%d}", f"{times[-1]:%Y%m%d}"
    d = Path(folder) / network / station
    d.mkdir(parents=True, exist_ok=True)
    name = (
        f"{network}_{network}_{station}_{variable}_{depth_from:.6f}_{depth_to:.6f}_{sensor}"
        f"_{start}_{end}.stm"
    )
    header = (
        f"{network:<10} {network:<15} {station:<17} {lat:10.5f} {lon:11.5f} {elevation:7.2f} "
        f"{depth_from:7.2f} {depth_to:7.2f} {sensor}"
    )
    rows = [
        f"{t:%Y/%m/%d %H:%M} {v:8.4f} {f} M" for t, v, f in zip(times, values, flags, strict=True)
    ]
    (d / name).write_bytes(newline.join([header, *rows, ""]).encode())
    return d / name


@pytest.fixture
def stm_writer():
    """The :func:`write_stm` helper, for tests that build tiny ISMN trees."""
    return write_stm
