"""Digests that decide when a cached result is stale: of JSON documents, of input folders and of
the smlib sources a result depends on.

Used by the study pipeline (a stage re-runs when its inputs, parameters or code change) and by
the book runner (a notebook re-executes when its execution key changes). The code a stage
depends on is found from the import graph: the stage's entry modules and every smlib module
they import, directly or through others, at module level or inside a function. So a new module
never has to be added to a list by hand, and a helper moved to another module keeps its
callers' results honest.
"""

from __future__ import annotations

import ast
import hashlib
import json
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

__all__ = [
    "json_digest",
    "tree_signature",
    "file_sha256",
    "package_modules",
    "module_imports",
    "module_sources",
    "source_digest",
]

#: The folder of the smlib package.
PACKAGE_DIR = Path(__file__).resolve().parent


def json_digest(doc: Any) -> str:
    """SHA-256 (hex) of ``doc`` as canonical JSON (sorted keys; other objects by ``str``).

    Examples
    --------
    >>> json_digest({"b": 1, "a": 2}) == json_digest({"a": 2, "b": 1})
    True
    """
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()


def tree_signature(path: Path | None) -> str | None:
    """Cheap signature of an input file or folder: names, sizes and modification times.

    File contents are not read, so this is fast on a whole archive; touching a file changes it.

    Parameters
    ----------
    path : Path or None
        A file, or a folder (all files below it); ``None`` gives ``None``.
    """
    if path is None:
        return None
    path = Path(path)
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    h = hashlib.sha256()
    for f in files:
        st = f.stat()
        h.update(f"{f.relative_to(path.parent)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def file_sha256(path: str | Path, chunk_bytes: int = 1 << 20) -> str:
    """SHA-256 (hex) of a file's contents, read in chunks of ``chunk_bytes``.

    Unlike :func:`tree_signature` it does not change when a file is copied or touched, only when
    its bytes do; it reads the whole file (about 1 s per GB), so it suits records that are
    checked once per command (the cube a run was trained on), not every cache look-up.
    """
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk_bytes):
            h.update(block)
    return h.hexdigest()


def _module_file(name: str) -> Path | None:
    """Source file of smlib module ``name`` (dotted), or None if it is not an smlib module."""
    parts = name.split(".")
    if parts[0] != "smlib":
        return None
    base = PACKAGE_DIR.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE_DIR).with_suffix("")
    parts = [p for p in rel.parts if p != "__init__"]
    return ".".join(["smlib", *parts])


def package_modules() -> list[str]:
    """Dotted names of every module of the smlib package, sorted."""
    return sorted(_module_name(p) for p in PACKAGE_DIR.rglob("*.py"))


@cache
def _imports(path: Path, mtime_ns: int) -> tuple[str, ...]:
    """smlib modules imported anywhere in ``path`` (``mtime_ns`` only keys the cache)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    this = _module_name(path)
    package = this if path.name == "__init__.py" else this.rpartition(".")[0]
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            found.append(module)
            # ``from smlib.report.plots import style`` imports a submodule, not a name
            found += [f"{module}.{alias.name}" for alias in node.names]
    return tuple(m for m in dict.fromkeys(found) if _module_file(m) is not None)


def module_imports(name: str) -> tuple[str, ...]:
    """The smlib modules that module ``name`` imports, at module level or inside a function.

    Parameters
    ----------
    name : str
        Dotted name of an smlib module, e.g. ``"smlib.method.train"``.

    Returns
    -------
    tuple of str
        Dotted names in the order of the source; ``from smlib.report import plots`` yields both
        ``smlib.report`` and ``smlib.report.plots``.

    Examples
    --------
    >>> "smlib.atomic" in module_imports("smlib.config")
    True
    """
    path = _module_file(name)
    if path is None:
        raise ValueError(f"{name!r} is not a module of smlib ({PACKAGE_DIR})")
    return _imports(path, path.stat().st_mtime_ns)


def module_sources(modules: Iterable[str]) -> list[Path]:
    """Source files of ``modules`` and of every smlib module they import, transitively.

    Importing ``smlib.a.b`` runs ``smlib/a/__init__.py`` first, so the packages on the way are
    included as well.

    Parameters
    ----------
    modules : iterable of str
        Dotted names, e.g. ``["smlib.method.train"]``; a package (``"smlib.synth"``) stands for its
        ``__init__`` and, through it, what that imports.

    Returns
    -------
    list of Path
        Sorted, without duplicates.

    Raises
    ------
    ValueError
        A name that is not an smlib module.
    """
    todo = list(modules)
    for name in todo:
        if _module_file(name) is None:
            raise ValueError(f"{name!r} is not a module of smlib ({PACKAGE_DIR})")
    seen: set[Path] = set()
    while todo:
        name = todo.pop()
        parts = name.split(".")
        parents = [".".join(parts[:i]) for i in range(1, len(parts))]
        for module in (*parents, name):
            path = _module_file(module)
            if path is None or path in seen:
                continue
            seen.add(path)
            todo += _imports(path, path.stat().st_mtime_ns)
    return sorted(seen)


def source_digest(modules: Iterable[str]) -> str:
    """SHA-256 over the paths and contents of :func:`module_sources` of ``modules``."""
    h = hashlib.sha256()
    for path in module_sources(modules):
        h.update(path.relative_to(PACKAGE_DIR).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()
