"""Local days, solar offsets and seasons (known answers)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from smlib.timeutils import (
    local_day_start,
    local_day_view,
    local_solar_hour,
    solar_offset_hours,
    warm_season_mask,
)


@pytest.mark.parametrize(
    ("lon", "expected"),
    [(0.0, 0), (7.4, 0), (7.6, 1), (-97.5, -6), (179.0, 12), (-179.0, -12), (350.0, -1)],
)
def test_solar_offset(lon, expected):
    assert int(solar_offset_hours(lon)) == expected


def test_local_solar_hour_and_day_start():
    time = pd.date_range("2020-06-01", periods=48, freq="h")
    hour = local_solar_hour(time, lon=-90.0)  # UTC-6
    assert hour[6] == 0 and hour[0] == 18
    assert local_day_start(time[0], -90.0) == 6
    assert local_day_start(time[0], 90.0) == 18  # UTC+6: local midnight at 18 UTC


def test_local_day_view_aligns_stations():
    n_t = 24 * 4
    t = np.arange(n_t, dtype=float)
    x = np.stack([t, t + 1000.0])
    days, first = local_day_view(x, offsets=np.array([0, -6]))
    np.testing.assert_array_equal(first, [0, 6])
    assert days.shape == (2, 4, 24)
    # station 0: day 0 is samples 0..23; station 1 (UTC-6): day 0 starts at sample 6
    np.testing.assert_array_equal(days[0, 0], np.arange(24))
    np.testing.assert_array_equal(days[1, 0], 1000.0 + np.arange(6, 30))
    # station 1 has only 3 complete local days; its 4th is NaN padding
    assert np.isnan(days[1, 3]).all()
    assert np.isfinite(days[0, 3]).all()


def test_warm_season_hemispheres():
    time = pd.date_range("2020-01-15", periods=12, freq="MS")
    north = warm_season_mask(time, 45.0)
    south = warm_season_mask(time, -30.0)
    assert north.sum() == 5 and south.sum() == 5
    assert not (north & south).any()
