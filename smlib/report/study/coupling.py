"""Section 06, land coupling: SM-LH coupling at flux towers before and after correction."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import xarray as xr

from smlib.report.study.reports import read_table

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
