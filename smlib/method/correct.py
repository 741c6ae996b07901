"""Apply the trained LSTM (batch and streaming) and the Fourier baseline to a station cube.

The LSTM is applied to **every** station -- reference stations and flux towers included,
whatever their R(SM, TS): corrected SM = SM LF + predicted SM HF, non-negative through the
Physics Constraint Layer. Hours without a complete input window (or without SM LF) stay NaN.

Streaming and latency
    :class:`StreamingCorrector` accepts new hourly observations as they arrive and returns
    corrected values as soon as they are defined. The value at hour ``t`` needs the LF of every
    input hour of its window and of SM at ``t``; a centred 24-h moving average reaches
    ``lf_reach()[1]`` hours into the future (11 h for ``centred``, 12 h for ``symmetric``), so
    the correction of hour ``t`` is released once hour ``t + 11`` has arrived. A model trained
    with ``--set preprocess.lf_centering=trailing`` (causal LF, ``x[t-23 .. t]``) has zero
    latency; it is a different model and must be trained as such. The streamed values equal the
    batch result for the same hours (the batch pipeline is run on a rolling buffer long enough
    that every value it releases depends only on buffered hours).
"""

from __future__ import annotations

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
from smlib.method.decomposition import lf_reach, moving_average
from smlib.method.fourier import fourier_correct
from smlib.method.preprocess import Prepared, prepare
from smlib.method.runfolder import LoadedModel, WindowBatcher, load_cube, load_model
from smlib.method.screens import rain_flags
from smlib.method.uncertainty import UNCERTAINTY_ATTRS, guided_uncertainty, linear_uncertainty

__all__ = [
    "predict_hf",
    "FLAG_MEANINGS",
    "FLAG_CORRECTED",
    "flagged_product",
    "guided_compensation",
    "rain_affected_hours",
    "correct",
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


def _lstm_sm(lm: LoadedModel, ds: xr.Dataset) -> xr.DataArray:
    """The network's series (the ``paper`` product): LF + predicted HF, NaN without inputs."""
    prep = prepare(ds, lm.config.preprocess, training=False)
    hf = predict_hf(lm, prep)
    sm = np.maximum(prep.sm_lf + hf, 0.0)  # the constraint already ensures >= 0 up to rounding
    sm[~np.isfinite(_raw(ds))] = np.nan  # no value where nothing was measured (gap filling)
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


#: Per-hour flag of every corrected variable (CF ``flag_values`` / ``flag_meanings``).
FLAG_MEANINGS: dict[int, str] = {
    0: "corrected",
    1: "rain_affected_temperature_artefact_removed",
    2: "no_method_input_temperature_artefact_removed",
    3: "left_raw",
    4: "no_value",
}
FLAG_CORRECTED = (0, 1, 2)
"""Flags of hours that hold a correction (network or rule)."""


def _raw(ds: xr.Dataset) -> np.ndarray:
    return np.asarray(ds["sm"].transpose("station", "time").values, dtype=np.float32)


def rain_affected_hours(ds: xr.Dataset, screen: str = "strict") -> np.ndarray:
    """Boolean (station, time): hours of days that rain screen ``screen`` flags (any source)."""
    flags = rain_flags(ds, PreprocessConfig(rain_screen=screen))
    return flags["insitu"] | flags["era5"] | flags["merra2"]


def flagged_product(
    raw: np.ndarray,
    method: np.ndarray,
    rain: np.ndarray,
    ts: np.ndarray | None,
    rule: str = "artefact",
    min_rule_hours: int = 240,
    lf_window_h: int = 24,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Combine a method's series with the rain-hour rule into a product usable as a whole.

    Parameters
    ----------
    raw, method : numpy.ndarray, shape (station, time)
        Measured and corrected SM, m3 m-3 (``method`` NaN where it has no input).
    rain : numpy.ndarray of bool, shape (station, time)
        Rain-affected hours: never taken from ``method``.
    ts : numpy.ndarray, shape (station, time), optional
        Soil temperature (degC) for the ``artefact`` rule.
    rule : {"artefact", "raw"}
        See :class:`smlib.config.CorrectConfig`.
    min_rule_hours : int
        Fewest method hours a station needs for its rule coefficients.
    lf_window_h : int

    Returns
    -------
    product : numpy.ndarray of float32, shape (station, time)
    flag : numpy.ndarray of int8, shape (station, time)
        Keys of :data:`FLAG_MEANINGS`.
    coef : numpy.ndarray, shape (station, 2)
        Rule coefficients (m3 m-3 K-1, m3 m-3 h K-1); NaN where not fitted.
    """
    from smlib.method.compensation import (
        apply_coefficients,
        fit_coefficients,
        temperature_regressors,
    )

    have = np.isfinite(raw)
    use = have & np.isfinite(method) & ~rain
    product = np.where(use, method, raw).astype(np.float32)
    flag = np.where(use, 0, np.where(have, 3, 4)).astype(np.int8)
    coef = np.full((raw.shape[0], 2), np.nan)
    if rule == "artefact" and ts is not None:
        regs = list(temperature_regressors(ts, lf_window_h))
        raw_hf = raw - moving_average(raw, lf_window_h, "centred")
        met_hf = method - moving_average(method, lf_window_h, "centred")
        coef = fit_coefficients(raw_hf - met_hf, regs, use, min_rule_hours)
        ruled = apply_coefficients(raw, regs, coef)
        take = have & ~use & np.isfinite(ruled)
        product[take] = ruled[take]
        flag[take & rain] = 1
        flag[take & ~rain] = 2
    return product, flag, coef


def guided_compensation(
    raw: np.ndarray,
    ts: np.ndarray,
    signal: list[np.ndarray],
    fit_hours: np.ndarray,
    rain: np.ndarray,
    min_hours: int = 240,
    lf_window_h: int = 24,
    smoothing_days: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Remove the temperature artefact with coefficients guided by estimates of the signal.

    Per station, over the rain-free hours ``fit_hours``, the least-squares fit

    .. math::

        \theta_{HF} = b_1 T_{HF} + b_2\\,\\partial_t T_{HF}
                       + \\sum_k c_k\\, s_{k,HF} + \varepsilon

    where :math:`s_k` are independent estimates of the true diurnal SM signal (the LSTM's
    corrected series, the reanalysis SM). With the signal on the right-hand side, the
    temperature coefficients are no longer biased by the part of the true cycle that covaries
    with temperature -- the weakness of a plain per-probe compensation. The product is

    .. math:: \theta_{corr} = \\max(\theta - b_1 T_{HF} - b_2\\,\\partial_t T_{HF},\\ 0),

    i.e. the measured series with its artefact removed at every hour with TS, rain included.

    Parameters
    ----------
    raw, ts : numpy.ndarray, shape (station, time)
        Measured SM (m3 m-3) and TS (degC).
    signal : list of numpy.ndarray, each shape (station, time)
        Signal estimates (m3 m-3); NaN hours are left out of the fit.
    fit_hours : numpy.ndarray of bool, shape (station, time)
        Hours allowed in the fit (rain-free).
    rain : numpy.ndarray of bool, shape (station, time)
        Rain-affected hours (flag 1 instead of 0).
    min_hours : int
        Fewest fitted hours per station; stations below stay raw (flag 3).
    lf_window_h : int
    smoothing_days : int
        The HF of each signal estimate enters the fit as its running diurnal composite over
        ``2 * smoothing_days + 1`` days (:func:`smlib.method.compensation.same_hour_mean`): the day-to-day
        errors of an estimate act like noise in a regressor and bias the temperature
        coefficients toward the plain per-probe fit (errors-in-variables attenuation);
        averaging them out keeps the seasonal evolution of the cycle. 0 uses them as they are.

    Returns
    -------
    product : numpy.ndarray of float32, shape (station, time)
    flag : numpy.ndarray of int8, shape (station, time)
        Keys of :data:`FLAG_MEANINGS`.
    coef : numpy.ndarray, shape (station, 2)
        ``b1`` (m3 m-3 K-1) and ``b2`` (m3 m-3 h K-1).
    """
    from smlib.method.compensation import (
        apply_coefficients,
        fit_coefficients,
        same_hour_mean,
        temperature_regressors,
    )

    regs = list(temperature_regressors(ts, lf_window_h))
    hf = [a - moving_average(a, lf_window_h, "centred") for a in (raw, *signal)]
    raw_hf = hf[0]
    sig_hf = [same_hour_mean(a, smoothing_days) for a in hf[1:]]
    # stations where the full fit lacks hours (a signal estimate missing or gappy there) fall
    # back to fewer estimates: without the first (the network), then the plain TS fit
    full = fit_coefficients(raw_hf, regs + sig_hf, fit_hours, min_hours)
    for subset in (sig_hf[1:], []):
        retry = ~np.isfinite(full[:, 0])
        if not retry.any() or len(subset) == len(sig_hf):
            continue
        part = fit_coefficients(
            raw_hf[retry], [r[retry] for r in regs] + [a[retry] for a in subset],
            fit_hours[retry], min_hours,
        )  # fmt: skip
        full[retry, :2] = part[:, :2]
    coef = full[:, :2]
    corrected = apply_coefficients(raw, regs, coef)
    have = np.isfinite(raw)
    done = have & np.isfinite(corrected)
    product = np.where(done, corrected, raw).astype(np.float32)
    flag = np.where(done, np.where(rain, 1, 0), np.where(have, 3, 4)).astype(np.int8)
    return product, flag, coef


def _flag_var(flag: np.ndarray, like: xr.DataArray, var: str) -> xr.DataArray:
    return xr.DataArray(
        flag,
        dims=("station", "time"),
        coords={"station": like["station"], "time": like["time"]},
        attrs={
            "long_name": f"what each hour of {var} holds",
            "flag_values": np.array(list(FLAG_MEANINGS), dtype=np.int8),
            "flag_meanings": " ".join(FLAG_MEANINGS.values()),
        },
    )


def _uncertainty_var(sigma: np.ndarray, like: xr.DataArray, var: str) -> xr.DataArray:
    return xr.DataArray(
        sigma.astype(np.float32),
        dims=("station", "time"),
        coords={"station": like["station"], "time": like["time"]},
        attrs={"long_name": f"standard uncertainty of the diurnal correction in {var}",
               **UNCERTAINTY_ATTRS},
    )  # fmt: skip


def correct(
    cube_ds: xr.Dataset,
    model_dir: str | os.PathLike | LoadedModel | None,
    methods: Sequence[str] = ("lstm", "fft"),
    fft_product: str = "mean",
    product: str | None = None,
) -> xr.Dataset:
    """Corrected dataset (docs/architecture.md): ``sm``, ``ts``, ``sm_lstm``, ``sm_fft``.

    Parameters
    ----------
    cube_ds : xarray.Dataset
        Station cube.
    model_dir : path, LoadedModel or None
        Trained run (required for ``lstm``).
    methods : sequence of {"lstm", "fft", "lin"}
        ``lin`` is the per-probe linear temperature compensation
        (:mod:`smlib.method.compensation`).
    fft_product : {"era5", "merra2", "mean"}
        Reanalysis whose diurnal shape the Fourier baseline adopts.
    product : {"flagged", "paper"}, optional
        Default: the model run's ``correct.product`` (``flagged`` without a model). Under
        ``flagged`` rain-affected hours (``correct.rain_screen``) are not taken from the
        network or the Fourier method; the LSTM's such hours and its hours without inputs get
        the ``correct.rain_rule``, the Fourier method's stay raw. ``paper``: each method's own
        series, NaN where it has no value.

    Returns
    -------
    xarray.Dataset
        Same ``station`` coordinates and ``time``; for each method ``sm_<method>`` and the
        per-hour ``sm_<method>_flag`` (:data:`FLAG_MEANINGS`); under ``flagged`` also
        ``sm_lstm_net``, the network's own series (NaN where it has no value).
    """
    unknown = set(methods) - {"lstm", "fft", "lin"}
    if unknown:
        raise ValueError(f"unknown correction methods {sorted(unknown)}; use lstm, fft, lin")
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
    if product not in ("flagged", "paper"):
        raise ValueError(f"product={product!r}; use 'flagged' or 'paper'")
    raw = _raw(ds)
    ts = np.asarray(ds["ts"].transpose("station", "time").values, dtype=np.float32)
    rain = rain_affected_hours(ds, cc.rain_screen) if product == "flagged" else None
    series: dict[str, xr.DataArray] = {}
    if lm is not None:
        series["lstm"] = _lstm_sm(lm, ds)
    if "fft" in methods:
        series["fft"] = fourier_correct(ds, fft_product)
    if "lin" in methods:
        from smlib.method.compensation import linear_compensation_kernel

        free = ~rain_affected_hours(ds, "strict") if rain is None else ~rain
        sm_lin, b = linear_compensation_kernel(raw, ts, free, min_hours=cc.min_rule_hours)
        series["lin"] = xr.DataArray(
            sm_lin,
            dims=("station", "time"),
            coords={"station": ds["station"], "time": ds["time"]},
            attrs={
                **_SM_ATTRS,
                "long_name": "soil moisture, per-probe linear temperature compensation",
            },
        )
        out["lin_coefficient"] = xr.DataArray(
            b.astype(np.float32),
            dims=("station",),
            attrs={"units": "m3 m-3 K-1", "long_name": "fitted temperature coefficient (lin)"},
        )
    for m, da in series.items():
        var = f"sm_{m}"
        vals = np.asarray(da.values, dtype=np.float32)
        if product == "paper":
            flag = np.where(np.isfinite(vals), 0, 4).astype(np.int8)
            out[var] = da
        else:
            use_rain = rain if m != "lin" else np.zeros_like(rain)  # lin keeps rain steps
            rule = cc.rain_rule if m == "lstm" else "raw"
            guided = m == "lstm" and cc.mode == "guided"
            if guided:
                signal = [vals] + [
                    np.asarray(ds[v].transpose("station", "time").values, dtype=np.float32)
                    for v in ("era5_sm", "merra2_sm")
                    if v in ds
                ]
                prod, flag, coef = guided_compensation(
                    raw, ts, signal, ~rain, rain, cc.min_rule_hours,
                    smoothing_days=cc.smoothing_days,
                )  # fmt: skip
                how = (
                    "guided: the temperature artefact, fitted per station on rain-free hours "
                    "with the network and the reanalysis as signal estimates, removed from the "
                    f"measured series at every hour with TS; see {var}_flag"
                )
            else:
                prod, flag, coef = flagged_product(raw, vals, use_rain, ts, rule, cc.min_rule_hours)
                how = (
                    f"flagged: rain-affected hours ({cc.rain_screen} screen) and hours without "
                    f"inputs hold the '{rule}' rule; see {var}_flag"
                )
            out[var] = da.copy(data=prod)
            out[var].attrs["product"] = how
            # a per-hour sigma where the values are the measured series minus a fitted artefact
            # (smlib.method.uncertainty); the network's or the Fourier method's own series get none
            sigma = None
            if guided:
                sigma = guided_uncertainty(
                    raw, ts, signal, ~rain, flag, cc.min_rule_hours,
                    smoothing_days=cc.smoothing_days,
                )  # fmt: skip
            elif m == "lin":
                sigma = linear_uncertainty(raw, ts, ~rain, flag, cc.min_rule_hours)
            if sigma is not None:
                out[f"{var}_uncertainty"] = _uncertainty_var(sigma, out["sm"], var)
                out[var].attrs["ancillary_variables"] = f"{var}_flag {var}_uncertainty"
            if m == "lstm":
                out["sm_lstm_net"] = da
                out["sm_lstm_net"].attrs["long_name"] = (
                    "soil moisture corrected by the stacked LSTM, network output only (paper)"
                )
                out["rule_coefficient"] = xr.DataArray(
                    coef.astype(np.float32),
                    dims=("station", "regressor"),
                    coords={"regressor": ["ts_hf", "ts_hf_tendency"]},
                    attrs={
                        "long_name": "per-station temperature-artefact coefficients",
                        "units": "m3 m-3 K-1 (ts_hf), m3 m-3 h K-1 (ts_hf_tendency)",
                    },
                )
        out[f"{var}_flag"] = _flag_var(flag, out["sm"], var)
    out.attrs = {
        "Conventions": "CF-1.8",
        "title": "diurnally corrected in-situ soil moisture",
        "source": f"smlib {__version__}",
        "methods": ",".join(methods),
        "product": product,
        "history": f"smlib correct (methods={','.join(methods)}, fft_product={fft_product})",
    }
    return out


def correct_file(
    cube: str | os.PathLike | xr.Dataset,
    model_dir: str | os.PathLike | None = None,
    out: str | os.PathLike = "corrected.nc",
    methods: Sequence[str] = ("lstm", "fft"),
    fft_product: str = "mean",
    baseline_dir: str | os.PathLike | None = None,
    product: str | None = None,
) -> xr.Dataset:
    """:func:`correct` a cube file and write the result atomically to ``out`` (NetCDF).

    ``baseline_dir``: a second run (the paper's method) whose network series is added as
    ``sm_paper`` with its flag, so that one file holds the default product and the paper's.
    """
    ds = load_cube(cube)
    result = correct(ds, model_dir, methods, fft_product, product=product)
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
    return result


class StreamingCorrector:
    """Operational LSTM correction of hourly observations as they arrive.

    Parameters
    ----------
    model : path or LoadedModel
        Trained run (rain screening at inference is not supported while streaming).
    stations : xarray.Dataset
        A cube slice holding at least the station coordinates (``lon`` ...) of the stations.

    Notes
    -----
    Latency: the correction of hour ``t`` is released when hour ``t + forward`` arrives, with
    ``forward = lf_reach(...)[1]`` (11 h for the default centred LF, 0 for ``trailing``). The
    buffer keeps ``window_h - 1 + back + forward`` hours before the first unreleased hour.

    Examples
    --------
    >>> sc = StreamingCorrector("runs/quick", cube.isel(time=slice(0, 0)))  # doctest: +SKIP
    >>> for chunk in hourly_chunks:                                          # doctest: +SKIP
    ...     ready = sc.update(chunk)   # DataArray sm_lstm for newly defined hours
    """

    def __init__(self, model: str | os.PathLike | LoadedModel, stations: xr.Dataset) -> None:
        self.lm = model if isinstance(model, LoadedModel) else load_model(model)
        pc = self.lm.config.preprocess
        if pc.screen_at_inference:
            raise ValueError("streaming does not support preprocess.screen_at_inference=true")
        back, fwd = lf_reach(pc.lf_window_h, pc.lf_centering)
        # inputs of hour t + lookahead, their LF reach and the end of an interpolated gap
        self.latency_h = fwd + pc.lookahead_h + pc.max_gap_h
        self.history_h = pc.window_h - 1 + back + fwd + pc.max_gap_h
        self._buffer: xr.Dataset | None = None
        self._released_until: np.datetime64 | None = None
        self._station = stations["station"]

    def update(self, new: xr.Dataset) -> xr.DataArray:
        """Add hours (dims station, time; contiguous with the previous ones); return new values.

        Returns
        -------
        xarray.DataArray ``sm_lstm``, dims (station, time)
            Corrected SM for every hour that became computable with this update (possibly none).
        """
        if not np.array_equal(new["station"].values, self._station.values):
            raise ValueError("streamed chunks must hold the same stations in the same order")
        buf = new if self._buffer is None else xr.concat([self._buffer, new], dim="time")
        t = buf["time"].values
        if len(t) > 1 and not (np.diff(t) == np.timedelta64(1, "h")).all():
            raise ValueError(
                "streamed chunks must continue the hourly series without gaps or overlap"
            )
        last = t[-1]
        ready_until = last - np.timedelta64(self.latency_h, "h")
        res = _lstm_sm(self.lm, buf)
        sel = res["time"] <= ready_until
        if self._released_until is not None:
            sel &= res["time"] > self._released_until
        out = res.isel(time=np.flatnonzero(sel.values))
        if out.sizes["time"]:
            self._released_until = out["time"].values[-1]
        # keep enough history for hours not yet released
        keep_from = len(t) - (self.history_h + self.latency_h)
        self._buffer = buf.isel(time=slice(max(keep_from, 0), None))
        return out
