"""The book's throughput table and archive projection, read from the benchmark JSON files.

:func:`throughput_markdown` turns ``benchmarks/results/bench_operational.json`` (CPU: teacher
vs student, int8, onnxruntime, end-to-end, dask archive; ``benchmarks/bench_operational.py``)
and every ``benchmarks/results/gpu_*.json`` (``benchmarks/gpu.py``) into the Markdown of the
reproducibility page's "Throughput and the archive projection" section. Nothing is computed
here but unit conversions: every number is one the benchmarks measured.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

__all__ = ["ARCHIVE_STATION_HOURS", "throughput_markdown"]

log = logging.getLogger(__name__)

#: Station-hours of the ISMN archive the projections refer to (~2,900 stations x 10 years).
ARCHIVE_STATION_HOURS = 254e6


def _read(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        log.warning("%s: unreadable benchmark result (%s)", path, err)
        return None
    return data if isinstance(data, dict) else None


def _fmt(rate: float | None) -> str:
    return "--" if rate is None or rate != rate else f"{rate:,.0f}"


def _hours(rate: float | None) -> str:
    if not rate or rate != rate:
        return "--"
    h = ARCHIVE_STATION_HOURS / rate / 3600
    return f"{h:,.1f} h" if h >= 1 else f"{h * 60:,.1f} min"


def _cpu_part(d: dict, name: str) -> list[str]:
    m = d.get("_machine", {})
    s = d.get("summary", {})
    quick = " (**quick mode**: a small twin, few epochs -- skill numbers are not meaningful)"
    load = m.get("load_average_1min_before_after")
    busy = (
        f"; 1-min load average {load[0]} before, {load[1]} after on {m.get('cpu_count')} cores "
        "(other jobs shared the machine: rates are noisy, multi-threaded ones most)"
        if load
        else ""
    )
    out = [
        f"CPU: {m.get('cpu', '?')}, {s.get('threads', '?')} torch threads, measured "
        f"{m.get('date_utc', '?')}{quick if m.get('quick') else ''} (`{name}`){busy}.",
        "",
        "| model | variant | threads | network station-h/s | archive (network only) |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for r in d.get("network", []):
        rate = r.get("station_hours_per_s")
        out.append(
            f"| {r['model']} | {r['variant']} | {r.get('threads', '')} | {_fmt(rate)} | "
            f"{_hours(rate)} |"
        )
    e2e = d.get("end_to_end", {})
    out += [
        "",
        f"End to end (`smlib.method.correct.correct`: preprocessing, network, product) on "
        f"{e2e.get('stations', '?')} stations x {e2e.get('hours', '?')} hours:",
        "",
        "| model | product | threads | station-h/s | archive |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for r in e2e.get("rows", []):
        rate = r.get("station_hours_per_s")
        out.append(
            f"| {r['model']} | {r['product']} | {r.get('threads', '')} | {_fmt(rate)} | "
            f"{_hours(rate)} |"
        )
    arch = d.get("archive", [])
    if arch:
        out += [
            "",
            "Archive run (`smlib correct --workers N`, student, station-chunked NetCDF in and out):",
            "",
            "| workers | stations (block) | station-h/s | peak memory, all processes | largest worker |",
            "| ---: | --- | ---: | ---: | ---: |",
        ]
        for r in arch:
            out.append(
                f"| {r['workers']} | {r['stations']} ({r['block_stations']}) | "
                f"{_fmt(r['station_hours_per_s'])} | {r['peak_rss_total_mib']} MiB | "
                f"{r['peak_rss_largest_worker_mib']} MiB |"
            )
    out += [
        "",
        f"Student over teacher (network, torch fp32, one thread each): "
        f"**{s.get('student_over_teacher_cpu')}x** "
        f"the paper model, {s.get('student_over_quick_teacher_cpu')}x the quick one; fastest "
        f"student variant {s.get('fastest_student_variant')} "
        f"({s.get('fastest_student_over_teacher_cpu')}x). Projected CPU time for "
        f"{ARCHIVE_STATION_HOURS / 1e6:.0f} M station-hours with the student, at the rate of "
        f"the archive run on {s.get('archive_run_workers')} worker(s): "
        f"**{s.get('archive_hours_cpu')} h** (in-process best: "
        f"{s.get('archive_hours_cpu_in_process_best')} h; the paper teacher on one core: "
        f"{s.get('archive_hours_cpu_teacher_paper_one_core')} h).",
    ]
    hf = s.get("hf_r_network_vs_truth") or {}
    if hf:
        out += [
            "",
            "Skill against the truth (median HF R, dielectric stations, rain-free days; "
            "network output):",
            "",
            "| model | HF R vs truth |",
            "| --- | ---: |",
        ]
        out += [f"| {k} | {v:.3f} |" for k, v in hf.items() if v is not None]
    targets = s.get("targets") or {}
    if targets:
        out += ["", "| target (issue #13) | met |", "| --- | --- |"]
        out += [f"| {k} | {'yes' if ok else '**no**'} |" for k, ok in targets.items()]
    return out


def _gpu_part(d: dict, name: str) -> list[str]:
    s = d.get("summary", {})
    out = [
        f"GPU: {d.get('device', '?')} (torch {d.get('torch', '?')}, measured "
        f"{d.get('date_utc', '?')}, `{name}`); best batch size per model and precision, "
        "network only:",
        "",
        "| model | precision | batch | station-h/s | archive |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for key, v in s.items():
        if not isinstance(v, dict) or "station_hours_per_s" not in v:
            continue
        model, _, prec = key.rpartition("_")
        rate = v["station_hours_per_s"]
        out.append(f"| {model} | {prec} | {v.get('batch', '')} | {_fmt(rate)} | {_hours(rate)} |")
    c = d.get("correct_station_year") or {}
    if c:
        out += [
            "",
            f"End to end on the GPU (paper model; preprocessing on the CPU): "
            f"{_fmt(c.get('corrected_station_hours_per_s'))} corrected station-h/s. Paper "
            f"profile epoch: {s.get('paper_epoch_seconds', '--')} s.",
        ]
    return out


def throughput_markdown(results_dir: str | Path) -> str:
    """Markdown tables of the operational (CPU) and GPU benchmark results in ``results_dir``.

    Parameters
    ----------
    results_dir : path
        Folder of the benchmark JSON files (``benchmarks/results``).

    Returns
    -------
    str
        Markdown; says so when no result has been recorded yet.
    """
    results_dir = Path(results_dir)
    out: list[str] = []
    cpu = results_dir / "bench_operational.json"
    data = _read(cpu) if cpu.is_file() else None
    if data:
        out += _cpu_part(data, f"benchmarks/results/{cpu.name}")
    else:
        out.append("No CPU measurement yet: run `./run bench --only operational`.")
    gpus = sorted(results_dir.glob("gpu_*.json"))
    for path in gpus:
        g = _read(path)
        if g:
            out += ["", *_gpu_part(g, f"benchmarks/results/{path.name}")]
    if not gpus:
        out += ["", "No GPU measurement: `python -m benchmarks.gpu` on a CUDA machine."]
    return "\n".join(out) + "\n"
