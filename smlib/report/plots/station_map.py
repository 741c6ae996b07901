"""Map of the stations by sensor type, with references and flux towers."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import xarray as xr
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from smlib.report.plots.style import (
    _new_figure,
    _sensor_style,
    _sensor_types,
)

log = logging.getLogger(__name__)


def _add_land(ax: object) -> bool:
    """Draw land and coastlines from the offline Natural Earth data; False if unavailable."""
    try:
        import cartopy.feature as cfeature

        from smlib.report.naturalearth import configure_cartopy

        configure_cartopy()
    except (ImportError, FileNotFoundError) as err:
        log.warning("station map drawn without coastlines: %s", err)
        return False
    ax.add_feature(cfeature.OCEAN.with_scale("110m"), facecolor="#eaf2fb", edgecolor="none")
    ax.add_feature(cfeature.LAND.with_scale("110m"), facecolor="0.93", edgecolor="none")
    ax.add_feature(cfeature.COASTLINE.with_scale("110m"), linewidth=0.5, edgecolor="0.4")
    ax.add_feature(cfeature.BORDERS.with_scale("110m"), linewidth=0.3, edgecolor="0.6")
    return True


def _map_extent(
    lon: np.ndarray, lat: np.ndarray, margin: float = 3.0, max_aspect: float = 2.2
) -> tuple[float, float, float, float]:
    """Stations plus a margin, widened in latitude so the map is at most ``max_aspect`` wide
    per unit height (a network spread along a parallel would otherwise give a thin strip)."""
    x0, x1 = max(np.nanmin(lon) - margin, -180.0), min(np.nanmax(lon) + margin, 180.0)
    y0, y1 = max(np.nanmin(lat) - margin, -90.0), min(np.nanmax(lat) + margin, 90.0)
    short = (x1 - x0) / max_aspect - (y1 - y0)
    if short > 0:
        y0, y1 = y0 - short / 2, y1 + short / 2
        if y0 < -90.0:
            y0, y1 = -90.0, min(y1 + (-90.0 - y0), 90.0)
        if y1 > 90.0:
            y0, y1 = max(y0 - (y1 - 90.0), -90.0), 90.0
    return (float(x0), float(x1), float(y0), float(y1))


def plot_station_map(ds: xr.Dataset, extent: Sequence[float] | None = None) -> Figure:
    """Map of the stations by sensor type, with references and flux towers marked.

    Land and coastlines come from the offline Natural Earth layers of
    :mod:`smlib.report.naturalearth`; without them the map shows graticules only. Nothing is
    downloaded.

    Parameters
    ----------
    ds : xarray.Dataset
        Any dataset with ``lat``, ``lon``, ``sensor_type``, ``is_reference`` and ``kind`` on
        ``station``.
    extent : sequence of 4 float, optional
        ``(lon_min, lon_max, lat_min, lat_max)``; default: the stations plus a margin.

    Returns
    -------
    matplotlib.figure.Figure
        One cartopy GeoAxes (PlateCarree).
    """
    import cartopy.crs as ccrs

    lat = np.asarray(ds["lat"].values, dtype=float)
    lon = np.asarray(ds["lon"].values, dtype=float)
    sensor = np.asarray(ds["sensor_type"].values).astype(str)
    is_ref = np.asarray(ds["is_reference"].values).astype(bool)
    kind = (
        np.asarray(ds["kind"].values).astype(str)
        if "kind" in ds.coords or "kind" in ds
        else np.full(lat.size, "ismn")
    )
    tower = kind == "tower"

    fig = _new_figure((9.0, 5.0))
    ax = fig.add_subplot(1, 1, 1, projection=ccrs.PlateCarree())
    if extent is None:
        extent = _map_extent(lon, lat)
    ax.set_extent(extent, crs=ccrs.PlateCarree())
    has_land = _add_land(ax)
    gl = ax.gridlines(draw_labels=True, linewidth=0.3, color="0.6", linestyle=":")
    gl.top_labels = gl.right_labels = False

    handles = []
    for s in _sensor_types(sensor):
        style = _sensor_style(s)
        plain = (sensor == s) & ~is_ref & ~tower
        ref = (sensor == s) & is_ref & ~tower
        ax.scatter(
            lon[plain],
            lat[plain],
            s=22,
            marker="o",
            color=style["color"],
            edgecolor="white",
            linewidth=0.4,
            transform=ccrs.PlateCarree(),
            zorder=3,
        )
        ax.scatter(
            lon[ref],
            lat[ref],
            s=70,
            marker="*",
            color=style["color"],
            edgecolor="black",
            linewidth=0.5,
            transform=ccrs.PlateCarree(),
            zorder=4,
        )
        n = int(((sensor == s) & ~tower).sum())
        if n:
            handles.append(
                Line2D(
                    [],
                    [],
                    marker="o",
                    linestyle="",
                    color=style["color"],
                    label=f"{style['label']} ({n})",
                )
            )
    ax.scatter(
        lon[tower],
        lat[tower],
        s=40,
        marker="^",
        facecolor="none",
        edgecolor="black",
        linewidth=1.0,
        transform=ccrs.PlateCarree(),
        zorder=5,
    )
    handles.append(
        Line2D(
            [],
            [],
            marker="*",
            linestyle="",
            markerfacecolor="white",
            markeredgecolor="black",
            markersize=10,
            label=f"Reference ({int((is_ref & ~tower).sum())})",
        )
    )
    handles.append(
        Line2D(
            [],
            [],
            marker="^",
            linestyle="",
            markerfacecolor="none",
            markeredgecolor="black",
            label=f"Flux tower ({int(tower.sum())})",
        )
    )
    ax.legend(
        handles=handles,
        fontsize=7,
        loc="center left",
        bbox_to_anchor=(1.02, 0.5),
        title="ISMN sensor type (stations)",
        title_fontsize=7,
        frameon=False,
    )
    ax.set_title(f"Stations (N = {lat.size})" + ("" if has_land else " - coastlines unavailable"))
    return fig
