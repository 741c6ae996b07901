"""Run every ``benchmarks/bench_*.py`` module and write its results as JSON.

Usage::

    python -m benchmarks [--only NAME] [--short]

Each module exposes ``run(short: bool) -> dict``; the dict is written atomically to
``benchmarks/results/<module>.json`` together with the machine description.
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
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=1)
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    p.add_argument("--only", default=None, help="run only the module bench_NAME")
    p.add_argument("--short", action="store_true", help="fewer repetitions (smoke run)")
    a = p.parse_args(argv)
    pkg = Path(__file__).resolve().parent
    names = sorted(m.name for m in pkgutil.iter_modules([str(pkg)]) if m.name.startswith("bench_"))
    if a.only:
        names = [n for n in names if n == f"bench_{a.only}" or n == a.only]
        if not names:
            print(f"no benchmark module named {a.only!r}", file=sys.stderr)
            return 2
    for name in names:
        mod = importlib.import_module(f"benchmarks.{name}")
        t0 = time.perf_counter()
        result = mod.run(short=a.short)
        result["_machine"] = {
            "platform": platform.platform(),
            "processor": platform.processor(),
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
            "wall_seconds": round(time.perf_counter() - t0, 2),
            "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        _write_json(RESULTS / f"{name}.json", result)
        print(f"{name}: wrote {RESULTS / (name + '.json')}")
        print(json.dumps(result.get("summary", {}), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
