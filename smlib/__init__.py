"""smlib: correct temperature-induced diurnal errors in dielectric in-situ soil moisture.

The public API is flat: the most used functions of every module are importable from
``smlib`` directly (resolved lazily so that ``import smlib`` stays cheap and does not
import torch).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it
_LAZY: dict[str, str] = {}

__all__ = ["__version__", *sorted(_LAZY)]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'smlib' has no attribute {name!r}")
    return getattr(importlib.import_module(f"smlib.{module}"), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
