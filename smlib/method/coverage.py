"""Which measured hours get a value from the network, and why the others do not.

The network predicts hour ``t`` of a station exactly where
:func:`smlib.method.preprocess.prepare` (``training=False``) sets ``valid_end``: every feature
is finite over the input window ``t-window_h+1 .. t`` (shifted by ``lookahead_h``) and the
in-situ SM low-frequency part (LF, the 24-h moving average after filling gaps of at most
``max_gap_h`` hours) is finite at ``t``. The network's series ``sm_lstm_net`` is moreover NaN
wherever no SM was measured. No trained model is needed to know these hours.

:func:`network_coverage` counts, per station, the measured hours without a network value by
their *first* reason, in this order:

``sm_lf_incomplete``
    The SM LF at ``t`` is missing: an SM gap longer than ``max_gap_h`` hours (or a rain-screened
    day, when screening at inference) lies within the LF window around ``t``.
``window_<source>``
    The input window ending at ``t`` is incomplete in a feature of ``<source>``, the sources
    taken in the order of the feature set: ``insitu_ts`` (the station's own soil temperature;
    its LF needs the 24 h around each window hour), ``era5`` (ERA5-Land), ``merra2`` (MERRA-2),
    ``time_of_day`` (needs the station's longitude).

The counts of one station add up: ``hours_sm = hours_network + sum of the reasons``.
``no_insitu_sm`` (``hours - hours_sm``) gives the hours of the time axis without any SM.
:func:`coverage_by_kind` condenses the table per kind of station (``ismn``, ``tower``) into the
share of measured hours with a network value and the leading reason, the numbers that
``smlib evaluate`` writes to ``summary.json``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import bottleneck as bn
import numpy as np
import pandas as pd
import xarray as xr

from smlib.config import PreprocessConfig, RunConfig, get_profile, load_config
from smlib.method.preprocess import prepare
from smlib.method.screens import source_of, station_array

__all__ = [
    "feature_source",
    "coverage_counts",
    "network_coverage",
    "coverage_by_kind",
    "coverage_summary",
    "REASON_TEXT",
]

log = logging.getLogger(__name__)

#: Plain-language text of each first reason (``{max_gap_h}`` and ``{window_h}`` are filled in).
REASON_TEXT: dict[str, str] = {
    "sm_lf_incomplete": (
        "the in-situ SM low-frequency part is incomplete (an SM gap longer than {max_gap_h} h "
        "within the 24-h moving average)"
    ),
    "window_insitu_ts": "the in-situ soil temperature is missing in the {window_h}-h input window",
    "window_era5": "ERA5-Land is missing in the {window_h}-h input window",
    "window_merra2": "MERRA-2 is missing in the {window_h}-h input window",
    "window_time_of_day": "the station has no longitude for the time-of-day input",
}


def feature_source(name: str) -> str:
    """Source of a feature name: ``insitu_<var>``, ``era5``, ``merra2`` or ``time_of_day``.

    Examples
    --------
    >>> [feature_source(f) for f in ("ts_lf", "era5_sm_hf", "merra2_lh_lf", "tod_sin")]
    ['insitu_ts', 'era5', 'merra2', 'time_of_day']
    """
    if name.startswith("tod_"):
        return "time_of_day"
    var = name.rsplit("_", 1)[0]
    src = source_of(var)
    return f"insitu_{var}" if src == "insitu" else src


def coverage_counts(
    observed: np.ndarray,
    sm_lf_ok: np.ndarray,
    feature_ok: np.ndarray,
    sources: Sequence[str],
    window_h: int,
) -> dict[str, np.ndarray]:
    """Per-station counts of measured hours with and without a network value, by first reason.

    Parameters
    ----------
    observed : numpy.ndarray of bool, shape (station, time)
        Hours with a measured SM value.
    sm_lf_ok : numpy.ndarray of bool, shape (station, time)
        Hours with a finite SM LF.
    feature_ok : numpy.ndarray of bool, shape (station, time, feature)
        Finite features, already shifted by the look-ahead (row ``t`` = inputs of the window
        ending at ``t``).
    sources : sequence of str, length feature
        Source of each feature (:func:`feature_source`); reasons are taken in the order of
        first appearance.
    window_h : int
        Input window length, hours.

    Returns
    -------
    dict of str to numpy.ndarray of int64, shape (station,)
        ``hours``, ``hours_sm``, ``hours_network``, ``no_insitu_sm``, ``sm_lf_incomplete`` and
        ``window_<source>`` per source.
    """
    observed = np.asarray(observed, dtype=bool)
    n_st, n_t = observed.shape
    if feature_ok.shape[:2] != (n_st, n_t) or feature_ok.shape[2] != len(sources):
        raise ValueError(
            f"feature_ok has shape {feature_ok.shape}; expected ({n_st}, {n_t}, {len(sources)})"
        )
    order = list(dict.fromkeys(sources))
    src = np.asarray(sources)
    out: dict[str, np.ndarray] = {
        "hours": np.full(n_st, n_t, dtype=np.int64),
        "hours_sm": observed.sum(1).astype(np.int64),
    }
    out["no_insitu_sm"] = out["hours"] - out["hours_sm"]
    left = observed.copy()  # measured hours not yet explained
    reasons: dict[str, np.ndarray] = {}
    lf_missing = left & ~np.asarray(sm_lf_ok, dtype=bool)
    reasons["sm_lf_incomplete"] = lf_missing.sum(1).astype(np.int64)
    left &= ~lf_missing
    for s in order:
        finite = feature_ok[:, :, src == s].all(-1)
        if n_t >= window_h:
            complete = (
                bn.move_sum(finite.astype(np.float32), window=window_h, min_count=window_h, axis=1)
                == window_h
            )
        else:
            complete = np.zeros((n_st, n_t), dtype=bool)
        missing = left & ~complete
        reasons[f"window_{s}"] = missing.sum(1).astype(np.int64)
        left &= ~missing
    out["hours_network"] = left.sum(1).astype(np.int64)
    out.update(reasons)
    return out


def network_coverage(ds: xr.Dataset, cfg: PreprocessConfig | RunConfig) -> pd.DataFrame:
    """Per station: measured SM hours, those with a network value, the others by first reason.

    Parameters
    ----------
    ds : xarray.Dataset
        Station cube (docs/architecture.md), dims (station, time), hourly UTC.
    cfg : PreprocessConfig or RunConfig
        The model's preprocessing configuration (a run's ``config.yaml``).

    Returns
    -------
    pandas.DataFrame
        Indexed by station; columns ``kind`` and the counts of :func:`coverage_counts` (hours).
        ``hours_network`` equals the hours where ``prepare(ds, cfg, training=False).valid_end``
        holds and SM was measured: the hours ``sm_lstm_net`` of ``smlib correct`` fills.
    """
    pcfg = cfg.preprocess if isinstance(cfg, RunConfig) else cfg
    prep = prepare(ds, pcfg, training=False)
    observed = np.isfinite(station_array(ds, "sm"))
    counts = coverage_counts(
        observed,
        np.isfinite(prep.sm_lf),
        np.isfinite(prep.x),
        [feature_source(f) for f in prep.features],
        prep.window_h,
    )
    kind = ds["kind"].values.astype(str) if "kind" in ds.coords or "kind" in ds else "station"
    frame = pd.DataFrame({"kind": kind, **counts}, index=pd.Index(prep.station, name="station"))
    return frame


def coverage_by_kind(
    table: pd.DataFrame, cfg: PreprocessConfig | RunConfig | None = None
) -> dict[str, dict[str, Any]]:
    """:func:`network_coverage` per kind of station: the share with a network value and why not.

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`network_coverage`.
    cfg : PreprocessConfig or RunConfig, optional
        Fills ``max_gap_h`` and ``window_h`` into the reason texts.

    Returns
    -------
    dict
        Per kind: ``stations``, ``hours_sm``, ``share_network`` (of the measured hours, 0-1),
        ``reasons`` (share of the measured hours lost to each first reason),
        ``leading_reason`` (the reason losing most hours, None when none is lost) and
        ``leading_reason_text``.
    """
    pcfg = cfg.preprocess if isinstance(cfg, RunConfig) else cfg or PreprocessConfig()
    reasons = [c for c in table.columns if c == "sm_lf_incomplete" or c.startswith("window_")]
    out: dict[str, dict[str, Any]] = {}
    for kind, rows in table.groupby("kind", sort=True):
        n = int(rows["hours_sm"].sum())
        lost = {r: int(rows[r].sum()) for r in reasons}
        lead = max(lost, key=lambda r: lost[r]) if lost and max(lost.values()) > 0 else None
        out[str(kind)] = {
            "stations": len(rows),
            "hours_sm": n,
            "share_network": round(int(rows["hours_network"].sum()) / n, 4) if n else None,
            "reasons": {r: round(v / n, 4) if n else None for r, v in lost.items()},
            "leading_reason": lead,
            "leading_reason_text": (
                REASON_TEXT.get(lead, lead).format(max_gap_h=pcfg.max_gap_h, window_h=pcfg.window_h)
                if lead
                else None
            ),
        }
    return out


def coverage_summary(
    corrected: xr.Dataset,
    cube: xr.Dataset | None = None,
    run_dir: str | os.PathLike[str] | None = None,
) -> tuple[dict[str, dict[str, Any]], str, pd.DataFrame | None]:
    """The network coverage of a corrected file per kind of station, as ``smlib evaluate`` reports.

    Parameters
    ----------
    corrected : xarray.Dataset
        Corrected file: ``sm`` and, where the LSTM ran, ``sm_lstm_net``; station coordinate
        ``kind``.
    cube : xarray.Dataset, optional
        The station cube it was corrected from; gives the reasons (:func:`network_coverage`).
    run_dir : path, optional
        Run folder whose ``config.yaml`` holds the model's preprocessing; without it the
        ``recommended`` profile's is used (the scope says so).

    Returns
    -------
    coverage : dict
        Per kind (``ismn``, ``tower``): ``hours_sm`` and ``share_network`` (0-1; from
        ``sm_lstm_net`` when present, else predicted from the cube) and, with the cube,
        ``stations``, ``leading_reason``, ``leading_reason_text`` and ``reasons``
        (:func:`coverage_by_kind`).
    scope : str
        What the numbers are, in words.
    table : pandas.DataFrame or None
        :func:`network_coverage` of the cube (None without one, or when the cube lacks what
        the feature set needs; the scope then says why).
    """
    out: dict[str, dict[str, Any]] = {}
    kind = corrected["kind"].values.astype(str)
    raw = np.isfinite(np.asarray(corrected["sm"].transpose("station", "time").values))
    if "sm_lstm_net" in corrected:
        net = np.isfinite(corrected["sm_lstm_net"].transpose("station", "time").values) & raw
        for label in ("ismn", "tower"):
            n = int(raw[kind == label].sum())
            if n:
                share = round(int(net[kind == label].sum()) / n, 4)
                out[label] = {"hours_sm": n, "share_network": share}
    scope = "share of the hours with a raw SM value that have a network value (sm_lstm_net)"
    table = None
    if cube is not None:
        config_yaml = Path(run_dir) / "config.yaml" if run_dir is not None else None
        if config_yaml is not None and config_yaml.is_file():
            cfg, cfg_source = load_config(config_yaml), str(config_yaml)
        else:
            cfg, cfg_source = get_profile("recommended"), "the recommended profile (no run given)"
        wanted = set(corrected["station"].values.tolist())
        sub = cube.sel(station=[s for s in cube["station"].values if s in wanted])
        try:
            table = network_coverage(sub, cfg)
        except KeyError as err:  # the cube lacks what the feature set needs
            scope += f"; no reasons: {str(err).strip(chr(34) + chr(39))}"
        else:
            for label, row in coverage_by_kind(table, cfg).items():
                entry = out.setdefault(label, {"hours_sm": row["hours_sm"]})
                entry.setdefault("share_network", row["share_network"])
                entry.update({k: row[k] for k in ("stations", "leading_reason",
                                                   "leading_reason_text", "reasons")})  # fmt: skip
            scope += f"; reasons (first missing input) from the cube with {cfg_source}"
    for label, entry in out.items():
        if entry.get("share_network") is not None and entry["share_network"] < 0.9:
            why = entry.get("leading_reason_text")
            log.warning(
                "the network gives a value to %.0f %% of the %s hours with SM%s",
                100 * entry["share_network"], label, f"; mostly missing because {why}" if why else "",
            )  # fmt: skip
    return out, scope, table
