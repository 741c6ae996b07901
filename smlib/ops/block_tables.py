"""The fitted station tables of an archive's blocks: kept while the blocks are written, joined
into ``<out>.coefficients.json`` when the output is done (:func:`smlib.ops.archive.correct_archive`).
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
from pathlib import Path

import numpy as np

from smlib.method.product import (
    ProductCoefficients,
    coefficients_path,
    read_coefficients,
    write_coefficients,
)

__all__ = ["concat_tables", "TablePieces"]

log = logging.getLogger(__name__)


def concat_tables(tables: list[ProductCoefficients]) -> ProductCoefficients:
    """One station table from the tables of disjoint station blocks, in the order given.

    Raises
    ------
    ValueError
        No table, a station in two tables, or tables of different product definitions
        (signal estimates, regressors, fit or rain screen).
    """
    if not tables:
        raise ValueError("no station table to join")
    first = tables[0]
    same = ("signal_estimates", "lf_window_h", "lf_centering", "max_gap_h", "min_hours",
            "smoothing_days", "rain", "terms")  # fmt: skip
    for t in tables[1:]:
        differ = [k for k in same if getattr(t, k) != getattr(first, k)]
        if differ:
            raise ValueError(f"station tables of different product definitions ({differ})")
    station = np.concatenate([t.station for t in tables])
    if len(set(map(str, station))) != len(station):
        raise ValueError("a station appears in more than one station table")
    anchored = np.concatenate([
        np.zeros(len(t.station), bool) if t.anchored is None else t.anchored for t in tables
    ])  # fmt: skip
    return dataclasses.replace(
        first,
        station=station,
        coef=np.concatenate([t.coef for t in tables]),
        fitted_hours=np.concatenate([t.fitted_hours for t in tables]),
        n_signals=np.concatenate([t.n_signals for t in tables]),
        rain_tendency_sd=np.concatenate([t.rain_tendency_sd for t in tables]),
        anchored=anchored,
    )


class TablePieces:
    """The station tables of the blocks written so far, kept beside the partial output
    (``<out>.coefficients.partial/<signature>/block_<k>.json``) so that a resumed run still
    writes the whole table; joined into ``<out>.coefficients.json`` when the output is done."""

    def __init__(self, out: Path, signature: str) -> None:
        self.root = out.with_name(out.name + ".coefficients.partial")
        self.folder = self.root / signature

    def put(self, k: int, table: ProductCoefficients | None) -> None:
        if table is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
            write_coefficients(table, self.folder / f"block_{k:06d}.json")

    def finish(self, out: Path, n_blocks: int, provenance: dict) -> Path | None:
        """Write the joined table beside ``out`` (every block must have its piece)."""
        pieces = sorted(self.folder.glob("block_*.json")) if self.folder.exists() else []
        path = None
        if pieces and len(pieces) == n_blocks:
            table = concat_tables([read_coefficients(p) for p in pieces])
            table = dataclasses.replace(table, provenance={**table.provenance, **provenance})
            path = write_coefficients(table, coefficients_path(out))
        elif pieces:
            log.warning(
                "%s: station tables of %d of %d blocks found (blocks written by an earlier "
                "run?); no coefficient table written -- run `smlib correct` without --format "
                "to fit one", out, len(pieces), n_blocks,
            )  # fmt: skip
        shutil.rmtree(self.root, ignore_errors=True)
        return path
