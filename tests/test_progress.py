"""One switch for every progress bar in smlib, and the training's outcome line."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from smlib import progress
from smlib.method.train import _outcome_line

SMLIB = Path(__file__).resolve().parents[1] / "smlib"


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, None), ("", None), ("0", False), ("off", False), ("1", True), ("Yes", True)],
)
def test_switch_reads_the_environment(monkeypatch, value, expected) -> None:
    if value is None:
        monkeypatch.delenv(progress.PROGRESS_ENV, raising=False)
    else:
        monkeypatch.setenv(progress.PROGRESS_ENV, value)
    assert progress.progress_enabled() is expected


def test_switch_rejects_other_words(monkeypatch) -> None:
    monkeypatch.setenv(progress.PROGRESS_ENV, "sometimes")
    with pytest.raises(ValueError, match="SMLIB_PROGRESS='sometimes'"):
        progress.progress_enabled()


def test_bar_off_draws_nothing_and_still_iterates(monkeypatch) -> None:
    monkeypatch.setenv(progress.PROGRESS_ENV, "0")
    out = io.StringIO()
    bar = progress.progress_bar(range(5), desc="work", file=out, disable=False)
    assert list(bar) == [0, 1, 2, 3, 4]
    assert out.getvalue() == ""


def test_bar_on_draws_even_off_a_terminal_unless_disabled_explicitly(monkeypatch) -> None:
    monkeypatch.setenv(progress.PROGRESS_ENV, "1")
    out = io.StringIO()
    list(progress.progress_bar(range(3), desc="work", file=out))
    assert "work" in out.getvalue() and "3/3" in out.getvalue()
    quiet = io.StringIO()
    list(progress.progress_bar(range(3), file=quiet, disable=True))  # e.g. a non-main rank
    assert quiet.getvalue() == ""


def test_every_progress_bar_in_smlib_goes_through_the_switch() -> None:
    direct = [
        str(path.relative_to(SMLIB))
        for path in SMLIB.rglob("*.py")
        if path.name != "progress.py"
        and re.search(r"^\s*(from tqdm|import tqdm)", path.read_text(), re.M)
    ]
    assert direct == [], f"use smlib.progress.progress_bar instead of tqdm in {direct}"


def test_training_outcome_line() -> None:
    assert _outcome_line(17, 60, 4, 0.00123) == (
        "training stopped early after 17 of 60 epochs, best at epoch 4 (validation MSE 0.00123)"
    )
    assert _outcome_line(3, 3, 2, 0.5).startswith("training ran the full 3 epochs, best at epoch 2")
    assert _outcome_line(1, 1, 0, 0.5).startswith("training ran the full 1 epoch, best at epoch 0")
