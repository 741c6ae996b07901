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

so the gain stays the product's fit's at the level that gain stands for and only its course
through the seasons comes from the evaporation-guided fit. That level is not the plain mean
:math:`\\bar L`: a least-squares gain weighs the hours by the artefact's square, so the dry,
sunny spells with the largest temperature swings count most. The term is therefore re-centred
on :math:`L_w`, the artefact-weighted mean level of the product's own fit
(:func:`centre_on_fit`); without it the scaling counted those spells twice and over-corrected
the warm season (benchmarks/README.md). :math:`\\rho` is shrunk by its day-block jackknife
standard error, so a slope the record does not determine is not applied at full strength.
Applying that fit's artefact itself brought the towers of 14 of 23 twin worlds within 0.1 of the true coupling but took those of humid_irrigated (irrigation
the evaporation does not see), arid and temperate_maritime far from it; the scaling does not
inherit that. :math:`L` is the raw SM's trailing 24-h mean
(:func:`smlib.method.wetness_level.wetness_level`), known at hour :math:`t` without
look-ahead, so a station table applies it on the operational path as in the batch file.

Numpy kernels on ``(station, time)`` arrays.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from smlib.method.wetness_level import FACTOR_RANGE, wetness_level

if TYPE_CHECKING:
    from smlib.config import CorrectConfig
    from smlib.method.night_window import NightRule

__all__ = [
    "WETNESS_RULE",
    "WETNESS_VARIABLES",
    "tower_wetness_slope",
    "centre_on_fit",
    "apply_with_wetness",
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
    n_blocks: int = 10,
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
    n_blocks : int
        Day groups of a delete-a-group jackknife of :math:`\\rho` (day ``d`` in group
        ``d % n_blocks``; each group's TS set missing in turn). The slope is shrunk by its
        standard error, :math:`\\rho\\,\\rho^2 / (\\rho^2 + \\mathrm{se}^2)`, so a slope the
        record does not determine is not applied at full strength (a tower of the twin's
        humid_irrigated world: :math:`\\rho = 14 \\pm 20`). 0: no jackknife, no shrinkage.

    Returns
    -------
    slope : numpy.ndarray of float64, shape (station,)
        :math:`\\rho = \\sum_k v_k / \\sum_k w_k` (shrunk), per m3 m-3; NaN where not fitted.
    level_mean : numpy.ndarray of float64, shape (station,)
        :math:`\\bar L` over the fitted hours, m3 m-3.
    """
    n_st = np.shape(raw)[0]
    slope, mean = np.full(n_st, np.nan), np.full(n_st, np.nan)
    wb = np.asarray(water_balance, dtype=np.float32)
    rows = np.flatnonzero(np.isfinite(wb).any(axis=1) & np.isfinite(ts).any(axis=1))
    if rows.size == 0:
        return slope, mean
    r_raw, r_ts = np.asarray(raw, np.float32)[rows], np.asarray(ts, np.float32)[rows]
    sub_night = None if night is None else night.subset(rows)
    fit = (wb[rows], fit_hours[rows], max_lag_h, min_hours, sub_night, ridge, lf_window_h)
    rho, level = _interaction_slope(r_raw, r_ts, *fit)
    if n_blocks >= 2:
        group = (np.arange(r_ts.shape[1]) // 24) % n_blocks
        reps = np.array(
            [_interaction_slope(r_raw, np.where(group == g, np.nan, r_ts), *fit)[0]
             for g in range(n_blocks)]
        )  # fmt: skip
        done = np.isfinite(reps).sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            centre = np.nansum(reps, axis=0) / done
            var = (done - 1) / done * np.nansum((reps - centre) ** 2, axis=0)
        var = np.where(done >= 2, var, np.inf)  # undetermined: no wetness term
        with np.errstate(invalid="ignore"):
            rho = np.where(np.isfinite(var), rho * rho**2 / (rho**2 + var), np.nan)
    ok = np.isfinite(rho)
    slope[rows[ok]], mean[rows[ok]] = rho[ok], level[ok]
    return slope, mean


def _interaction_slope(
    raw: np.ndarray,
    ts: np.ndarray,
    water_balance: np.ndarray,
    fit_hours: np.ndarray,
    max_lag_h: int,
    min_hours: int,
    night: NightRule | None,
    ridge: float,
    lf_window_h: int,
) -> tuple[np.ndarray, np.ndarray]:
    """:math:`\\rho` and :math:`\\bar L` of the wetness-interaction fit guided by the water
    balance alone, at every row (NaN where not fitted)."""
    from smlib.method.compensation import fit_inputs
    from smlib.method.lagged_artefact import distributed_lag_fit

    raw_hf, (ts_hf, _), sig_hf, _ = fit_inputs(
        raw, ts, [water_balance], fit_hours, min_hours, lf_window_h, 0
    )
    nights = None if night is None else night.equations(raw, ts, 1, False)
    fit = distributed_lag_fit(
        raw_hf, ts_hf, sig_hf, fit_hours, max_lag_h, ridge, min_hours,
        level=wetness_level(raw), night=nights,
    )  # fmt: skip
    w = fit.weights.sum(axis=1)
    v = fit.level_weights.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = np.where((fit.window_h >= 0) & (np.abs(w) > 0), v / w, np.nan)
    return rho, np.asarray(fit.level_mean, dtype=np.float64)


def centre_on_fit(
    wetness: tuple[np.ndarray, np.ndarray],
    raw: np.ndarray,
    artefact: np.ndarray,
    fit_hours: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The wetness term re-centred on the level that a constant-gain fit's gain stands for.

    A least-squares fit of one gain to an artefact whose gain is :math:`g(L) = W(1 + \\rho(L -
    \\bar L))` returns the gain weighted by the artefact's square,
    :math:`G = W(1 + \\rho(L_w - \\bar L))` with :math:`L_w = \\sum a^2 L / \\sum a^2` over the
    fitted hours: the hours of large diurnal temperature swings (dry, sunny spells) weigh most.
    Scaling :math:`G` by :math:`1 + \\rho(L - \\bar L)` counts them twice. The product's
    artefact :math:`a(t)` is therefore scaled by
    :math:`g(L)/g(L_w) = 1 + \\rho'(L - L_w)` with :math:`\\rho' = \\rho/(1 + \\rho(L_w - \\bar
    L))` (the denominator held in the factor's range): at the level its gain was fitted for, the
    product keeps its gain.

    Parameters
    ----------
    wetness : (slope, level_mean), each shape (station,)
        From :func:`tower_wetness_slope` (NaN: no term).
    raw : numpy.ndarray, shape (station, time)
        Measured SM, m3 m-3.
    artefact : numpy.ndarray, shape (station, time)
        The product's fitted artefact before any wetness factor, m3 m-3 (NaN: none).
    fit_hours : numpy.ndarray of bool, shape (station, time)
        The hours the product was fitted on.

    Returns
    -------
    slope, level_mean : numpy.ndarray of float64, shape (station,)
        :math:`\\rho'` and :math:`L_w`; NaN where the input had no term or no fitted hour.

    Examples
    --------
    >>> raw = np.concatenate([np.full(48, 0.10), np.full(48, 0.30)])[None, :]
    >>> art = np.concatenate([np.full(48, 0.02), np.full(48, 0.01)])[None, :]  # dry: larger
    >>> settled = (np.arange(96) % 48 >= 24)[None, :]  # a full day at each level
    >>> s, m = centre_on_fit((np.array([-2.0]), np.array([0.20])), raw, art, settled)
    >>> np.round(m, 3).tolist(), np.round(s, 3).tolist()  # L_w 0.14; rho / (1 + 0.12)
    ([0.14], [-1.786])
    """
    slope0, mean0 = (np.asarray(a, dtype=np.float64) for a in wetness)
    level = wetness_level(np.asarray(raw, dtype=np.float32)).astype(np.float64)
    a = np.asarray(artefact, dtype=np.float64)
    ok = np.asarray(fit_hours, bool) & np.isfinite(a) & np.isfinite(level)
    w = np.where(ok, a * a, 0.0)
    total = w.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        l_w = np.where(total > 0, (w * np.where(ok, level, 0.0)).sum(axis=1) / total, np.nan)
    denom = np.clip(1.0 + slope0 * (l_w - mean0), *FACTOR_RANGE)
    slope = slope0 / denom
    keep = np.isfinite(slope) & np.isfinite(l_w)
    return np.where(keep, slope, np.nan), np.where(keep, l_w, np.nan)


def apply_with_wetness(
    raw: np.ndarray,
    ts: np.ndarray,
    coef: np.ndarray,
    rain: np.ndarray,
    terms: tuple[str, ...],
    wetness: tuple[np.ndarray, np.ndarray] | None,
    fit_hours: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray] | None]:
    """A fitted product's artefact removed, its gain following the wetness where it has a term.

    :func:`smlib.method.compensation.apply_guided_kernel` with ``coef`` fitted on ``fit_hours``
    (default ``~rain``; :func:`smlib.method.product_rain.product_fit_hours`);
    with ``wetness`` (:func:`tower_wetness_slope`), the term is first re-centred on this fit's
    artefact (:func:`centre_on_fit`). One place for the product's fit and every refit of it.

    Returns
    -------
    product, flag : numpy.ndarray, shape (station, time)
        As ``apply_guided_kernel``.
    wetness : (slope, level_mean) or None
        The term applied (the station table stores it), or None.
    """
    from smlib.method.compensation import apply_guided_kernel

    prod, flag = apply_guided_kernel(raw, ts, coef, rain, terms=terms)
    if wetness is None:
        return prod, flag, None
    fit = ~np.asarray(rain, bool) if fit_hours is None else fit_hours
    wetness = centre_on_fit(wetness, raw, raw - prod, fit)
    prod, flag = apply_guided_kernel(raw, ts, coef, rain, terms=terms, wetness=wetness)
    return prod, flag, wetness


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
