"""Build the book: execute every notebook of a profile with papermill, then render the HTML.

One YAML file per profile (``params/quick.yml``, ``params/paper.yml``) drives both the
execution and the table of contents (NCAR CUPiD's pattern)::

    profile: quick
    description: ...
    twin: {n_stations: 12, n_days: 240, seed: 0}   # keyword arguments of smlib.synth.write_twin
    defaults: {}                                   # parameters given to every notebook
    notebooks:                                     # in book order
      - notebook: 00_overview.ipynb
        title: Overview                            # optional, else the notebook's own title
        parameters: {map_extent: null}

:func:`build_book` then

1. writes the embedded synthetic twin when no data folder is given (once per profile; reused
   while its parameters and ``smlib.synth`` are unchanged);
2. executes each notebook with papermill into ``book/sections/NAME.ipynb`` (never in place),
   adding the parameters ``data_dir``, ``work_dir`` (a folder shared by the notebooks of one
   build) and ``profile``. A notebook is skipped when its *execution key* -- a sha256 of the
   notebook, its parameters, the data folder's listing (names, sizes, modification times),
   the smlib version and source, and the keys of the notebooks before it -- equals the one
   stored next to its executed copy (``NAME.key.json``). A failing notebook stops the build
   with :class:`NotebookFailed`, which carries the failing cell's traceback; the executed copies
   before it are kept and the failed copy is left as ``NAME.failed.ipynb`` for inspection.
   The kernels run with ``SMLIB_PROGRESS=0`` (:mod:`smlib.progress`), so no progress bar is
   saved into a page, and each executed copy shows one parameters cell, the values it ran
   with (:func:`present_parameters`);
3. writes ``book/_toc.yml`` from the notebook list (only if it changed), the profile notice
   and the results at a glance (:mod:`smlib.glance`, from this build's evaluation summary)
   included by the introduction, and the generated part of the reproducibility page;
4. builds ``book/_build/html`` with ``jupyter-book build`` (``execute_notebooks: off``).

Stage timings go to ``book/sections/_timings.json``.
"""

from __future__ import annotations

import ast
import contextlib
import datetime as _dt
import hashlib
import importlib.metadata
import io
import json
import logging
import os
import platform
import re
import subprocess
import sys
import time
import tokenize
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from smlib import __version__
from smlib.atomic import atomic_dir, atomic_write_text
from smlib.digests import json_digest, package_modules, source_digest, tree_signature
from smlib.progress import PROGRESS_ENV, progress_bar

__all__ = [
    "BookPlan",
    "NotebookFailed",
    "NotebookSpec",
    "book_work_dir",
    "build_book",
    "execution_key",
    "load_plan",
    "present_parameters",
    "split_overrides",
    "toc_yaml",
]

from smlib.errors import NotebookFailed

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[1]
#: Parameters the runner adds to every notebook; each notebook's parameters cell declares them.
RUNNER_PARAMETERS = ("data_dir", "work_dir", "profile")
#: Bump when the meaning of an execution key changes, so that every notebook re-runs.
_KEY_SCHEMA = 1
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_PLAN_KEYS = {"profile", "description", "twin", "defaults", "notebooks"}
_NOTEBOOK_KEYS = {"notebook", "title", "parameters"}
_REFERENCE_PAGES = ("methods", "reproducibility", "references")
#: Distributions whose versions the reproducibility page lists.
_REPORTED_PACKAGES = (
    "numpy",
    "pandas",
    "xarray",
    "scipy",
    "torch",
    "dask",
    "matplotlib",
    "cartopy",
    "shapely",
    "pyshp",
    "netCDF4",
    "h5netcdf",
    "ismn",
    "papermill",
    "nbclient",
    "ipykernel",
    "ipywidgets",
    "jupyter-book",
    "sphinx",
    "myst-nb",
    "sphinx-book-theme",
)


# --------------------------------------------------------------------------------------------
# the plan (params YAML)
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class NotebookSpec:
    """One notebook of the book: its file in ``notebooks/`` and its parameters."""

    notebook: str
    parameters: dict[str, Any] = field(default_factory=dict)
    title: str | None = None

    @property
    def stem(self) -> str:
        """File name without ``.ipynb``; also the name of the book page."""
        return Path(self.notebook).stem


@dataclass(frozen=True)
class BookPlan:
    """A parsed ``params/<profile>.yml``."""

    profile: str
    description: str
    twin: dict[str, Any]
    defaults: dict[str, Any]
    notebooks: tuple[NotebookSpec, ...]
    source: Path


def _unknown(keys: Any, allowed: set[str], where: str) -> None:
    extra = sorted(set(keys) - allowed)
    if extra:
        raise ValueError(f"{where}: unknown key(s) {extra}; allowed: {sorted(allowed)}")


def load_plan(path: str | os.PathLike[str]) -> BookPlan:
    """Read and validate a params YAML (strict: unknown keys raise ``ValueError``).

    Parameters
    ----------
    path
        ``params/<profile>.yml`` or any file of the same layout.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: params file not found")
    raw = yaml.safe_load(path.read_text()) or {}
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a mapping at the top level")
    _unknown(raw, _PLAN_KEYS, str(path))
    for key in ("profile", "notebooks"):
        if key not in raw:
            raise ValueError(f"{path}: missing required key '{key}'")
    entries = raw["notebooks"]
    if not isinstance(entries, list) or not entries:
        raise ValueError(f"{path}: 'notebooks' must be a non-empty list")
    specs = []
    for k, entry in enumerate(entries):
        where = f"{path}: notebooks[{k}]"
        if not isinstance(entry, dict) or "notebook" not in entry:
            raise ValueError(f"{where}: expected a mapping with a 'notebook' key")
        _unknown(entry, _NOTEBOOK_KEYS, where)
        params = entry.get("parameters") or {}
        if not isinstance(params, dict):
            raise ValueError(f"{where}: 'parameters' must be a mapping")
        clash = sorted(set(params) & set(RUNNER_PARAMETERS))
        if clash:
            raise ValueError(f"{where}: {clash} are set by the runner, not in the params file")
        specs.append(NotebookSpec(str(entry["notebook"]), dict(params), entry.get("title")))
    stems = [s.stem for s in specs]
    if len(set(stems)) != len(stems):
        raise ValueError(f"{path}: a notebook is listed twice: {stems}")
    defaults = raw.get("defaults") or {}
    twin = raw.get("twin") or {}
    if not isinstance(defaults, dict) or not isinstance(twin, dict):
        raise ValueError(f"{path}: 'defaults' and 'twin' must be mappings")
    return BookPlan(
        profile=str(raw["profile"]),
        description=str(raw.get("description", "")).strip(),
        twin=dict(twin),
        defaults=dict(defaults),
        notebooks=tuple(specs),
        source=path,
    )


def toc_yaml(plan: BookPlan) -> str:
    """Return the Jupyter Book ``_toc.yml`` text for a plan (sections, then reference pages)."""
    lines = [
        "# Generated by smlib.book from the `notebooks` list of params/*.yml -- edit that list,",
        "# not this file. Sections are the executed copies that `smlib book` writes.",
        "format: jb-book",
        "root: intro",
        "parts:",
        "  - caption: Sections",
        "    chapters:",
    ]
    for spec in plan.notebooks:
        lines.append(f"      - file: sections/{spec.stem}")
        if spec.title:
            lines.append(f"        title: {json.dumps(spec.title)}")
    lines += ["  - caption: Reference", "    chapters:"]
    lines += [f"      - file: {page}" for page in _REFERENCE_PAGES]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
# execution keys
# --------------------------------------------------------------------------------------------
def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _library_digest(modules: Sequence[str] | None = None) -> str:
    """sha256 over the smlib version and the sources of ``modules`` and what they import
    (:func:`smlib.digests.source_digest`); ``None``: every source file of the package."""
    if modules is None:
        modules = package_modules()
    return _sha256(f"{__version__}\0{source_digest(modules)}".encode())


def execution_key(
    notebook: Path,
    parameters: Mapping[str, Any],
    data_listing: str,
    library: str,
    upstream: str,
) -> str:
    """sha256 that changes whenever a notebook's result could change.

    Parameters
    ----------
    notebook
        The source notebook (its bytes are hashed).
    parameters
        All parameters papermill injects (JSON-serialisable).
    data_listing, library, upstream
        Digests of the data folder, of smlib, and the key of the previous notebook.
    """
    payload = {
        "schema": _KEY_SCHEMA,
        "notebook": _sha256(notebook.read_bytes()),
        "parameters": parameters,
        "data": data_listing,
        "library": library,
        "upstream": upstream,
    }
    return json_digest(payload)


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------
def _write_if_changed(path: Path, text: str) -> bool:
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return False
    atomic_write_text(path, text)
    return True


def _kernel_name() -> str:
    """A kernel that runs this interpreter: ``python3`` if it does, else a venv-local spec."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    # jupyter_client replaces a bare "python"/"python3"/"python3.X" by the running interpreter
    bare = {"python", f"python{sys.version_info[0]}", "python{}.{}".format(*sys.version_info[:2])}
    manager = KernelSpecManager()
    for name in ("python3", "smlib"):
        try:
            argv0 = manager.get_kernel_spec(name).argv[0]
        except (NoSuchKernel, IndexError):
            continue
        if argv0 in bare or os.path.abspath(argv0) == os.path.abspath(sys.executable):
            return name
    from ipykernel.kernelspec import install

    install(kernel_name="smlib", display_name="Python (smlib)", prefix=sys.prefix)
    log.info("installed kernel spec 'smlib' for %s", sys.executable)
    return "smlib"


def _declared_parameters(notebook: Path) -> set[str]:
    import papermill

    return set(papermill.inspect_notebook(str(notebook)))


def _ensure_twin(plan: BookPlan, folder: Path) -> tuple[Path, float]:
    """Write the synthetic twin for ``plan`` into ``folder`` unless it is up to date."""
    stamp_name = ".smlib-twin.json"
    want = json.dumps(
        {"twin": plan.twin, "synth": _library_digest(["smlib.synth"])}, sort_keys=True, default=str
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


@contextlib.contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for the duration of a block (kernels started inside inherit)."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _assignments(source: str) -> dict[str, tuple[str, str]] | None:
    """``name -> (value source, trailing comment)`` of a parameters cell made of plain
    ``name = value  # comment`` statements; None when the cell holds anything else."""
    try:
        tree = ast.parse(source)
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (SyntaxError, tokenize.TokenError):
        return None
    comments = {
        t.start[0]: t.string.lstrip("#").strip() for t in tokens if t.type == tokenize.COMMENT
    }
    out = {}
    for node in tree.body:
        if not (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
        ):
            return None
        value = ast.get_source_segment(source, node.value) or ""
        out[node.targets[0].id] = (value, comments.get(node.end_lineno or node.lineno, ""))
    return out


def present_parameters(nb: Any, parameters: Mapping[str, Any]) -> bool:
    """Leave one visible parameters cell in an executed notebook: the values it ran with.

    Papermill keeps the notebook's ``parameters`` cell (its defaults) and inserts an
    ``injected-parameters`` cell after it with the values it was given, so a rendered page would
    show two cells, the first of them partly untrue. This rewrites the injected cell to list
    *every* parameter with the value it had when the notebook ran -- the given ones marked
    ``# set for this build``, the others as the defaults cell set them -- each below its comment
    from the defaults cell, and tags the defaults cell ``remove-cell`` (myst-nb drops it from
    the page; it stays in the ``.ipynb``). Running the rewritten cell after the defaults cell
    leaves the same values, so the page shows what the code saw. A defaults cell that is not
    made of plain ``name = value`` lines is folded instead (``hide-input``).

    Parameters
    ----------
    nb : nbformat.NotebookNode
        An executed notebook, changed in place.
    parameters : mapping
        The parameters papermill injected.

    Returns
    -------
    bool
        Whether the notebook was changed (False without exactly one cell of each kind).
    """
    from papermill.translators import PythonTranslator

    tagged = {
        tag: [c for c in nb.cells if tag in c.get("metadata", {}).get("tags", [])]
        for tag in ("parameters", "injected-parameters")
    }
    if len(tagged["parameters"]) != 1 or len(tagged["injected-parameters"]) != 1:
        return False
    defaults_cell, injected = tagged["parameters"][0], tagged["injected-parameters"][0]
    defaults = _assignments(defaults_cell.source)
    tags = defaults_cell.metadata.setdefault("tags", [])
    if defaults is None:
        tags.append("hide-input")
        return True
    lines = [  # short lines: the code column of a book page is about 75 characters wide
        "# The parameters this section ran with. Values marked 'set for this build'",
        "# came from the book runner (params file, data and work folders); the",
        "# others are the notebook's defaults.",
    ]
    for name, (value, comment) in defaults.items():
        given = name in parameters
        if given:
            value = PythonTranslator.translate(parameters[name])
        if comment:
            lines.append(f"# {comment}")
        lines.append(f"{name} = {value}" + ("  # set for this build" if given else ""))
    for name in parameters:  # given but not declared (papermill warns): shown as given
        if name not in defaults:
            value = PythonTranslator.translate(parameters[name])
            lines.append(f"{name} = {value}  # set for this build (not a declared parameter)")
    injected.source = "\n".join(lines)
    tags.append("remove-cell")
    return True


#: Seconds one notebook cell may run before the build fails (``SMLIB_CELL_TIMEOUT``).
CELL_TIMEOUT_S = 3600


def _cell_timeout() -> int:
    value = os.environ.get("SMLIB_CELL_TIMEOUT", "")
    return int(value) if value.strip().isdigit() else CELL_TIMEOUT_S


def _execute(
    spec: NotebookSpec,
    source: Path,
    out: Path,
    parameters: dict[str, Any],
    kernel: str,
    cwd: Path,
) -> None:
    import papermill
    from papermill.exceptions import PapermillExecutionError

    from smlib.notebook_engine import ENGINE_NAME  # registers the engine with papermill

    running = out.with_name(f".{out.stem}.running.ipynb")
    failed = out.with_name(f"{out.stem}.failed.ipynb")
    failed.unlink(missing_ok=True)
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    def run() -> None:
        with _environment({PROGRESS_ENV: "0"}):  # the kernel inherits it: no bars in the book
            papermill.execute_notebook(
                str(source),
                str(running),
                parameters=parameters,
                kernel_name=kernel,
                cwd=str(cwd),
                progress_bar={"file": sys.stdout, "leave": False, "desc": f"  {spec.stem} cells"},
                log_output=False,
                request_save_on_cell_execute=False,
                # kernel messages read in short polls: a missed wake-up of the ZMQ socket
                # (seen with the explorer's widgets on a loaded machine) costs 0.5 s, not
                # the whole cell timeout (smlib.notebook_engine)
                engine_name=ENGINE_NAME,
                # a cell that never answers still fails instead of blocking the build
                execution_timeout=_cell_timeout(),
            )

    try:
        try:
            run()
        except (CellTimeoutError, DeadKernelError) as err:  # the kernel, not the notebook
            log.warning("%s: %s; running the notebook once more", spec.notebook, err)
            run()
    except PapermillExecutionError as err:
        if running.exists():
            os.replace(running, failed)
        raise NotebookFailed(
            notebook=spec.notebook,
            cell=err.exec_count,
            ename=err.ename,
            evalue=err.evalue,
            traceback=_ANSI.sub("", "\n".join(err.traceback)),
            copy=failed,
        ) from None
    except BaseException:
        running.unlink(missing_ok=True)
        raise
    import nbformat

    executed = nbformat.read(running, as_version=4)
    if present_parameters(executed, parameters):
        nbformat.write(executed, running)
    os.replace(running, out)


def _notebook_path(path: Path, cwd: Path) -> str:
    """``path`` as the notebook (run in ``cwd``) should see it: relative when both lie in one
    project folder, so that no machine path ends up in the book; absolute otherwise."""
    path, cwd = path.resolve(), cwd.resolve()
    common = Path(os.path.commonpath([path, cwd]))
    return os.path.relpath(path, cwd) if common in (cwd.parent, cwd) else str(path)


def _versions() -> dict[str, str]:
    versions = {"python": platform.python_version(), "smlib": __version__}
    for dist in _REPORTED_PACKAGES:
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _display_path(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root))
    except ValueError:
        return str(path)


def _fence(text: str, lang: str = "") -> str:
    return f"````{lang}\n{text.rstrip()}\n````\n"


def _glance_md(plan: BookPlan, work_dir: Path) -> str:
    """The introduction's results at a glance, from this build's evaluation summary."""
    from smlib.glance import GLANCE_SECTIONS, glance_markdown

    stems = {spec.stem for spec in plan.notebooks}
    pages = {topic: f"sections/{stem}" for topic, stem in GLANCE_SECTIONS.items() if stem in stems}
    # smlib.pipeline.run_pipeline writes the evaluation into <work_dir>/report_<name>/; the
    # newest one is that of the notebooks just run
    reports = sorted(work_dir.glob("report_*/summary.json"), key=lambda p: p.stat().st_mtime)
    summary = _read_json(reports[-1]) if reports else None
    if reports:
        log.info("results at a glance from %s", reports[-1])
    return glance_markdown(summary if isinstance(summary, dict) else None, pages)


def _build_info_md(plan: BookPlan, data_label: str, built_at: str) -> str:
    return (
        ":::{admonition} How this book was built\n"
        ":class: note\n"
        f"Built on {built_at} with the **{plan.profile}** profile "
        f"(`params/{plan.source.name}`) on {data_label}, smlib {__version__}. "
        f"{plan.description}\n"
        "See [reproducibility](reproducibility.md) for versions and timings.\n"
        ":::\n"
    )


def _reproducibility_md(
    plan: BookPlan,
    data_label: str,
    built_at: str,
    timings: dict[str, Any],
    previous_html_s: float | None,
    book_dir: Path,
    root: Path,
) -> str:
    out = [
        "## Build",
        "",
        "| | |",
        "| --- | --- |",
        f"| profile | **{plan.profile}** (`{plan.source.name}`) |",
        f"| data | {data_label} |",
        f"| built | {built_at} |",
        f"| machine | {platform.platform()}, {os.cpu_count()} CPU cores |",
        "",
        "### Parameters",
        "",
        _fence(plan.source.read_text(encoding="utf-8"), "yaml"),
        "## Timings",
        "",
        "| stage | status | seconds |",
        "| --- | --- | ---: |",
    ]
    if timings.get("twin") is not None:
        out.append(f"| synthetic twin | {timings['twin']['status']} | {timings['twin']['s']:.1f} |")
    for name, t in timings["notebooks"].items():
        out.append(f"| `{name}` | {t['status']} | {t['s']:.1f} |")
    if previous_html_s is not None:
        out.append(f"| HTML (previous build) | | {previous_html_s:.1f} |")
    stages = timings.get("pipeline") or {}
    if stages:
        out += [
            "",
            "The notebooks share the cached stages of `smlib.pipeline`; each took, when it last",
            "ran for this build (inside the first notebook that needed it):",
            "",
            "| pipeline stage | seconds |",
            "| --- | ---: |",
        ]
        out += [f"| {name} | {sec:.1f} |" for name, sec in stages.items()]
    out += ["", "## Versions", "", "| package | version |", "| --- | --- |"]
    out += [f"| {k} | {v} |" for k, v in _versions().items()]
    vendor = _read_json(book_dir / "_assets" / "vendor" / "VERSIONS.json") or {}
    out += [f"| {k} (npm, served from the book) | {v} |" for k, v in sorted(vendor.items())]
    from smlib.naturalearth import natural_earth_dir

    ne = _read_json(natural_earth_dir() / "SOURCE.json")
    if ne:
        out.append(
            f"| Natural Earth {ne['resolution']} (from world-atlas) | `{ne['sha256'][:12]}` |"
        )
    manifest = root / "data_manifest.yml"
    if manifest.is_file():
        out += ["", "## Data manifest", "", f"`{manifest.name}`:", ""]
        out.append(_fence(manifest.read_text(encoding="utf-8"), "yaml"))
    results = sorted((root / "benchmarks" / "results").glob("*.json"))
    if results:
        out += [
            "",
            "## Benchmarks",
            "",
            "Measured by `./run bench` (`python -m benchmarks`); every speed is also given as a "
            "ratio to a baseline run in the same process, so that noisy machines still compare. "
            "The headline numbers of each benchmark, then the machine it ran on; the full "
            "results are in the JSON files named.",
            "",
        ]
        for path in results:
            payload = _read_json(path)
            if not isinstance(payload, dict):
                out += [f"`benchmarks/results/{path.name}`: unreadable JSON", ""]
                continue
            shown = {k: payload[k] for k in ("summary", "_machine") if k in payload} or payload
            text = json.dumps(shown, indent=2)
            out += [f"### `{path.stem}`", "", _fence(text, "json")]
    return "\n".join(out) + "\n"


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
        name = f"{profile}-{slug}-{_sha256(resolved.encode())[:8]}"
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
        declared = _declared_parameters(src)
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
        data_label = f"the data in `{_display_path(data_dir, root)}`"
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

    library = _library_digest()
    data_listing = tree_signature(data_dir)
    kernel = _kernel_name()
    upstream = ""
    progress = progress_bar(plan.notebooks, desc="notebooks", unit="nb")
    for spec in progress:
        progress.set_postfix_str(spec.stem)
        parameters = {
            **plan.defaults,
            **spec.parameters,
            **{k: v for k, v in set_params.items() if k in plan.defaults or k in spec.parameters},
            "data_dir": _notebook_path(data_dir, nb_src),
            "work_dir": _notebook_path(work_dir, nb_src),
            "profile": plan.profile,
        }
        if config_overrides and "overrides" in parameters:
            parameters["overrides"] = [*parameters["overrides"], *config_overrides]
        key = execution_key(sources[spec.stem], parameters, data_listing, library, upstream)
        upstream = key
        out = sections / f"{spec.stem}.ipynb"
        key_file = sections / f"{spec.stem}.key.json"
        stored = _read_json(key_file) or {}
        if not force and out.is_file() and stored.get("key") == key:
            timings["notebooks"][spec.stem] = {"status": "up to date", "s": 0.0}
            log.info("%s is up to date", spec.notebook)
            continue
        key_file.unlink(missing_ok=True)
        start = time.perf_counter()
        _execute(spec, sources[spec.stem], out, parameters, kernel, cwd=nb_src)
        seconds = time.perf_counter() - start
        atomic_write_text(key_file, json.dumps({"key": key, "seconds": seconds}, indent=2) + "\n")
        timings["notebooks"][spec.stem] = {"status": "executed", "s": seconds}
        log.info("executed %s in %.1f s", spec.notebook, seconds)
    progress.close()

    from smlib.pipeline import stage_timings

    timings["pipeline"] = stage_timings(work_dir)
    built_at = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    timings_file = sections / "_timings.json"
    previous = _read_json(timings_file) or {}
    if _write_if_changed(book / "_toc.yml", toc_yaml(plan)):
        log.info("wrote %s from %s", book / "_toc.yml", plan.source.name)
    atomic_write_text(sections / "_build_info.md", _build_info_md(plan, data_label, built_at))
    atomic_write_text(
        sections / "_reproducibility.md",
        _reproducibility_md(
            plan, data_label, built_at, timings, previous.get("html_s"), book, root
        ),
    )
    atomic_write_text(sections / "_glance.md", _glance_md(plan, work_dir))
    from smlib.throughput import throughput_markdown

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
