"""Offline Natural Earth data for cartopy.

Cartopy downloads Natural Earth shapefiles the first time a map asks for coastlines, land or
borders. The book must render its maps with no network, so the set-up builds the 1:110m layers
once from the ``world-atlas`` npm package (Natural Earth 110m as TopoJSON, pinned in
``package-lock.json``) and :func:`configure_cartopy` points cartopy at them.

Layers written (``{root}/shapefiles/natural_earth/{category}/ne_110m_{name}.shp``):

==========  ==================================  =============================================
category    name                                derived from the TopoJSON
==========  ==================================  =============================================
physical    ``land``                            polygons of the ``land`` object
physical    ``ocean``                           the globe minus the land
physical    ``coastline``                       arcs of the ``land`` object (open lines)
cultural    ``admin_0_countries``               polygons of the ``countries`` object
cultural    ``admin_0_boundary_lines_land``     arcs shared by two different countries
==========  ==================================  =============================================

TopoJSON stores each line once as an *arc*: quantized integer positions, delta-encoded, mapped to
longitude/latitude by ``lon = x * scale_x + translate_x`` (likewise for latitude); a negative arc
index ``~i`` means arc ``i`` reversed. Rings that wrap across the antimeridian are cut there so
that the planar shapefiles are valid, and Antarctica's ring is closed through the South Pole.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from smlib.atomic import atomic_dir
from smlib.errors import CartopyDownloadBlocked, NaturalEarthMissing

__all__ = [
    "NATURAL_EARTH_LAYERS",
    "CartopyDownloadBlocked",
    "NaturalEarthMissing",
    "block_cartopy_downloads",
    "build_natural_earth",
    "configure_cartopy",
    "decode_arcs",
    "natural_earth_dir",
]

log = logging.getLogger(__name__)

#: (category, name) of every layer written by :func:`build_natural_earth`, at 110m.
NATURAL_EARTH_LAYERS: tuple[tuple[str, str], ...] = (
    ("physical", "land"),
    ("physical", "ocean"),
    ("physical", "coastline"),
    ("cultural", "admin_0_countries"),
    ("cultural", "admin_0_boundary_lines_land"),
)

_ENV_VAR = "SMLIB_CARTOPY_DATA"
_RESOLUTION = "110m"
_WGS84_PRJ = (
    'GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]],'
    'PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]'
)


# --------------------------------------------------------------------------------------------
# where the data live and how cartopy is pointed at them
# --------------------------------------------------------------------------------------------
def natural_earth_dir() -> Path:
    """Return the folder that holds ``shapefiles/natural_earth/...``.

    ``$SMLIB_CARTOPY_DATA`` when set, otherwise ``build/cartopy_data`` in the repository that
    holds this (editable) installation of smlib.
    """
    env = os.environ.get(_ENV_VAR)
    if env:
        return Path(env).expanduser().resolve()
    return Path(__file__).resolve().parents[2] / "build" / "cartopy_data"


def _layer_path(root: Path, category: str, name: str) -> Path:
    return root / "shapefiles" / "natural_earth" / category / f"ne_{_RESOLUTION}_{name}.shp"


def configure_cartopy(root: str | os.PathLike[str] | None = None, *, offline: bool = True) -> Path:
    """Point cartopy at the offline Natural Earth data and return that folder.

    Sets ``cartopy.config['pre_existing_data_dir']`` and ``cartopy.config['data_dir']`` so that
    cartopy finds the 110m layers without downloading and, should a map ask for anything else,
    would write into the project folder rather than the user's home.

    Parameters
    ----------
    root
        Folder holding ``shapefiles/natural_earth/{physical,cultural}``; default
        :func:`natural_earth_dir`.
    offline
        Also make every later cartopy download raise :class:`CartopyDownloadBlocked` for the
        rest of the session (the notebooks use this, so a map that asks for data we do not
        ship fails loudly instead of fetching it). ``False`` leaves downloads alone.

    Raises
    ------
    NaturalEarthMissing
        If any of :data:`NATURAL_EARTH_LAYERS` is missing; the message says how to build them.
    """
    import cartopy

    folder = Path(root).resolve() if root is not None else natural_earth_dir()
    missing = [
        str(_layer_path(folder, c, n))
        for c, n in NATURAL_EARTH_LAYERS
        if not _layer_path(folder, c, n).is_file()
    ]
    if missing:
        raise NaturalEarthMissing(
            f"offline Natural Earth data for cartopy are missing in {folder} "
            f"({len(missing)} of {len(NATURAL_EARTH_LAYERS)} layers, e.g. {missing[0]}). "
            "Run `./run setup` in the repository (it builds them from the pinned world-atlas "
            f"npm package), or set ${_ENV_VAR} to a folder that holds them."
        )
    cartopy.config["pre_existing_data_dir"] = folder
    cartopy.config["data_dir"] = folder
    if offline:
        from cartopy.io import Downloader

        Downloader._urlopen = _refuse_download
    return folder


def _refuse_download(self: Any, url: str) -> Any:
    raise CartopyDownloadBlocked(
        f"cartopy tried to download {url}; smlib renders maps offline and ships only the "
        "110m Natural Earth layers built by `./run setup` (see smlib.report.naturalearth)."
    )


@contextlib.contextmanager
def block_cartopy_downloads() -> Iterator[None]:
    """Make every cartopy download attempt raise :class:`CartopyDownloadBlocked`.

    Use as a context manager (or from a pytest fixture) around code that must work offline::

        with block_cartopy_downloads():
            ax.coastlines()
            fig.savefig(...)
    """
    from cartopy.io import Downloader

    original = Downloader._urlopen
    Downloader._urlopen = _refuse_download
    try:
        yield
    finally:
        Downloader._urlopen = original


# --------------------------------------------------------------------------------------------
# TopoJSON -> geometries
# --------------------------------------------------------------------------------------------
def decode_arcs(topology: dict[str, Any]) -> list[np.ndarray]:
    """Decode the arcs of a quantized, delta-encoded TopoJSON topology.

    Parameters
    ----------
    topology
        Parsed TopoJSON with ``arcs`` and ``transform`` (``scale``, ``translate``).

    Returns
    -------
    list of numpy.ndarray
        One ``(n_points, 2)`` float64 array of (longitude, latitude) in degrees per arc.

    Examples
    --------
    >>> topo = {"transform": {"scale": [0.5, 0.25], "translate": [-10.0, 5.0]},
    ...         "arcs": [[[2, 4], [2, -4], [-1, 0]]]}
    >>> decode_arcs(topo)[0].tolist()
    [[-9.0, 6.0], [-8.0, 5.0], [-8.5, 5.0]]
    """
    transform = topology.get("transform")
    if transform is None:
        raise ValueError("TopoJSON without a 'transform' is not quantized; expected world-atlas")
    scale = np.asarray(transform["scale"], dtype=np.float64)
    translate = np.asarray(transform["translate"], dtype=np.float64)
    return [
        np.cumsum(np.asarray(arc, dtype=np.int64), axis=0) * scale + translate
        for arc in topology["arcs"]
    ]


def _arc(arcs: Sequence[np.ndarray], index: int) -> np.ndarray:
    return arcs[~index][::-1] if index < 0 else arcs[index]


def _ring(arcs: Sequence[np.ndarray], indices: Sequence[int]) -> np.ndarray:
    """Join arcs into one closed ring; consecutive arcs share their end point."""
    parts = [_arc(arcs, i) for i in indices]
    return np.concatenate([parts[0], *(p[1:] for p in parts[1:])])


def _split_at_jumps(line: np.ndarray) -> list[np.ndarray]:
    """Cut a line where it jumps across the antimeridian (|dlon| > 180)."""
    jumps = np.flatnonzero(np.abs(np.diff(line[:, 0])) > 180.0) + 1
    return [p for p in np.split(line, jumps) if len(p) >= 2]


def _ring_to_planar(ring: np.ndarray) -> Any:
    """Return a valid planar shapely geometry for one spherical ring."""
    import shapely
    from shapely.geometry import Polygon, box

    dlon = np.diff(ring[:, 0])
    jumps = np.flatnonzero(np.abs(dlon) > 180.0)
    if len(jumps) % 2 == 1:
        # The ring winds once around a pole (Antarctica): close it along the map edge.
        j = int(jumps[0])
        pole = -90.0 if ring[:, 1].mean() < 0 else 90.0
        a, b = ring[j], ring[j + 1]
        ring = np.concatenate([ring[: j + 1], [[a[0], pole], [b[0], pole]], ring[j + 1 :]])
        return shapely.make_valid(Polygon(ring))
    if len(jumps) == 0:
        return shapely.make_valid(Polygon(ring))
    # Crosses the antimeridian and back: unwrap to a continuous ring, then cut it into the
    # pieces that fall on each copy of the map and shift those back onto [-180, 180].
    unwrapped = ring.copy()
    unwrapped[:, 0] = np.unwrap(ring[:, 0], period=360.0)
    poly = shapely.make_valid(Polygon(unwrapped))
    pieces = [
        shapely.affinity.translate(poly.intersection(box(lo, -90.0, lo + 360.0, 90.0)), -shift)
        for lo, shift in ((-540.0, -360.0), (-180.0, 0.0), (180.0, 360.0))
    ]
    return shapely.union_all(pieces)


def _polygon_geometry(arcs: Sequence[np.ndarray], geometry: dict[str, Any]) -> Any:
    """Shapely (multi)polygon of a TopoJSON Polygon or MultiPolygon object."""
    import shapely

    kind = geometry["type"]
    if kind == "Polygon":
        polygons = [geometry["arcs"]]
    elif kind == "MultiPolygon":
        polygons = geometry["arcs"]
    else:
        raise ValueError(f"expected a Polygon or MultiPolygon TopoJSON object, got {kind!r}")
    pieces = []
    for rings in polygons:
        exterior = _ring_to_planar(_ring(arcs, rings[0]))
        for hole in rings[1:]:
            exterior = exterior.difference(_ring_to_planar(_ring(arcs, hole)))
        pieces.append(exterior)
    return shapely.union_all(pieces)


def _polygons(geom: Any) -> list[Any]:
    """The non-empty polygons of any shapely geometry, exterior clockwise (shapefile order)."""
    from shapely.geometry import Polygon
    from shapely.geometry.polygon import orient

    parts = getattr(geom, "geoms", [geom])
    out = []
    for part in parts:
        if isinstance(part, Polygon) and not part.is_empty and part.area > 0:
            out.append(orient(part, sign=-1.0))
        elif hasattr(part, "geoms"):
            out.extend(_polygons(part))
    return out


def _shapefile_rings(geom: Any) -> list[list[tuple[float, float]]]:
    rings: list[list[tuple[float, float]]] = []
    for poly in _polygons(geom):
        rings.append([tuple(xy) for xy in poly.exterior.coords])
        rings.extend([tuple(xy) for xy in hole.coords] for hole in poly.interiors)
    return rings


def _arc_usage(geometries: Sequence[dict[str, Any]]) -> dict[int, set[int]]:
    """Map arc index -> set of geometry numbers that use it."""
    usage: dict[int, set[int]] = {}
    for number, geometry in enumerate(geometries):
        polygons = [geometry["arcs"]] if geometry["type"] == "Polygon" else geometry.get("arcs", [])
        for rings in polygons:
            for ring in rings:
                for index in ring:
                    usage.setdefault(index if index >= 0 else ~index, set()).add(number)
    return usage


# --------------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------------
def _write_polygons(path: Path, records: Sequence[tuple[dict[str, Any], Any]]) -> None:
    import shapefile

    with shapefile.Writer(str(path), shapeType=shapefile.POLYGON, encoding="utf-8") as w:
        w.field("NAME", "C", size=80)
        w.field("ISO_N3", "C", size=3)
        for attrs, geom in records:
            rings = _shapefile_rings(geom)
            if not rings:
                continue
            w.poly(rings)
            w.record(attrs.get("NAME", ""), attrs.get("ISO_N3", ""))
    _write_sidecars(path)


def _write_lines(path: Path, lines: Sequence[np.ndarray], kind: str) -> None:
    import shapefile

    with shapefile.Writer(str(path), shapeType=shapefile.POLYLINE, encoding="utf-8") as w:
        w.field("FEATURECLA", "C", size=40)
        for line in lines:
            w.line([[tuple(xy) for xy in line.tolist()]])
            w.record(kind)
    _write_sidecars(path)


def _write_sidecars(shp: Path) -> None:
    shp.with_suffix(".prj").write_text(_WGS84_PRJ)
    shp.with_suffix(".cpg").write_text("UTF-8")


def build_natural_earth(
    countries_topojson: str | os.PathLike[str],
    out_dir: str | os.PathLike[str] | None = None,
) -> Path:
    """Build the 110m Natural Earth shapefiles that cartopy needs from world-atlas TopoJSON.

    The folder is assembled in a temporary sibling and swapped in at the end, so a reader never
    sees half-written shapefiles. A ``SOURCE.json`` records the input's sha256.

    Parameters
    ----------
    countries_topojson
        ``world-atlas/countries-110m.json`` (objects ``countries`` and ``land``).
    out_dir
        Destination root; default :func:`natural_earth_dir`.

    Returns
    -------
    pathlib.Path
        The destination root, ready for :func:`configure_cartopy`.
    """
    src = Path(countries_topojson)
    if not src.is_file():
        raise FileNotFoundError(f"{src}: world-atlas TopoJSON not found (run `npm ci` first)")
    raw = src.read_bytes()
    topology = json.loads(raw)
    objects = topology.get("objects", {})
    for name in ("countries", "land"):
        if name not in objects:
            raise ValueError(f"{src}: TopoJSON has no '{name}' object (objects: {sorted(objects)})")
    arcs = decode_arcs(topology)

    import shapely
    from shapely.geometry import box

    land_geoms = [_polygon_geometry(arcs, g) for g in objects["land"]["geometries"]]
    land = shapely.union_all(land_geoms)
    ocean = box(-180.0, -90.0, 180.0, 90.0).difference(land)

    land_arcs = sorted(_arc_usage(objects["land"]["geometries"]))
    coast = [part for i in land_arcs for part in _split_at_jumps(arcs[i])]

    countries = objects["countries"]["geometries"]
    country_records = [
        (
            {"NAME": g.get("properties", {}).get("name", ""), "ISO_N3": str(g.get("id", ""))},
            _polygon_geometry(arcs, g),
        )
        for g in countries
        if g.get("type") in ("Polygon", "MultiPolygon")
    ]
    shared = sorted(i for i, users in _arc_usage(countries).items() if len(users) == 2)
    borders = [part for i in shared for part in _split_at_jumps(arcs[i])]

    dest = Path(out_dir) if out_dir is not None else natural_earth_dir()
    dest.parent.mkdir(parents=True, exist_ok=True)
    with atomic_dir(dest) as tmp:
        for category in ("physical", "cultural"):
            (tmp / "shapefiles" / "natural_earth" / category).mkdir(parents=True)
        _write_polygons(_layer_path(tmp, "physical", "land"), [({}, land)])
        _write_polygons(_layer_path(tmp, "physical", "ocean"), [({}, ocean)])
        _write_lines(_layer_path(tmp, "physical", "coastline"), coast, "Coastline")
        _write_polygons(_layer_path(tmp, "cultural", "admin_0_countries"), country_records)
        _write_lines(
            _layer_path(tmp, "cultural", "admin_0_boundary_lines_land"),
            borders,
            "International boundary (verify)",
        )
        (tmp / "SOURCE.json").write_text(
            json.dumps(
                {
                    "source": str(src.name),
                    "sha256": hashlib.sha256(raw).hexdigest(),
                    "resolution": _RESOLUTION,
                    "layers": [f"{c}/ne_{_RESOLUTION}_{n}" for c, n in NATURAL_EARTH_LAYERS],
                    "n_countries": len(country_records),
                    "n_coastline_lines": len(coast),
                    "n_boundary_lines": len(borders),
                },
                indent=2,
            )
        )
    log.info(
        "Natural Earth 110m for cartopy: %d countries, %d coastline and %d boundary lines in %s",
        len(country_records),
        len(coast),
        len(borders),
        dest,
    )
    return dest
