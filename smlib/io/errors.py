"""Unreadable inputs: one error type that names the file and line, and the skip policy.

A real archive holds a few damaged files (an interrupted download, a station logged in
percent). Every reader raises :class:`InputError` for them -- a ``ValueError`` whose message
is one line, ``FILE[:LINE]: what is wrong`` -- and the ingest decides with ``on_error``:

``"raise"``
    stop at the first damaged input (the error reaches the caller unchanged);
``"skip"`` (the default of ``smlib ingest``)
    leave the station (or reanalysis file) out, log one warning, and record a
    :class:`SkippedInput` that ends up in the cube's QC table and in notebook 01.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

from smlib.errors import InputError

__all__ = ["InputError", "SkippedInput", "ON_ERROR", "check_on_error", "skip_or_raise"]

logger = logging.getLogger(__name__)

#: The accepted values of ``on_error``.
ON_ERROR: tuple[str, ...] = ("skip", "raise")


@dataclass(frozen=True)
class SkippedInput:
    """One input left out under ``on_error="skip"``.

    Attributes
    ----------
    file : str
    line : int or None
    reason : str
    station : str
        ``NETWORK/STATION`` whose data were lost, or ``""`` for a reanalysis file.
    source : str
        ``ismn``, ``era5``, ``merra2`` or ``fluxnet``.
    """

    file: str
    line: int | None
    reason: str
    station: str = ""
    source: str = ""

    def to_dict(self) -> dict:
        """Plain dict (for the cube's JSON attributes)."""
        return asdict(self)

    def describe(self) -> str:
        """``FILE[:LINE]: reason`` in one line."""
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.reason}"


def check_on_error(on_error: str) -> str:
    """Return ``on_error`` if it is one of :data:`ON_ERROR`, else raise ``ValueError``."""
    if on_error not in ON_ERROR:
        raise ValueError(f"on_error must be one of {list(ON_ERROR)}, got {on_error!r}")
    return on_error


def skip_or_raise(
    err: Exception,
    file: str,
    on_error: str,
    skipped: list[SkippedInput],
    *,
    station: str = "",
    source: str = "",
) -> SkippedInput:
    """Record ``err`` as a skipped input, or re-raise it as an :class:`InputError`.

    Parameters
    ----------
    err : Exception
        What reading ``file`` raised.
    file : str
        The file that failed (used when ``err`` does not name one).
    on_error : {"skip", "raise"}
    skipped : list of SkippedInput
        Appended to under ``"skip"``.
    station, source : str
        Recorded with the skip.

    Returns
    -------
    SkippedInput
        The record appended to ``skipped``.

    Raises
    ------
    InputError
        Under ``"raise"``: ``err`` itself if it is one, else a new one naming ``file``.
    """
    if isinstance(err, InputError):
        ierr = err
    else:
        text = str(err).strip() or type(err).__name__
        if text.startswith(str(file)):
            text = text[len(str(file)) :].lstrip(": ")
        ierr = InputError(file, text)
    if on_error == "raise":
        if ierr is err:
            raise ierr
        raise ierr from err
    rec = SkippedInput(ierr.file, ierr.line, ierr.reason, station, source)
    logger.warning("skipped %s%s", f"{station}: " if station else "", rec.describe())
    skipped.append(rec)
    return rec
