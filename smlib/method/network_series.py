"""The network's series in a corrected file, and what of it guides the default product's fit.

``smlib correct`` writes the network's own series as ``sm_lstm_net`` (``sm_lstm`` itself under
``--product paper``). With ``preprocess.lf_hold_h`` the hours at the ends of an SM run get a
value too, their low-frequency part carried from the run's nearest complete 24-h mean along its
slope (:func:`smlib.method.preprocess.hold_lf`); :data:`LF_CARRIED` marks them. They are served,
but the product's artefact fit takes the network only where its LF is a complete mean
(:func:`network_for_fit`), so the default product does not depend on the hold. Batch
correction, streaming and the benchmark's refits all read and write the series through here.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

__all__ = [
    "LF_CARRIED",
    "NETWORK_LONG_NAME",
    "network_for_fit",
    "network_for_fit_of",
    "add_network_variables",
]

#: Variable of a corrected file that marks the network's hours with a carried LF.
LF_CARRIED = "sm_lstm_net_lf_carried"


def network_for_fit(net: np.ndarray, carried: np.ndarray | None) -> np.ndarray:
    """The network's series as the product's fit takes it: NaN at hours whose LF was carried.

    ``preprocess.lf_hold_h`` gives the network values at the ends of an SM run (the LF carried
    from the run's nearest complete mean); they are served but do not guide the artefact fit,
    so the default product does not depend on the hold.

    Parameters
    ----------
    net : numpy.ndarray, shape (station, time)
        ``sm_lstm_net``, m3 m-3.
    carried : numpy.ndarray of bool, shape (station, time), or None
        Hours with a carried LF (:attr:`Prepared.lf_carried`, :data:`LF_CARRIED`); None: none.

    Returns
    -------
    numpy.ndarray of float32, shape (station, time)
    """
    net = np.asarray(net, dtype=np.float32)
    if carried is None:
        return net
    return np.where(np.asarray(carried, dtype=bool), np.float32(np.nan), net)


#: ``long_name`` of the network's series in a corrected file.
NETWORK_LONG_NAME = "soil moisture corrected by the stacked LSTM, network output only (paper)"


def add_network_variables(
    out: xr.Dataset, net: xr.DataArray, carried: np.ndarray | None, paper: bool = False
) -> None:
    """Add ``sm_lstm_net`` to a corrected dataset ``out`` (in place) and, with ``carried`` (bool,
    shape of ``net``), :data:`LF_CARRIED` (int8, 1 where the hour's LF was carried). ``paper``:
    the network's series is the product ``sm_lstm`` (``product=paper``); only the mark is added."""
    if not paper:
        out["sm_lstm_net"] = net
        out["sm_lstm_net"].attrs["long_name"] = NETWORK_LONG_NAME
    if carried is None:
        return
    out[LF_CARRIED] = xr.DataArray(
        np.asarray(carried, dtype=np.int8), dims=net.dims, coords=net.coords,
        attrs={
            "long_name": "the network's series (sm_lstm_net; sm_lstm under product=paper): its "
            "low-frequency part carried from the SM run's nearest complete 24-h mean along its "
            "slope (preprocess.lf_hold_h); such hours do not guide the default product's fit",
            "flag_values": np.array([0, 1], dtype=np.int8),
            "flag_meanings": "complete_24h_mean carried_lf",
        },
    )  # fmt: skip


def network_for_fit_of(corrected: xr.Dataset) -> np.ndarray:
    """:func:`network_for_fit` of a corrected file (no :data:`LF_CARRIED`: none carried)."""
    net = corrected["sm_lstm_net"].transpose("station", "time").values
    if LF_CARRIED not in corrected:
        return network_for_fit(net, None)
    return network_for_fit(net, corrected[LF_CARRIED].transpose("station", "time").values)
