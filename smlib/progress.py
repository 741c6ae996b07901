"""Progress bars with one switch: on a terminal, off in executed notebooks.

Every long loop in smlib draws its bar through :func:`progress_bar`. Whether bars are drawn is
decided in one place, :func:`progress_enabled`, from the environment variable
:data:`PROGRESS_ENV` (``SMLIB_PROGRESS``):

``SMLIB_PROGRESS=0`` (also ``off``, ``false``, ``no``)
    no bar anywhere. The book runner (:mod:`smlib.report.book`) sets it for the kernels that execute
    the notebooks, so a published page never shows a frozen bar such as ``epochs: 28% 17/60``;
    what the bar would have ended on is printed as one line instead (training, for one:
    ``training stopped early after 17 of 60 epochs, best at epoch 4 ...``).
``SMLIB_PROGRESS=1`` (also ``on``, ``true``, ``yes``)
    always draw (e.g. a log file that should hold them).
unset or empty
    tqdm's own rule: draw when the output is a terminal; inside Jupyter, :mod:`tqdm.auto`
    draws its widget bar for interactive work.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterable
from typing import Any, TypeVar

from tqdm.auto import tqdm

__all__ = ["PROGRESS_ENV", "progress_bar", "progress_enabled"]

log = logging.getLogger(__name__)

#: Environment variable that switches every smlib progress bar on or off.
PROGRESS_ENV = "SMLIB_PROGRESS"
_OFF = {"0", "off", "false", "no"}
_ON = {"1", "on", "true", "yes"}

T = TypeVar("T")


def progress_enabled() -> bool | None:
    """Whether smlib draws progress bars, from :data:`PROGRESS_ENV`.

    Returns
    -------
    bool or None
        ``False`` (switched off), ``True`` (forced on) or ``None`` (unset: tqdm decides, drawing
        on a terminal and, through :mod:`tqdm.auto`, in an interactive Jupyter kernel).

    Raises
    ------
    ValueError
        When the variable holds anything but an on/off word.
    """
    value = os.environ.get(PROGRESS_ENV, "").strip().lower()
    if not value:
        return None
    if value in _OFF:
        return False
    if value in _ON:
        return True
    raise ValueError(
        f"{PROGRESS_ENV}={os.environ[PROGRESS_ENV]!r}: expected one of "
        f"{sorted(_OFF | _ON)} or unset"
    )


def progress_bar(iterable: Iterable[T] | None = None, **kwargs: Any) -> tqdm:
    """A :class:`tqdm.auto.tqdm` bar on ``sys.stdout`` that obeys :func:`progress_enabled`.

    Parameters
    ----------
    iterable : iterable, optional
        What to iterate over (omit for a manually updated bar with ``total=``).
    **kwargs
        Passed to tqdm (``desc``, ``total``, ``unit``, ...). An explicit ``disable=True`` (e.g.
        on the non-main ranks of a distributed run) always wins; otherwise the switch decides.

    Returns
    -------
    tqdm.auto.tqdm
        The bar; a disabled bar still iterates and accepts ``update`` / ``set_postfix``.
    """
    kwargs.setdefault("file", sys.stdout)
    enabled = progress_enabled()
    if kwargs.get("disable") is not True:
        if enabled is False:
            kwargs["disable"] = True
        elif enabled is True:
            kwargs["disable"] = False
        else:
            kwargs.setdefault("disable", None)
    return tqdm(iterable, **kwargs)
