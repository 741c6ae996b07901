"""Fourier baseline (reconstruction of Han, Seo and Dirmeyer 2026)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from smlib.config import FourierConfig
from smlib.method.fourier import diurnal_band_adjust, fourier_correct, fourier_correct_arrays

N_DAYS = 20
TIME = pd.date_range("2022-06-01", periods=24 * N_DAYS, freq="h")


def _sine(hour, amp, peak):
    return amp * np.cos(2 * np.pi * (hour - peak) / 24)


def _phase_and_amp(y):
    """Peak hour and amplitude of the 1-cycle/day component of hourly data (whole days)."""
    h = np.arange(y.size)
    c = np.sum(y * np.exp(-2j * np.pi * h / 24)) * 2 / y.size
    return (-np.angle(c) * 24 / (2 * np.pi)) % 24, abs(c)


def test_band_adjust_recovers_reanalysis_phase_and_insitu_amplitude():
    h = np.arange(24 * 10.0)
    x = _sine(h, 0.012, 14.0)  # sensor artefact: peak in the afternoon
    r = _sine(h, 0.003, 7.0)  # land model: peak in the morning
    y = diurnal_band_adjust(x, r, n_days=10, n_harmonics=4)
    peak, amp = _phase_and_amp(y)
    assert peak == pytest.approx(7.0, abs=1e-6) and amp == pytest.approx(0.012, rel=1e-6)


def test_non_diurnal_variability_is_kept():
    h = np.arange(24 * 10.0)
    synoptic = 0.01 * np.sin(2 * np.pi * h / (24 * 5))  # 5-day wave, outside the band
    y = diurnal_band_adjust(synoptic + _sine(h, 0.01, 14.0), _sine(h, 0.002, 6.0), 10)
    np.testing.assert_allclose(y - _sine(h, 0.01, 6.0), synoptic, atol=1e-12)


def test_full_method_on_a_station_with_gap_and_night_alignment():
    lon = np.array([0.0])
    hour = TIME.hour.to_numpy()
    sm = (0.2 + _sine(hour, 0.01, 15.0))[None, :]
    ref = (0.3 + _sine(hour, 0.002, 7.0))[None, :]
    sm[0, 24 * 13 + 5] = np.nan  # one missing hour in the second window
    cfg = FourierConfig(window_days=10, n_harmonics=3, night_hours=())
    out = fourier_correct_arrays(sm, ref, TIME.values, lon, cfg)
    day3 = out[0, 24 * 3 : 24 * 4]
    peak, amp = _phase_and_amp(day3)
    assert peak == pytest.approx(7.0, abs=1e-4) and amp == pytest.approx(0.01, rel=1e-4)
    # day 13 has a gap: its hours (and the LF margins around it) stay NaN; day 16 uses the
    # single-day fallback and is still corrected
    assert np.isnan(out[0, 24 * 13 + 5])
    assert np.isfinite(out[0, 24 * 16 : 24 * 17]).all()
    assert _phase_and_amp(out[0, 24 * 16 : 24 * 17])[0] == pytest.approx(7.0, abs=1e-4)
    # the edges lack a complete LF window: nothing is fabricated there
    assert np.isnan(out[0, :12]).all()
    # night alignment: mean over local 00-05 equals the raw night mean, day by day
    night = FourierConfig(window_days=10, night_hours=(0, 1, 2, 3, 4, 5))
    out_n = fourier_correct_arrays(sm, ref, TIME.values, lon, night)
    d = slice(24 * 4, 24 * 4 + 6)
    assert np.nanmean(out_n[0, d]) == pytest.approx(np.nanmean(sm[0, d]), abs=1e-6)


def test_result_is_never_negative():
    hour = TIME.hour.to_numpy()
    sm = (0.004 + _sine(hour, 0.01, 15.0))[None, :]
    ref = (0.1 + _sine(hour, 0.01, 7.0))[None, :]
    out = fourier_correct_arrays(
        sm, ref, TIME.values, np.array([10.0]), FourierConfig(night_hours=())
    )
    assert np.nanmin(out) >= 0.0 and np.isfinite(out).sum() > 0.8 * out.size


def test_product_choice_and_cf_attributes():
    hour = TIME.hour.to_numpy()
    n = len(TIME)
    ds = xr.Dataset(
        {
            "sm": (
                ("station", "time"),
                (0.2 + _sine(hour, 0.01, 15.0))[None, :].astype(np.float32),
            ),
            "era5_sm": (("station", "time"), (0.3 + _sine(hour, 0.002, 6.0))[None, :]),
            "merra2_sm": (("station", "time"), (0.3 + _sine(hour, 0.002, 10.0))[None, :]),
        },
        coords={"station": ["N/S"], "time": TIME, "lon": ("station", [0.0])},
    )
    cfg = FourierConfig(night_hours=())
    peaks = {}
    for product in ("era5", "merra2", "mean"):
        da = fourier_correct(ds, product, cfg)
        assert da.attrs["units"] == "m3 m-3" and da.attrs["standard_name"]
        peaks[product] = _phase_and_amp(da.values[0, 24 * 5 : 24 * 6])[0]
    assert peaks["era5"] == pytest.approx(6.0, abs=1e-3)
    assert peaks["merra2"] == pytest.approx(10.0, abs=1e-3)
    assert peaks["mean"] == pytest.approx(8.0, abs=1e-3)
    with pytest.raises(KeyError, match="merra2_sm"):
        fourier_correct(ds.drop_vars("merra2_sm"), "mean")
    assert n == 24 * N_DAYS
