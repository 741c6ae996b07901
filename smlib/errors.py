"""Every exception smlib raises on purpose, in one place (the habit of ismn's ``const.py``).

* :class:`InputError` (``ValueError``): an input file is damaged or holds impossible values;
  the message is one line, ``FILE[:LINE]: reason``.
* :class:`CheckpointError` (``ValueError``): a checkpoint is truncated, foreign, or belongs to
  another configuration.
* :class:`TrainingDivergedError` (``FloatingPointError``): the loss became non-finite.
* :class:`NotebookFailed` (``RuntimeError``): a book notebook raised; names notebook and cell.
* :class:`NaturalEarthMissing` (``FileNotFoundError``): the offline map data are not built.
* :class:`CartopyDownloadBlocked` (``RuntimeError``): cartopy tried to download.

The modules that raise them re-export them under their old names.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "InputError",
    "CheckpointError",
    "TrainingDivergedError",
    "NotebookFailed",
    "NaturalEarthMissing",
    "CartopyDownloadBlocked",
]


class InputError(ValueError):
    """A file that cannot be read, or that holds impossible values.

    Parameters
    ----------
    file : str
        The file (``archive.zip!member`` for zip members).
    reason : str
        What is wrong, in one line.
    line : int, optional
        1-based line number, where the problem has one.
    """

    def __init__(self, file: str, reason: str, line: int | None = None) -> None:
        self.file = str(file)
        self.reason = " ".join(str(reason).split())  # always one line
        self.line = line
        where = self.file if line is None else f"{self.file}:{line}"
        super().__init__(f"{where}: {self.reason}")


class CheckpointError(ValueError):
    """A checkpoint file is truncated, corrupt, foreign or belongs to another configuration."""


class TrainingDivergedError(FloatingPointError):
    """The loss became non-finite; the message names epoch and batch, ``best.pt`` is kept."""


class NotebookFailed(RuntimeError):
    """A notebook raised during execution; the message holds the failing cell's traceback."""

    def __init__(
        self, notebook: str, cell: int | None, ename: str, evalue: str, traceback: str, copy: Path
    ) -> None:
        self.notebook, self.cell, self.ename, self.evalue = notebook, cell, ename, evalue
        self.traceback_text, self.copy = traceback, copy
        super().__init__(
            f"notebook {notebook} failed in cell [{cell}] with {ename}: {evalue}\n"
            f"{traceback}\n"
            f"The executed copy up to the failure is {copy}; earlier notebooks' copies are kept."
        )

    def summary(self) -> str:
        """One line: the notebook, the cell and the cause (what ``smlib book`` prints)."""
        lines = [ln.strip() for ln in str(self.evalue).splitlines() if ln.strip()]
        cause = lines[0] if lines else ""
        return (
            f"notebook {self.notebook} failed in cell [{self.cell}]: {self.ename}: {cause} "
            f"(executed copy: {self.copy}; -v shows the traceback)"
        )


class NaturalEarthMissing(FileNotFoundError):
    """The offline Natural Earth shapefiles have not been built."""


class CartopyDownloadBlocked(RuntimeError):
    """Raised instead of any network download that cartopy attempts."""
