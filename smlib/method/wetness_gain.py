"""A tower's artefact gain that follows the soil's wetness, guided by its own evaporation.

A dielectric probe's temperature response depends on the water content around it (the
Maxwell-Wagner part of the permittivity grows as the soil dries for many probes; the twin's
probes have a gain linear in the saturation, :func:`smlib.synth.sensors.dielectric_reading`).
The product's artefact has one set of lag weights per station, fitted over every season, so it
takes the year's mean gain. That is enough for the stations' diurnal skill, but a flux tower's
SM-LH coupling index is a warm-season quantity, when the soil is driest and the gain is not the
year's mean: with the *true* SM as the only guide, the constant-gain fit still leaves the
twin's towers 0.15-0.19 from the true coupling, and the same fit with a gain linear in the
wetness within 0.02-0.05 (benchmarks/README.md, issue 18 item 4).

At a tower the measured evaporation gives an estimate of the true diurnal drying that is not a
function of the probe's temperature (:mod:`smlib.method.water_balance`). Guided by it alone
(with the night equations), the distributed-lag fit with a wetness interaction,

.. math:: \\theta_{HF}(t) = c + \\sum_k \\left(w_k + v_k (L(t) - \\bar L)\\right) T_{HF}(t-k)
   + c_{ET}\\, \\theta_{ET,HF}(t) + \\varepsilon ,

gives the *relative* change of the gain with wetness, :math:`\\rho = \\sum_k v_k / \\sum_k w_k`
(per m3 m-3). The product keeps its own fitted artefact :math:`a(t)` (network, reanalysis and
evaporation as estimates) and scales it,

.. math:: a_\\rho(t) = a(t)\\, \\mathrm{clip}\\left(1 + \\rho\\,(L(t) - \\bar L),\\ 0.5,\\ 2\\right),

so the mean gain stays the product's fit's and only its course through the seasons comes from
the evaporation-guided fit. Applying that fit's artefact itself brought the towers of 14 of
23 twin worlds within 0.1 of the true coupling but took those of humid_irrigated (irrigation
the evaporation does not see), arid and temperate_maritime far from it; the scaling does not
inherit that. :math:`L` is the raw SM's trailing 24-h mean
(:func:`smlib.method.wetness_level.wetness_level`), known at hour :math:`t` without
look-ahead, so a station table applies it on the operational path as in the batch file.

Numpy kernels on ``(station, time)`` arrays.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from smlib.method.wetness_level import wetness_level

if TYPE_CHECKING:
    from smlib.config import CorrectConfig
    from smlib.method.night_window import NightRule

__all__ = [
    "WETNESS_RULE",
    "WETNESS_VARIABLES",
    "tower_wetness_slope",
    "product_wetness",
    "wetness_for_stations",
]

#: The wetness term as a station table's file states it
#: (:func:`smlib.method.product.write_coefficients`).
WETNESS_RULE = (
    "where wetness_slope is not null the artefact is multiplied by clip(1 + wetness_slope * "
    "(L - wetness_level_mean), 0.5, 2), L the mean of sm over the 24 hours ending at t (at "
    "least 12 measured; else factor 1)"
)
#: The wetness columns of a station table's file, described as its other columns are.
WETNESS_VARIABLES = {
    "wetness_slope": {
        "units": "(m3 m-3)-1",
        "long_name": "relative change of the artefact gain per m3 m-3 of the raw SM's trailing "
        "24-h mean (towers; null: one gain for all seasons)",
    },
    "wetness_level_mean": {
        "units": "m3 m-3",
        "long_name": "the raw SM's trailing 24-h mean at which the artefact has its fitted gain",
    },
}


def tower_wetness_slope(
    raw: np.ndarray,
    ts: np.ndarray,
    water_balance: np.ndarray,
    fit_hours: np.ndarray,
    max_lag_h: int,
    min_hours: int = 240,
    night: NightRule | None = None,
    ridge: float = 1e-3,
    lf_window_h: int = 24,
) -> tuple[np.ndarray, np.ndarray]:
    """The relative change of the artefact gain with wetness at the stations with a water balance.

    Parameters
    ----------
    raw, ts : numpy.ndarray, shape (station, time)
        Measured SM (m3 m-3) and TS (degC).
    water_balance : numpy.ndarray, shape (station, time)
        :func:`smlib.method.water_balance.evaporative_drying` (m3 m-3); all NaN at stations
        without a latent heat flux, which get no slope.
    fit_hours : numpy.ndarray of bool, shape (station, time)
        Rain-free hours allowed in the fit.
    max_lag_h, min_hours, ridge, lf_window_h
        As :func:`smlib.method.lagged_artefact.distributed_lag_fit`.
    night : smlib.method.night_window.NightRule, optional
        The product's night rule: its equations enter with the weight of a fit guided by an
        estimate other than the network.

    Returns
    -------
    slope : numpy.ndarray of float64, shape (station,)
        :math:`\\rho = \\sum_k v_k / \\sum_k w_k`, per m3 m-3; NaN where not fitted.
    level_mean : numpy.ndarray of float64, shape (station,)
        :math:`\\bar L` over the fitted hours, m3 m-3.
    """
    from smlib.method.compensation import fit_inputs
    from smlib.method.lagged_artefact import distributed_lag_fit

    n_st = np.shape(raw)[0]
    slope, mean = np.full(n_st, np.nan), np.full(n_st, np.nan)
    wb = np.asarray(water_balance, dtype=np.float32)
    rows = np.flatnonzero(np.isfinite(wb).any(axis=1) & np.isfinite(ts).any(axis=1))
    if rows.size == 0:
        return slope, mean
    r_raw, r_ts = np.asarray(raw, np.float32)[rows], np.asarray(ts, np.float32)[rows]
    raw_hf, (ts_hf, _), sig_hf, _ = fit_inputs(
        r_raw, r_ts, [wb[rows]], fit_hours[rows], min_hours, lf_window_h, 0
    )
    nights = None if night is None else night.subset(rows).equations(r_raw, r_ts, 1, False)
    fit = distributed_lag_fit(
        raw_hf, ts_hf, sig_hf, fit_hours[rows], max_lag_h, ridge, min_hours,
        level=wetness_level(r_raw), night=nights,
    )  # fmt: skip
    w = fit.weights.sum(axis=1)
    v = fit.level_weights.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = np.where((fit.window_h >= 0) & (np.abs(w) > 0), v / w, np.nan)
    ok = np.isfinite(rho)
    slope[rows[ok]], mean[rows[ok]] = rho[ok], fit.level_mean[ok]
    return slope, mean


def product_wetness(
    raw: np.ndarray,
    ts: np.ndarray,
    fit_hours: np.ndarray,
    cc: CorrectConfig,
    water_balance: np.ndarray | None,
    night: NightRule | None,
) -> tuple[np.ndarray, np.ndarray] | None:
    """:func:`tower_wetness_slope` with the product's settings (``cc``: ``tower_wetness_gain``,
    ``artefact_lags_h``, ``min_rule_hours``), or None where the product has no wetness term
    (the option off, or no water balance: :func:`smlib.method.product.tower_drying`). One
    place for the product's fit and every refit of it (the signal ablation)."""
    if not cc.tower_wetness_gain or water_balance is None or cc.artefact_lags_h <= 0:
        return None
    return tower_wetness_slope(
        raw, ts, water_balance, fit_hours, cc.artefact_lags_h, cc.min_rule_hours, night
    )


def wetness_for_stations(table, station: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """``(wetness_slope, wetness_level_mean)`` of a station table
    (:class:`smlib.method.product.ProductCoefficients`) aligned to ``station`` (NaN: no term
    or not in the table), or None where the table has no wetness term."""
    if table.wetness_slope is None:
        return None
    where = {str(s): i for i, s in enumerate(table.station)}
    idx = np.array([where.get(str(s), -1) for s in np.asarray(station)], dtype=int)
    seen = idx >= 0
    slope, mean = np.full(idx.size, np.nan), np.full(idx.size, np.nan)
    slope[seen] = np.asarray(table.wetness_slope, float)[idx[seen]]
    mean[seen] = np.asarray(table.wetness_level_mean, float)[idx[seen]]
    return slope, mean
