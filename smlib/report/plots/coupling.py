"""Diurnal SM-LH coupling at flux towers (paper Fig. 8)."""

from __future__ import annotations

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from smlib.report.plots.style import (
    METHOD_STYLE,
    TOWER_LABELS,
    _finite,
    _new_figure,
    _panel_label,
)


def plot_coupling_violins(coupling: xr.Dataset) -> Figure:
    """Violins of R(SM, LH), sigma(LH) and TCI at flux towers per method (Fig. 8).

    Parameters
    ----------
    coupling : xarray.Dataset, dims (station, product)
        From :func:`smlib.evaluation.diagnostics.land_coupling`.

    Returns
    -------
    matplotlib.figure.Figure
        Three axes; horizontal violins per method, medians as white lines and printed.
    """
    panels = [
        ("r_sm_lh", "R(SM, LH)", (-1.0, 1.0)),
        ("sigma_lh", "$\\sigma$(LH) (W m$^{-2}$)", None),
        ("tci", "TCI(SM, LH) (W m$^{-2}$)", None),
    ]
    products = [str(p) for p in coupling["product"].values]
    fig = _new_figure((12.0, 1.0 + 0.9 * len(products)))
    axes = fig.subplots(1, 3, sharey=True)
    n_sites = coupling.sizes["station"]
    for k, (ax, (var, label, lims)) in enumerate(zip(axes, panels, strict=True)):
        for j, p in enumerate(products):
            style = METHOD_STYLE.get(p, {"color": "k"})
            vals = _finite(coupling[var].sel({"product": p}).values)
            if vals.size >= 2 and np.ptp(vals) > 0:
                parts = ax.violinplot(
                    vals, positions=[j], orientation="horizontal", showextrema=False, widths=0.8
                )
                for body in parts["bodies"]:
                    body.set_facecolor(style["color"])
                    body.set_edgecolor("0.2")
                    body.set_alpha(0.85)
            elif vals.size:
                ax.plot(vals, np.full(vals.size, j), "o", color=style["color"])
            if vals.size:
                med = float(np.median(vals))
                ax.plot([med, med], [j - 0.3, j + 0.3], color="white", linewidth=2.5)
                ax.text(med, j + 0.38, f"{med:.2f}", ha="center", va="bottom", fontsize=8)
        if lims:
            ax.set_xlim(*lims)
        else:
            ax.margins(x=0.15)
        if var != "sigma_lh":
            ax.axvline(0.0, color="0.5", linewidth=0.8)
        ax.set_xlabel(label)
        _panel_label(ax, k)
    axes[0].set_yticks(np.arange(len(products)), [TOWER_LABELS.get(p, p) for p in products])
    axes[0].set_ylim(-0.6, len(products) - 0.2)
    sites = "site" if n_sites == 1 else "sites"
    fig.suptitle(f"Diurnal land coupling at flux towers, warm season (N = {n_sites} {sites})")
    return fig
