"""``flagged_product`` with the ``artefact`` rule on a world whose artefact is set: every flag
(0 corrected, 1 rain hour with the artefact removed, 2 no method input with the artefact
removed, 3 left raw, 4 no value) appears at hours known in advance, the rule's coefficients are
the artefact's and the ruled hours give back the true soil moisture.

(The default ``guided`` product of ``correct()`` is tested in tests/test_product_default.py.)
"""

from __future__ import annotations

import numpy as np
import pytest

from smlib.method.correct import FLAG_MEANINGS, flagged_product

N_T = 24 * 30
W = 2 * np.pi / 24
#: Artefact per station: b1 (m3 m-3 K-1) on TS HF, b2 (m3 m-3 h K-1) on its hourly tendency.
B = np.array([[0.003, 0.001], [0.002, 0.0]])
RAIN = slice(240, 264)  # day 10, both stations
NO_INPUT = slice(100, 148)  # station 0: two days the network has no input window
TS_GAP = slice(400, 411)  # station 1: 11 h without TS (too long to fill) nor network input
NO_RAW = slice(300, 303)  # station 1: three hours without a measurement


def _world():
    t = np.arange(N_T, dtype=float)
    phase = np.array([[0.0], [3.0]])
    ts = 20 + 8 * np.sin(W * (t - phase))
    ts_hf = 8 * np.sin(W * (t - phase))  # the 24-h mean of a pure cycle is its mean, 20 degC
    ts_dhf = 8 * np.cos(W * (t - phase)) * np.sin(W)  # centred difference of ts_hf
    truth = 0.25 + 0.01 * np.sin(W * (t - 7)) + np.zeros((2, 1))
    raw = truth + B[:, :1] * ts_hf + B[:, 1:] * ts_dhf
    method = truth.copy()  # a network that removes the artefact exactly
    method[0, NO_INPUT] = np.nan
    method[1, TS_GAP] = np.nan
    ts[1, TS_GAP] = np.nan
    raw[1, NO_RAW] = np.nan
    rain = np.zeros((2, N_T), dtype=bool)
    rain[:, RAIN] = True
    return raw, method, rain, ts, truth


def _expected_flags(rule: str) -> np.ndarray:
    flag = np.zeros((2, N_T), dtype=np.int8)
    ruled_rain, ruled_gap = (1, 2) if rule == "artefact" else (3, 3)
    flag[:, RAIN] = ruled_rain
    flag[0, NO_INPUT] = ruled_gap
    flag[1, TS_GAP] = 3  # no TS: the rule cannot remove the artefact either
    flag[1, NO_RAW] = 4
    return flag


def test_artefact_rule_flags_coefficients_and_values():
    raw, method, rain, ts, truth = _world()
    product, flag, coef = flagged_product(raw, method, rain, ts, rule="artefact")

    np.testing.assert_array_equal(flag, _expected_flags("artefact"))
    assert set(np.unique(flag)) == {0, 1, 2, 3, 4} <= set(FLAG_MEANINGS)
    assert int((flag == 1).sum()) == 2 * 24 and int((flag == 2).sum()) == 48
    np.testing.assert_allclose(coef, B, atol=2e-6)

    corrected = flag == 0
    np.testing.assert_array_equal(product[corrected], method[corrected].astype(np.float32))
    ruled = (flag == 1) | (flag == 2)
    np.testing.assert_allclose(product[ruled], truth[ruled], atol=1e-5)
    # the ruled hours really differ from the raw sensor: the artefact was there to remove
    assert np.abs(raw[ruled] - truth[ruled]).max() > 0.02
    left = flag == 3
    np.testing.assert_array_equal(product[left], raw[left].astype(np.float32))
    assert np.isnan(product[flag == 4]).all()
    assert product.dtype == np.float32 and flag.dtype == np.int8


def test_raw_rule_and_too_few_hours_leave_the_raw_series():
    raw, method, rain, ts, _ = _world()
    product, flag, coef = flagged_product(raw, method, rain, ts, rule="raw")
    np.testing.assert_array_equal(flag, _expected_flags("raw"))
    assert np.isnan(coef).all()
    left = flag == 3
    np.testing.assert_array_equal(product[left], raw[left].astype(np.float32))

    # fewer method hours than min_rule_hours: no coefficients, the rain hours stay raw
    product, flag, coef = flagged_product(raw, method, rain, ts, min_rule_hours=N_T + 1)
    assert np.isnan(coef).all()
    np.testing.assert_array_equal(flag, _expected_flags("raw"))


@pytest.mark.parametrize("station", [0, 1])
def test_rule_needs_no_other_station(station):
    """Each station's rule is its own fit: one station alone gives the same numbers."""
    raw, method, rain, ts, _ = _world()
    whole = flagged_product(raw, method, rain, ts)
    one = flagged_product(*(a[station : station + 1] for a in (raw, method, rain, ts)))
    np.testing.assert_array_equal(one[1][0], whole[1][station])
    np.testing.assert_allclose(one[2][0], whole[2][station], rtol=1e-12)
