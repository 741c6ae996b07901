"""Run every ``benchmarks/bench_*.py`` module and write its results as JSON.

Usage::

    python -m benchmarks [--quick] [--only NAME]... [--out DIR]

Each module exposes ``run(quick: bool) -> dict``; the dict is written atomically to
``<DIR>/<module>.json`` (default ``benchmarks/results/``) together with a description of the
machine: CPU model and flags, thread count, load average before and after (every figure is a
ratio against a baseline measured in the same run, but a loaded machine still widens the
spread), and the GPU's name when CUDA is available -- the same command runs unchanged there.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import pkgutil
import platform
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=1, default=str)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def machine() -> dict:
    """What the numbers were measured on."""
    import torch

    info = {
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda_available": torch.cuda.is_available(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
    return info


def available() -> list[str]:
    """Names of the benchmark modules (``bench_*``)."""
    pkg = Path(__file__).resolve().parent
    return sorted(m.name for m in pkgutil.iter_modules([str(pkg)]) if m.name.startswith("bench_"))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    p.add_argument(
        "--only", action="append", default=None, metavar="NAME",
        help="run only bench_NAME (repeatable); one of: "
        + ", ".join(n.removeprefix("bench_") for n in available()),
    )  # fmt: skip
    p.add_argument("--quick", "--short", action="store_true", help="tiny sizes (smoke run)")
    p.add_argument("--out", type=Path, default=RESULTS, help="folder for the JSON results")
    a = p.parse_args(argv)
    names = available()
    if a.only:
        wanted = {n if n.startswith("bench_") else f"bench_{n}" for n in a.only}
        unknown = wanted - set(names)
        if unknown:
            print(f"no benchmark module named {sorted(unknown)}; have {names}", file=sys.stderr)
            return 2
        names = [n for n in names if n in wanted]
    for name in names:
        mod = importlib.import_module(f"benchmarks.{name}")
        load0 = os.getloadavg()
        t0 = time.perf_counter()
        result = mod.run(quick=a.quick)
        result["_machine"] = {
            **machine(),
            "quick": a.quick,
            "load_average_1min_before_after": [round(load0[0], 2), round(os.getloadavg()[0], 2)],
            "wall_seconds": round(time.perf_counter() - t0, 2),
            "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        path = a.out / f"{name}.json"
        _write_json(path, result)
        print(f"{name}: wrote {path}")
        print(json.dumps(result.get("summary", {}), indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
