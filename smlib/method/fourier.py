"""Fourier time-filtering baseline (ISMN_FFT), reconstructed from Han, Seo and Dirmeyer (2026).

Han, J., Seo, E. and Dirmeyer, P. A. (2026): Adjusting diurnal error in dielectric-based in situ
soil moisture measurements via Fourier time-filtering using land surface model datasets,
*HESS* 30, 2207-2223. Their code is not public; this module implements our reading of the
method as summarised in Seo et al. (2026) and in the smlib issue tracker:

1. Both the in-situ SM ``x`` and the reanalysis SM ``r`` (ERA5-Land, MERRA-2 or the mean of the
   two, :attr:`smlib.config.FourierConfig.product`) are split into LF (24-h centred moving
   average) and HF = series - LF, as for the LSTM.
2. The HF series are cut into **windows** of ``window_days`` consecutive local solar days
   (``n = 24 * window_days`` hours) and Fourier transformed. The **diurnal band** is the set of
   bins at 1 cycle/day and its harmonics, ``k = m * window_days`` for ``m = 1 .. n_harmonics``.
3. The diurnal band of ``x`` is replaced by that of ``r`` scaled to the in-situ band's standard
   deviation -- standard normal deviate scaling (SNDS) of the band-limited reconstructions:

   .. math:: x_d' = \\frac{r_d - \\overline{r_d}}{\\sigma(r_d)}\\,\\sigma(x_d) + \\overline{x_d}

   so the corrected diurnal cycle has the reanalysis's phase and shape and the sensor's
   variance. Bins outside the band (synoptic and sub-diurnal noise) are kept from ``x``.
4. Inverse FFT gives the adjusted HF; corrected SM = LF + adjusted HF.
5. **Night-time alignment**: each local day is shifted so that its mean over ``night_hours``
   (local solar time; default 00-05, when the sensor and the soil are closest to thermal
   equilibrium) equals the raw series' night mean. An empty ``night_hours`` disables the step.
6. **Non-negative** result: values below 0 are set to 0.

A window with any missing hour in either series is not transformed as a whole; each of its
complete days is then adjusted on its own (a one-day window, harmonics 1..n_harmonics), and days
with missing data stay NaN. Nothing is filled or extrapolated.
"""

from __future__ import annotations

import logging

import numpy as np
import xarray as xr

from smlib.config import FourierConfig
from smlib.method.decomposition import moving_average
from smlib.timeutils import local_days

__all__ = ["diurnal_band_adjust", "fourier_correct_arrays", "fourier_correct"]

log = logging.getLogger(__name__)


def diurnal_band_adjust(
    x: np.ndarray, r: np.ndarray, n_days: int, n_harmonics: int = 4
) -> np.ndarray:
    """Replace the diurnal band of ``x`` by the SNDS-scaled diurnal band of ``r``.

    Parameters
    ----------
    x, r : numpy.ndarray, shape (..., 24 * n_days)
        In-situ and reanalysis HF over whole local days (finite).
    n_days : int
        Days per window; bin ``m * n_days`` is the ``m``-th diurnal harmonic.
    n_harmonics : int
        Harmonics in the band (1 <= n_harmonics <= 12).

    Returns
    -------
    numpy.ndarray, same shape as ``x``
        Adjusted HF. Where ``r`` has no diurnal power the window is returned NaN.

    Examples
    --------
    >>> h = np.arange(48.0)
    >>> x = np.cos(2 * np.pi * (h - 14) / 24)       # in-situ peak at 14 h
    >>> r = 0.1 * np.cos(2 * np.pi * (h - 7) / 24)  # model peak at 07 h
    >>> y = diurnal_band_adjust(x, r, n_days=2)
    >>> int(np.argmax(y[:24])), round(float(y.std() / x.std()), 6)
    (7, 1.0)
    """
    n = x.shape[-1]
    if n != 24 * n_days:
        raise ValueError(f"expected {24 * n_days} hours per window, got {n}")
    if not 1 <= n_harmonics <= 12:
        raise ValueError("n_harmonics must lie in 1..12")
    fx = np.fft.rfft(x, axis=-1)
    fr = np.fft.rfft(r, axis=-1)
    band = np.arange(1, n_harmonics + 1) * n_days
    band = band[band < fx.shape[-1]]
    bx = np.zeros_like(fx)
    br = np.zeros_like(fr)
    bx[..., band] = fx[..., band]
    br[..., band] = fr[..., band]
    xd = np.fft.irfft(bx, n=n, axis=-1)
    rd = np.fft.irfft(br, n=n, axis=-1)
    sx = xd.std(-1, keepdims=True)
    sr = rd.std(-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        xd_new = (rd - rd.mean(-1, keepdims=True)) / sr * sx + xd.mean(-1, keepdims=True)
    out = x - xd + xd_new
    out[np.broadcast_to(~(sr > 0), out.shape)] = np.nan
    return out


def _adjust_days(
    x_days: np.ndarray, r_days: np.ndarray, window_days: int, n_harmonics: int
) -> np.ndarray:
    """Apply :func:`diurnal_band_adjust` to (station, day, 24) arrays, window by window."""
    n_st, n_day, _ = x_days.shape
    out = np.full_like(x_days, np.nan, dtype=np.float64)
    ok_day = np.isfinite(x_days).all(-1) & np.isfinite(r_days).all(-1)
    for start in range(0, n_day, window_days):
        stop = min(start + window_days, n_day)
        w = stop - start
        xs, rs = x_days[:, start:stop].reshape(n_st, -1), r_days[:, start:stop].reshape(n_st, -1)
        whole = ok_day[:, start:stop].all(1)
        if whole.any():
            out[whole, start:stop] = diurnal_band_adjust(
                xs[whole], rs[whole], w, n_harmonics
            ).reshape(-1, w, 24)
        part = ~whole & ok_day[:, start:stop].any(1)
        if part.any():  # single-day fallback for windows with gaps
            sub_ok = ok_day[part, start:stop]
            xd, rd = x_days[part, start:stop][sub_ok], r_days[part, start:stop][sub_ok]
            block = np.full((part.sum(), w, 24), np.nan)
            block[sub_ok] = diurnal_band_adjust(xd, rd, 1, n_harmonics)
            out[part, start:stop] = block
    return out


def fourier_correct_arrays(
    sm: np.ndarray,
    ref_sm: np.ndarray,
    time: np.ndarray,
    lon: np.ndarray,
    cfg: FourierConfig | None = None,
) -> np.ndarray:
    """Fourier-adjusted SM for ``(station, time)`` arrays.

    Parameters
    ----------
    sm : numpy.ndarray, shape (station, time)
        In-situ SM, m3 m-3.
    ref_sm : numpy.ndarray, shape (station, time)
        Reanalysis SM at the station (any units proportional to m3 m-3: only its diurnal shape
        is used).
    time : array_like of datetime64, shape (time,)
        Hourly, gap-free UTC axis.
    lon : array_like, shape (station,)
        Longitudes, degrees east (local solar days).
    cfg : FourierConfig, optional

    Returns
    -------
    numpy.ndarray of float32, shape (station, time)
        Corrected SM (>= 0), NaN where a day lacks complete in-situ or reanalysis HF.
    """
    cfg = cfg or FourierConfig()
    sm = np.asarray(sm, dtype=np.float64)
    lf = moving_average(sm, 24, "centred")
    hf = sm - lf
    rhf = ref_sm - moving_average(np.asarray(ref_sm, dtype=np.float64), 24, "centred")
    x_days, _, index = local_days(hf, time, lon)
    r_days, _, _ = local_days(rhf, time, lon)
    lf_days, _, _ = local_days(lf, time, lon)
    adj = _adjust_days(x_days, r_days, cfg.window_days, cfg.n_harmonics)
    corr = lf_days + adj
    if cfg.night_hours:
        raw_days, _, _ = local_days(sm, time, lon)
        night = list(cfg.night_hours)
        shift = raw_days[..., night].mean(-1) - corr[..., night].mean(-1)
        corr = corr + shift[..., None]
    corr = np.maximum(corr, 0.0)  # NaN propagates through np.maximum
    out = np.full(sm.shape, np.nan, dtype=np.float32)
    ok = index >= 0
    s = np.broadcast_to(np.arange(sm.shape[0])[:, None, None], index.shape)
    out[s[ok], index[ok]] = corr[ok]
    n_def = int(np.isfinite(out).sum())
    log.info("Fourier baseline defined for %d of %d station-hours", n_def, out.size)
    return out


def fourier_correct(
    ds: xr.Dataset, product: str | None = None, cfg: FourierConfig | None = None
) -> xr.DataArray:
    """ISMN_FFT for every station of a station cube.

    Parameters
    ----------
    ds : xarray.Dataset
        Station cube with ``sm``, ``era5_sm`` and/or ``merra2_sm`` and a ``lon`` coordinate.
    product : {"era5", "merra2", "mean"}, optional
        Reanalysis whose diurnal shape is adopted (default ``cfg.product``). ``mean`` averages
        the two products' SM before the decomposition.
    cfg : FourierConfig, optional

    Returns
    -------
    xarray.DataArray ``sm_fft``, dims (station, time), m3 m-3 with CF attributes.
    """
    cfg = cfg or FourierConfig()
    product = product or cfg.product
    sources = {"era5": ["era5_sm"], "merra2": ["merra2_sm"], "mean": ["era5_sm", "merra2_sm"]}
    if product not in sources:
        raise ValueError(f"unknown Fourier product {product!r}; choose era5, merra2 or mean")
    missing = [v for v in sources[product] if v not in ds]
    if missing:
        raise KeyError(
            f"the cube lacks {missing} needed by the Fourier baseline (product={product!r})"
        )
    ref = np.mean(
        [ds[v].transpose("station", "time").values.astype(np.float64) for v in sources[product]],
        axis=0,
    )
    sm = ds["sm"].transpose("station", "time").values
    out = fourier_correct_arrays(sm, ref, ds["time"].values, ds["lon"].values, cfg)
    return xr.DataArray(
        out,
        dims=("station", "time"),
        coords={"station": ds["station"], "time": ds["time"]},
        name="sm_fft",
        attrs={
            "units": "m3 m-3",
            "standard_name": "volume_fraction_of_condensed_water_in_soil",
            "long_name": f"soil moisture corrected by Fourier time-filtering (Han et al. 2026), {product} diurnal shape",
            "fourier_window_days": cfg.window_days,
            "fourier_n_harmonics": cfg.n_harmonics,
            "fourier_night_hours": list(cfg.night_hours),
        },
    )
