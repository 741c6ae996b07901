"""NumPy kernels of the diagnostics: plain arrays in, plain arrays out, time on the last axis.

The xarray wrappers of :mod:`smlib.evaluation.diagnostics` apply these with :func:`xarray.apply_ufunc`
(``dask="parallelized"``); keeping them apart (the layout of xskillscore's
``core/np_deterministic.py`` beside ``core/deterministic.py``) lets them be tested and reused on
arrays without any labels. :mod:`smlib.evaluation.diagnostics` re-exports every public name.
"""

from __future__ import annotations

import numpy as np

from smlib.method.decomposition import high_frequency

__all__ = [
    "EARTH_RADIUS_KM",
    "pearson_r",
    "hf_anomaly",
    "haversine_km",
    "nearest_reference",
    "doy_window_mean",
    "diurnal_composite_kernel",
    "land_coupling_kernel",
    "composite_coupling_kernel",
    "minimum_phase_hours",
    "circular_hour_difference",
]

#: Mean Earth radius (km) used by :func:`haversine_km`.
EARTH_RADIUS_KM = 6371.0088

_MA_WINDOW = 24


def pearson_r(x: np.ndarray, y: np.ndarray, min_count: int = 3) -> np.ndarray:
    """Pearson correlation along the last axis over pairs where both values are finite.

    .. math::

        R = \\frac{\\sum (x-\\bar x)(y-\\bar y)}{\\sqrt{\\sum (x-\\bar x)^2 \\sum (y-\\bar y)^2}}

    Parameters
    ----------
    x, y : numpy.ndarray, shape (..., n)
        Broadcastable arrays; NaN marks a missing value.
    min_count : int
        Fewest complete pairs for a defined correlation.

    Returns
    -------
    numpy.ndarray, shape (...)
        R in [-1, 1]; NaN with fewer than ``min_count`` pairs or a constant series.
    """
    x, y = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
    valid = np.isfinite(x) & np.isfinite(y)
    n = valid.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mx = np.where(valid, x, 0.0).sum(axis=-1) / n
        my = np.where(valid, y, 0.0).sum(axis=-1) / n
        dx = np.where(valid, x - mx[..., None], 0.0)
        dy = np.where(valid, y - my[..., None], 0.0)
        sxx = (dx * dx).sum(axis=-1)
        syy = (dy * dy).sum(axis=-1)
        r = (dx * dy).sum(axis=-1) / np.sqrt(sxx * syy)
    # a numerically constant series has no defined correlation
    tiny = 1e-24 * np.maximum(n, 1)
    bad = (n < min_count) | (sxx <= tiny) | (syy <= tiny)
    return np.where(bad, np.nan, np.clip(r, -1.0, 1.0))


def hf_anomaly(x: np.ndarray) -> np.ndarray:
    """High-frequency anomaly: ``x`` minus its 24-hour centred moving average.

    Parameters
    ----------
    x : numpy.ndarray, shape (..., n_time)
        Hourly values; NaN = missing.

    Returns
    -------
    numpy.ndarray, shape (..., n_time)
        :math:`x_t - \\overline{x}_{t-12 \\ldots t+11}`, NaN where the window is incomplete
        (including the first 12 and last 11 hours).
    """
    x = np.asarray(x, dtype=np.float64)
    return high_frequency(x, window=_MA_WINDOW)


def haversine_km(
    lat1: np.ndarray | float,
    lon1: np.ndarray | float,
    lat2: np.ndarray | float,
    lon2: np.ndarray | float,
) -> np.ndarray:
    """Great-circle distance (km) between points given in degrees (broadcasting)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi = p2 - p1
    dlmb = np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlmb / 2) ** 2
    return 2.0 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def nearest_reference(
    lat: np.ndarray,
    lon: np.ndarray,
    is_reference: np.ndarray,
    max_km: float = 50.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Nearest reference station of every station, within ``max_km``.

    Parameters
    ----------
    lat, lon : numpy.ndarray, shape (n_station,)
        Coordinates in degrees north / east.
    is_reference : numpy.ndarray of bool, shape (n_station,)
        Reference flag; a station is never paired with itself.
    max_km : float
        Largest great-circle distance (km) of a pair.

    Returns
    -------
    index : numpy.ndarray of int, shape (n_station,)
        Index of the nearest reference station, -1 if none lies within ``max_km``.
    distance_km : numpy.ndarray, shape (n_station,)
        Distance to it (km), NaN where ``index == -1``.
    """
    lat = np.asarray(lat, dtype=float)
    lon = np.asarray(lon, dtype=float)
    refs = np.flatnonzero(np.asarray(is_reference, dtype=bool))
    n = lat.size
    index = np.full(n, -1, dtype=int)
    dist = np.full(n, np.nan)
    if refs.size == 0:
        return index, dist
    d = haversine_km(lat[:, None], lon[:, None], lat[refs][None, :], lon[refs][None, :])
    d[refs[None, :] == np.arange(n)[:, None]] = np.inf  # never pair a station with itself
    j = np.argmin(d, axis=1)
    dmin = d[np.arange(n), j]
    ok = dmin <= max_km
    index[ok] = refs[j[ok]]
    dist[ok] = dmin[ok]
    return index, dist


def doy_window_mean(r: np.ndarray, doy: np.ndarray, window_days: int = 5) -> np.ndarray:
    """Multi-year mean of daily values in day-of-year windows.

    Parameters
    ----------
    r : numpy.ndarray, shape (n_station, n_day)
        Daily values (NaN = undefined).
    doy : numpy.ndarray of int, shape (n_day,) or (n_station, n_day)
        Day of year (1-366) of each day.
    window_days : int
        Window length; day 366 joins the last window.

    Returns
    -------
    numpy.ndarray, shape (n_station, 365 // window_days)
        Mean over all years of the defined values in each window; NaN where none.
    """
    r = np.asarray(r, dtype=np.float64)
    n_win = 365 // window_days
    win = np.minimum((np.broadcast_to(doy, r.shape) - 1) // window_days, n_win - 1)
    ok = np.isfinite(r)
    flat = np.arange(r.shape[0])[:, None] * n_win + win
    total = np.bincount(flat[ok], weights=r[ok], minlength=r.shape[0] * n_win)
    count = np.bincount(flat[ok], minlength=r.shape[0] * n_win)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = total / count
    return out.reshape(r.shape[0], n_win)


def diurnal_composite_kernel(
    x: np.ndarray, hour_utc: np.ndarray, offsets: np.ndarray | int
) -> np.ndarray:
    """Composite diurnal cycle of the HF anomaly by local solar hour.

    Parameters
    ----------
    x : numpy.ndarray, shape (..., n_time)
        Hourly values (anomalies are taken here with :func:`hf_anomaly`).
    hour_utc : numpy.ndarray of int, shape (n_time,)
        UTC hour of day of each sample.
    offsets : int or numpy.ndarray of int, shape (...)
        Local solar offsets (h).

    Returns
    -------
    numpy.ndarray, shape (..., 24)
        Mean HF anomaly at each local solar hour 0-23; NaN for an hour without data.
    """
    return _composite_of_anomaly(hf_anomaly(x), hour_utc, offsets)


def land_coupling_kernel(
    sm: np.ndarray, lh: np.ndarray, mask: np.ndarray | None = None, min_count: int = 48
) -> np.ndarray:
    """R(SM, LH), sigma(LH) and TCI on hourly HF anomalies (Seo and Dirmeyer, 2022).

    .. math::

        \\mathrm{TCI}(\\mathrm{SM}, \\mathrm{LH}) = R(\\mathrm{SM}^\\mathrm{HF},
        \\mathrm{LH}^\\mathrm{HF})\\; \\sigma(\\mathrm{LH}^\\mathrm{HF})

    Parameters
    ----------
    sm : numpy.ndarray, shape (..., n_time)
        Soil moisture (m3 m-3).
    lh : numpy.ndarray, shape (..., n_time)
        Latent heat flux (W m-2).
    mask : numpy.ndarray of bool, shape (..., n_time), optional
        Samples to use (e.g. the warm season); anomalies are taken on the full series first.
    min_count : int
        Fewest common hourly samples for a defined value.

    Returns
    -------
    numpy.ndarray, shape (..., 3)
        ``[R, sigma_LH (W m-2), TCI (W m-2)]`` over the hours where both anomalies exist;
        sigma uses the population standard deviation (``ddof=0``).
    """
    a = hf_anomaly(sm)
    b = hf_anomaly(lh)
    use = np.isfinite(a) & np.isfinite(b)
    if mask is not None:
        use &= np.asarray(mask, dtype=bool)
    a = np.where(use, a, np.nan)
    b = np.where(use, b, np.nan)
    r = pearson_r(a, b, min_count=min_count)
    n = use.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mb = np.nansum(b, axis=-1) / n
        sigma = np.sqrt(np.nansum((b - mb[..., None]) ** 2, axis=-1) / n)
    sigma = np.where(n >= min_count, sigma, np.nan)
    return np.stack([r, sigma, r * sigma], axis=-1)


def composite_coupling_kernel(
    sm: np.ndarray,
    lh: np.ndarray,
    mask: np.ndarray,
    hour_utc: np.ndarray,
    offsets: np.ndarray | int,
) -> np.ndarray:
    r"""R(SM, LH), sigma(LH) and TCI of the composite diurnal cycles (the paper's Sect. 3.3).

    The hourly HF anomalies (24-h centred moving average removed) of SM and LH are averaged
    over all kept days at each local solar hour, and the index is computed on the two
    24-value composite cycles:

    .. math::

        \mathrm{TCI} = R\big(\overline{\mathrm{SM}^\mathrm{HF}}(h),
        \overline{\mathrm{LH}^\mathrm{HF}}(h)\big)\;
        \sigma\big(\overline{\mathrm{LH}^\mathrm{HF}}(h)\big), \quad h = 0 \dots 23

    Parameters
    ----------
    sm, lh : numpy.ndarray, shape (..., n_time)
        Soil moisture (m3 m-3) and latent heat flux (W m-2).
    mask : numpy.ndarray of bool, shape (..., n_time)
        Hours to use (warm season, common hours); anomalies are taken on the full series.
    hour_utc : numpy.ndarray of int, shape (n_time,)
        UTC hour of each sample.
    offsets : int or numpy.ndarray of int, shape (...)
        Local solar offsets (h).

    Returns
    -------
    numpy.ndarray, shape (..., 3)
        ``[R, sigma_LH (W m-2), TCI (W m-2)]``; NaN unless all 24 local hours have data.
    """
    a, b = hf_anomaly(sm), hf_anomaly(lh)
    use = np.isfinite(a) & np.isfinite(b) & np.asarray(mask, dtype=bool)
    ca = _composite_of_anomaly(np.where(use, a, np.nan), hour_utc, offsets)
    cb = _composite_of_anomaly(np.where(use, b, np.nan), hour_utc, offsets)
    r = pearson_r(ca, cb, min_count=24)
    full = np.isfinite(cb).all(axis=-1)
    with np.errstate(invalid="ignore"):
        sigma = np.where(full, np.nanstd(np.where(full[..., None], cb, 0.0), axis=-1), np.nan)
    return np.stack([r, sigma, r * sigma], axis=-1)


def minimum_phase_hours(composite: np.ndarray) -> np.ndarray:
    """Local solar hour (0-23) of the minimum of a composite cycle (..., 24); NaN if undefined."""
    comp = np.asarray(composite, dtype=np.float64)
    defined = np.isfinite(comp).any(axis=-1)
    idx = np.argmin(np.where(np.isfinite(comp), comp, np.inf), axis=-1).astype(float)
    return np.where(defined, idx, np.nan)


def circular_hour_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a - b`` in hours on the 24-h circle, wrapped to [-12, 12)."""
    return (np.asarray(a, dtype=float) - np.asarray(b, dtype=float) + 12.0) % 24.0 - 12.0


def _has_anomaly(x: np.ndarray) -> np.ndarray:
    return np.isfinite(hf_anomaly(x))


def _hf_r_kernel(x: np.ndarray, y: np.ndarray, keep: np.ndarray | None = None) -> np.ndarray:
    a, b = hf_anomaly(x), hf_anomaly(y)
    if keep is not None:  # mask after the anomaly: the moving average still sees every hour
        a = np.where(keep, a, np.nan)
    return pearson_r(a, b, min_count=48)


def _composite_of_anomaly(
    anom: np.ndarray, hour_utc: np.ndarray, offsets: np.ndarray
) -> np.ndarray:
    """Composite of an already-computed anomaly (NaN = excluded)."""
    a = np.asarray(anom, dtype=np.float64)
    lead = a.shape[:-1]
    a2 = a.reshape(-1, a.shape[-1])
    offs = np.broadcast_to(np.asarray(offsets, dtype=int), lead).reshape(-1)
    hours = (np.asarray(hour_utc, dtype=int)[None, :] + offs[:, None]) % 24
    flat = np.arange(a2.shape[0])[:, None] * 24 + hours
    ok = np.isfinite(a2)
    total = np.bincount(flat[ok], weights=a2[ok], minlength=a2.shape[0] * 24)
    count = np.bincount(flat[ok], minlength=a2.shape[0] * 24)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (total / count).reshape(*lead, 24)
