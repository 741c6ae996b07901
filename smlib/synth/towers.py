"""Flux towers of the twin: half-hourly LE, SWC, TS, precipitation as FLUXNET2015 reports them.

Every tower column is simulated hourly like an ISMN station (:mod:`smlib.synth.land`) and
measured by a dielectric SWC probe with the temperature artefact
(:func:`smlib.synth.sensors.dielectric_reading`). Half-hour ``m`` covers
``[start + 30 min * m, start + 30 min * (m + 1))`` in UTC; within the hour ending at stamp
``k + 1`` (half-hours ``2k`` and ``2k + 1``):

* states (SWC, TS) are half-hour means of the linearly interpolated instantaneous readings:
  :math:`\\tfrac34 x_k + \\tfrac14 x_{k+1}` and :math:`\\tfrac14 x_k + \\tfrac34 x_{k+1}`;
* fluxes (LE, SW_IN) take the hour's mean; LE gets the eddy-covariance random error, a
  Laplace variable of scale :math:`0.1|LE| + 8` W m-2 (Richardson et al. 2006 form), drawn
  independently per half-hour; 15 % of half-hours carry a gap-filling QC flag (1-2);
* precipitation is split evenly between the two halves (mm per half-hour);
* TA is the hour's air temperature.

Logger outages of the ISMN model (:func:`smlib.synth.sensors.outage_mask`) blank SWC and TS
(-9999 in the files). ``LE_F_MDS`` is gap-filled by marginal distribution sampling in
FLUXNET2015, so only 0.02 % of its half-hours stay missing (-9999), where gap-filling failed.

:func:`tower_gaps` adds the gaps of real tower records (scenario ``gappy_towers``): scattered
half-hours missing in SWC, TS and LE independently, and soil sensors logged hourly into the
half-hourly file (a value at ``:00``, ``-9999`` at ``:30``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["TowerData", "tower_halfhourly", "hourly_to_halfhourly_state", "tower_gaps"]


@dataclass
class TowerData:
    """Half-hourly tower series, arrays of shape ``(n_tower, 2 * n_time)`` (NaN = missing).

    ``le`` (W m-2), ``swc`` (%), ``ts`` (degC), ``p`` (mm per half-hour), ``ta`` (degC),
    ``sw_in`` (W m-2), ``le_qc`` (int 0-2), ``site`` (ids), ``utc_offset`` (h).
    """

    site: np.ndarray
    utc_offset: np.ndarray
    le: np.ndarray
    le_qc: np.ndarray
    swc: np.ndarray
    ts: np.ndarray
    p: np.ndarray
    ta: np.ndarray
    sw_in: np.ndarray


def hourly_to_halfhourly_state(x: np.ndarray) -> np.ndarray:
    """Half-hour means of instantaneous hourly states.

    Parameters
    ----------
    x : numpy.ndarray, shape (n, n_time + 1)
        Values at the stamps ``0 .. n_time``.

    Returns
    -------
    numpy.ndarray, shape (n, 2 * n_time)
    """
    a, b = x[:, :-1], x[:, 1:]
    out = np.empty((x.shape[0], 2 * (x.shape[1] - 1)), dtype=float)
    out[:, 0::2] = 0.75 * a + 0.25 * b
    out[:, 1::2] = 0.25 * a + 0.75 * b
    return out


def tower_halfhourly(
    site: np.ndarray,
    utc_offset: np.ndarray,
    lh_true: np.ndarray,
    swc_reading: np.ndarray,
    ts_reading: np.ndarray,
    rain: np.ndarray,
    t_air: np.ndarray,
    sw_in: np.ndarray,
    logger_ok: np.ndarray,
    rng: np.random.Generator,
) -> TowerData:
    """Build the half-hourly tower records from hourly simulation output.

    Parameters
    ----------
    site, utc_offset : numpy.ndarray, shape (n_tower,)
    lh_true, rain, t_air, sw_in : numpy.ndarray, shape (n_tower, n_time)
        Hour-ending fluxes for the output hours ``1 .. n_time`` (i.e. already shifted so that
        column ``k`` is the hour ``[k, k+1)`` of the output axis).
    swc_reading, ts_reading : numpy.ndarray, shape (n_tower, n_time + 1)
        Instantaneous probe readings (m3 m-3, degC) at stamps ``0 .. n_time``.
    logger_ok : numpy.ndarray of bool, shape (n_tower, n_time)
    rng : numpy.random.Generator
    """
    twice = lambda a: np.repeat(a, 2, axis=1)  # noqa: E731
    le_mean = twice(lh_true.astype(float))
    scale = 0.1 * np.abs(le_mean) + 8.0
    le = le_mean + rng.laplace(0.0, 1.0, le_mean.shape) * scale
    le_qc = np.where(rng.uniform(size=le.shape) < 0.15, rng.integers(1, 3, le.shape), 0)
    le = np.where(rng.uniform(size=le.shape) < 2e-4, np.nan, le)
    ok = twice(logger_ok)
    swc = np.where(ok, 100.0 * hourly_to_halfhourly_state(swc_reading), np.nan)
    ts = np.where(ok, hourly_to_halfhourly_state(ts_reading), np.nan)
    return TowerData(
        site=np.asarray(site), utc_offset=np.asarray(utc_offset, int), le=le, le_qc=le_qc,
        swc=swc, ts=ts, p=twice(rain.astype(float)) / 2.0, ta=twice(t_air.astype(float)),
        sw_in=twice(sw_in.astype(float)),
    )  # fmt: skip


def tower_gaps(
    data: TowerData, halfhour_dropout: float, hourly_soil_share: float, rng: np.random.Generator
) -> TowerData:
    """The tower records with the gaps of real files.

    Parameters
    ----------
    data : TowerData
    halfhour_dropout : float
        Probability that a half-hour of SWC, of TS and of LE is missing (-9999), drawn
        independently per variable and half-hour (-).
    hourly_soil_share : float
        Share of the towers whose SWC and TS are logged hourly: every half-hour starting at
        ``:30`` (local time, the files' clock; UTC offsets are whole hours) is missing (-).
    rng : numpy.random.Generator

    Returns
    -------
    TowerData
        A copy with NaN where the gaps fall; P, TA and SW_IN are left whole.
    """

    def drop(a: np.ndarray) -> np.ndarray:
        return np.where(rng.uniform(size=a.shape) < halfhour_dropout, np.nan, a)

    swc, ts, le = drop(data.swc), drop(data.ts), drop(data.le)
    n_tower = swc.shape[0]
    hourly = np.zeros(n_tower, dtype=bool)
    k = int(round(hourly_soil_share * n_tower))
    if k:
        hourly[rng.choice(n_tower, size=k, replace=False)] = True
    # half-hour 2k starts on the full hour (the axis starts at 00 UTC)
    swc[hourly, 1::2] = np.nan
    ts[hourly, 1::2] = np.nan
    return TowerData(
        site=data.site, utc_offset=data.utc_offset, le=le, le_qc=data.le_qc, swc=swc, ts=ts,
        p=data.p, ta=data.ta, sw_in=data.sw_in,
    )  # fmt: skip
