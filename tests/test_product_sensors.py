"""Which stations the default product corrects: a cosmic-ray probe has no dielectric temperature
artefact and is left raw (smlib.method.product.artefact_temperature)."""

from __future__ import annotations

import logging

import numpy as np
import xarray as xr

from smlib.config import get_profile
from smlib.method.product import artefact_temperature, fit_product_table

HOURS = np.arange("2020-06-01T00", "2020-08-30T00", dtype="datetime64[h]")


def _pair():
    """Two stations with the same record: a capacitance probe and a cosmic-ray probe, each
    reading a true SM that dries by day plus 0.001 m3 m-3 K-1 of TS."""
    rng = np.random.default_rng(0)
    t = np.arange(HOURS.size)
    hour = t % 24
    ts = 22 + 7 * np.sin(2 * np.pi * (hour - 9) / 24) + rng.normal(0, 0.05, t.size)
    et = np.where((hour >= 8) & (hour < 19), np.sin(np.pi * (hour - 8) / 11), 0.0)
    truth = 0.30 - np.cumsum(0.01 * et / et[:24].sum()) + 0.01 * t / 24
    raw = truth + 0.001 * (ts - 22) + rng.normal(0, 2e-4, t.size)
    two = np.vstack([raw, raw]).astype(np.float32)
    ds = xr.Dataset(
        {"sm": (("station", "time"), two), "ts": (("station", "time"), np.vstack([ts, ts]))},
        coords={
            "station": ["N/CAP", "N/CRNS"],
            "time": HOURS,
            "lon": ("station", [0.0, 0.0]),
            "sensor_type": ("station", ["capacitance", "cosmic-ray"]),
        },
    )
    return ds, two, np.vstack([ts, ts]).astype(np.float32)


def test_a_cosmic_ray_probe_is_left_raw_and_the_probe_beside_it_corrected(caplog):
    ds, raw, ts = _pair()
    cc = get_profile("recommended").correct
    with caplog.at_level(logging.INFO, logger="smlib.method.product"):
        prod, flag, coef, table = fit_product_table(ds, raw, ts, [], np.zeros(raw.shape, bool), cc)
    assert abs(np.nansum(coef[0]) - 0.001) < 0.0001  # the capacitance probe: its gain found
    assert np.isnan(coef[1]).all() and table.n_signals[1] == -1
    np.testing.assert_array_equal(prod[1], raw[1])
    assert (flag[1] == 3).all() and (flag[0] == 0).mean() > 0.95
    assert "N/CRNS" in caplog.text and "cosmic-ray" in caplog.text


def test_artefact_temperature_passes_a_cube_without_sensor_types_through():
    ds, _, ts = _pair()
    assert artefact_temperature(ds.drop_vars("sensor_type"), ts) is ts
    out = artefact_temperature(ds, ts)
    assert np.isnan(out[1]).all() and np.array_equal(out[0], ts[0])
    assert np.isfinite(ts[1]).all()  # the input is not changed
