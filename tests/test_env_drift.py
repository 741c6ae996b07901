"""environment.yml (conda-forge) and pyproject.toml name the same packages and lower bounds."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
#: PyPI name -> conda-forge name where they differ
CONDA_NAME = {"torch": "pytorch"}
#: in environment.yml only: the interpreter, pip itself and Node for the npm assets
CONDA_ONLY = {"python", "pip", "nodejs"}
_REQ = re.compile(r"^\s*([A-Za-z0-9_.\-]+)(\[[^\]]*\])?\s*(.*)$")


def _normalise(requirement: str) -> tuple[str, str]:
    """('name', 'specifier') with the name lower-cased, '_' -> '-', extras dropped."""
    match = _REQ.match(requirement.split("#")[0])
    assert match, f"cannot parse requirement {requirement!r}"
    name = match.group(1).lower().replace("_", "-")
    return name, match.group(3).replace(" ", "")


def _pyproject() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        requirements += extra
    out = dict(_normalise(r) for r in requirements)
    return {CONDA_NAME.get(name, name): spec for name, spec in out.items()}


def _environment() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert env["channels"][0] == "conda-forge"
    deps = dict(_normalise(d) for d in env["dependencies"] if isinstance(d, str))
    return {name: spec for name, spec in deps.items() if name not in CONDA_ONLY}


def test_same_packages() -> None:
    pyproject, conda = _pyproject(), _environment()
    assert sorted(set(pyproject) - set(conda)) == [], "in pyproject.toml, not environment.yml"
    assert sorted(set(conda) - set(pyproject)) == [], "in environment.yml, not pyproject.toml"


def test_same_lower_bounds() -> None:
    pyproject, conda = _pyproject(), _environment()
    differ = {n: (pyproject[n], conda[n]) for n in pyproject if pyproject[n] != conda.get(n)}
    assert differ == {}


def test_environment_installs_smlib_itself() -> None:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    assert "-e ." in pip
