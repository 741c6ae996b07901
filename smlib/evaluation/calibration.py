"""Is the per-hour uncertainty honest? Coverage of the product's intervals against a known truth.

A product ``sm_<method>`` with an ancillary ``sm_<method>_uncertainty`` (sigma, m3 m-3;
:mod:`smlib.method.uncertainty`) claims that the true diurnal (HF) soil moisture lies within
``+-z sigma`` of the product's HF with the stated probability (``z = 1.645`` for 90 %). On the
twin the truth is known, so the claim is checked:

=========================  ======================================================================
key                        meaning (rain-free hours, strict screen, dielectric ISMN stations)
=========================  ======================================================================
``coverage``               share of hours whose true HF lies inside the interval (all hours pooled)
``coverage_station_median``  median over stations of each station's share; ``..._min``, ``..._max``
``mean_width``             mean interval width ``2 z sigma``, m3 m-3
``rank_corr_width_error``  Spearman correlation of sigma and the absolute HF error: above 0 when
                           the band is narrow where the product is good
``n_hours``, ``n_stations``  what the numbers rest on
=========================  ======================================================================

Only the HF is compared: the correction changes the diurnal cycle, not the probe's calibration,
so a constant offset between probe and truth is not an error of the correction.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr
from scipy.stats import spearmanr

from smlib.evaluation import diagnostics as dg
from smlib.evaluation.skill import DIELECTRIC
from smlib.method.decomposition import high_frequency
from smlib.method.uncertainty import Z90

__all__ = [
    "products_with_uncertainty",
    "coverage_kernel",
    "product_errors",
    "interval_coverage",
    "reliability_table",
    "reference_coverage",
    "describe_calibration",
]


def products_with_uncertainty(corrected: xr.Dataset) -> list[str]:
    """The product variables of ``corrected`` that carry an ``<variable>_uncertainty``.

    >>> ds = xr.Dataset({"sm_lstm": 0.0, "sm_lstm_uncertainty": 0.0, "sm_fft": 0.0})
    >>> products_with_uncertainty(ds)
    ['sm_lstm']
    """
    suffix = "_uncertainty"
    return [
        str(v)[: -len(suffix)]
        for v in corrected.data_vars
        if str(v).endswith(suffix) and str(v)[: -len(suffix)] in corrected
    ]


def coverage_kernel(
    error: np.ndarray, sigma: np.ndarray, keep: np.ndarray, z: float = Z90, min_hours: int = 48
) -> dict[str, float | int | None]:
    """Coverage numbers of intervals ``+-z sigma`` around a product whose error is ``error``.

    Parameters
    ----------
    error : numpy.ndarray, shape (station, time)
        Product HF minus true HF, m3 m-3.
    sigma : numpy.ndarray, shape (station, time)
        Standard uncertainty, m3 m-3.
    keep : numpy.ndarray of bool, shape (station, time)
        Hours and stations scored.
    z : float
        Interval half-width in sigmas.
    min_hours : int
        Fewest scored hours for a station's own coverage.

    Returns
    -------
    dict
        The keys of the module docstring; None where nothing could be scored.

    Examples
    --------
    >>> err = np.array([[0.0, 1.0, 2.0, 3.0]])
    >>> out = coverage_kernel(err, np.ones((1, 4)), np.ones((1, 4), bool), z=1.5, min_hours=1)
    >>> out["coverage"], out["mean_width"]
    (0.5, 3.0)
    """
    ok = keep & np.isfinite(error) & np.isfinite(sigma)
    if not ok.any():
        return {"coverage": None, "n_hours": 0, "n_stations": 0}
    inside = np.abs(error) <= z * sigma
    per = [float(inside[s][ok[s]].mean()) for s in range(len(ok)) if ok[s].sum() >= min_hours]
    e, s = np.abs(error[ok]), sigma[ok]
    rho = spearmanr(s, e)[0] if np.ptp(s) > 0 and np.ptp(e) > 0 else None
    return {
        "coverage": float(inside[ok].mean()),
        "coverage_station_median": float(np.median(per)) if per else None,
        "coverage_station_min": float(np.min(per)) if per else None,
        "coverage_station_max": float(np.max(per)) if per else None,
        "mean_width": float(2 * z * s.mean()),
        "rank_corr_width_error": None if rho is None else float(rho),
        "n_hours": int(ok.sum()),
        "n_stations": len(per),
    }


def product_errors(
    corrected: xr.Dataset, truth: xr.Dataset, cube: xr.Dataset, lf_window_h: int = 24
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """HF error, sigma and the scored hours of every product that carries an uncertainty.

    Parameters
    ----------
    corrected : xarray.Dataset
        Output of :func:`smlib.method.correct.correct` with ``sm_<method>_uncertainty``.
    truth : xarray.Dataset
        ``truth.nc`` of the twin (``sm``).
    cube : xarray.Dataset
        The station cube the correction was made from (rain screens).
    lf_window_h : int
        Moving average separating LF and HF, hours.

    Returns
    -------
    dict
        Product variable -> ``(error, sigma, keep)``, each of shape (station, time): product HF
        minus true HF (m3 m-3), the product's sigma (m3 m-3), and the rain-free hours
        (strict screen) of dielectric, non-reference ISMN stations.
    """
    products = products_with_uncertainty(corrected)
    common = np.intersect1d(corrected["station"].values, truth["station"].values)
    if not products or common.size == 0:
        return {}
    c = corrected.sel(station=common)
    t = truth["sm"].reset_coords(drop=True).sel(station=common)
    c, t = xr.align(c, t, join="inner", exclude=["station"])
    free = np.asarray(dg.rain_free_hours(cube.sel(station=common).reindex(time=c["time"])).values)
    kind = np.asarray(c["kind"].values).astype(str)
    ref = np.asarray(c["is_reference"].values).astype(bool)
    stype = np.asarray(c["sensor_type"].values).astype(str)
    target = ((kind == "ismn") & ~ref & np.isin(stype, DIELECTRIC))[:, None]

    def hf(da: xr.DataArray) -> np.ndarray:
        x = np.asarray(da.transpose("station", "time").values, dtype=np.float64)
        return high_frequency(x, lf_window_h)

    true_hf = hf(t)
    out = {}
    for var in products:
        sigma = np.asarray(c[f"{var}_uncertainty"].transpose("station", "time").values, float)
        out[var] = (hf(c[var]) - true_hf, sigma, free & target)
    return out


def interval_coverage(
    corrected: xr.Dataset,
    truth: xr.Dataset,
    cube: xr.Dataset,
    z: float = Z90,
    lf_window_h: int = 24,
) -> pd.DataFrame:
    """Coverage of every product that carries an uncertainty (module docstring).

    Parameters are those of :func:`product_errors`, and ``z``, the interval half-width in
    sigmas (1.645: 90 %).

    Returns
    -------
    pandas.DataFrame
        One row per product variable (index), the keys of :func:`coverage_kernel` as columns;
        empty when no variable carries an uncertainty.
    """
    parts = product_errors(corrected, truth, cube, lf_window_h)
    rows = {var: coverage_kernel(err, sig, keep, z) for var, (err, sig, keep) in parts.items()}
    return pd.DataFrame.from_dict(rows, orient="index")


def reference_coverage(
    corrected: xr.Dataset, max_km: float = 50.0, z: float = Z90, lf_window_h: int = 24
) -> pd.DataFrame:
    """Coverage of the intervals against the nearest reference station: real data have no truth.

    For each non-reference ISMN station with a reference (cosmic-ray, TDR, TDT) within
    ``max_km`` (:func:`smlib.evaluation.diagnostics.reference_pairs`), the error is the
    product's HF minus the reference's HF on the product's rain-free corrected hours (flag 0).
    The reference has its own noise, depth and footprint, so this error is larger than the error
    against the truth, and the coverage is a lower bound on the coverage that the truth would
    give. Stations paired with a reference are scored whatever their sensor type.

    Returns
    -------
    pandas.DataFrame
        One row per product variable, the keys of :func:`coverage_kernel` and ``max_km``;
        empty when no product carries an uncertainty or no station has a reference in reach.
    """
    products = products_with_uncertainty(corrected)
    if not products or "is_reference" not in corrected.coords:
        return pd.DataFrame()
    pairs = dg.reference_pairs(corrected, max_km=max_km)
    if pairs.empty:
        return pd.DataFrame()

    def hf(var: str, stations) -> np.ndarray:
        x = corrected[var].sel(station=stations).transpose("station", "time").values
        x = np.asarray(x, dtype=np.float64)
        return high_frequency(x, lf_window_h)

    ref_hf = hf("sm", pairs["reference"].to_numpy())
    rows = {}
    for var in products:
        st = pairs["station"].to_numpy()
        sigma = np.asarray(
            corrected[f"{var}_uncertainty"].sel(station=st).transpose("station", "time").values,
            dtype=np.float64,
        )
        keep = np.asarray(corrected[f"{var}_flag"].sel(station=st).transpose("station", "time"))
        rows[var] = {**coverage_kernel(hf(var, st) - ref_hf, sigma, keep == 0, z), "max_km": max_km}
    return pd.DataFrame.from_dict(rows, orient="index")


def reliability_table(
    parts: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
    levels: tuple[float, ...] = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99),
    n_bins: int = 10,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The two views of a calibration figure, from :func:`product_errors`.

    Returns
    -------
    reliability : pandas.DataFrame
        Columns ``product``, ``nominal``, ``observed``: the share of scored hours inside the
        central interval of each nominal probability (Gaussian quantiles of sigma).
    spread_skill : pandas.DataFrame
        Columns ``product``, ``sigma``, ``rmse``, ``n``: hours binned by deciles of sigma; the
        mean sigma and the RMS error of each bin (equal when the uncertainty is honest).
    """
    from scipy.stats import norm

    rel, ss = [], []
    for var, (err, sig, keep) in parts.items():
        ok = keep & np.isfinite(err) & np.isfinite(sig)
        e, s = err[ok], sig[ok]
        if e.size == 0:
            continue
        for p in levels:
            z = float(norm.ppf(0.5 + p / 2))
            rel.append(
                {"product": var, "nominal": p, "observed": float(np.mean(np.abs(e) <= z * s))}
            )
        edges = np.unique(np.quantile(s, np.linspace(0, 1, n_bins + 1)))
        which = np.clip(np.searchsorted(edges, s, side="right") - 1, 0, len(edges) - 2)
        for b in range(len(edges) - 1):
            m = which == b
            if m.sum() >= 10:
                ss.append({"product": var, "sigma": float(s[m].mean()),
                           "rmse": float(np.sqrt(np.mean(e[m] ** 2))), "n": int(m.sum())})  # fmt: skip
    return pd.DataFrame(rel), pd.DataFrame(ss)


def describe_calibration(table: pd.DataFrame, level: float = 0.9, against: str = "truth") -> str:
    """One sentence per product from the numbers: where the intervals are honest and where not.

    Against the truth (``against="truth"``), a product's intervals are called honest when their
    pooled coverage is within 5 points of ``level``, too narrow below that and too wide above.
    Against reference stations (``against="reference"``, :func:`reference_coverage`) the
    coverage is a lower bound, so it is reported without a verdict. The width is said to follow
    the error when their rank correlation exceeds 0.1, to barely follow it between 0 and 0.1.
    """
    if table.empty:
        if against == "reference":
            return "No station has a reference in reach, so no interval was checked against one."
        return "No product of this build carries an uncertainty, so none could be checked."
    what = (
        "true rain-free HF values"
        if against == "truth"
        else "rain-free HF values of the nearest reference station"
    )
    out = []
    for var, row in table.iterrows():
        cov = row.get("coverage")
        if cov is None or not np.isfinite(cov):
            out.append(f"`{var}`: no hour could be scored.")
            continue
        if against == "truth":
            verdict = (
                "honest"
                if abs(cov - level) <= 0.05
                else ("too narrow" if cov < level else "too wide")
            )
        else:
            verdict = "a lower bound: the reference has its own noise, depth and footprint"
        rho = row.get("rank_corr_width_error")
        rho = float(rho) if rho is not None and np.isfinite(rho) else float("nan")
        if rho > 0.1:
            where = "and narrowest where the product is best"
        elif rho > 0:
            where = "but its width barely follows the error"
        else:
            where = "but its width does not follow the error"
        out.append(
            f"`{var}`: the {level:.0%} intervals hold {cov:.0%} of the {what} "
            f"({verdict}; stations from {row['coverage_station_min']:.0%} to "
            f"{row['coverage_station_max']:.0%}), mean width {row['mean_width']:.4f} m3 m-3, "
            f"{where} (rank correlation {rho:+.2f})."
        )
    return " ".join(out)
