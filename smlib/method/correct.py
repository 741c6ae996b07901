"""Apply the trained LSTM (batch and streaming) and the Fourier baseline to a station cube.

The LSTM is applied to **every** station -- reference stations and flux towers included,
whatever their R(SM, TS): corrected SM = SM LF + predicted SM HF, non-negative through the
Physics Constraint Layer. Hours without a complete input window (or without SM LF) stay NaN;
``preprocess.lf_hold_h`` carries the SM LF to a run's ends (``sm_lstm_net_lf_carried``).

Streaming and latency
    :class:`StreamingCorrector` accepts new hourly observations as they arrive and returns
    corrected values as soon as they are defined. The value at hour ``t`` needs the LF of every
    input hour of its window and of SM at ``t``; a centred 24-h moving average reaches
    ``lf_reach()[1]`` hours into the future (11 h for ``centred``), so the correction of hour
    ``t`` is released once hour ``t + 11`` has arrived (more with gap filling and a carried
    LF). A model trained with ``--set preprocess.lf_centering=trailing`` (causal LF) has zero
    latency; it is a different model. The streamed values equal the batch result for the same
    hours (the batch pipeline runs on a rolling buffer long enough that every value it releases
    depends only on buffered hours). Given the station table of :func:`correct_file`
    (``coefficients=``), it streams the default product and its flags instead
    (:mod:`smlib.method.product`; latency in :class:`StreamingCorrector`).
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Sequence

import numpy as np
import torch
import xarray as xr

from smlib import __version__
from smlib.atomic import atomic_path
from smlib.config import (
    CorrectConfig,
    PreprocessConfig,
)
from smlib.method.baselines import PER_PROBE_BASELINES, per_probe_baseline
from smlib.method.compensation import flagged_product, guided_compensation
from smlib.method.decomposition import lf_reach
from smlib.method.fourier import fourier_correct
from smlib.method.network_purge import purged_signals
from smlib.method.network_series import LF_CARRIED, add_network_variables, network_for_fit
from smlib.method.preprocess import Prepared, prepare
from smlib.method.product import (
    DEFAULT_TERMS,
    FLAG_CORRECTED,
    FLAG_MEANINGS,
    ProductCoefficients,
    apply_product,
    artefact_temperature,
    coefficients_path,
    fit_product_table,
    product_fit_hours,
    read_coefficients,
    write_coefficients,
)
from smlib.method.product_variables import (
    coefficient_variable,
    flag_variable,
    uncertainty_variable,
    wetness_variables,
)
from smlib.method.runfolder import LoadedModel, WindowBatcher, load_cube, load_model
from smlib.method.screens import rain_flags
from smlib.method.uncertainty import UNCERTAINTY_ATTRS, guided_uncertainty, linear_uncertainty
from smlib.method.wetness_gain import wetness_for_stations

__all__ = [
    "predict_hf",
    "FLAG_MEANINGS",
    "FLAG_CORRECTED",
    "flagged_product",
    "guided_compensation",
    "rain_affected_hours",
    "correct",
    "correct_with_table",
    "correct_file",
    "StreamingCorrector",
]

log = logging.getLogger(__name__)

_SM_ATTRS = {"units": "m3 m-3", "standard_name": "volume_fraction_of_condensed_water_in_soil"}


@torch.no_grad()
def predict_hf(lm: LoadedModel, prep: Prepared, batch_size: int = 8192) -> np.ndarray:
    """Predicted SM HF (m3 m-3) for every hour with a complete window.

    Parameters
    ----------
    lm : LoadedModel
    prep : Prepared
        From :func:`smlib.method.preprocess.prepare` with the model's preprocessing configuration.
    batch_size : int

    Returns
    -------
    numpy.ndarray of float32, shape (station, time)
        NaN where ``prep.valid_end`` is False.
    """
    if tuple(prep.features) != tuple(lm.scaler.features):
        raise ValueError(f"features {prep.features} differ from the model's {lm.scaler.features}")
    batcher = WindowBatcher(lm.scaler.transform(prep.x), prep.sm_lf, None, prep.window_h, lm.device)
    ends = torch.from_numpy(np.flatnonzero(prep.valid_end))
    out = np.full(prep.sm.size, np.nan, dtype=np.float32)
    preds = []
    for start in range(0, len(ends), batch_size):
        xb, lfb, _ = batcher.batch(ends[start : start + batch_size])
        preds.append(lm.model(xb, lfb).float().cpu().numpy())
    if preds:
        out[ends.numpy()] = lm.scaler.inverse_target(np.concatenate(preds))
    return out.reshape(prep.sm.shape)


def _lstm_sm(lm: LoadedModel, ds: xr.Dataset, carried: list | None = None) -> xr.DataArray:
    """The network's series: LF + predicted HF; ``carried`` gets the hours with a carried LF."""
    prep = prepare(ds, lm.config.preprocess, training=False)
    hf = predict_hf(lm, prep)
    sm = np.maximum(prep.sm_lf + hf, 0.0)  # the constraint already ensures >= 0 up to rounding
    sm[~np.isfinite(_raw(ds))] = np.nan  # no value where nothing was measured (gap filling)
    if carried is not None and lm.config.preprocess.lf_hold_h:
        carried.append(prep.lf_carried & np.isfinite(sm))
    return xr.DataArray(
        sm.astype(np.float32),
        dims=("station", "time"),
        coords={"station": ds["station"], "time": ds["time"]},
        name="sm_lstm",
        attrs={
            **_SM_ATTRS,
            "long_name": "soil moisture corrected by the stacked LSTM (LF + predicted HF)",
            "model_run": str(lm.run_dir),
            "feature_set": lm.config.preprocess.feature_set,
        },
    )


def _raw(ds: xr.Dataset) -> np.ndarray:
    return np.asarray(ds["sm"].transpose("station", "time").values, dtype=np.float32)


def rain_affected_hours(ds: xr.Dataset, screen: str = "strict") -> np.ndarray:
    """Boolean (station, time): hours of days that rain screen ``screen`` flags (any source)."""
    flags = rain_flags(ds, PreprocessConfig(rain_screen=screen))
    return flags["insitu"] | flags["era5"] | flags["merra2"]


def correct(
    cube_ds: xr.Dataset,
    model_dir: str | os.PathLike | LoadedModel | None,
    methods: Sequence[str] = ("lstm", "fft"),
    fft_product: str = "mean",
    product: str | None = None,
    coefficients: ProductCoefficients | str | os.PathLike | None = None,
) -> xr.Dataset:
    """Corrected dataset (docs/architecture.md): ``sm``, ``ts``, ``sm_lstm``, ``sm_fft``.

    Parameters
    ----------
    cube_ds : xarray.Dataset
        Station cube.
    model_dir : path, LoadedModel or None
        Trained run (required for ``lstm``).
    methods : sequence of {"lstm", "fft", "lin", "chanzy"}
        ``lin`` and ``chanzy`` are the per-probe baselines (:mod:`smlib.method.baselines`):
        one temperature coefficient per probe, fitted over rain-free days or nights.
    fft_product : {"era5", "merra2", "mean"}
        Reanalysis whose diurnal shape the Fourier baseline adopts.
    product : {"flagged", "paper"}, optional
        Default: the model run's ``correct.product`` (``flagged`` without a model). Under
        ``flagged`` rain-affected hours (``correct.rain_screen``) are not taken from the
        network or the Fourier method; the LSTM's such hours and its hours without inputs get
        the ``correct.rain_rule``, the Fourier method's stay raw. ``paper``: each method's own
        series, NaN where it has no value.
    coefficients : ProductCoefficients or path, optional
        Stored station coefficients (:mod:`smlib.method.product`, written by
        :func:`correct_file`): the guided ``sm_lstm`` applies them instead of fitting (an
        archive or new hours corrected with the fit of the book's record). Rain flags use
        the table's screen and the fitting record's spread of the SM tendency, as the
        streaming corrector and the ONNX example do. Stations not in the table stay raw,
        flag 3.

    Returns
    -------
    xarray.Dataset
        Same ``station`` coordinates and ``time``; for each method ``sm_<method>`` and the
        per-hour ``sm_<method>_flag`` (:data:`FLAG_MEANINGS`); under ``flagged`` also
        ``sm_lstm_net``, the network's own series (NaN where it has no value).
    """
    return _correct(cube_ds, model_dir, methods, fft_product, product, coefficients)[0]


def correct_with_table(
    cube_ds: xr.Dataset,
    model_dir: str | os.PathLike | LoadedModel | None,
    methods: Sequence[str] = ("lstm", "fft"),
    fft_product: str = "mean",
    product: str | None = None,
    coefficients: ProductCoefficients | str | os.PathLike | None = None,
) -> tuple[xr.Dataset, ProductCoefficients | None]:
    """:func:`correct`, and the station table (:mod:`smlib.method.product`) of the guided
    product it fitted: None where nothing was fitted (no ``lstm``, ``product="paper"``,
    ``correct.mode="network"``, the distributed-lag artefact, ``coefficients`` given)."""
    return _correct(cube_ds, model_dir, methods, fft_product, product, coefficients)


def _correct(
    cube_ds: xr.Dataset,
    model_dir: str | os.PathLike | LoadedModel | None,
    methods: Sequence[str],
    fft_product: str,
    product: str | None,
    coefficients: ProductCoefficients | str | os.PathLike | None,
) -> tuple[xr.Dataset, ProductCoefficients | None]:
    """:func:`correct`, and the station table of a guided product it fitted (else None)."""
    unknown = set(methods) - {"lstm", "fft", *PER_PROBE_BASELINES}
    if unknown:
        raise ValueError(
            f"unknown correction methods {sorted(unknown)}; use lstm, fft, lin, chanzy"
        )
    ds = cube_ds
    out = xr.Dataset(
        coords={k: v for k, v in ds.coords.items() if "time" in v.dims or "station" in v.dims}
    )
    out["sm"] = ds["sm"].astype(np.float32)
    out["sm"].attrs = {**_SM_ATTRS, "long_name": "soil moisture as measured (raw)"}
    out["ts"] = ds["ts"].astype(np.float32)
    out["ts"].attrs = {
        "units": "degC",
        "standard_name": "soil_temperature",
        "long_name": "soil temperature",
    }
    cc = CorrectConfig()
    lm = None
    if "lstm" in methods:
        if model_dir is None:
            raise ValueError("method 'lstm' needs a trained model (--model runs/NAME)")
        lm = model_dir if isinstance(model_dir, LoadedModel) else load_model(model_dir)
        cc = lm.config.correct
    product = product or cc.product
    table = None
    if coefficients is not None and not isinstance(coefficients, ProductCoefficients):
        path = coefficients
        coefficients = read_coefficients(path)
        coefficients = dataclasses.replace(
            coefficients, provenance={**coefficients.provenance, "file": str(path)}
        )
    if product not in ("flagged", "paper"):
        raise ValueError(f"product={product!r}; use 'flagged' or 'paper'")
    if coefficients is not None and "lstm" not in methods:
        raise ValueError("stored coefficients make the lstm product; add the method 'lstm'")
    if coefficients is not None and (product, cc.mode) != ("flagged", "guided"):
        raise ValueError(
            "stored coefficients are those of the flagged guided product; this correction "
            f"makes product={product!r}, correct.mode={cc.mode!r}"
        )
    raw = _raw(ds)
    ts = np.asarray(ds["ts"].transpose("station", "time").values, dtype=np.float32)
    rain = rain_affected_hours(ds, cc.rain_screen) if product == "flagged" else None
    series: dict[str, xr.DataArray] = {}
    carried: list = []
    if lm is not None:
        series["lstm"] = _lstm_sm(lm, ds, carried)
    if "fft" in methods:
        series["fft"] = fourier_correct(ds, fft_product)
    baselines = [m for m in PER_PROBE_BASELINES if m in methods]
    free = None if not baselines else ~rain_affected_hours(ds, "strict") if rain is None else ~rain
    for m in baselines:  # per-probe coefficients, no network and no reanalysis
        series[m], out[f"{m}_coefficient"] = per_probe_baseline(m, ds, free, cc)
    for m, da in series.items():
        var = f"sm_{m}"
        vals = np.asarray(da.values, dtype=np.float32)
        if product == "paper":
            flag = np.where(np.isfinite(vals), 0, 4).astype(np.int8)
            out[var] = da
            if m == "lstm" and carried:
                add_network_variables(out, da, carried[0], paper=True)
        else:
            # the per-probe baselines keep rain steps (their artefact is removed there too)
            use_rain = np.zeros_like(rain) if m in PER_PROBE_BASELINES else rain
            rule = cc.rain_rule if m == "lstm" else "raw"
            guided = False  # fitted here, with the signal estimates at hand
            if m == "lstm" and cc.mode == "guided" and coefficients is not None:
                applied = apply_product(ds, coefficients)  # its rain screen and spread
                prod, flag = applied["sm_lstm"].values, applied["sm_lstm_flag"].values
                coef = applied["rule_coefficient"].values
                how = (
                    "guided, stored coefficients: the per-station temperature artefact "
                    f"({coefficients.provenance.get('file', 'a station table')}) removed from "
                    f"the measured series at every hour with TS; see {var}_flag"
                )
            elif m == "lstm" and cc.mode == "guided":
                guided = True
                names = ["sm_lstm_net"] + [v for v in ("era5_sm", "merra2_sm") if v in ds]
                signal = [network_for_fit(vals, carried[0] if carried else None)] + [
                    np.asarray(ds[v].transpose("station", "time").values, dtype=np.float32)
                    for v in names[1:]
                ]
                signal, _ = purged_signals(ds, raw, ts, signal, rain, cc)  # or as given
                prod, flag, coef, table = fit_product_table(ds, raw, ts, signal, rain, cc)
                table = dataclasses.replace(
                    table, signal_estimates=tuple(names),
                    provenance={"run": str(lm.run_dir)} if lm is not None else {},
                )  # fmt: skip
                by = "the network and the reanalysis as signal estimates"
                by = by if len(names) > 1 else "the network as the only signal estimate"
                how = "guided: the temperature artefact, fitted per station on rain-free hours"
                how += f" with {by}, removed from the measured series at every hour with TS;"
                how += f" see {var}_flag"
                if cc.artefact_lags_h > 0:  # the element kernel's memory where longer
                    k, lags = len(table.terms) - 1, f"TS HF lags 0-{cc.artefact_lags_h} h"
                    kern = f", {'in situ' if len(names) == 1 else 'the kernel'} 0-{k} h"  # wider
                    how += f" (distributed-lag artefact, {lags}{kern * (k > cc.artefact_lags_h)})"
                if cc.artefact_lags_h > 0 and (cc.night_weight or cc.night_weight_network_only):
                    how += (
                        f"; night equations (weights {cc.night_weight:g} with the reanalysis, "
                        f"{cc.night_weight_network_only:g} with the network alone)"
                    )
                    if cc.night_errors_in_variables:
                        how += ", the nights' single slope corrected for the thermistor's noise"
                    if cc.night_gain_errors_in_variables:
                        how += ", every fit's gain corrected for it along the fitted shape"
                if cc.artefact_lags_h > 0 and cc.tower_water_balance and "lh" in ds:
                    how += "; at flux towers the measured evaporation as one more estimate"
                    if cc.tower_lag_cv_tolerance > 0:
                        how += (f" and the shortest lag window within "
                                f"{cc.tower_lag_cv_tolerance:.0%} of the best CV error")  # fmt: skip
                    if cc.tower_wetness_gain:
                        how += ", the artefact's gain following the soil's wetness there"
                if cc.network_night_purge and cc.artefact_lags_h > 0:
                    how += "; the network's series less the share of the artefact its nights carry"
            else:
                prod, flag, coef = flagged_product(raw, vals, use_rain, ts, rule, cc.min_rule_hours)
                how = (
                    f"flagged: rain-affected hours ({cc.rain_screen} screen) and hours without "
                    f"inputs hold the '{rule}' rule; see {var}_flag"
                )
            out[var] = da.copy(data=prod)
            out[var].attrs["product"] = how
            if guided:  # what guided the fit (registry.guided_label names the product by it)
                out[var].attrs["signal_estimates"] = " ".join(names)
            # a per-hour sigma where the values are the measured series minus an artefact fitted
            # here (smlib.method.uncertainty); the network's or the Fourier method's own series,
            # and a product applied from stored coefficients, get none
            sigma = None
            if guided:  # on the hours the product was fitted on
                free = product_fit_hours(
                    ds, raw, artefact_temperature(ds, ts), rain, cc.rain_screen, cc.min_rule_hours
                )
                sigma = guided_uncertainty(
                    raw, ts, signal, free, flag, cc.min_rule_hours,
                    smoothing_days=cc.smoothing_days, max_lag_h=cc.artefact_lags_h,
                    anchored=None if table is None else table.anchored,
                    wetness=wetness_for_stations(table, out["station"].values),
                )  # fmt: skip
            elif m == "lin":
                sigma = linear_uncertainty(raw, ts, ~rain, flag, cc.min_rule_hours)
            if sigma is not None:
                out[f"{var}_uncertainty"] = uncertainty_variable(
                    sigma, out["sm"], var, UNCERTAINTY_ATTRS
                )
                out[var].attrs["ancillary_variables"] = f"{var}_flag {var}_uncertainty"
            if m == "lstm":
                add_network_variables(out, da, carried[0] if carried else None)
                terms = table.terms if table is not None else (
                    coefficients.terms if coefficients is not None else DEFAULT_TERMS
                )  # fmt: skip
                out["rule_coefficient"] = coefficient_variable(coef, terms, out["station"])
                stored = table if table is not None else coefficients
                if stored is not None:  # the towers' wetness gain, where the table has one
                    wet = wetness_for_stations(stored, out["station"].values)
                    out.update(wetness_variables(wet, out["station"]))
        out[f"{var}_flag"] = flag_variable(flag, out["sm"], var)
    out.attrs = {
        "Conventions": "CF-1.8",
        "title": "diurnally corrected in-situ soil moisture",
        "source": f"smlib {__version__}",
        "methods": ",".join(methods),
        "product": product,
        "history": f"smlib correct (methods={','.join(methods)}, fft_product={fft_product})",
    }
    return out, table


def correct_file(
    cube: str | os.PathLike | xr.Dataset,
    model_dir: str | os.PathLike | None = None,
    out: str | os.PathLike = "corrected.nc",
    methods: Sequence[str] = ("lstm", "fft"),
    fft_product: str = "mean",
    baseline_dir: str | os.PathLike | None = None,
    product: str | None = None,
    coefficients: ProductCoefficients | str | os.PathLike | None = None,
) -> xr.Dataset:
    """:func:`correct` a cube file and write the result atomically to ``out`` (NetCDF).

    ``baseline_dir``: a second run (the paper's method) whose network series is added as
    ``sm_paper`` with its flag, so that one file holds the default product and the paper's.

    When the guided product is fitted (the default), its station table is written beside
    ``out`` as ``<out stem>.coefficients.json`` (:func:`smlib.method.product.coefficients_path`):
    the coefficients belong to the pair (run, cube), so they go with the output of that pair
    and never change the run folder, which may correct many cubes. ``coefficients``: apply a
    stored table instead of fitting (no table is written then).
    """
    ds = load_cube(cube)
    result, table = correct_with_table(ds, model_dir, methods, fft_product, product, coefficients)
    if baseline_dir is not None:
        base = correct(ds, baseline_dir, ("lstm",), fft_product, product="paper")
        result["sm_paper"] = base["sm_lstm"].assign_attrs(
            long_name="soil moisture corrected by the paper's LSTM configuration (network)",
        )
        result["sm_paper_flag"] = base["sm_lstm_flag"].assign_attrs(
            long_name="what each hour of sm_paper holds"
        )
    with atomic_path(out) as tmp:
        result.to_netcdf(tmp)
    log.info("wrote %s (%s)", out, ", ".join(v for v in result.data_vars))
    if table is not None:
        source = str(cube) if not isinstance(cube, xr.Dataset) else "in-memory dataset"
        table = dataclasses.replace(
            table, provenance={**table.provenance, "cube": source, "corrected": str(out)}
        )
        write_coefficients(table, coefficients_path(out))
    return result


class StreamingCorrector:
    """Operational correction of hourly observations as they arrive.

    Parameters
    ----------
    model : path or LoadedModel, optional
        Trained run (rain screening at inference is not supported while streaming). Without
        ``coefficients``, :meth:`update` returns the network's series (``product=paper``).
    stations : xarray.Dataset
        A cube slice holding at least the station coordinates (``lon`` ...) of the stations.
    coefficients : ProductCoefficients or path, optional
        The station table ``smlib correct`` wrote (``<out>.coefficients.json``): :meth:`update`
        then returns the default product -- the series the book evaluates -- with its flags,
        and the network's series as ``sm_lstm_net`` when a model is given too (the product
        itself needs no network). Stations not in the table stay raw (flag 3).
    provisional_flags : bool
        With ``coefficients``: release each hour as soon as its value is settled, with the
        rain flag of the days seen so far (a rain day that has not ended, or under the
        ``strict`` screen the rain of the next day, can later turn its 0 into 1). Default:
        wait until the flag is settled too, so values and flags equal the batch product.

    Notes
    -----
    Latency, network only: the correction of hour ``t`` is released when hour ``t + forward``
    arrives, ``forward = lf_reach(...)[1] + lookahead_h + max_gap_h + 2 * lf_hold_h`` (11 h
    for the paper's centred LF; 38 h with ``recommended``: a run's first hour takes the LF 12 h
    later and its slope over 12 h more); the buffer keeps ``window_h - 1 + back + forward``
    hours before the first unreleased hour.

    Latency, product (``coefficients``): the value of hour ``t`` needs TS up to ``t + 12`` (the
    24-h centred LF reaches 11 h ahead, the tendency one hour more), up to ``t + 15`` while a
    gap of at most ``max_gap_h`` hours at the end may still be interpolated, and within 12 h
    after a longer TS gap up to ``t + 27`` (the LF there is the next defined one); each hour
    is released once it is settled (:func:`smlib.method.settled.regressors_final`),
    hours in time order, all stations together. Its rain flag is settled when its local day
    has ended, and under the ``strict`` screen (the default) the ``widen_days`` days after it
    too (:func:`smlib.method.product.rain_hours_final`): with settled flags an hour is released
    at the end of the next local day, 24 to 48 h after it. With a model, the network's
    latency applies as well.

    Examples
    --------
    >>> sc = StreamingCorrector("runs/quick", cube.isel(time=slice(0, 0)),       # doctest: +SKIP
    ...                         coefficients="corrected.coefficients.json")
    >>> for chunk in hourly_chunks:                                          # doctest: +SKIP
    ...     ready = sc.update(chunk)   # Dataset sm_lstm, sm_lstm_flag, sm_lstm_net
    """

    def __init__(
        self,
        model: str | os.PathLike | LoadedModel | None = None,
        stations: xr.Dataset | None = None,
        coefficients: ProductCoefficients | str | os.PathLike | None = None,
        *,
        provisional_flags: bool = False,
    ) -> None:
        if stations is None:
            raise TypeError("StreamingCorrector needs the stations (a cube slice)")
        if model is None and coefficients is None:
            raise ValueError("StreamingCorrector needs a model run, stored coefficients or both")
        self.lm = None
        self.latency_h = 0
        self.history_h = 0
        if model is not None:
            self.lm = model if isinstance(model, LoadedModel) else load_model(model)
            pc = self.lm.config.preprocess
            if pc.screen_at_inference:
                raise ValueError("streaming does not support preprocess.screen_at_inference=true")
            back, fwd = lf_reach(pc.lf_window_h, pc.lf_centering)
            # inputs of hour t + lookahead, their LF reach, the end of an interpolated gap and
            # the farthest hour a carried SM LF and its slope come from (preprocess.lf_hold_h)
            self.latency_h = fwd + pc.lookahead_h + pc.max_gap_h + 2 * pc.lf_hold_h
            self.history_h = pc.window_h - 1 + back + fwd + pc.max_gap_h + 2 * pc.lf_hold_h
        self._station = stations["station"]
        self.table = None
        self.provisional_flags = provisional_flags
        if coefficients is not None:
            self.table = (
                coefficients
                if isinstance(coefficients, ProductCoefficients)
                else read_coefficients(coefficients)
            )
            self._coef, self._sd, _ = self.table.for_stations(self._station.values)
            self._wetness = wetness_for_stations(self.table, self._station.values)
            _, fwd_p = lf_reach(self.table.lf_window_h, self.table.lf_centering)
            # the fewest hours of delay (complete TS); see the class notes for the rest
            self.latency_h = max(self.latency_h, fwd_p + 1)
            self.history_h = max(self.history_h, 24 * (self.table.rain.widen_days + 3))
        self._buffer: xr.Dataset | None = None
        self._released_until: np.datetime64 | None = None

    def _append(self, new: xr.Dataset) -> xr.Dataset:
        if not np.array_equal(new["station"].values, self._station.values):
            raise ValueError("streamed chunks must hold the same stations in the same order")
        buf = new if self._buffer is None else xr.concat([self._buffer, new], dim="time")
        t = buf["time"].values
        if len(t) > 1 and not (np.diff(t) == np.timedelta64(1, "h")).all():
            raise ValueError(
                "streamed chunks must continue the hourly series without gaps or overlap"
            )
        return buf

    def _first_unreleased(self, t: np.ndarray) -> int:
        if self._released_until is None:
            return 0
        return int(np.searchsorted(t, self._released_until, side="right"))

    def update(self, new: xr.Dataset) -> xr.DataArray | xr.Dataset:
        """Add hours (dims station, time; contiguous with the previous ones); return new values.

        Returns
        -------
        xarray.DataArray ``sm_lstm`` (network only) or xarray.Dataset (with coefficients)
            Every hour that became settled with this update (possibly none), dims (station,
            time): the network's series (with ``preprocess.lf_hold_h`` its carried-LF hours as
            the int8 coordinate ``sm_lstm_net_lf_carried``, as in the batch file); or
            ``sm_lstm`` (the default product, m3 m-3), ``sm_lstm_flag`` and, with a model,
            ``sm_lstm_net`` and ``sm_lstm_net_lf_carried``.
        """
        buf = self._append(new)
        if self.table is None:
            return self._update_network(buf)
        return self._update_product(buf)

    def _keep(self, buf: xr.Dataset, first_unreleased: int) -> None:
        """Keep the history the hours not yet released need."""
        keep_from = max(first_unreleased - self.history_h, 0)
        self._buffer = buf.isel(time=slice(keep_from, None))

    def _update_network(self, buf: xr.Dataset) -> xr.DataArray:
        t = buf["time"].values
        ready_until = t[-1] - np.timedelta64(self.latency_h, "h")
        carried: list = []
        res = _lstm_sm(self.lm, buf, carried)
        if carried:  # the carried-LF mark travels as a coordinate of the bare series
            res = res.assign_coords({LF_CARRIED: (res.dims, carried[0].astype(np.int8))})
        sel = res["time"] <= ready_until
        if self._released_until is not None:
            sel &= res["time"] > self._released_until
        out = res.isel(time=np.flatnonzero(sel.values))
        if out.sizes["time"]:
            self._released_until = out["time"].values[-1]
        self._keep(buf, self._first_unreleased(t))
        return out

    def _update_product(self, buf: xr.Dataset) -> xr.Dataset:
        from smlib.method.artefact_terms import lag_window
        from smlib.method.compensation import apply_guided_kernel
        from smlib.method.product import rain_hours_final, rain_hours_given_sd
        from smlib.method.settled import regressors_final

        tab = self.table
        t = buf["time"].values
        n_t = len(t)
        raw = _raw(buf)
        ts = np.asarray(buf["ts"].transpose("station", "time").values, dtype=np.float32)
        settled = regressors_final(
            ts, tab.lf_window_h, tab.lf_centering, tab.max_gap_h, lag_window(tab.terms)
        )
        if not self.provisional_flags:
            settled &= rain_hours_final(buf, tab.rain)
        if self.lm is not None:
            settled[:, max(n_t - self.latency_h, 0) :] = False
        start = self._first_unreleased(t)
        ok = settled.all(axis=0)[start:]
        stop = start + (int(np.argmin(ok)) if not ok.all() else len(ok))
        rain = rain_hours_given_sd(buf, self._sd, tab.rain)
        prod, flag = apply_guided_kernel(
            raw, ts, self._coef, rain, tab.lf_window_h, tab.lf_centering, tab.max_gap_h, tab.terms,
            wetness=self._wetness,  # a trailing 24-h mean of raw: in the buffer's history
        )  # fmt: skip
        span = slice(start, stop)
        coords = {"station": buf["station"], "time": buf["time"].values[span]}
        out = xr.Dataset(coords=coords)
        out["sm_lstm"] = xr.DataArray(
            prod[:, span], dims=("station", "time"), coords=coords,
            attrs={
                **_SM_ATTRS,
                "long_name": "soil moisture with the per-station temperature artefact removed "
                "(stored coefficients)",
            },
        )  # fmt: skip
        out["sm_lstm_flag"] = flag_variable(flag[:, span], out["sm_lstm"], "sm_lstm")
        if self.lm is not None:  # the network's series and its carried-LF hours, as in batch
            carried: list = []
            net = _lstm_sm(self.lm, buf, carried).isel(time=span)
            add_network_variables(out, net, carried[0][:, span] if carried else None)
        if stop > start:
            self._released_until = t[stop - 1]
        self._keep(buf, stop)
        return out
