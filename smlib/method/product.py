"""The default product outside the batch correction: stored station coefficients, applied.

``smlib correct`` fits the default (``flagged``, ``guided``) product per station: the measured
SM minus a temperature artefact :math:`b_1 T_{HF} + b_2\\,\\partial_t T_{HF}`, with ``b1`` and
``b2`` fitted over the station's rain-free hours with the network's series and the reanalysis
SM as estimates of the true signal (:func:`smlib.method.correct.guided_compensation`). Once
fitted, the product of any later hour needs only the station's raw SM and TS and the two
coefficients -- no network. :class:`ProductCoefficients` is that station table;
:func:`write_coefficients` stores it beside the corrected output (``<out>.coefficients.json``,
see :func:`coefficients_path`), :func:`apply_product` applies it to new hours, and the streaming
corrector, the archive command and ``examples/correct_station_onnx.py`` use it, so every path
gives the series the book evaluates.

File format (JSON, ``format`` = :data:`FORMAT`, ``version`` = :data:`VERSION`)
    ``product``: the definition the coefficients belong to (``lf_window_h``, ``lf_centering``,
    ``max_gap_h`` of the regressors; ``signal_estimates`` offered to the fit; ``min_hours``,
    ``smoothing_days``; the rain screen of the flags; the fallback of a station not in the
    table). ``variables``: CF-style ``units`` and ``long_name`` of every column. ``stations``:
    the columns, one entry per station (``null`` = not fitted): ``station``, ``b1``
    (m3 m-3 K-1), ``b2`` (m3 m-3 h K-1), ``fitted_hours``, ``signals_used``, ``fallback``,
    ``fit`` (``free`` or ``anchored_on_network``; optional when reading), ``rain_tendency_sd`` (m3 m-3, the spread of the daily SM tendency that scales the in-situ
    rain screen, so that flags of new hours use the fitting record's threshold).

Fallback of a station without coefficients (too few fitted hours, or never seen in fitting)
    Its raw series, flag 3 (``left_raw``), as the batch product does for a station with too
    few hours. Raw is the only choice that is never worse than raw: the network can be worse
    than raw where it meets a probe or climate it was not trained on, and another station's
    (or the median) coefficients add an artefact of the wrong size wherever the probe differs.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import logging
import os
from pathlib import Path

import numpy as np
import xarray as xr

from smlib import __version__
from smlib.atomic import atomic_path
from smlib.config import CorrectConfig, PreprocessConfig
from smlib.method.night_window import NightRule, night_index, night_min_hours
from smlib.method.product_rain import (
    product_fit_hours,
    rain_hours_final,
    rain_hours_given_sd,
    rain_tendency_sd,
)
from smlib.method.product_variables import (
    DEFAULT_TERMS,
    FLAG_CORRECTED,
    FLAG_MEANINGS,
    coefficient_variable,
    flag_variable,
    wetness_variables,
)

__all__ = [
    "FLAG_MEANINGS",
    "FLAG_CORRECTED",
    "FORMAT",
    "VERSION",
    "UNSEEN_STATION_FLAG",
    "ProductCoefficients",
    "coefficients_path",
    "write_coefficients",
    "read_coefficients",
    "rain_tendency_sd",
    "rain_hours_given_sd",
    "rain_hours_final",
    "product_fit_hours",
    "fit_product_table",
    "night_rule",
    "tower_drying",
    "NO_TEMPERATURE_ARTEFACT",
    "artefact_temperature",
    "apply_product",
]

log = logging.getLogger(__name__)


#: ``format`` key of a coefficient file.
FORMAT = "smlib-product-coefficients"
#: Version of the coefficient file layout written here (read: this one only).
VERSION = 1
#: Flag of every hour with a value of a station without coefficients (``left_raw``).
UNSEEN_STATION_FLAG = 3

_VARIABLES = {
    "station": {"long_name": "station identifier (NETWORK/STATION or FLUXNET/SITE)"},
    "b1": {
        "units": "m3 m-3 K-1",
        "long_name": "temperature-artefact coefficient of the soil-temperature HF (ts_hf)",
    },
    "b2": {
        "units": "m3 m-3 h K-1",
        "long_name": "temperature-artefact coefficient of the hourly tendency of the "
        "soil-temperature HF (ts_hf_tendency)",
    },
    "fitted_hours": {"units": "h", "long_name": "rain-free hours that entered the fit"},
    "signals_used": {
        "long_name": "signal estimates in the fit ([] = temperature terms alone; null = not fitted)"
    },
    "fallback": {
        "long_name": "which fit the station got: full, without_network, temperature_only, "
        "or raw (not fitted: raw series, flag 3)"
    },
    "fit": {
        "long_name": "free (signal coefficients fitted), anchored_on_network (the network's HF "
        "taken as the signal: a station whose only estimate is the network, where that fit "
        "leaves the more negative SM-TS diurnal correlation), or raw (not fitted)"
    },
    "rain_tendency_sd": {
        "units": "m3 m-3",
        "long_name": "standard deviation of the daily-mean SM tendency over the fitting "
        "record (scales the in-situ rain screen)",
    },
}


@dataclasses.dataclass(frozen=True)
class ProductCoefficients:
    """Station table of the default product (module docstring).

    Attributes
    ----------
    station : numpy.ndarray of str, shape (station,)
    coef : numpy.ndarray of float64, shape (station, len(terms))
        The artefact's coefficients: ``b1`` (m3 m-3 K-1), ``b2`` (m3 m-3 h K-1) of the
        default terms, or the weights (m3 m-3 K-1) of the TS HF lags; NaN where not fitted.
    fitted_hours : numpy.ndarray of int64, shape (station,)
    n_signals : numpy.ndarray of int64, shape (station,)
        The fit used the last ``n_signals`` of :attr:`signal_estimates`; -1 not fitted.
    rain_tendency_sd : numpy.ndarray of float64, shape (station,)
        m3 m-3; NaN where the record has no daily tendency.
    signal_estimates : tuple of str
        Variables offered to the fit as signal estimates, the network first.
    lf_window_h, lf_centering, max_gap_h
        The regressors (:func:`smlib.method.compensation.temperature_regressors`).
    min_hours, smoothing_days
        The fit (:class:`smlib.config.CorrectConfig`).
    rain : PreprocessConfig
        Rain screen of the flags (``rain_screen`` and its thresholds).
    provenance : dict
        Run, cube, smlib version, creation time.
    anchored : numpy.ndarray of bool, shape (station,), optional
        Stations whose coefficients come from the fit anchored on the network
        (:func:`smlib.method.network_anchor.select_network_anchor`); None: none.
    terms : tuple of str
        The artefact's regressors (:func:`smlib.method.lagged_artefact.artefact_terms`):
        ``("ts_hf", "ts_hf_tendency")`` (default), or ``ts_hf_lag0h`` .. ``ts_hf_lag{K}h``
        (the distributed-lag artefact, ``correct.artefact_lags_h=K``).
    wetness_slope, wetness_level_mean : numpy.ndarray of float64, shape (station,), optional
        A gain that follows the soil's wetness (:mod:`smlib.method.wetness_gain`, the towers
        with ``correct.tower_wetness_gain``); NaN slope: one gain; None: none at any station.
    """

    station: np.ndarray
    coef: np.ndarray
    fitted_hours: np.ndarray
    n_signals: np.ndarray
    rain_tendency_sd: np.ndarray
    signal_estimates: tuple[str, ...]
    lf_window_h: int = 24
    lf_centering: str = "centred"
    max_gap_h: int = 3
    min_hours: int = 240
    smoothing_days: int = 0
    rain: PreprocessConfig = dataclasses.field(
        default_factory=lambda: PreprocessConfig(rain_screen="strict")
    )
    provenance: dict = dataclasses.field(default_factory=dict)
    anchored: np.ndarray | None = None
    terms: tuple[str, ...] = ("ts_hf", "ts_hf_tendency")
    wetness_slope: np.ndarray | None = None
    wetness_level_mean: np.ndarray | None = None

    def fits(self) -> list[str]:
        """Per station: ``anchored_on_network``, ``free`` or ``raw`` (not fitted)."""
        anch = np.zeros(len(self.station), bool) if self.anchored is None else self.anchored
        return ["raw" if n < 0 else "anchored_on_network" if a else "free"
                for n, a in zip(self.n_signals, anch, strict=True)]  # fmt: skip

    def fallback(self) -> list[str]:
        """Per station: ``full``, ``without_network``, ``temperature_only`` or ``raw``."""
        k = len(self.signal_estimates)
        names = []
        for n in self.n_signals:
            if n < 0:
                names.append("raw")
            elif n == 0:
                names.append("temperature_only")
            elif n == k:
                names.append("full")
            else:
                names.append("without_network")
        return names

    def for_stations(self, station: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Coefficients and rain spread aligned to ``station``; unseen stations get NaN.

        Returns
        -------
        coef : numpy.ndarray, shape (n, len(terms))
        sd : numpy.ndarray, shape (n,)
        seen : numpy.ndarray of bool, shape (n,)
            Station present in the table.
        """
        where = {str(s): i for i, s in enumerate(self.station)}
        ids = [str(s) for s in np.asarray(station)]
        seen = np.array([s in where for s in ids], dtype=bool)
        coef = np.full((len(ids), len(self.terms)), np.nan)
        sd = np.full(len(ids), np.nan)
        for j, s in enumerate(ids):
            if s in where:
                coef[j] = self.coef[where[s]]
                sd[j] = self.rain_tendency_sd[where[s]]
        if (~seen).any():
            log.warning(
                "%d of %d stations have no stored coefficients (first: %s): left raw, flag %d",
                int((~seen).sum()), len(ids), ids[int(np.flatnonzero(~seen)[0])],
                UNSEEN_STATION_FLAG,
            )  # fmt: skip
        return coef, sd, seen


def coefficients_path(out: str | os.PathLike) -> Path:
    """Where the station table of corrected output ``out`` goes: ``<out stem>.coefficients.json``.

    Examples
    --------
    >>> coefficients_path("results/corrected.nc").as_posix()
    'results/corrected.coefficients.json'
    """
    out = Path(out)
    return out.with_name(out.stem + ".coefficients.json")


def _num(v: float) -> float | None:
    return None if not np.isfinite(v) else float(v)


def write_coefficients(table: ProductCoefficients, path: str | os.PathLike) -> Path:
    """Write ``table`` as JSON (module docstring), atomically; return ``path``."""
    signals = [list(table.signal_estimates[len(table.signal_estimates) - n :]) if n >= 0 else None
               for n in table.n_signals]  # fmt: skip
    from smlib.method.wetness_gain import WETNESS_RULE, WETNESS_VARIABLES

    lagged = tuple(table.terms) != DEFAULT_TERMS
    wet = {} if table.wetness_slope is None else {
        "wetness_slope": [_num(v) for v in table.wetness_slope],
        "wetness_level_mean": [_num(v) for v in table.wetness_level_mean]}  # fmt: skip
    doc = {
        "format": FORMAT,
        "version": VERSION,
        "smlib_version": __version__,
        "created_utc": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "provenance": table.provenance,
        "product": {
            "name": "sm_lstm",
            "mode": "guided",
            "formula": "sm_lstm = max(sm - sum_k w_k * ts_hf(t - k h), 0)"
            if lagged
            else "sm_lstm = max(sm - b1 * ts_hf - b2 * ts_hf_tendency, 0)",
            "lf_window_h": table.lf_window_h,
            "lf_centering": table.lf_centering,
            "max_gap_h": table.max_gap_h,
            "regressors": {
                "ts_hf": "ts minus its lf_window_h moving average (gaps of up to max_gap_h "
                "hours interpolated; next to a gap the nearest defined average within "
                "lf_window_h/2 hours), K",
                "ts_hf_tendency": "centred hourly difference of ts_hf (one-sided next to a "
                "gap), K h-1",
            },
            **({"artefact_terms": list(table.terms)} if lagged else {}),
            **({"wetness": WETNESS_RULE} if wet else {}),
            "signal_estimates": list(table.signal_estimates),
            "min_hours": table.min_hours,
            "smoothing_days": table.smoothing_days,
            "rain_screen": {
                "rain_screen": table.rain.rain_screen,
                "insitu_tendency_sd": table.rain.insitu_tendency_sd,
                "precip_mm_per_day": table.rain.precip_mm_per_day,
                "widen_days": table.rain.widen_days,
            },
            "unseen_station": {"fallback": "raw", "flag": UNSEEN_STATION_FLAG},
        },
        "variables": {**_VARIABLES, **(WETNESS_VARIABLES if wet else {})},
        "stations": {
            "station": [str(s) for s in table.station],
            **(
                {
                    "weights": [
                        [_num(v) for v in row] if np.isfinite(row).all() else None
                        for row in table.coef
                    ]
                }  # fmt: skip
                if lagged
                else {
                    "b1": [_num(v) for v in table.coef[:, 0]],
                    "b2": [_num(v) for v in table.coef[:, 1]],
                }  # fmt: skip
            ),
            "fitted_hours": [int(v) for v in table.fitted_hours],
            "signals_used": signals,
            "fallback": table.fallback(),
            "fit": table.fits(),
            "rain_tendency_sd": [_num(v) for v in table.rain_tendency_sd],
            **wet,
        },
    }
    path = Path(path)
    with atomic_path(path) as tmp:
        Path(tmp).write_text(json.dumps(doc, indent=1) + "\n")
    log.info("wrote %s (%d stations)", path, len(table.station))
    return path


def read_coefficients(path: str | os.PathLike) -> ProductCoefficients:
    """Read a file of :func:`write_coefficients`.

    Raises
    ------
    ValueError
        Not a coefficient file, another version, or columns of different lengths (the
        message names the file).
    """
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: not a readable coefficient file ({err})") from err
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ValueError(f"{path}: not an smlib product coefficient file (format != {FORMAT})")
    if doc.get("version") != VERSION:
        raise ValueError(
            f"{path}: coefficient file version {doc.get('version')}; this smlib reads {VERSION}"
        )
    try:
        return _table_from(doc)
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"{path}: damaged coefficient file ({type(err).__name__}: {err})") from err


def _table_from(doc: dict) -> ProductCoefficients:
    p, st = doc["product"], doc["stations"]
    n = len(st["station"])
    terms = tuple(p.get("artefact_terms", DEFAULT_TERMS))
    lagged = terms != DEFAULT_TERMS
    coef_cols = ("weights",) if lagged else ("b1", "b2")
    wet = ("wetness_slope", "wetness_level_mean") if "wetness_slope" in st else ()
    columns = (*coef_cols, "fitted_hours", "signals_used", "rain_tendency_sd", *wet)
    if any(len(st[k]) != n for k in columns):
        raise ValueError("station columns of different lengths")

    def arr(key: str) -> np.ndarray:
        return np.array([np.nan if v is None else v for v in st[key]], dtype=np.float64)

    rs = p["rain_screen"]
    return ProductCoefficients(
        station=np.array(st["station"], dtype=object),
        coef=np.array(
            [[np.nan] * len(terms) if w is None else w for w in st["weights"]], dtype=np.float64
        ).reshape(n, len(terms))
        if lagged
        else np.column_stack([arr("b1"), arr("b2")]).reshape(n, 2),
        terms=terms,
        fitted_hours=np.array(st["fitted_hours"], dtype=np.int64),
        n_signals=np.array([-1 if s is None else len(s) for s in st["signals_used"]], np.int64),
        anchored=np.array(
            [f == "anchored_on_network" for f in st.get("fit", [])] or [False] * n, dtype=bool
        ),  # fmt: skip
        rain_tendency_sd=arr("rain_tendency_sd"),
        wetness_slope=arr("wetness_slope") if "wetness_slope" in st else None,
        wetness_level_mean=arr("wetness_level_mean") if "wetness_slope" in st else None,
        signal_estimates=tuple(p["signal_estimates"]),
        lf_window_h=int(p["lf_window_h"]),
        lf_centering=str(p["lf_centering"]),
        max_gap_h=int(p["max_gap_h"]),
        min_hours=int(p["min_hours"]),
        smoothing_days=int(p["smoothing_days"]),
        rain=PreprocessConfig(
            rain_screen=rs["rain_screen"],
            insitu_tendency_sd=float(rs["insitu_tendency_sd"]),
            precip_mm_per_day=float(rs["precip_mm_per_day"]),
            widen_days=int(rs["widen_days"]),
        ),
        provenance=dict(doc.get("provenance") or {}),
    )


def apply_product(
    ds: xr.Dataset,
    table: ProductCoefficients | str | os.PathLike,
    rain: np.ndarray | None = None,
) -> xr.Dataset:
    """The default product of ``ds`` from stored coefficients (no network, no fit).

    Parameters
    ----------
    ds : xarray.Dataset
        Hours of stations (dims station, time; gap-free hourly): ``sm`` (m3 m-3), ``ts``
        (degC), ``lon``, and the precipitation series of the rain screen where there are any.
    table : ProductCoefficients or path
        From ``smlib correct`` (:func:`coefficients_path`).
    rain : numpy.ndarray of bool, shape (station, time), optional
        Rain-affected hours; default :func:`rain_hours_given_sd` with the table's screen.

    Returns
    -------
    xarray.Dataset
        ``sm_lstm`` (float32, m3 m-3), ``sm_lstm_flag`` (int8, 0 / 1 / 3 / 4 of
        :data:`smlib.method.correct.FLAG_MEANINGS`), ``rule_coefficient`` (station,
        regressor) and, where the table has a wetness term, ``rule_wetness_slope`` and
        ``rule_wetness_level_mean`` (station), as ``smlib correct`` writes them
        (:mod:`smlib.method.product_variables`); stations not in the table stay raw (flag
        :data:`UNSEEN_STATION_FLAG`).

    Notes
    -----
    On the cube the table was fitted on, equal to ``correct(cube, run)["sm_lstm"]`` and its
    flag (tested). The value at hour ``t`` needs TS up to ``t + 12`` (11 h of the centred LF, one
    of the tendency), up to ``t + 15`` while a short gap may still be filled, and more within
    12 h after a TS gap (:func:`smlib.method.settled.regressors_final`).
    """
    from smlib.method.compensation import apply_guided_kernel
    from smlib.method.wetness_gain import wetness_for_stations

    if not isinstance(table, ProductCoefficients):
        table = read_coefficients(table)
    coef, sd, _ = table.for_stations(ds["station"].values)
    raw = np.asarray(ds["sm"].transpose("station", "time").values, dtype=np.float32)
    ts = np.asarray(ds["ts"].transpose("station", "time").values, dtype=np.float32)
    if rain is None:
        rain = rain_hours_given_sd(ds, sd, table.rain)
    wetness = wetness_for_stations(table, ds["station"].values)
    product, flag = apply_guided_kernel(
        raw, ts, coef, rain, table.lf_window_h, table.lf_centering, table.max_gap_h, table.terms,
        wetness=wetness,
    )  # fmt: skip
    like = ds["sm"].transpose("station", "time")
    sm = xr.DataArray(
        product,
        dims=("station", "time"),
        coords={"station": ds["station"], "time": ds["time"]},
        attrs={
            "units": "m3 m-3",
            "standard_name": "volume_fraction_of_condensed_water_in_soil",
            "long_name": "soil moisture with the per-station temperature artefact removed "
            "(stored coefficients)",
        },
    )
    return xr.Dataset(
        {
            "sm_lstm": sm,
            "sm_lstm_flag": flag_variable(flag, like, "sm_lstm"),
            "rule_coefficient": coefficient_variable(coef, table.terms, ds["station"]),
            **wetness_variables(wetness, ds["station"]),
        }
    )


def fit_product_table(
    ds: xr.Dataset,
    raw: np.ndarray,
    ts: np.ndarray,
    signal: list[np.ndarray],
    rain: np.ndarray,
    cc: CorrectConfig,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, ProductCoefficients]:
    """:func:`smlib.method.compensation.guided_compensation`, its fit recorded as a table.

    Parameters
    ----------
    ds : xarray.Dataset
        The cube (station identifiers, ``sm`` and ``lon`` for the rain spread).
    raw, ts, signal, rain
        As ``guided_compensation``: fitted on ``~rain``, or at a station that leaves too few
        hours, on its own screen's rain-free hours
        (:func:`smlib.method.product_rain.product_fit_hours`); flagged by ``rain``.
    cc : CorrectConfig
        ``min_rule_hours``, ``smoothing_days``, ``rain_screen``.

    Returns
    -------
    product, flag, coef
        As ``guided_compensation``.
    table : ProductCoefficients
        With empty ``signal_estimates`` and ``provenance`` (the caller names them).
    """
    from smlib.method.artefact_terms import artefact_terms
    from smlib.method.compensation import apply_guided_kernel, guided_fit
    from smlib.method.network_anchor import anchor_single_network

    terms = artefact_terms(cc.artefact_lags_h)
    ts = artefact_temperature(ds, ts)  # a cosmic-ray probe has no artefact: left raw
    free = product_fit_hours(ds, raw, ts, rain, cc.rain_screen, cc.min_rule_hours)
    wetness = None
    if cc.artefact_lags_h > 0:  # the distributed-lag artefact (smlib.method.lagged_artefact)
        from smlib.method.lagged_artefact import distributed_lag_compensation

        drying, night = tower_drying(ds, cc), night_rule(ds, cc)
        _, fit = distributed_lag_compensation(
            raw, ts, signal, free, cc.artefact_lags_h, cc.min_rule_hours,
            smoothing_days=cc.smoothing_days, network_anchor=cc.network_anchor,
            night=night, water_balance=drying, tower_cv_tolerance=cc.tower_lag_cv_tolerance,
            kernel_lags_h=cc.element_kernel_lags_h,
        )  # fmt: skip
        coef, n_hours, n_signals, anchored = fit.weights, fit.n_hours, fit.n_signals, fit.anchored
        terms = artefact_terms(coef.shape[1] - 1)  # the element kernel's memory where longer
        from smlib.method.wetness_gain import product_wetness

        wetness = product_wetness(raw, ts, free, cc, drying, night)
        if wetness is not None:  # a station without an artefact has nothing to scale
            wetness[0][~np.isfinite(coef).all(axis=1)] = np.nan
    else:
        coef, n_hours, n_signals = guided_fit(
            raw, ts, signal, free, cc.min_rule_hours, smoothing_days=cc.smoothing_days
        )
        anchored = None
        if cc.network_anchor.startswith("select"):  # no nights without lags
            coef, anchored = anchor_single_network(
                raw, ts, signal, free, coef, n_signals, cc.min_rule_hours,
                smoothing_days=cc.smoothing_days,
            )  # fmt: skip
    if wetness is None:
        prod, flag = apply_guided_kernel(raw, ts, coef, rain, terms=terms)
    else:  # re-centred on this fit's artefact (smlib.method.wetness_gain.centre_on_fit)
        from smlib.method.wetness_gain import apply_with_wetness

        prod, flag, wetness = apply_with_wetness(raw, ts, coef, rain, terms, wetness, free)
    table = ProductCoefficients(
        station=np.asarray(ds["station"].values).astype(str).astype(object),
        coef=coef,
        fitted_hours=n_hours,
        n_signals=n_signals,
        rain_tendency_sd=rain_tendency_sd(ds),
        signal_estimates=(),
        min_hours=cc.min_rule_hours,
        smoothing_days=cc.smoothing_days,
        rain=PreprocessConfig(rain_screen=cc.rain_screen),
        anchored=anchored,
        terms=terms,
        wetness_slope=None if wetness is None else wetness[0],
        wetness_level_mean=None if wetness is None else wetness[1],
    )
    return prod, flag, coef, table


def night_rule(ds: xr.Dataset, cc: CorrectConfig) -> NightRule | None:
    """The night equations' rule of ``cc`` on the cube's hours and stations, or None where
    both night weights are 0 (:mod:`smlib.method.night_window`); with
    ``cc.night_dark_only`` the window keeps its dark hours only (the cube's ``lat``)."""
    if cc.night_weight <= 0 and cc.night_weight_network_only <= 0:
        return None
    start, length = cc.night_window_h
    lat = np.asarray(ds["lat"].values, float) if cc.night_dark_only else None
    night = night_index(
        ds["time"].values, np.asarray(ds["lon"].values, float), start, length, lat=lat
    )
    return NightRule(
        night, cc.night_weight, cc.night_weight_network_only, night_min_hours(length),
        errors_in_variables=cc.night_errors_in_variables,
        gain_errors_in_variables=cc.night_gain_errors_in_variables,
    )  # fmt: skip


#: Sensing techniques whose reading has no dielectric temperature artefact: a cosmic-ray probe
#: counts neutrons over a footprint of hectares, so what its series shares with the soil
#: temperature beside it is the true cycle (and the footprint's), not an artefact to remove.
NO_TEMPERATURE_ARTEFACT = frozenset({"cosmic-ray"})


def artefact_temperature(ds: xr.Dataset, ts: np.ndarray) -> np.ndarray:
    """``ts`` (station, time; degC) with NaN at the stations whose technique has no temperature
    artefact (:data:`NO_TEMPERATURE_ARTEFACT`, the cube's ``sensor_type``): the product's fit
    leaves them out and keeps their series raw (flag 3), logged with the count."""
    if "sensor_type" not in ds.coords and "sensor_type" not in ds:
        return ts
    kind = np.asarray(ds["sensor_type"].values).astype(str)
    off = np.isin(kind, sorted(NO_TEMPERATURE_ARTEFACT))
    if not off.any():
        return ts
    log.info(
        "%d station(s) (%s first) measure SM by %s: no dielectric temperature artefact to "
        "remove, left raw (flag 3)", off.sum(), np.asarray(ds["station"].values)[off][0],
        ", ".join(sorted(set(kind[off]))),
    )  # fmt: skip
    out = np.array(ts, dtype=np.float32, copy=True)
    out[off] = np.nan
    return out


def tower_drying(ds: xr.Dataset, cc: CorrectConfig) -> np.ndarray | None:
    """The towers' evaporative drying (:mod:`smlib.method.water_balance`) where
    ``cc.tower_water_balance`` and the cube has a latent heat flux ``lh``; else None."""
    if not cc.tower_water_balance or "lh" not in ds:
        return None
    from smlib.method.water_balance import evaporative_drying

    return evaporative_drying(np.asarray(ds["lh"].transpose("station", "time").values))
