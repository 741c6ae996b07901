"""Executing one notebook: its execution key (when a cached copy is still up to date), the
kernel, the parameters cell as the reader sees it, and papermill with a per-cell timeout.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import io
import logging
import os
import re
import sys
import tokenize
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from smlib import __version__
from smlib.digests import json_digest, package_modules, source_digest
from smlib.errors import NotebookFailed
from smlib.progress import PROGRESS_ENV
from smlib.report.book.plan import NotebookSpec

__all__ = [
    "CELL_TIMEOUT_S",
    "execution_key",
    "library_digest",
    "kernel_name",
    "declared_parameters",
    "present_parameters",
    "execute_notebook",
    "notebook_path",
    "sha256_hex",
]

log = logging.getLogger(__name__)

#: Bump when the meaning of an execution key changes, so that every notebook re-runs.
_KEY_SCHEMA = 1
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


# --------------------------------------------------------------------------------------------
# execution keys
# --------------------------------------------------------------------------------------------
def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def library_digest(modules: Sequence[str] | None = None) -> str:
    """sha256 over the smlib version and the sources of ``modules`` and what they import
    (:func:`smlib.digests.source_digest`); ``None``: every source file of the package."""
    if modules is None:
        modules = package_modules()
    return sha256_hex(f"{__version__}\0{source_digest(modules)}".encode())


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
        "notebook": sha256_hex(notebook.read_bytes()),
        "parameters": parameters,
        "data": data_listing,
        "library": library,
        "upstream": upstream,
    }
    return json_digest(payload)


# --------------------------------------------------------------------------------------------


def kernel_name() -> str:
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


def declared_parameters(notebook: Path) -> set[str]:
    import papermill

    return set(papermill.inspect_notebook(str(notebook)))


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


def execute_notebook(
    spec: NotebookSpec,
    source: Path,
    out: Path,
    parameters: dict[str, Any],
    kernel: str,
    cwd: Path,
) -> None:
    import papermill
    from papermill.exceptions import PapermillExecutionError

    from smlib.report.notebook_engine import ENGINE_NAME  # registers the engine with papermill

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
                # the whole cell timeout (smlib.report.notebook_engine)
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


def notebook_path(path: Path, cwd: Path) -> str:
    """``path`` as the notebook (run in ``cwd``) should see it: relative when both lie in one
    project folder, so that no machine path ends up in the book; absolute otherwise."""
    path, cwd = path.resolve(), cwd.resolve()
    common = Path(os.path.commonpath([path, cwd]))
    return os.path.relpath(path, cwd) if common in (cwd.parent, cwd) else str(path)
