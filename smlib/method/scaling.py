"""Min-max scaling fitted on training windows only, and the 18-h input windows
(``t-17 .. t``) as strided views.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "MinMaxScaler",
    "window_view",
]

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- scaling, windows
@dataclass
class MinMaxScaler:
    """Min-max scaling of features and of the SM HF target, fitted on training data only.

    .. math:: x' = \\frac{x - x_\\min}{x_\\max - x_\\min}

    Attributes
    ----------
    features : tuple of str
    x_min, x_max : numpy.ndarray, shape (feature,)
    y_min, y_max : float
        Range of the SM HF target, m3 m-3.
    """

    features: tuple[str, ...]
    x_min: np.ndarray
    x_max: np.ndarray
    y_min: float
    y_max: float

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray, features: tuple[str, ...]) -> MinMaxScaler:
        """Fit on rows ``x`` of shape (n, feature) and targets ``y`` of shape (n,) (finite)."""
        if len(y) == 0:
            raise ValueError("cannot fit the scaler on an empty training set")
        x_min, x_max = np.nanmin(x, axis=0), np.nanmax(x, axis=0)
        flat = ~(x_max > x_min)
        if flat.any():
            log.warning(
                "constant features %s: scaled by 1",
                [f for f, c in zip(features, flat, strict=True) if c],
            )
            x_max = np.where(flat, x_min + 1.0, x_max)
        y_min, y_max = float(np.min(y)), float(np.max(y))
        if not y_max > y_min:
            y_max = y_min + 1.0
        return cls(
            tuple(features), x_min.astype(np.float64), x_max.astype(np.float64), y_min, y_max
        )

    def transform(self, x: np.ndarray) -> np.ndarray:
        """Scale features along the last axis (float32)."""
        return ((x - self.x_min) / (self.x_max - self.x_min)).astype(np.float32)

    def transform_target(self, y: np.ndarray) -> np.ndarray:
        """Scale SM HF (m3 m-3) to the normalised target."""
        return ((y - self.y_min) / (self.y_max - self.y_min)).astype(np.float32)

    def inverse_target(self, y: np.ndarray) -> np.ndarray:
        """Normalised target back to SM HF in m3 m-3."""
        return (np.asarray(y, dtype=np.float64) * (self.y_max - self.y_min) + self.y_min).astype(
            np.float32
        )

    def to_dict(self) -> dict:
        """JSON-ready dict."""
        return {
            "features": list(self.features),
            "x_min": [float(v) for v in self.x_min],
            "x_max": [float(v) for v in self.x_max],
            "y_min": self.y_min,
            "y_max": self.y_max,
        }

    @classmethod
    def from_dict(cls, d: dict) -> MinMaxScaler:
        """Inverse of :meth:`to_dict`."""
        return cls(
            tuple(d["features"]),
            np.asarray(d["x_min"]),
            np.asarray(d["x_max"]),
            float(d["y_min"]),
            float(d["y_max"]),
        )

    def save(self, path: str | Path) -> None:
        """Write JSON atomically."""
        from smlib.atomic import atomic_write_text

        atomic_write_text(Path(path), json.dumps(self.to_dict(), indent=1))

    @classmethod
    def load(cls, path: str | Path) -> MinMaxScaler:
        """Read a scaler written by :meth:`save`."""
        path = Path(path)
        try:
            return cls.from_dict(json.loads(path.read_text()))
        except (KeyError, json.JSONDecodeError) as err:
            raise ValueError(f"{path}: not a scaler file ({err})") from err


def window_view(x: np.ndarray, window: int = 18) -> np.ndarray:
    """Input windows as a strided view (no copy).

    Parameters
    ----------
    x : numpy.ndarray, shape (station, time, feature)
    window : int

    Returns
    -------
    numpy.ndarray, shape (station, time - window + 1, window, feature)
        ``view[s, t - window + 1]`` holds ``x[s, t - window + 1 .. t]``: the window *ending* at
        hour ``t``. Read-only view sharing memory with ``x``.
    """
    v = np.lib.stride_tricks.sliding_window_view(x, window, axis=1)  # (s, n, f, w)
    return np.moveaxis(v, -1, 2)
