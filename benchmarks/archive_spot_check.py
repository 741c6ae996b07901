"""Spot check of the operational product's rate: student + stored coefficients + flags + NetCDF.

A short, single-purpose measurement beside ``bench_operational`` (whose full run takes ~30 min
and, on a shared 2-core machine, is easily measured under load): one torch thread, in-process,
on a built book's cube (``./run book`` first), with a student distilled from its recommended
run and the station table ``smlib correct`` wrote::

    smlib distill build/book-work/quick/runs/recommended --out /tmp/student
    python -m benchmarks.archive_spot_check /tmp/student            # in-process correct()
    python -m benchmarks.archive_spot_check /tmp/student 45 15      # archive, blocks of 45, 15

Each call prints station-hours per second and the hours the 254 M station-hour archive would
take at that rate on one core, with the load average after the run (a value near 0 says the
machine was idle). Run each block size in its own process (as above): the archive opens the
cube itself.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch
import xarray as xr

ARCHIVE_STATION_HOURS = 254e6
BOOK = Path("build/book-work/quick")


def main(argv: list[str]) -> dict:
    from smlib.method.correct import correct
    from smlib.method.runfolder import load_model
    from smlib.ops.archive import correct_archive

    torch.set_num_threads(1)
    student, sizes = argv[0], [int(a) for a in argv[1:]]
    cube, coef = BOOK / "cube.nc", BOOK / "corrected_recommended.coefficients.json"
    with xr.open_dataset(cube) as f:
        ds = f.load()
    n = ds.sizes["station"] * ds.sizes["time"]
    res: dict = {"station_hours": int(n), "stations": int(ds.sizes["station"])}
    if not sizes:
        lm = load_model(student, "cpu")
        correct(ds.isel(station=slice(0, 3)), lm, ("lstm",), coefficients=coef)  # warm-up
        t0 = time.perf_counter()
        correct(ds, lm, ("lstm",), coefficients=coef)
        res["in_process_rate"] = round(n / (time.perf_counter() - t0))
    for bs in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            correct_archive(cube, student, Path(tmp) / "a.nc", methods=("lstm",),
                            block_stations=bs, coefficients=coef)  # fmt: skip
            res[f"archive_block{bs}_rate"] = round(n / (time.perf_counter() - t0))
            shutil.rmtree(tmp, ignore_errors=True)
    for k in [k for k in res if k.endswith("_rate")]:
        res[k.replace("_rate", "_hours_254M")] = round(ARCHIVE_STATION_HOURS / res[k] / 3600, 2)
    res["load_average_1min_after"] = round(os.getloadavg()[0], 2)
    return res


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:]), indent=1))
