"""``data_manifest.yml``: the datasets smlib reads, validated and checked against a data folder.

Each entry names the provider, DOI/URL, licence, citation, variables with units, the expected
local layout (a sub-folder of the data folder and a ``detect`` glob), and how to obtain the data
with the user's own credentials. Files with a fixed content carry sha256 sums, checked with
:func:`pooch.file_hash` whenever :func:`verified_file` hands out their path.

The data folder defaults to ``$SMLIB_DATA`` and then ``./data``; the manifest to
``$SMLIB_MANIFEST`` and then ``data_manifest.yml`` at the repository root.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pooch
import yaml

__all__ = [
    "REQUIRED_KEYS",
    "DatasetStatus",
    "default_manifest_path",
    "load_manifest",
    "validate_manifest",
    "dataset_status",
    "data_status",
    "verified_file",
]

#: Keys every dataset entry must have.
REQUIRED_KEYS: tuple[str, ...] = (
    "name",
    "provider",
    "url",
    "doi",
    "licence",
    "citation",
    "variables",
    "local_path",
    "layout",
    "detect",
    "obtain",
)
_OPTIONAL_KEYS = frozenset({"files"})


def default_manifest_path() -> Path:
    """``$SMLIB_MANIFEST`` if set, else ``data_manifest.yml`` at the repository root."""
    env = os.environ.get("SMLIB_MANIFEST")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "data_manifest.yml"


def _default_data_dir() -> Path:
    return Path(os.environ.get("SMLIB_DATA", "data"))


def validate_manifest(doc: Any, source: str = "manifest") -> dict[str, dict]:
    """Check a parsed manifest and return its ``datasets`` mapping.

    Raises
    ------
    ValueError
        Naming the dataset and key at fault: missing or unknown keys, variables without
        units, malformed sha256 sums, absolute or escaping paths.
    """
    if not isinstance(doc, dict) or not isinstance(doc.get("datasets"), dict):
        raise ValueError(f"{source}: expected a mapping with a 'datasets' mapping")
    if doc.get("manifest_version") != 1:
        raise ValueError(
            f"{source}: manifest_version must be 1, got {doc.get('manifest_version')!r}"
        )
    datasets = doc["datasets"]
    for key, entry in datasets.items():
        where = f"{source}: dataset {key!r}"
        if not isinstance(entry, dict):
            raise ValueError(f"{where}: expected a mapping")
        missing = [k for k in REQUIRED_KEYS if k not in entry]
        if missing:
            raise ValueError(f"{where}: missing key(s) {missing}")
        unknown = sorted(set(entry) - set(REQUIRED_KEYS) - _OPTIONAL_KEYS)
        if unknown:
            raise ValueError(f"{where}: unknown key(s) {unknown}")
        variables = entry["variables"]
        if not isinstance(variables, dict) or not variables:
            raise ValueError(f"{where}: 'variables' must be a non-empty mapping")
        for var, spec in variables.items():
            if not isinstance(spec, dict) or not spec.get("units"):
                raise ValueError(f"{where}: variable {var!r} has no units")
        for rel in [entry["local_path"], *(entry.get("files") or {})]:
            p = Path(str(rel))
            if p.is_absolute() or ".." in p.parts:
                raise ValueError(f"{where}: path {rel!r} must be relative to the data folder")
        for rel, digest in (entry.get("files") or {}).items():
            if not (isinstance(digest, str) and len(digest) == 64 and _is_hex(digest)):
                raise ValueError(
                    f"{where}: file {rel!r} needs a 64-hex-digit sha256, got {digest!r}"
                )
    return datasets


def _is_hex(text: str) -> bool:
    try:
        int(text, 16)
    except ValueError:
        return False
    return True


def load_manifest(manifest: str | os.PathLike | None = None) -> dict[str, dict]:
    """Read and validate a manifest file; returns dataset key -> entry."""
    path = Path(manifest) if manifest else default_manifest_path()
    if not path.is_file():
        raise FileNotFoundError(f"data manifest {path} does not exist")
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise ValueError(f"{path}: not valid YAML: {err}") from err
    return validate_manifest(doc, str(path))


@dataclass
class DatasetStatus:
    """Presence of one dataset in a data folder.

    Attributes
    ----------
    key, name : str
        Manifest key and full name.
    path : Path
        Where the dataset is expected.
    n_files : int
        Files matching the ``detect`` glob.
    checked : dict
        Fixed-content file -> ``"ok"``, ``"missing"`` or ``"sha256 mismatch"``.
    """

    key: str
    name: str
    path: Path
    n_files: int
    checked: dict[str, str] = field(default_factory=dict)

    @property
    def present(self) -> bool:
        """True when at least one file matches and no fixed-content file is corrupt."""
        return self.n_files > 0 and "sha256 mismatch" not in self.checked.values()


def dataset_status(
    data_dir: str | os.PathLike | None = None, manifest: str | os.PathLike | None = None
) -> list[DatasetStatus]:
    """Which manifest datasets are present in ``data_dir`` (structured result)."""
    root = Path(data_dir) if data_dir else _default_data_dir()
    out = []
    for key, entry in load_manifest(manifest).items():
        base = root / str(entry["local_path"])
        n = sum(1 for p in base.glob(entry["detect"]) if p.is_file()) if base.is_dir() else 0
        checked = {}
        for rel, digest in (entry.get("files") or {}).items():
            f = root / rel
            if not f.is_file():
                checked[rel] = "missing"
            else:
                checked[rel] = "ok" if pooch.file_hash(str(f)) == digest else "sha256 mismatch"
        out.append(DatasetStatus(key, entry["name"], base, n, checked))
    return out


def data_status(
    data_dir: str | os.PathLike | None = None, manifest: str | os.PathLike | None = None
) -> str:
    """Human-readable report of :func:`dataset_status` (what ``smlib data`` prints)."""
    root = Path(data_dir) if data_dir else _default_data_dir()
    rows = dataset_status(root, manifest)
    lines = [f"data folder: {root.resolve()}", f"{'dataset':<14} {'status':<9} {'files':>6}  name"]
    for s in rows:
        lines.append(
            f"{s.key:<14} {'present' if s.present else 'absent':<9} {s.n_files:>6}  {s.name}"
        )
        for rel, state in s.checked.items():
            if state != "missing" or s.n_files:
                lines.append(f"{'':<14} sha256 {state}: {rel}")
    absent = [s.key for s in rows if not s.present]
    if absent:
        lines.append(
            "absent datasets: " + ", ".join(absent) + " (see 'obtain' in the manifest for each)"
        )
    present = {s.key for s in rows if s.present}
    if "ismn" in present and not {"era5_land", "merra2"} <= present:
        lines.append(
            "without both ERA5-Land and MERRA-2 the book trains on the in-situ-only feature set "
            "and leaves out the Fourier baseline (README: Using your own data)"
        )
    return "\n".join(lines)


def verified_file(
    dataset: str,
    relpath: str,
    data_dir: str | os.PathLike | None = None,
    manifest: str | os.PathLike | None = None,
) -> Path:
    """Path of a fixed-content file after checking its sha256 against the manifest.

    Raises
    ------
    KeyError
        If the manifest lists no such dataset or file.
    FileNotFoundError, ValueError
        If the file is absent or its content differs from the recorded sum.
    """
    entry = load_manifest(manifest)[dataset]
    files = entry.get("files") or {}
    if relpath not in files:
        raise KeyError(f"manifest dataset {dataset!r} lists no fixed-content file {relpath!r}")
    path = (Path(data_dir) if data_dir else _default_data_dir()) / relpath
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist")
    digest = pooch.file_hash(str(path))
    if digest != files[relpath]:
        raise ValueError(f"{path}: sha256 {digest} differs from the manifest's {files[relpath]}")
    return path
