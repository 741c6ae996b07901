"""Which hours of a growing record are settled: the streaming corrector's release rule.

The default product at hour ``t`` depends on TS up to ``t + 15`` h (the centred 24-h LF, the
tendency, short gaps filled once closed; :func:`smlib.method.compensation.apply_guided_kernel`).
A streaming correction releases an hour only once nothing appended later can change its
regressors (:func:`regressors_final`); tested equal to the whole record's.
"""

from __future__ import annotations

import numpy as np

from smlib.method.decomposition import moving_average
from smlib.method.preprocess import fill_short_gaps

__all__ = ["regressors_final"]


def _window_all(ok: np.ndarray, back: int, fwd: int) -> np.ndarray:
    """True where ``ok`` holds over ``[t - back, t + fwd]`` (indices outside the axis: True
    before it, False after it)."""
    n = ok.shape[-1]
    bad = np.concatenate(
        [np.zeros(ok.shape[:-1] + (1,), np.int64), np.cumsum(~ok, axis=-1)], axis=-1
    )
    t = np.arange(n)
    lo = np.clip(t - back, 0, n)
    hi = t + fwd + 1
    out = np.zeros(ok.shape, dtype=bool)
    inside = hi <= n
    out[..., inside] = (bad[..., hi[inside]] - bad[..., lo[inside]]) == 0
    return out


def regressors_final(
    ts: np.ndarray,
    lf_window_h: int = 24,
    centering: str = "centred",
    max_gap_h: int = 3,
    max_lag_h: int = -1,
) -> np.ndarray:
    """Hours whose :func:`smlib.method.compensation.temperature_regressors` can no longer change when hours are appended.

    For streaming: the regressors of hour ``t`` computed on the series received so far equal
    those on the whole record wherever this is True (tested).

    Parameters
    ----------
    ts : numpy.ndarray, shape (station, time)
        Soil temperature received so far (the last column is the newest hour).
    lf_window_h, centering, max_gap_h
        As :func:`smlib.method.compensation.temperature_regressors`.
    max_lag_h : int
        -1: the default terms (TS HF and its centred tendency, which needs hour ``t + 1``);
        ``K`` >= 0: the TS HF lags 0 .. K of the distributed-lag artefact (hours ``t - K``
        .. ``t``; hours before the record count as settled, their lags are missing anyway).

    Returns
    -------
    numpy.ndarray of bool, shape (station, time)
    """
    from smlib.method.decomposition import lf_reach

    ts = np.asarray(ts, dtype=np.float32)
    n = ts.shape[-1]
    t = np.arange(n)
    back, fwd = lf_reach(lf_window_h, centering)
    present = np.isfinite(ts)
    # a missing hour within max_gap_h of the end may still be interpolated
    fin_f = present | (t <= n - 1 - max_gap_h)[None, :]
    filled = fill_short_gaps(ts, max_gap_h)
    ma = moving_average(filled, lf_window_h, centering)
    ma_def = np.isfinite(ma)  # a defined mean never changes
    fin_ma = ma_def | _window_all(fin_f, back, fwd)
    reach = lf_window_h // 2
    # ffill source within reach hours before t
    past_def = np.zeros_like(ma_def)
    for k in range(1, reach + 1):
        past_def[:, k:] |= ma_def[:, :-k]
    # bfill: the first defined mean within reach hours after t, all means before it settled
    bfill_final = np.zeros_like(ma_def)
    pending = np.ones_like(ma_def)  # no defined mean found yet in t+1 .. t+k-1
    for k in range(1, reach + 1):
        nxt_def = np.zeros_like(ma_def)
        nxt_fin = np.zeros_like(ma_def)
        nxt_def[:, :-k] = ma_def[:, k:]
        nxt_fin[:, :-k] = fin_ma[:, k:]
        bfill_final |= pending & nxt_def
        pending &= ~nxt_def & nxt_fin  # an unsettled NaN mean before the source: not final
    bfill_final |= pending  # every mean within reach settled and undefined: LF stays NaN
    lf_final = ma_def | (fin_ma & (past_def | bfill_final))
    hf_final = fin_f & (~np.isfinite(filled) | lf_final)
    if max_lag_h >= 0:
        out = hf_final.copy()
        for k in range(1, max_lag_h + 1):
            out[:, k:] &= hf_final[:, :-k]
        return out
    out = np.zeros_like(hf_final)
    out[:, 1:-1] = hf_final[:, :-2] & hf_final[:, 1:-1] & hf_final[:, 2:]
    if n > 1:
        out[:, 0] = hf_final[:, 0] & hf_final[:, 1]
    return out
