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


def test_atomic_path_keeps_the_old_file_on_failure(tmp_path):
    """A writer that fails leaves the previous file intact and no temporary file behind."""
    import os
    import stat

    from smlib.atomic import atomic_path, atomic_write_text

    target = atomic_write_text(tmp_path / "sub" / "a.txt", "old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert [p.name for p in target.parent.iterdir()] == ["a.txt"]
    # finished files get ordinary permissions, not mkstemp's 0600
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask


def test_atomic_dir_swaps_whole_folders(tmp_path):
    from smlib.atomic import atomic_dir

    dest = tmp_path / "run"
    with atomic_dir(dest) as tmp:
        (tmp / "a.txt").write_text("1")
    with pytest.raises(RuntimeError), atomic_dir(dest) as tmp:
        (tmp / "b.txt").write_text("half")
        raise RuntimeError("interrupted")
    assert sorted(p.name for p in dest.iterdir()) == ["a.txt"]  # the old folder survived
    with atomic_dir(dest) as tmp:
        (tmp / "c.txt").write_text("2")
    assert sorted(p.name for p in dest.iterdir()) == ["c.txt"]  # replaced whole
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # no scratch folders left
