"""Offline Natural Earth data for cartopy: TopoJSON decoding, shapefiles, no downloads."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib
import numpy as np
import pytest

from smlib.report.naturalearth import (
    NATURAL_EARTH_LAYERS,
    CartopyDownloadBlocked,
    NaturalEarthMissing,
    block_cartopy_downloads,
    build_natural_earth,
    configure_cartopy,
    decode_arcs,
)

matplotlib.use("Agg")

# Quantized TopoJSON on a 1-degree grid: lon = x - 180, lat = y - 90.
TRANSFORM = {"scale": [1.0, 1.0], "translate": [-180.0, -90.0]}


def _delta(points: list[tuple[float, float]]) -> list[list[int]]:
    """Delta-encode (lon, lat) points on the TRANSFORM grid."""
    q = np.array([(lon + 180.0, lat + 90.0) for lon, lat in points], dtype=int)
    return np.vstack([q[:1], np.diff(q, axis=0)]).tolist()


@pytest.fixture
def toy_topology(tmp_path: Path) -> Path:
    """Three countries: two squares sharing an edge, one island across the antimeridian,
    and a polar cap whose ring winds once around the South Pole."""
    arcs = [
        _delta([(0, 0), (0, 10), (10, 10)]),  # 0: A's west and north edges
        _delta([(10, 10), (10, 0)]),  # 1: shared A|B edge, north -> south
        _delta([(10, 0), (0, 0)]),  # 2: A's south edge
        _delta([(10, 10), (20, 10), (20, 0), (10, 0)]),  # 3: B's outer edges
        _delta([(175, 40), (180, 40), (-180, 40), (-175, 40), (-175, 50)]),  # 4: island south/east
        _delta([(-175, 50), (-180, 50), (180, 50), (175, 50), (175, 40)]),  # 5: island north/west
        _delta([(-180, -70), (0, -65), (180, -70), (-180, -70)]),  # 6: polar ring
    ]
    countries = [
        {"type": "Polygon", "arcs": [[0, 1, 2]], "id": "001", "properties": {"name": "A"}},
        {"type": "Polygon", "arcs": [[3, ~1]], "id": "002", "properties": {"name": "B"}},
        {"type": "Polygon", "arcs": [[4, 5]], "id": "003", "properties": {"name": "Island"}},
        {"type": "Polygon", "arcs": [[6]], "id": "010", "properties": {"name": "Cap"}},
    ]
    land = {"type": "MultiPolygon", "arcs": [[[0, 3, 2]], [[4, 5]], [[6]]]}
    topo = {
        "type": "Topology",
        "transform": TRANSFORM,
        "arcs": arcs,
        "objects": {
            "countries": {"type": "GeometryCollection", "geometries": countries},
            "land": {"type": "GeometryCollection", "geometries": [land]},
        },
    }
    path = tmp_path / "toy-110m.json"
    path.write_text(json.dumps(topo))
    return path


def test_decode_arcs_undoes_delta_encoding_and_quantization() -> None:
    topo = {
        "transform": {"scale": [0.5, 0.25], "translate": [-10.0, 5.0]},
        "arcs": [[[2, 4], [2, -4], [-1, 0]]],
    }
    (arc,) = decode_arcs(topo)
    np.testing.assert_allclose(arc, [[-9.0, 6.0], [-8.0, 5.0], [-8.5, 5.0]])


def test_decode_arcs_rejects_unquantized_topology() -> None:
    with pytest.raises(ValueError, match="quantized"):
        decode_arcs({"arcs": []})


def test_toy_shapefiles_have_the_known_geometry(toy_topology: Path, tmp_path: Path) -> None:
    import cartopy.io.shapereader as shpreader

    out = build_natural_earth(toy_topology, tmp_path / "ne")
    configure_cartopy(out, offline=False)

    def geoms(category: str, name: str) -> list:
        return list(
            shpreader.Reader(
                out / f"shapefiles/natural_earth/{category}/ne_110m_{name}.shp"
            ).records()
        )

    countries = {r.attributes["NAME"]: r.geometry for r in geoms("cultural", "admin_0_countries")}
    assert countries["A"].area == pytest.approx(100.0)
    assert countries["B"].area == pytest.approx(100.0)
    # the island is cut at the antimeridian into two 5 x 10 degree pieces, both inside the map
    island = countries["Island"]
    assert island.area == pytest.approx(100.0)
    assert len(island.geoms) == 2
    assert island.bounds == pytest.approx((-180.0, 40.0, 180.0, 50.0))
    # the polar cap is closed through the pole: everything south of its coast
    cap = countries["Cap"]
    assert cap.bounds[1] == pytest.approx(-90.0)
    assert cap.area == pytest.approx(360 * 20 + 0.5 * 360 * 5)
    assert all(g.is_valid for g in countries.values())

    (land,) = [r.geometry for r in geoms("physical", "land")]
    (ocean,) = [r.geometry for r in geoms("physical", "ocean")]
    assert land.area == pytest.approx(200.0 + 100.0 + cap.area)
    assert land.area + ocean.area == pytest.approx(360.0 * 180.0)

    # the only land boundary is the shared A|B edge; no coastline crosses the map
    borders = [r.geometry for r in geoms("cultural", "admin_0_boundary_lines_land")]
    assert len(borders) == 1 and borders[0].length == pytest.approx(10.0)
    coast = [r.geometry for r in geoms("physical", "coastline")]
    assert all(np.abs(np.diff(np.asarray(c.coords)[:, 0])).max() <= 180.0 for c in coast)
    source = json.loads((out / "SOURCE.json").read_text())
    assert source["n_countries"] == 4


def test_configure_cartopy_names_the_fix_when_data_are_missing(tmp_path: Path) -> None:
    with pytest.raises(NaturalEarthMissing, match=r"\./run setup"):
        configure_cartopy(tmp_path / "nothing-here")


def test_block_cartopy_downloads_raises_and_restores() -> None:
    import cartopy.io.shapereader as shpreader
    from cartopy.io import Downloader

    original = Downloader._urlopen
    with block_cartopy_downloads(), pytest.raises(CartopyDownloadBlocked, match="download"):
        # 10m rivers are not shipped: cartopy would fetch them from the internet
        shpreader.natural_earth(
            resolution="10m", category="physical", name="rivers_lake_centerlines"
        )
    assert Downloader._urlopen is original


def test_real_map_renders_offline(tmp_path: Path) -> None:
    """The layers built by ./run setup draw a map with every download forbidden."""
    import cartopy
    import cartopy.crs as ccrs
    import cartopy.feature as cfeature
    import matplotlib.pyplot as plt

    saved = dict(cartopy.config)
    try:
        folder = configure_cartopy()
        with block_cartopy_downloads():
            fig = plt.figure(figsize=(4, 2))
            ax = fig.add_subplot(projection=ccrs.Robinson())
            ax.set_global()
            for feature in (cfeature.OCEAN, cfeature.LAND, cfeature.COASTLINE, cfeature.BORDERS):
                ax.add_feature(feature)
            fig.savefig(tmp_path / "map.png")
            plt.close(fig)
    finally:
        cartopy.config.clear()
        cartopy.config.update(saved)
    assert (tmp_path / "map.png").stat().st_size > 5_000
    for category, name in NATURAL_EARTH_LAYERS:
        assert (folder / f"shapefiles/natural_earth/{category}/ne_110m_{name}.shp").is_file()
