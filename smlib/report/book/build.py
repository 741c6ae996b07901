"""Building the book: the twin when no data folder is given, every notebook of the plan in
order, the generated pages, and the HTML with Jupyter Book.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import re
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from smlib.atomic import atomic_dir, atomic_write_text
from smlib.digests import tree_signature
from smlib.progress import progress_bar
from smlib.report.book.execution import (
    declared_parameters,
    execute_notebook,
    execution_key,
    kernel_name,
    library_digest,
    notebook_path,
    sha256_hex,
)
from smlib.report.book.pages import (
    build_info_md,
    display_path,
    glance_md,
    read_json,
    reproducibility_md,
    write_if_changed,
)
from smlib.report.book.plan import RUNNER_PARAMETERS, BookPlan, load_plan, toc_yaml

__all__ = [
    "REPO_ROOT",
    "book_work_dir",
    "split_overrides",
    "build_book",
]

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[3]


def _ensure_twin(plan: BookPlan, folder: Path) -> tuple[Path, float]:
    """Write the synthetic twin for ``plan`` into ``folder`` unless it is up to date."""
    stamp_name = ".smlib-twin.json"
    want = json.dumps(
        {"twin": plan.twin, "synth": library_digest(["smlib.synth"])}, sort_keys=True, default=str
    )
    stamp = folder / stamp_name
    if stamp.is_file() and stamp.read_text() == want:
        log.info("synthetic twin up to date in %s", folder)
        return folder, 0.0
    try:
        from smlib.synth import write_twin
    except ImportError as err:  # pragma: no cover - depends on the checkout
        raise RuntimeError(
            "the embedded twin needs smlib.synth.write_twin, which is not available "
            f"({err}); pass --data DIR to build the book on existing data"
        ) from err
    start = time.perf_counter()
    log.info("writing the synthetic twin (%s) into %s", plan.twin, folder)
    with atomic_dir(folder) as tmp:
        write_twin(tmp, **plan.twin)
        (tmp / stamp_name).write_text(want)
    return folder, time.perf_counter() - start


# --------------------------------------------------------------------------------------------
# the runner
# --------------------------------------------------------------------------------------------
def book_work_dir(work_root: Path, profile: str, data_dir: Path | None) -> Path:
    """The work folder of one build: ``book-work/<profile>`` for the twin, and one folder per
    data folder (``book-work/<profile>-<name>-<digest of its path>``), so that a build on
    user data never replaces the twin's cube, runs and reports (or another folder's)."""
    name = profile
    if data_dir is not None:
        resolved = str(Path(data_dir).resolve())
        slug = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(resolved).name).strip("-") or "data"
        name = f"{profile}-{slug}-{sha256_hex(resolved.encode())[:8]}"
    out = (Path(work_root) / "book-work" / name).resolve()
    out.mkdir(parents=True, exist_ok=True)
    return out


def split_overrides(plan: BookPlan, overrides: Sequence[str]) -> tuple[dict[str, Any], list[str]]:
    """Split ``smlib book --set KEY=VALUE`` strings into notebook parameters and config overrides.

    Returns
    -------
    (dict, list of str)
        Parameters (KEY declared in the params file, VALUE parsed as YAML) and training
        configuration overrides, already checked against :mod:`smlib.config` (strict keys).

    Raises
    ------
    ValueError
        A string without ``=``, a runner parameter, or an unknown configuration key.
    """
    import yaml

    from smlib.config import get_profile

    declared = set(plan.defaults) | {k for spec in plan.notebooks for k in spec.parameters}
    params: dict[str, Any] = {}
    config: list[str] = []
    for item in overrides:
        key, sep, value = str(item).partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"--set {item!r}: expected KEY=VALUE")
        if key in RUNNER_PARAMETERS:
            raise ValueError(f"--set {key}: set by the runner (use --data / --profile)")
        if key in declared and key != "overrides":
            params[key] = yaml.safe_load(value)
        else:
            config.append(f"{key}={value}")
    if config:
        try:
            get_profile(plan.profile, config)
        except (KeyError, ValueError, TypeError) as err:
            text = err.args[0] if isinstance(err, KeyError) and err.args else err
            raise ValueError(
                f"--set: {text} (notebook parameters of {plan.source.name}: {sorted(declared)})"
            ) from None
    return params, config


def build_book(
    profile: str = "quick",
    data: str | os.PathLike[str] | None = None,
    force: bool = False,
    skip_html: bool = False,
    *,
    params: str | os.PathLike[str] | None = None,
    book_dir: str | os.PathLike[str] | None = None,
    notebooks_dir: str | os.PathLike[str] | None = None,
    work_root: str | os.PathLike[str] | None = None,
    overrides: Sequence[str] = (),
) -> Path:
    """Execute the notebooks of a profile and build the HTML book.

    Parameters
    ----------
    profile
        ``quick`` (default) or ``paper``; selects ``params/<profile>.yml``.
    data
        Data folder given to every notebook as ``data_dir``; ``None`` writes (or reuses) the
        embedded synthetic twin under ``work_root/twin/<profile>``.
    force
        Re-execute every notebook even if its execution key is unchanged.
    skip_html
        Execute the notebooks only.
    params, book_dir, notebooks_dir, work_root
        Overrides (for tests and other layouts): the params YAML, the Jupyter Book source
        folder (default ``book/``), the source notebooks (``notebooks/``) and the folder for
        the twin and intermediate files (``build/``).
    overrides
        ``KEY=VALUE`` strings (``smlib book --set``): a KEY that a notebook declares in the
        params file (``min_days=30``) sets that parameter (value read as YAML); any other
        is a training-configuration override (``preprocess.feature_set=insitu``, strict keys,
        checked before anything runs) appended to the notebooks' ``overrides``.

    Returns
    -------
    pathlib.Path
        ``<book_dir>/_build/html/index.html`` (or the sections folder with ``skip_html``).

    Raises
    ------
    NotebookFailed
        When a notebook raises; earlier executed copies are kept.
    """
    t_total = time.perf_counter()
    root = REPO_ROOT
    plan = load_plan(params if params is not None else root / "params" / f"{profile}.yml")
    if params is None and plan.profile != profile:
        raise ValueError(f"{plan.source}: declares profile {plan.profile!r}, not {profile!r}")
    book = Path(book_dir) if book_dir is not None else root / "book"
    nb_src = Path(notebooks_dir) if notebooks_dir is not None else root / "notebooks"
    work = Path(work_root) if work_root is not None else root / "build"
    sections = book / "sections"
    sections.mkdir(parents=True, exist_ok=True)

    # validate everything cheap before spending time
    sources = {}
    for spec in plan.notebooks:
        src = nb_src / spec.notebook
        if not src.is_file():
            raise FileNotFoundError(f"{plan.source}: notebook {src} not found")
        declared = declared_parameters(src)
        wanted = set(RUNNER_PARAMETERS) | set(plan.defaults) | set(spec.parameters)
        undeclared = sorted(wanted - declared)
        if undeclared:
            raise ValueError(
                f"{src}: its parameters cell does not declare {undeclared} "
                f"(given by the runner or {plan.source.name})"
            )
        sources[spec.stem] = src

    timings: dict[str, Any] = {"profile": plan.profile, "twin": None, "notebooks": {}}
    if data is None:
        data_dir, seconds = _ensure_twin(plan, work / "twin" / plan.profile)
        timings["twin"] = {"status": "written" if seconds else "up to date", "s": seconds}
        twin_args = ", ".join(f"{k}={v}" for k, v in plan.twin.items())
        data_label = f"the embedded synthetic twin ({twin_args})"
    else:
        data_dir = Path(data).resolve()
        if not data_dir.is_dir():
            raise FileNotFoundError(f"data folder {data_dir} not found")
        data_label = f"the data in `{display_path(data_dir, root)}`"
    work_dir = book_work_dir(work, plan.profile, None if data is None else data_dir)
    set_params, config_overrides = split_overrides(plan, overrides)
    work_dir.mkdir(parents=True, exist_ok=True)

    # executed copies of notebooks no longer in the plan would linger in the book
    listed = set(sources)
    for stale in sections.glob("*.ipynb"):
        if stale.name.endswith(".failed.ipynb") or stale.stem in listed:
            continue
        log.info("removing executed copy %s (not in %s)", stale.name, plan.source.name)
        stale.unlink()
        stale.with_name(f"{stale.stem}.key.json").unlink(missing_ok=True)

    library = library_digest()
    data_listing = tree_signature(data_dir)
    kernel = kernel_name()
    upstream = ""
    progress = progress_bar(plan.notebooks, desc="notebooks", unit="nb")
    for spec in progress:
        progress.set_postfix_str(spec.stem)
        parameters = {
            **plan.defaults,
            **spec.parameters,
            **{k: v for k, v in set_params.items() if k in plan.defaults or k in spec.parameters},
            "data_dir": notebook_path(data_dir, nb_src),
            "work_dir": notebook_path(work_dir, nb_src),
            "profile": plan.profile,
        }
        if config_overrides and "overrides" in parameters:
            parameters["overrides"] = [*parameters["overrides"], *config_overrides]
        key = execution_key(sources[spec.stem], parameters, data_listing, library, upstream)
        upstream = key
        out = sections / f"{spec.stem}.ipynb"
        key_file = sections / f"{spec.stem}.key.json"
        stored = read_json(key_file) or {}
        if not force and out.is_file() and stored.get("key") == key:
            timings["notebooks"][spec.stem] = {"status": "up to date", "s": 0.0}
            log.info("%s is up to date", spec.notebook)
            continue
        key_file.unlink(missing_ok=True)
        start = time.perf_counter()
        execute_notebook(spec, sources[spec.stem], out, parameters, kernel, cwd=nb_src)
        seconds = time.perf_counter() - start
        atomic_write_text(key_file, json.dumps({"key": key, "seconds": seconds}, indent=2) + "\n")
        timings["notebooks"][spec.stem] = {"status": "executed", "s": seconds}
        log.info("executed %s in %.1f s", spec.notebook, seconds)
    progress.close()

    from smlib.report.pipeline import stage_timings

    timings["pipeline"] = stage_timings(work_dir)
    built_at = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    timings_file = sections / "_timings.json"
    previous = read_json(timings_file) or {}
    if write_if_changed(book / "_toc.yml", toc_yaml(plan)):
        log.info("wrote %s from %s", book / "_toc.yml", plan.source.name)
    atomic_write_text(sections / "_build_info.md", build_info_md(plan, data_label, built_at))
    atomic_write_text(
        sections / "_reproducibility.md",
        reproducibility_md(plan, data_label, built_at, timings, previous.get("html_s"), book, root),
    )
    atomic_write_text(sections / "_glance.md", glance_md(plan, work_dir))
    from smlib.ops.throughput import throughput_markdown

    atomic_write_text(
        sections / "_throughput.md", throughput_markdown(root / "benchmarks" / "results")
    )
    timings["built_at"] = built_at
    if skip_html:
        timings["total_s"] = time.perf_counter() - t_total
        atomic_write_text(timings_file, json.dumps(timings, indent=2) + "\n")
        return sections

    start = time.perf_counter()
    _build_html(book)
    timings["html_s"] = time.perf_counter() - start
    timings["total_s"] = time.perf_counter() - t_total
    atomic_write_text(timings_file, json.dumps(timings, indent=2) + "\n")
    index = book / "_build" / "html" / "index.html"
    log.info("book built in %.1f s: %s", timings["total_s"], index)
    return index


def _build_html(book: Path, extra_args: Sequence[str] = ()) -> None:
    """Run ``jupyter-book build`` on ``book`` with this interpreter."""
    cmd = [
        sys.executable,
        "-c",
        "from jupyter_book.cli.main import main; main()",
        "build",
        str(book),
        "--builder",
        "html",
        *extra_args,
    ]
    log.info("building the HTML: jupyter-book build %s", book)
    result = subprocess.run(cmd, check=False)
    if result.returncode != 0:
        raise RuntimeError(
            f"jupyter-book build {book} failed with exit code {result.returncode} "
            "(its output is above)"
        )
