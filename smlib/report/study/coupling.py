"""Section 06, land coupling: SM-LH coupling at flux towers before and after correction."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import xarray as xr

from smlib.report.study.reports import read_summary, read_table

if TYPE_CHECKING:
    from IPython.display import Markdown


def read_coupling(report_dir: str | os.PathLike[str]) -> xr.Dataset:
    """R(SM, LH), sigma(LH) and TCI per tower and method (``land_coupling.csv``).

    Returns
    -------
    xarray.Dataset, dims (station, product)
        Input of :func:`smlib.report.plots.plot_coupling_violins`.
    """
    table = read_table(report_dir, "land_coupling")
    order = list(dict.fromkeys(table["method"]))
    ds = table.rename(columns={"method": "product"}).set_index(["station", "product"]).to_xarray()
    ds = ds.reindex(product=order)
    ds["r_sm_lh"].attrs = {"units": "1", "long_name": "correlation of hourly SM and LH anomalies"}
    ds["sigma_lh"].attrs = {"units": "W m-2", "long_name": "standard deviation of LH anomalies"}
    ds["tci"].attrs = {"units": "W m-2", "long_name": "terrestrial coupling index TCI(SM, LH)"}
    return ds


def coupling_table(coupling: xr.Dataset) -> pd.DataFrame:
    """:func:`read_coupling` as a table: one row per tower, columns (variable, method)."""
    frame = coupling[["r_sm_lh", "sigma_lh", "tci"]].to_dataframe().unstack("product")
    return frame.reindex(columns=coupling["product"].values, level="product")


def describe_coupling(coupling: xr.Dataset) -> Markdown:
    """One sentence: how many towers have an R(SM, LH), and its median per method."""
    from IPython.display import Markdown

    n_finite = int(coupling["r_sm_lh"].notnull().any("product").sum())
    text = (
        f"{n_finite} of {coupling.sizes['station']} towers have enough warm-season hours with "
        "diurnal anomalies of SM (every method) and LH for the index. "
    )
    if n_finite:
        medians = coupling["r_sm_lh"].median("station").to_series()
        text += (
            "Median R(SM, LH): "
            + ", ".join(f"{m} **{v:.2f}**" for m, v in medians.items() if np.isfinite(v))
            + "."
        )
    else:
        text += (
            "The figure is therefore empty: a longer twin, or real tower records through "
            "`data_dir`, give the towers the complete days the index needs."
        )
    return Markdown(text)


def network_coverage_sentence(coverage: dict) -> str:
    """The sentence on how many tower hours the network corrects, from ``summary.json``.

    Parameters
    ----------
    coverage : dict
        ``summary["network_coverage"]`` of :func:`smlib.report.evaluate.evaluate`: per kind
        (``tower``, ``ismn``) ``hours_sm``, ``share_network`` (0-1) and, with the cube,
        ``stations``, ``leading_reason``, ``leading_reason_text`` and ``reasons``.

    Returns
    -------
    str
        Markdown.

    Raises
    ------
    ValueError
        No tower has an hour with SM.
    """
    tower = coverage.get("tower")
    if not tower or not tower.get("hours_sm") or tower.get("share_network") is None:
        raise ValueError("no tower has hours with SM in this build")
    share = tower["share_network"]
    n = f" at {tower['stations']} towers" if tower.get("stations") else ""
    text = (
        f"The network gives a value to **{100 * share:.0f} %** of the {tower['hours_sm']:,} "
        f"tower hours with SM{n}"
    )
    ismn = coverage.get("ismn") or {}
    if ismn.get("share_network") is not None:
        text += f" (ISMN stations: {100 * ismn['share_network']:.0f} %)"
    lead = tower.get("leading_reason")
    if lead and share < 1:
        lost = tower["reasons"][lead]
        text += (
            f". Most of the other hours have none because {tower['leading_reason_text']} "
            f"({100 * lost:.1f} % of the hours)"
        )
    text += "."
    if share < 0.9:
        text += (
            " The coupling below then rests on part of the towers' records; "
            "`smlib.method.coverage.network_coverage` counts each tower's missing hours by "
            "reason (`network_coverage.csv` of the report)."
        )
    return text


def describe_network_coverage(report_dir: str | os.PathLike[str]) -> Markdown:
    """:func:`network_coverage_sentence` of a report folder's ``summary.json``."""
    from IPython.display import Markdown

    summary = read_summary(report_dir)
    if "network_coverage" not in summary:
        reason = summary.get("skipped", {}).get("network_coverage", "not computed")
        raise ValueError(f"the evaluation has no network coverage ({reason})")
    return Markdown(network_coverage_sentence(summary["network_coverage"]))
