"""The flat public API: every name re-exported from ``smlib`` resolves to a real object."""

from __future__ import annotations

import subprocess
import sys

import pytest

import smlib


@pytest.mark.parametrize("name", sorted(smlib._LAZY))
def test_lazy_name_resolves(name):
    obj = getattr(smlib, name)
    assert obj is not None
    assert name in dir(smlib)


def test_unknown_name_raises():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = smlib.nope


def test_import_is_cheap():
    """``import smlib`` must not pull in torch (notebooks and the CLI import it first)."""
    code = "import sys, smlib; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_cli_version():
    from smlib.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
