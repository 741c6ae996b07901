"""What each signal estimate adds to the default product: the guided fit, refitted without it.

The default product ``sm_lstm`` is not the network's series. It is the measured series minus a
per-station temperature artefact :math:`b_1 T_{HF} + b_2\\,\\partial_t T_{HF}`, fitted on the
rain-free hours by regressing the raw HF on the temperature terms *and* on the HF of estimates
of the true signal: the network's series ``sm_lstm_net`` first, then ERA5-Land ``era5_sm`` and
MERRA-2 ``merra2_sm`` where the cube has them (:func:`smlib.method.compensation.guided_fit`).
How much of the product's skill is the network's? This module refits the same product --
same rain screen and fitted hours, ``min_rule_hours``, ``smoothing_days`` and artefact model
of the run's :class:`smlib.config.CorrectConfig` -- with each subset of the estimates:

===================  ===========================================================
ablation             signal estimates in the fit
===================  ===========================================================
``all``              every estimate of the build: the default product itself
``without_network``  the reanalysis only (with no reanalysis: temperature terms alone)
``without_era5``     every estimate but ERA5-Land (cubes with ``era5_sm``)
``without_merra2``   every estimate but MERRA-2 (cubes with ``merra2_sm``)
``network_alone``    the network only (cubes with reanalysis)
``none``             the temperature terms alone (the per-probe fit with a tendency)
===================  ===========================================================

A station whose fit lacks ``min_rule_hours`` falls back as the product does (without the
first estimate of the subset, then the temperature terms alone), so ``all`` *is* the product
(:func:`signal_ablation` checks it, to 1e-6 m3 m-3, and refuses a file it cannot reproduce).
:func:`score_signal_ablation` scores each against the twin's truth with
:func:`smlib.evaluation.skill.score_against_truth` (median rain-free HF R over the dielectric
non-reference ISMN stations, and the other scopes), and :func:`network_gain` is the product's
score minus the score without the network: what the LSTM adds.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from smlib.config import CorrectConfig
from smlib.method.night_window import NightRule

__all__ = [
    "NETWORK",
    "REANALYSIS",
    "ABLATIONS",
    "NEGLIGIBLE_GAIN",
    "Refit",
    "ablation_subsets",
    "refit_kernel",
    "signal_ablation",
    "score_signal_ablation",
    "network_gain",
    "network_verdict",
    "STATION_CHANGE",
    "paired_gain_kernel",
    "paired_network_gain",
    "ablation_summary",
    "correct_config_of",
]

#: The network's series in the corrected file (the first signal estimate of the product).
NETWORK = "sm_lstm_net"
#: Reanalysis SM of the cube offered to the fit, in the product's order.
REANALYSIS = ("era5_sm", "merra2_sm")
#: The ablations, in table order (module docstring).
ABLATIONS = ("all", "without_network", "without_era5", "without_merra2", "network_alone", "none")
#: A network gain in HF R smaller than this (in magnitude) is said to do nothing.
NEGLIGIBLE_GAIN = 0.01
#: A station whose HF R the network moves by less than this counts as unchanged
#: (:func:`paired_gain_kernel`).
STATION_CHANGE = 0.005
#: Scores of :func:`score_against_truth` kept in the table, in column order.
SCORE_COLUMNS = ("hf_r", "hf_r_all", "hf_r_rain", "composite_rmse", "phase_error_h", "rmse_all")


@dataclasses.dataclass(frozen=True)
class Refit:
    """The guided product refitted with one subset of the signal estimates.

    Attributes
    ----------
    estimates : tuple of str
        The estimates offered to the fit, in the product's order.
    product : numpy.ndarray of float32, shape (station, time)
        m3 m-3, as ``sm_lstm``.
    flag : numpy.ndarray of int8, shape (station, time)
        As ``sm_lstm_flag``.
    coef : numpy.ndarray, shape (station, k)
        ``b1`` (m3 m-3 K-1), ``b2`` (m3 m-3 h K-1); or the distributed-lag weights
        (m3 m-3 K-1) when ``correct.artefact_lags_h`` > 0. NaN where not fitted.
    """

    estimates: tuple[str, ...]
    product: np.ndarray
    flag: np.ndarray
    coef: np.ndarray


def ablation_subsets(available: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """Ablation -> signal estimates of its fit, for the estimates a build has.

    Parameters
    ----------
    available : sequence of str
        Names present (any of :data:`NETWORK` and :data:`REANALYSIS`; others ignored).

    Returns
    -------
    dict
        In :data:`ABLATIONS` order; ablations that do not apply are left out (no
        ``without_era5`` without ERA5-Land, no ``network_alone`` without reanalysis).

    Examples
    --------
    >>> ablation_subsets(["sm_lstm_net"])
    {'all': ('sm_lstm_net',), 'without_network': (), 'none': ()}
    """
    have = [n for n in (NETWORK, *REANALYSIS) if n in set(available)]
    out: dict[str, tuple[str, ...]] = {"all": tuple(have)}
    if NETWORK in have:
        out["without_network"] = tuple(n for n in have if n != NETWORK)
    for name, key in zip(REANALYSIS, ("without_era5", "without_merra2"), strict=True):
        if name in have:
            out[key] = tuple(n for n in have if n != name)
    if NETWORK in have and len(have) > 1:
        out["network_alone"] = (NETWORK,)
    out["none"] = ()
    return out


def refit_kernel(
    raw: np.ndarray,
    ts: np.ndarray,
    signals: Mapping[str, np.ndarray],
    rain: np.ndarray,
    subsets: Mapping[str, Sequence[str]],
    min_hours: int = 240,
    smoothing_days: int = 0,
    artefact_lags_h: int = 0,
    kernel_lags_h: int = 0,
    network_anchor: str = "none",
    night: NightRule | None = None,
    water_balance: np.ndarray | None = None,
    tower_cv_tolerance: float = 0.0,
    wetness: tuple[np.ndarray, np.ndarray] | None = None,
    fit_hours: np.ndarray | None = None,
) -> dict[str, Refit]:
    """The guided product refitted with each subset of the signal estimates (numpy).

    The fit and application of ``smlib correct``'s default product
    (:func:`smlib.method.product.fit_product_table`, or
    :func:`smlib.method.lagged_artefact.lagged_product` with ``artefact_lags_h`` > 0): fitted on
    ``~rain``, applied at every hour with TS, rain hours flagged 1.

    Parameters
    ----------
    raw, ts : numpy.ndarray, shape (station, time)
        Measured SM (m3 m-3) and TS (degC), hourly.
    signals : mapping of str to numpy.ndarray, each shape (station, time)
        Signal estimates (m3 m-3) by name.
    rain : numpy.ndarray of bool, shape (station, time)
        Rain-affected hours of the run's screen (``correct.rain_screen``).
    subsets : mapping of str to sequence of str
        Ablation -> names of ``signals`` in its fit, in the product's order (the network first:
        the fallback drops the first estimate).
    min_hours, smoothing_days, artefact_lags_h, kernel_lags_h, network_anchor
        ``correct.min_rule_hours``, ``smoothing_days``, ``artefact_lags_h``,
        ``element_kernel_lags_h``, ``network_anchor`` (applied where the network is the only
        estimate, as the product does: :func:`smlib.method.network_anchor.select_network_anchor`).
    night : NightRule, optional
        The night equations (:func:`smlib.method.product.night_rule`; with
        ``artefact_lags_h`` > 0), weighted in each refit by what guides it, as in the product.
    water_balance : numpy.ndarray, shape (station, time), optional
        The towers' evaporative drying (:func:`smlib.method.product.tower_drying`), added to
        every refit at the stations that have it, as in the product.
    tower_cv_tolerance : float
        ``correct.tower_lag_cv_tolerance``: the parsimony of the towers' lag window.
    wetness : tuple of numpy.ndarray, each shape (station,), optional
        The towers' gain that follows the wetness (``correct.tower_wetness_gain``;
        :func:`smlib.method.wetness_gain.tower_wetness_slope`, fitted on the evaporation alone,
        so the same for every subset), applied to every refit's artefact, as in the product.
    fit_hours : numpy.ndarray of bool, shape (station, time), optional
        The hours fitted on (:func:`smlib.method.product_rain.product_fit_hours`); default
        ``~rain``. ``rain`` flags the product.

    Returns
    -------
    dict of str to Refit
    """
    from smlib.method.artefact_terms import artefact_terms
    from smlib.method.compensation import apply_guided_kernel, guided_fit
    from smlib.method.lagged_artefact import distributed_lag_compensation
    from smlib.method.network_anchor import anchor_single_network
    from smlib.method.wetness_gain import apply_with_wetness

    raw = np.asarray(raw, dtype=np.float32)
    ts = np.asarray(ts, dtype=np.float32)
    rain = np.asarray(rain, dtype=bool)
    free = ~rain if fit_hours is None else np.asarray(fit_hours, dtype=bool)
    out: dict[str, Refit] = {}
    for name, subset in subsets.items():
        missing = [s for s in subset if s not in signals]
        if missing:
            raise KeyError(f"ablation {name!r}: no signal estimate {missing[0]!r}")
        sig = [np.asarray(signals[s], dtype=np.float32) for s in subset]
        if artefact_lags_h > 0:
            # the anchor acts where the network is the only estimate; select_nights_slope's
            # single night slope wherever none is left (the product's rules, as they apply)
            _, fit = distributed_lag_compensation(
                raw, ts, sig, free, artefact_lags_h, min_hours, smoothing_days=smoothing_days,
                network_anchor=network_anchor, night=night,
                network_first=bool(subset) and subset[0] == NETWORK,
                water_balance=water_balance, tower_cv_tolerance=tower_cv_tolerance,
                kernel_lags_h=kernel_lags_h,
            )  # fmt: skip
            coef = fit.weights  # applied as the product applies it, wetness gain and all
            prod, flag, _ = apply_with_wetness(
                raw, ts, coef, rain, artefact_terms(coef.shape[1] - 1), wetness, free
            )
        else:
            coef, _, n_sig = guided_fit(
                raw, ts, sig, free, min_hours, smoothing_days=smoothing_days
            )
            if network_anchor.startswith("select") and tuple(subset) == (NETWORK,):
                coef, _ = anchor_single_network(
                    raw, ts, sig, free, coef, n_sig, min_hours, smoothing_days=smoothing_days
                )
            prod, flag = apply_guided_kernel(raw, ts, coef, rain)
        out[name] = Refit(tuple(subset), prod, flag, coef)
    return out


def _st(ds: xr.Dataset, var: str) -> np.ndarray:
    return np.asarray(ds[var].transpose("station", "time").values, dtype=np.float32)


def signal_ablation(
    cube: xr.Dataset,
    corrected: xr.Dataset,
    correct_config: CorrectConfig | None = None,
    check: bool = True,
) -> xr.Dataset:
    """Refit the default product of ``corrected`` with each subset of its signal estimates.

    Parameters
    ----------
    cube : xarray.Dataset
        The station cube ``corrected`` was made from (``sm``, ``ts``, ``lon``, the rain
        screen's precipitation, ``era5_sm`` / ``merra2_sm`` where it has them); it may hold
        more stations.
    corrected : xarray.Dataset
        ``smlib correct``'s default output: ``sm_lstm`` (the guided product) and
        ``sm_lstm_net`` (the network's series), dims (station, time).
    correct_config : CorrectConfig, optional
        The run's ``correct`` section (:func:`correct_config_of`); default
        ``CorrectConfig()``.
    check : bool
        Refuse (ValueError) when the refit with every estimate differs from ``sm_lstm`` by
        more than 1e-6 m3 m-3 at any hour or in its flags: then the file was not made by this
        fit with this configuration, and no ablation of it would mean anything.

    Returns
    -------
    xarray.Dataset
        ``sm_ablation_<name>`` (float32, m3 m-3; attribute ``signal_estimates``) and
        ``sm_ablation_<name>_flag`` (int8) per ablation of :func:`ablation_subsets`, on
        ``corrected``'s stations and hours; attributes ``ablations`` (space-separated names)
        and ``max_abs_difference_all`` (m3 m-3, the refit with every estimate vs ``sm_lstm``).

    Raises
    ------
    ValueError
        ``corrected`` has no guided product (``sm_lstm`` with ``sm_lstm_net``), was made
        from stored coefficients or another mode, its stations or hours are not in the cube,
        or (with ``check``) the refit does not reproduce it.
    """
    from smlib.method.correct import rain_affected_hours
    from smlib.method.network_purge import purged_signals
    from smlib.method.network_series import network_for_fit_of
    from smlib.method.product import (
        artefact_temperature,
        night_rule,
        product_fit_hours,
        tower_drying,
    )
    from smlib.method.wetness_gain import product_wetness

    cc = correct_config or CorrectConfig()
    for var in ("sm_lstm", NETWORK):
        if var not in corrected:
            raise ValueError(
                f"the corrected file has no {var}: the signal ablation needs the guided product "
                "and the network's series (correct.product=flagged, correct.mode=guided)"
            )
    how = str(corrected["sm_lstm"].attrs.get("product", "guided"))
    if not how.startswith("guided") or "stored coefficients" in how:
        raise ValueError(
            "sm_lstm of the corrected file is not a guided product fitted on this cube "
            f"({how.split(';')[0]}); the signal ablation refits that fit"
        )
    stations = corrected["station"].values
    missing = np.setdiff1d(stations.astype(str), cube["station"].values.astype(str))
    if missing.size:
        raise ValueError(f"station {missing[0]} of the corrected file is not in the cube")
    c = cube.sel(station=stations)
    if not np.array_equal(c["time"].values, corrected["time"].values):
        raise ValueError("the corrected file and the cube have different hours")
    raw, ts = _st(c, "sm"), artefact_temperature(c, _st(c, "ts"))  # as the product's fit
    signals = {NETWORK: network_for_fit_of(corrected)}  # carried-LF hours left out
    signals.update({v: _st(c, v) for v in REANALYSIS if v in c})
    rain = rain_affected_hours(c, cc.rain_screen)
    free = product_fit_hours(c, raw, ts, rain, cc.rain_screen, cc.min_rule_hours)
    night = night_rule(c, cc) if cc.artefact_lags_h > 0 else None
    drying = tower_drying(c, cc) if cc.artefact_lags_h > 0 else None
    wetness = product_wetness(raw, ts, free, cc, drying, night)  # as fit_product_table
    if cc.network_night_purge:  # the network's series as it guided the product
        names = list(signals)
        purged, _ = purged_signals(c, raw, _st(c, "ts"), list(signals.values()), rain, cc)
        signals = dict(zip(names, purged, strict=True))
    refits = refit_kernel(
        raw, ts, signals, rain, ablation_subsets(list(signals)), cc.min_rule_hours,
        cc.smoothing_days, cc.artefact_lags_h, cc.element_kernel_lags_h, cc.network_anchor,
        night, drying, cc.tower_lag_cv_tolerance, wetness, free,
    )  # fmt: skip
    product = _st(corrected, "sm_lstm")
    allfit = refits["all"]
    both = np.isfinite(product) & np.isfinite(allfit.product)
    diff = float(np.abs(product[both] - allfit.product[both]).max()) if both.any() else 0.0
    if check:
        same_nan = np.array_equal(np.isfinite(product), np.isfinite(allfit.product))
        flag_ok = "sm_lstm_flag" not in corrected or np.array_equal(
            np.asarray(corrected["sm_lstm_flag"].transpose("station", "time").values),
            allfit.flag,
        )
        if diff > 1e-6 or not same_nan or not flag_ok:
            raise ValueError(
                f"the refit with every signal estimate differs from sm_lstm (max {diff:.2g} "
                f"m3 m-3{'' if flag_ok else ', flags differ'}): the file was not made with this "
                "correct configuration (give the run: --model RUN)"
            )
    dims = ("station", "time")
    coords = {"station": corrected["station"], "time": corrected["time"]}
    out = xr.Dataset(coords=coords)
    for name, r in refits.items():
        used = ", ".join(r.estimates) or "none (temperature terms alone)"
        out[f"sm_ablation_{name}"] = xr.DataArray(
            r.product, dims=dims, coords=coords,
            attrs={
                "units": "m3 m-3",
                "standard_name": "volume_fraction_of_condensed_water_in_soil",
                "long_name": f"default product refitted with the signal estimates: {used}",
                "signal_estimates": " ".join(r.estimates),
            },
        )  # fmt: skip
        out[f"sm_ablation_{name}_flag"] = xr.DataArray(
            r.flag, dims=dims, coords=coords,
            attrs={"long_name": f"what each hour of sm_ablation_{name} holds",
                   **{k: v for k, v in corrected.get("sm_lstm_flag", xr.DataArray()).attrs.items()
                      if k in ("flag_values", "flag_meanings")}},
        )  # fmt: skip
    out.attrs = {"ablations": " ".join(refits), "max_abs_difference_all": diff}
    return out


def _scored(ablation: xr.Dataset, corrected: xr.Dataset) -> xr.Dataset:
    """The corrected file's ``sm`` and ``ts`` (and its station coordinates) with the ablation's
    products beside them, as the skill scores read them."""
    keep = [v for v in corrected.data_vars if v in ("sm", "ts")]
    return corrected[keep].assign({v: ablation[v] for v in ablation.data_vars})


def score_signal_ablation(
    ablation: xr.Dataset, corrected: xr.Dataset, truth: xr.Dataset, cube: xr.Dataset
) -> pd.DataFrame:
    """Score every ablation of :func:`signal_ablation` against the truth.

    Parameters
    ----------
    ablation : xarray.Dataset
        :func:`signal_ablation` output.
    corrected : xarray.Dataset
        The corrected file (station coordinates ``kind``, ``is_reference``, ``sensor_type``;
        ``sm``, ``ts``).
    truth : xarray.Dataset
        ``truth.nc`` of the twin.
    cube : xarray.Dataset
        The station cube (rain screen of the scores).

    Returns
    -------
    pandas.DataFrame
        Index ``ablation`` (:data:`ABLATIONS` order); columns ``signal_estimates`` (str) and
        :data:`SCORE_COLUMNS` of :func:`smlib.evaluation.skill.score_against_truth` (``hf_r``:
        median rain-free HF R over the dielectric non-reference ISMN stations; RMSE in
        m3 m-3, phase error in h), ``stations_scored``.
    """
    from smlib.evaluation.skill import score_against_truth

    names = str(ablation.attrs.get("ablations", "")).split()
    ds = _scored(ablation, corrected)
    scores = score_against_truth(ds, truth, cube, {n: f"sm_ablation_{n}" for n in names})
    rows = {}
    for n in names:
        est = ablation[f"sm_ablation_{n}"].attrs.get("signal_estimates", "")
        rows[n] = {
            "signal_estimates": ", ".join(est.split()) or "none",
            **{k: scores[n].get(k) for k in SCORE_COLUMNS},
            "stations_scored": scores["_scope"]["stations_scored"],
        }
    table = pd.DataFrame.from_dict(rows, orient="index").rename_axis("ablation")
    for k in SCORE_COLUMNS:
        table[k] = table[k].astype(float)
    return table


def network_gain(table: pd.DataFrame, metric: str = "hf_r") -> float | None:
    """What the network adds: ``metric`` of the product minus that without the network.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`score_signal_ablation` output (rows ``all`` and ``without_network``).
    metric : str
        A column of ``table``; for an error (RMSE, phase) a negative gain is an improvement.

    Returns
    -------
    float or None
        None where either score is missing.

    Examples
    --------
    >>> t = pd.DataFrame({"hf_r": [0.9, 0.85]}, index=["all", "without_network"])
    >>> round(network_gain(t), 3)
    0.05
    """
    if not {"all", "without_network"} <= set(table.index) or metric not in table:
        return None
    a, b = table.loc["all", metric], table.loc["without_network", metric]
    if a is None or b is None or not (np.isfinite(a) and np.isfinite(b)):
        return None
    return float(a - b)


def paired_gain_kernel(
    with_network: np.ndarray, without: np.ndarray, tolerance: float = STATION_CHANGE
) -> dict:
    """The network's gain station by station: the per-station differences of two scores.

    :func:`network_gain` compares two medians over the stations, and the median of the
    stations can move against the differences at the stations (the middle station of one
    column is not that of the other).

    Parameters
    ----------
    with_network, without : numpy.ndarray, shape (station,)
        A score per station (e.g. rain-free HF R) of the product and of the same fit without
        the network; NaN where not scored.
    tolerance : float
        A station moved by less than this counts as unchanged.

    Returns
    -------
    dict
        ``median`` and ``mean`` of the differences (None without a station scored by both),
        ``stations_up`` and ``stations_down`` (moved by more than ``tolerance``) and
        ``stations`` (scored by both).

    Examples
    --------
    >>> a = np.array([0.50, 0.70, 0.80, 0.90, 0.95])  # with the network
    >>> b = np.array([0.40, 0.60, 0.85, 0.88, 0.95])  # without it
    >>> round(float(np.median(a) - np.median(b)), 3)  # the medians say the network hurts
    -0.05
    >>> paired_gain_kernel(a, b)  # station by station it lifts three and lowers one
    {'median': 0.02, 'mean': 0.034, 'stations_up': 3, 'stations_down': 1, 'stations': 5}
    """
    d = np.asarray(with_network, float) - np.asarray(without, float)
    d = d[np.isfinite(d)]
    return {
        "median": round(float(np.median(d)), 6) if d.size else None,
        "mean": round(float(np.mean(d)), 6) if d.size else None,
        "stations_up": int((d > tolerance).sum()),
        "stations_down": int((d < -tolerance).sum()),
        "stations": int(d.size),
    }


def paired_network_gain(
    ablation: xr.Dataset,
    corrected: xr.Dataset,
    truth: xr.Dataset,
    cube: xr.Dataset,
    tolerance: float = STATION_CHANGE,
) -> dict | None:
    """:func:`paired_gain_kernel` of the rain-free HF R of the product (``all``) and of the
    fit without the network, at the stations :func:`score_signal_ablation` scores; None
    where the ablation has no fit without the network.

    Parameters
    ----------
    ablation, corrected, truth, cube
        As :func:`score_signal_ablation`.
    tolerance : float
        As :func:`paired_gain_kernel`.
    """
    from smlib.evaluation.skill import station_hf_r

    names = {"all": "sm_ablation_all", "without_network": "sm_ablation_without_network"}
    if any(v not in ablation for v in names.values()):
        return None
    r = station_hf_r(_scored(ablation, corrected), truth, cube, names)
    return paired_gain_kernel(r["all"].to_numpy(), r["without_network"].to_numpy(), tolerance)


def network_verdict(gain: float | None, tol: float = NEGLIGIBLE_GAIN) -> str:
    """``helps`` (gain >= ``tol``), ``does nothing`` (\\|gain\\| < ``tol``), ``hurts`` (gain <=
    -``tol``) or ``unknown`` (no gain): what the network does to the product's HF R.

    Examples
    --------
    >>> network_verdict(0.03), network_verdict(-0.004), network_verdict(-0.02)
    ('helps', 'does nothing', 'hurts')
    """
    if gain is None or not np.isfinite(gain):
        return "unknown"
    if abs(gain) < tol:
        return "does nothing"
    return "helps" if gain > 0 else "hurts"


def correct_config_of(
    model_dir: str | os.PathLike[str] | None = None,
    corrected_path: str | os.PathLike[str] | None = None,
) -> CorrectConfig:
    """The ``correct`` configuration a corrected file was made with, as far as it is known.

    The run's ``config.yaml`` when ``model_dir`` is given; else the station table ``smlib
    correct`` wrote beside ``corrected_path`` (``<stem>.coefficients.json``: ``min_hours``,
    ``smoothing_days``, the rain screen); else the defaults. :func:`signal_ablation` checks
    that the refit reproduces the file, so a wrong guess is refused, never used.
    """
    from smlib.config import load_config

    if model_dir is not None and (Path(model_dir) / "config.yaml").is_file():
        return load_config(Path(model_dir) / "config.yaml").correct
    if corrected_path is not None:
        from smlib.method.product import coefficients_path, read_coefficients

        path = coefficients_path(corrected_path)
        if path.is_file():
            table = read_coefficients(path)
            return CorrectConfig(
                rain_screen=table.rain.rain_screen,
                min_rule_hours=table.min_hours,
                smoothing_days=table.smoothing_days,
            )
    return CorrectConfig()


def ablation_summary(table: pd.DataFrame) -> dict:
    """The numbers and the verdict of a scored ablation, as ``summary.json`` stores them.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`score_signal_ablation` output.

    Returns
    -------
    dict
        ``table`` (ablation -> its columns), ``product_label`` (the product named after the
        estimates of its fit, :func:`smlib.method.registry.guided_label`; None without them), ``network_gain_hf_r`` (product minus product
        without the network, median rain-free HF R), ``network_gain_composite_rmse`` (m3 m-3;
        negative = the network lowers the error), ``network`` (:func:`network_verdict`),
        ``product_at_least_without_network`` (the gain in HF R >= 0; None without a gain),
        ``verdict`` (one sentence) and ``scope``.

    Examples
    --------
    >>> t = pd.DataFrame({"hf_r": [0.9, 0.92]}, index=["all", "without_network"])
    >>> ablation_summary(t)["verdict"]
    'The network hurts the product: median rain-free HF R 0.900 with it, 0.920 without it (gain -0.020); product >= product without the network: no.'
    """
    from smlib.method.registry import guided_label

    gain = network_gain(table)
    verdict = network_verdict(gain)
    if gain is None:
        sentence = "The network's gain is unknown: no product without the network was scored."
    else:
        a, b = table.loc["all", "hf_r"], table.loc["without_network", "hf_r"]
        sentence = (
            f"The network {verdict} {'to ' if verdict == 'does nothing' else ''}the product: "
            f"median rain-free HF R {a:.3f} with it, {b:.3f} without it (gain {gain:+.3f}); "
            f"product >= product without the network: {'yes' if gain >= 0 else 'no'}."
        )
    rows = table.astype(object).where(pd.notna(table), None).to_dict("index")
    label = None
    if "all" in table.index and "signal_estimates" in table:
        label = guided_label(
            [e.strip() for e in str(table.loc["all", "signal_estimates"]).split(",")]
        )
    return {
        "table": rows,
        "product_label": label,
        "network_gain_hf_r": gain,
        "network_gain_composite_rmse": network_gain(table, "composite_rmse"),
        "network": verdict,
        "product_at_least_without_network": None if gain is None else bool(gain >= 0),
        "verdict": sentence,
        "scope": "medians over the dielectric non-reference ISMN stations; hf_r on rain-free "
        "days (strict screen); each row the default product refitted with its signal estimates",
    }
