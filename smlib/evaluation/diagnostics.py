"""Diagnostics of corrected soil moisture: diurnal correlations, skill and land coupling.

Every metric is a NumPy kernel (:mod:`smlib.evaluation.metrics`) acting on the last (time) axis,
re-exported here and wrapped for xarray with
:func:`xarray.apply_ufunc` (``dask="parallelized"``), so a station-chunked, dask-backed cube is
evaluated chunk by chunk. Time is hourly UTC; diurnal statistics use local solar days and hours
from :mod:`smlib.timeutils`.

Anomalies
    The high-frequency (diurnal) anomaly of a series is the series minus its 24-hour centred
    moving average (the paper's LF/HF split), defined only where all 24 values of the window
    are present:

    .. math::

        x^\\mathrm{HF}_t = x_t - \\frac{1}{24} \\sum_{k=-12}^{11} x_{t+k}

Methods
    The corrected file holds one variable per method; :data:`METHOD_VARIABLES` maps method keys
    (``raw``, ``fft``, ``lstm``) to variable names (``sm``, ``sm_fft``, ``sm_lstm``).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import xarray as xr

from smlib.evaluation.metrics import (
    EARTH_RADIUS_KM,
    _composite_of_anomaly,
    _has_anomaly,
    _hf_r_kernel,
    circular_hour_difference,
    composite_coupling_kernel,
    diurnal_composite_kernel,
    doy_window_mean,
    haversine_km,
    hf_anomaly,
    land_coupling_kernel,
    minimum_phase_hours,
    nearest_reference,
    pearson_r,
)
from smlib.method.registry import method_variables
from smlib.method.screens import daily_correlation
from smlib.timeutils import hourly_index, solar_offset_hours, warm_season_mask

__all__ = [
    "METHOD_VARIABLES",
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
    "hf_correlation",
    "daily_r_sm_ts",
    "r_sm_ts_climatology",
    "reference_pairs",
    "hf_correlation_vs_reference",
    "diurnal_composite",
    "land_coupling",
    "skill_vs_truth",
    "rain_free_hours",
]

log = logging.getLogger(__name__)

#: Method key -> variable of the corrected file (docs/architecture.md, "The corrected output").
METHOD_VARIABLES: dict[str, str] = method_variables(
    ("raw", "fft", "lin", "chanzy", "paper", "lstm")
)


# --------------------------------------------------------------------------------------------
# xarray wrappers
# --------------------------------------------------------------------------------------------
def _check_hourly(da: xr.DataArray) -> None:
    hourly_index(da["time"].values, str(da.name or "series"))


def hf_correlation(
    x: xr.DataArray, y: xr.DataArray, keep: xr.DataArray | None = None
) -> xr.DataArray:
    """Correlation of the HF (diurnal) anomalies of two hourly series along ``time``.

    Parameters
    ----------
    x, y : xarray.DataArray, dims (..., time)
        Aligned hourly series (e.g. a corrected series and its reference or the truth).
    keep : xarray.DataArray of bool, dims (..., time), optional
        Hours that enter the correlation, e.g. :func:`rain_free_hours`. The anomalies are
        taken on the whole series first, so the moving average is unaffected by the mask.

    Returns
    -------
    xarray.DataArray, dims (...)
        R of the 24-h moving-average anomalies over their common kept hours (>= 48 h, else
        NaN).
    """
    _check_hourly(x)
    x, y = xr.align(x, y, join="inner")
    args = [x, y]
    if keep is not None:
        args.append(keep.reindex_like(x, fill_value=False).astype(bool))
    out = xr.apply_ufunc(
        _hf_r_kernel,
        *args,
        input_core_dims=[["time"]] * len(args),
        dask="parallelized",
        output_dtypes=[np.float64],
    )
    return out.assign_attrs(units="1", long_name="correlation of diurnal (HF) anomalies")


def _offsets(ds: xr.Dataset | xr.DataArray) -> xr.DataArray:
    return xr.DataArray(solar_offset_hours(ds["lon"].values), dims=["station"])


def daily_r_sm_ts(ds: xr.Dataset, sm_var: str = "sm", ts_var: str = "ts") -> xr.DataArray:
    """Daily diurnal R(SM, TS) over complete local solar days.

    A thin wrapper of :func:`smlib.method.screens.daily_correlation` (the kernel the training
    filter uses) that adds the day of year of each local date.

    Parameters
    ----------
    ds : xarray.Dataset
        Dims (station, time), hourly UTC, with ``lon`` on ``station``.
    sm_var, ts_var : str
        Soil moisture and soil temperature variables.

    Returns
    -------
    xarray.DataArray, dims (station, day)
        R per station and local date ``day``, with coordinate ``doy`` (day of year, 1-366);
        NaN unless both series have all 24 hours of the day.
    """
    _check_hourly(ds[sm_var])
    r = daily_correlation(ds[sm_var], ds[ts_var], ds["lon"]).transpose("station", "day")
    doy = pd.DatetimeIndex(r["day"].values).day_of_year.to_numpy()
    r = r.assign_coords(doy=("day", doy))
    return r.assign_attrs(units="1", long_name=f"daily diurnal correlation R({sm_var}, {ts_var})")


def r_sm_ts_climatology(r_daily: xr.DataArray, window_days: int = 5) -> xr.DataArray:
    """Multi-year mean of daily R(SM, TS) per station in day-of-year windows (paper Figs. 1, 3).

    Returns
    -------
    xarray.DataArray, dims (station, doy_window)
        ``doy_window`` coordinate holds the first day of year of each window.
    """
    vals = doy_window_mean(np.asarray(r_daily.values), r_daily["doy"].values, window_days)
    n_win = vals.shape[1]
    return xr.DataArray(
        vals,
        dims=["station", "doy_window"],
        coords={"station": r_daily["station"], "doy_window": 1 + window_days * np.arange(n_win)},
        attrs={"units": "1", "long_name": f"mean daily R in {window_days}-day windows"},
    )


def reference_pairs(ds: xr.Dataset, max_km: float = 50.0) -> pd.DataFrame:
    """Non-reference ISMN stations paired with their nearest reference within ``max_km``.

    Returns
    -------
    pandas.DataFrame
        Columns ``station``, ``reference``, ``distance_km``, ``sensor_type``,
        ``reference_sensor_type``, sorted by distance.
    """
    lat, lon = ds["lat"].values, ds["lon"].values
    is_ref = ds["is_reference"].values.astype(bool)
    kind = _coord(ds, "kind", "ismn").astype(str)
    # towers neither serve as references nor are evaluated against them
    idx, dist = nearest_reference(lat, lon, is_ref & (kind == "ismn"), max_km)
    target = ~is_ref & (kind == "ismn") & (idx >= 0)
    stations = ds["station"].values.astype(str)
    sensor = ds["sensor_type"].values.astype(str)
    rows = np.flatnonzero(target)
    df = pd.DataFrame(
        {
            "station": stations[rows],
            "reference": stations[idx[rows]],
            "distance_km": dist[rows],
            "sensor_type": sensor[rows],
            "reference_sensor_type": sensor[idx[rows]],
        }
    )
    n_skip = int((~is_ref & (kind == "ismn")).sum()) - len(df)
    log.info(
        "%d stations paired with a reference within %.0f km (%d non-reference ISMN stations without one)",
        len(df),
        max_km,
        n_skip,
    )
    return df.sort_values("distance_km", kind="stable").reset_index(drop=True)


def _reference_series(ds: xr.Dataset, pairs: pd.DataFrame, var: str = "sm") -> xr.DataArray:
    ref = ds[var].sel(station=pairs["reference"].to_numpy())
    return ref.assign_coords(station=pairs["station"].to_numpy())


def hf_correlation_vs_reference(
    ds: xr.Dataset,
    pairs: pd.DataFrame,
    methods: dict[str, str] | None = None,
    keep: xr.DataArray | None = None,
) -> pd.DataFrame:
    """HF correlation of each method against the raw series of the paired reference station.

    Parameters
    ----------
    ds : xarray.Dataset
        Corrected output (``sm``, ``sm_fft``, ``sm_lstm``...).
    pairs : pandas.DataFrame
        From :func:`reference_pairs`.
    methods : dict, optional
        Method key -> variable; default: the :data:`METHOD_VARIABLES` present in ``ds``.
    keep : xarray.DataArray of bool, dims (station, time), optional
        Hours to correlate, per (non-reference) station; see :func:`rain_free_hours`.

    Returns
    -------
    pandas.DataFrame
        ``pairs`` plus one column of R per method.
    """
    methods = _present_methods(ds, methods)
    out = pairs.copy()
    if pairs.empty:
        for m in methods:
            out[m] = np.array([], dtype=float)
        return out
    ref = _reference_series(ds, pairs)
    for m, var in methods.items():
        x = ds[var].sel(station=pairs["station"].to_numpy())
        k = None if keep is None else keep.sel(station=pairs["station"].to_numpy())
        out[m] = np.asarray(hf_correlation(x, ref, keep=k).values)
    return out


def diurnal_composite(da: xr.DataArray, mask: xr.DataArray | None = None) -> xr.DataArray:
    """Composite diurnal cycle of the HF anomaly in local solar time.

    Parameters
    ----------
    da : xarray.DataArray, dims (station, time)
        Hourly series with ``lon`` on ``station``.
    mask : xarray.DataArray of bool, optional
        Hours to use (applied after the anomaly is taken), e.g. common valid hours.

    Returns
    -------
    xarray.DataArray, dims (station, local_hour)
        Mean anomaly (units of ``da``) at local solar hours 0-23.
    """
    _check_hourly(da)
    hour_utc = xr.DataArray(pd.DatetimeIndex(da["time"].values).hour.to_numpy(), dims=["time"])
    x = da
    if mask is not None:
        # mask after the anomaly: take anomalies first, then average only where allowed
        anom = xr.apply_ufunc(
            hf_anomaly,
            da,
            input_core_dims=[["time"]],
            output_core_dims=[["time"]],
            dask="parallelized",
            output_dtypes=[np.float64],
        )
        x = anom.where(mask)
        kernel = _composite_of_anomaly
    else:
        kernel = diurnal_composite_kernel
    out = xr.apply_ufunc(
        kernel,
        x,
        hour_utc,
        _offsets(da),
        input_core_dims=[["time"], ["time"], []],
        output_core_dims=[["local_hour"]],
        dask="parallelized",
        output_dtypes=[np.float64],
        dask_gufunc_kwargs={"output_sizes": {"local_hour": 24}},
    )
    return out.assign_coords(local_hour=np.arange(24)).assign_attrs(
        units=da.attrs.get("units", ""), long_name="composite diurnal anomaly (local solar time)"
    )


def land_coupling(
    ds: xr.Dataset,
    methods: dict[str, str] | None = None,
    lh_var: str = "lh",
    warm_season: bool = True,
    common_hours: bool = True,
    composite: bool = True,
) -> xr.Dataset:
    """R(SM, LH), sigma(LH) and TCI at towers for each method, on warm-season HF anomalies.

    The paper (Sect. 3.3) builds "hourly time series ... by averaging the values from multiple
    days at each hour, following the removal of low-frequency variability using a 24-hour
    centered moving average": by default the index is computed on those composite diurnal
    cycles (:func:`composite_coupling_kernel`). ``composite=False`` computes it on all kept
    hourly anomalies instead (:func:`land_coupling_kernel`), where day-to-day weather and rain
    steps weigh in as well.

    Parameters
    ----------
    ds : xarray.Dataset
        Corrected output with ``lh`` (W m-2); only stations with ``kind == "tower"`` (or, without
        ``kind``, with any finite ``lh``) are used.
    methods : dict, optional
        Method key -> SM variable; default: the :data:`METHOD_VARIABLES` present.
    lh_var : str
        Latent heat flux variable.
    warm_season : bool
        Restrict to MJJAS (north) / NDJFM (south), :func:`smlib.timeutils.warm_season_mask`.
    common_hours : bool
        Use, at each tower, only the hours where the anomalies of every method and of LH exist,
        so that sigma(LH) is the same for all methods and differences in TCI come from R alone.
    composite : bool
        Index of the composite diurnal cycles (default, the paper's reading) or of all hours.

    Returns
    -------
    xarray.Dataset, dims (station, product)
        ``product`` holds the method keys; ``r_sm_lh`` (1), ``sigma_lh`` (W m-2), ``tci`` (W m-2).
    """
    if lh_var not in ds:
        raise KeyError(f"land coupling needs '{lh_var}' in the corrected dataset")
    methods = _present_methods(ds, methods)
    if "kind" in ds.coords or "kind" in ds:
        towers = ds["kind"].values.astype(str) == "tower"
    else:
        towers = np.asarray(np.isfinite(ds[lh_var]).any("time"))
    sub = ds.isel(station=np.flatnonzero(towers))
    time = sub["time"].values
    if warm_season:
        mask = np.stack([warm_season_mask(time, float(la)) for la in sub["lat"].values])
    else:
        mask = np.ones((sub.sizes["station"], sub.sizes["time"]), dtype=bool)
    mask_da = xr.DataArray(mask, dims=["station", "time"], coords={"station": sub["station"]})
    if common_hours:
        for var in [*methods.values(), lh_var]:
            mask_da = mask_da & xr.apply_ufunc(
                _has_anomaly,
                sub[var],
                input_core_dims=[["time"]],
                output_core_dims=[["time"]],
                dask="parallelized",
                output_dtypes=[bool],
            )
    if composite:
        if "lon" not in sub.coords and "lon" not in sub:
            raise KeyError("composite land coupling needs 'lon' (local solar hours) on station")
        hour_utc = xr.DataArray(pd.DatetimeIndex(time).hour.to_numpy(), dims=["time"])
        kernel, extra, extra_dims = (
            composite_coupling_kernel,
            [hour_utc, _offsets(sub)],
            [
                ["time"],
                [],
            ],
        )
    else:
        kernel, extra, extra_dims = land_coupling_kernel, [], []
    results = []
    for var in methods.values():
        res = xr.apply_ufunc(
            kernel,
            sub[var],
            sub[lh_var],
            mask_da,
            *extra,
            input_core_dims=[["time"], ["time"], ["time"], *extra_dims],
            output_core_dims=[["stat"]],
            dask="parallelized",
            output_dtypes=[np.float64],
            dask_gufunc_kwargs={"output_sizes": {"stat": 3}},
        )
        results.append(res)
    # not "method": that name would clash with the ``method`` keyword of ``.sel``
    stacked = xr.concat(results, dim="product").assign_coords(product=np.array(list(methods)))
    of = "composite diurnal cycles of SM and LH anomalies" if composite else "hourly anomalies"
    out = xr.Dataset(
        {
            "r_sm_lh": stacked.isel(stat=0, drop=True).assign_attrs(
                units="1", long_name=f"correlation of {of}"
            ),
            "sigma_lh": stacked.isel(stat=1, drop=True).assign_attrs(
                units="W m-2",
                long_name="standard deviation of the composite LH cycle"
                if composite
                else "standard deviation of hourly LH anomalies",
            ),
            "tci": stacked.isel(stat=2, drop=True).assign_attrs(
                units="W m-2", long_name="terrestrial coupling index TCI(SM, LH)"
            ),
        }
    )
    return out.transpose("station", "product")


def skill_vs_truth(
    corrected: xr.Dataset,
    truth: xr.Dataset,
    methods: dict[str, str] | None = None,
    truth_var: str = "sm",
    keep: xr.DataArray | None = None,
) -> pd.DataFrame:
    """Skill of each method against the true soil moisture of the twin.

    Per station and method: HF correlation with the truth, RMSE (m3 m-3) between the composite
    diurnal cycles of method and truth (both over their common hours), the local solar hour of
    each composite's minimum and the circular phase error (h, method minus truth).

    Parameters
    ----------
    corrected : xarray.Dataset
        Corrected output, dims (station, time).
    truth : xarray.Dataset
        ``truth.nc`` of the twin, same station ids; only stations and hours in both are used.
    methods : dict, optional
        Method key -> variable; default: the :data:`METHOD_VARIABLES` present.
    truth_var : str
        True soil moisture variable.
    keep : xarray.DataArray of bool, dims (station, time), optional
        Hours that enter the HF correlation and the composites (:func:`rain_free_hours`).

    Returns
    -------
    pandas.DataFrame
        Long form: ``station``, ``sensor_type``, ``is_reference``, ``kind``, ``method``,
        ``hf_r``, ``composite_rmse``, ``min_hour``, ``min_hour_truth``, ``phase_error_h``.
    """
    methods = _present_methods(corrected, methods)
    common = np.intersect1d(corrected["station"].values, truth["station"].values)
    missing = corrected.sizes["station"] - common.size
    if common.size == 0:
        raise ValueError("truth and corrected data share no station id")
    if missing:
        log.warning("%d corrected stations have no truth and are skipped", missing)
    c = corrected.sel(station=common)
    # station metadata come from the corrected file; the truth's copies may differ in dtype
    t = truth[truth_var].reset_coords(drop=True).sel(station=common)
    c, t = xr.align(c, t, join="inner", exclude=["station"])
    if c.sizes["time"] == 0:
        raise ValueError("truth and corrected data share no time step")
    t = t.assign_coords({k: c[k] for k in ("lon", "lat") if k in c.coords})
    k = None
    if keep is not None:
        k = keep.reindex(station=common, time=c["time"], fill_value=False).astype(bool)
    frames = []
    for m, var in methods.items():
        x = c[var]
        both = np.isfinite(x) & np.isfinite(t)
        if k is not None:
            both = both & k
        r = hf_correlation(x, t, keep=k)
        comp_x = diurnal_composite(x, mask=both)
        comp_t = diurnal_composite(t, mask=both)
        rmse = np.sqrt(((comp_x - comp_t) ** 2).mean("local_hour", skipna=False))
        hx = minimum_phase_hours(comp_x.values)
        ht = minimum_phase_hours(comp_t.values)
        frames.append(
            pd.DataFrame(
                {
                    "station": common.astype(str),
                    "sensor_type": _coord(c, "sensor_type", "unknown"),
                    "is_reference": _coord(c, "is_reference", False).astype(bool),
                    "kind": _coord(c, "kind", "ismn"),
                    "method": m,
                    "hf_r": np.asarray(r.values),
                    "composite_rmse": np.asarray(rmse.values),
                    "min_hour": hx,
                    "min_hour_truth": ht,
                    "phase_error_h": circular_hour_difference(hx, ht),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def _coord(ds: xr.Dataset, name: str, default: object) -> np.ndarray:
    if name in ds.coords or name in ds:
        return np.asarray(ds[name].values)
    return np.full(ds.sizes["station"], default)


def _present_methods(ds: xr.Dataset, methods: dict[str, str] | None) -> dict[str, str]:
    methods = dict(METHOD_VARIABLES if methods is None else methods)
    present = {m: v for m, v in methods.items() if v in ds}
    for m, v in methods.items():
        if v not in ds:
            log.warning("method %s skipped: variable '%s' not in the dataset", m, v)
    if not present:
        raise KeyError(f"none of the variables {sorted(methods.values())} is in the dataset")
    return present


def rain_free_hours(cube: xr.Dataset, screen: str = "strict") -> xr.DataArray:
    """Hours on days that no rain screen flags: where the diurnal cycle can be judged.

    The paper evaluates "at the diurnal scale". A rain step moves SM by far more than its
    diurnal cycle, and the 24-h moving average smears it over the 12 hours on either side, so
    HF correlations over all hours mostly measure whether two series saw the same storms. The
    evaluation therefore keeps only hours of days that the rain screens of
    :func:`smlib.method.screens.rain_flags` pass -- by default the ``strict`` screen: in-situ SM
    tendency, ERA5-Land, MERRA-2 and gauge precipitation together, widened around rainy days.

    Parameters
    ----------
    cube : xarray.Dataset
        Station cube (dims (station, time)) with ``sm`` and, where available, ``era5_precip``,
        ``merra2_precip`` and ``precip``.
    screen : {"strict", "paper", "none"}
        Rain screen (:class:`smlib.config.PreprocessConfig` ``rain_screen``).

    Returns
    -------
    xarray.DataArray of bool, dims (station, time)
        True on hours kept for diurnal-scale evaluation.
    """
    from smlib.config import PreprocessConfig
    from smlib.method.screens import rain_flags

    flags = rain_flags(cube, PreprocessConfig(rain_screen=screen))
    wet = flags["insitu"] | flags["era5"] | flags["merra2"]
    return xr.DataArray(
        ~wet,
        dims=("station", "time"),
        coords={"station": cube["station"].values, "time": cube["time"].values},
        name="rain_free",
        attrs={"long_name": f"hour of a rain-free day ({screen} rain screen)", "units": "1"},
    )
