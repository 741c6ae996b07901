"""The registry of correction methods: one entry per series a corrected file can hold.

Every module that names a method reads it from here (CONVENTIONS.md 13): the variable in the
corrected file, the labels of figures and tables, the colour and line style. Adding a method
(the operational student, say) is one entry.

=================  ===============  ==========================================================
key                variable         series
=================  ===============  ==========================================================
``raw``            ``sm``           the sensor as measured
``fft``            ``sm_fft``       Fourier time filtering (Han, Seo and Dirmeyer 2026)
``lin``            ``sm_lin``       per-probe linear temperature compensation
``chanzy``         ``sm_chanzy``    per-probe temperature slope from the night window
                                    (after Chanzy et al. 2012)
``paper``          ``sm_paper``     the paper's LSTM (its network series, beside the default)
``lstm``           ``sm_lstm``      the default product of this build's configuration: under
                                    ``correct.mode=guided`` the measured series minus a
                                    per-station temperature artefact fitted with the network
                                    and the reanalysis as signal estimates (labelled so, not
                                    "LSTM": :func:`guided_label`); the key and variable keep
                                    their names, which users' scripts read
``lstm_net``       ``sm_lstm_net``  that configuration's network output alone
=================  ===============  ==========================================================
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "Method",
    "METHODS",
    "method_variables",
    "method_style",
    "guided_label",
    "product_label",
]

#: Signal estimates of the guided product as ``smlib correct`` offers them, the network first.
GUIDED_ESTIMATES = ("sm_lstm_net", "era5_sm", "merra2_sm")


def guided_label(estimates: Sequence[str] | None = GUIDED_ESTIMATES) -> str:
    """Plain label of the guided product after the signal estimates of its fit.

    Parameters
    ----------
    estimates : sequence of str, optional
        Variables that guided the fit (``sm_lstm_net``, ``era5_sm``, ``merra2_sm``; the
        ``signal_estimates`` of the product's coefficient table). Default: all of them.

    Examples
    --------
    >>> guided_label()
    'guided fit (LSTM + reanalysis)'
    >>> guided_label(["sm_lstm_net"]), guided_label(["era5_sm"]), guided_label([])
    ('guided fit (LSTM)', 'guided fit (reanalysis)', 'guided fit (temperature terms only)')
    """
    names = set(estimates or ())
    parts = (["LSTM"] if "sm_lstm_net" in names else []) + (
        ["reanalysis"] if names & {"era5_sm", "merra2_sm"} else []
    )
    return f"guided fit ({' + '.join(parts) or 'temperature terms only'})"


#: Label of the default product where it is the network's series (no guided fit).
NETWORK_LABEL = "ISMN$_\\mathrm{LSTM}$"


def product_label(attrs: dict | None) -> str:
    """Label of a corrected file's default product (``sm_lstm``) after what made it.

    Parameters
    ----------
    attrs : dict or None
        Attributes of ``sm_lstm``: ``signal_estimates`` (space-separated, written by
        ``smlib correct`` when it fits the guided product) names the product by its estimates
        (:func:`guided_label`); a guided product without them (applied from a stored table)
        gets the default label; any other product (``paper``, the flagged network series) is
        the network's series. None: the default label.

    Examples
    --------
    >>> product_label({"product": "guided: ...", "signal_estimates": "sm_lstm_net"})
    'guided fit (LSTM)'
    >>> product_label({"product": "flagged: ..."})
    'ISMN$_\\\\mathrm{LSTM}$'
    """
    if attrs is None:
        return guided_label()
    if "signal_estimates" in attrs:
        return guided_label(str(attrs["signal_estimates"]).split())
    if str(attrs.get("product", "")).startswith("guided"):
        return guided_label()
    return NETWORK_LABEL


@dataclass(frozen=True)
class Method:
    """One correction method.

    Attributes
    ----------
    key : str
    variable : str
        Variable of the corrected file (m3 m-3); its per-hour flag is ``<variable>_flag``.
    label : str
        Matplotlib label (may hold TeX).
    tower_label : str
        Label of the series at flux towers (paper Fig. 8).
    color, linestyle : str
    """

    key: str
    variable: str
    label: str
    tower_label: str
    color: str
    linestyle: str = "--"


METHODS: dict[str, Method] = {
    m.key: m
    for m in (
        Method("raw", "sm", "ISMN", "Fluxtower", "#1f77b4", "-"),
        Method("fft", "sm_fft", "ISMN$_\\mathrm{FFT}$", "Fluxtower$_\\mathrm{FFT}$", "#ff7f0e"),
        Method("lin", "sm_lin", "ISMN$_\\mathrm{LIN}$", "Fluxtower$_\\mathrm{LIN}$", "#e377c2"),
        Method(
            "chanzy",
            "sm_chanzy",
            "ISMN$_\\mathrm{night\\ slope}$",
            "Fluxtower$_\\mathrm{night\\ slope}$",
            "#8c6d31",
        ),  # fmt: skip
        Method(
            "paper",
            "sm_paper",
            "ISMN$_\\mathrm{LSTM,paper}$",
            "Fluxtower$_\\mathrm{LSTM,paper}$",
            "#bcbd22",
        ),  # fmt: skip
        Method("lstm", "sm_lstm", guided_label(), f"Fluxtower, {guided_label()}", "#2ca02c"),
        Method(
            "lstm_net",
            "sm_lstm_net",
            "ISMN$_\\mathrm{LSTM,net}$",
            "Fluxtower$_\\mathrm{LSTM,net}$",
            "#98df8a",
            ":",
        ),  # fmt: skip
    )
}
"""Method key -> :class:`Method`, in display order."""


def method_variables(keys: tuple[str, ...] | None = None) -> dict[str, str]:
    """Method key -> variable of the corrected file (all methods, or ``keys``)."""
    return {k: m.variable for k, m in METHODS.items() if keys is None or k in keys}


def method_style(key: str) -> dict[str, str]:
    """``label``, ``color`` and ``linestyle`` of a method (a neutral style for unknown keys)."""
    m = METHODS.get(key)
    if m is None:
        return {"label": key, "color": "k", "linestyle": "-"}
    return {"label": m.label, "color": m.color, "linestyle": m.linestyle}
