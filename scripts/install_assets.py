"""Install the book's offline assets from ``node_modules`` (run by ``./run setup`` after ``npm ci``).

1. Copies MathJax 3, require.js and the ipywidgets HTML manager into ``book/_assets/vendor/``
   so the HTML book shows math and widgets with no CDN. ``book/_config.yml`` adds ``_assets``
   to Sphinx's ``html_static_path`` (the files appear under ``_static/vendor/`` in the HTML).
   Not ``book/_static``: Jupyter Book adds every ``.js`` file found there to every page.
2. Builds the 1:110m Natural Earth shapefiles that cartopy needs from the ``world-atlas``
   TopoJSON into ``build/cartopy_data`` (see :mod:`smlib.report.naturalearth`).

Idempotent: a stamp holding the sha256 of ``package-lock.json`` and of this script makes a
second run a no-op; ``--force`` rebuilds.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NODE = ROOT / "node_modules"
VENDOR = ROOT / "book" / "_assets" / "vendor"
STAMP = VENDOR / ".stamp"

log = logging.getLogger("install_assets")

# package -> [(file or folder in the npm package, destination under vendor/)]
# MathJax: the combined component Sphinx loads (tex-mml-chtml.js) plus the folders it loads
# lazily (CHTML fonts, TeX extensions, menu, accessibility), keeping es5/'s layout so relative
# paths inside MathJax still resolve; its other combined bundles are not needed. The HTML
# manager: its AMD embed bundle with the fonts and chunks webpack emitted next to it.
VENDORED: dict[str, list[tuple[str, str]]] = {
    "mathjax": [
        ("es5/tex-mml-chtml.js", "mathjax/tex-mml-chtml.js"),
        *((f"es5/{d}", f"mathjax/{d}") for d in ("input", "output", "ui", "a11y", "sre")),
        ("es5/adaptors", "mathjax/adaptors"),
        ("LICENSE", "mathjax/LICENSE"),
    ],
    "requirejs": [("require.js", "requirejs/require.js"), ("README.md", "requirejs/README.md")],
    "@jupyter-widgets/html-manager": [("dist", "html-manager")],
}


def _stamp_value() -> str:
    digest = hashlib.sha256()
    for path in (ROOT / "package-lock.json", Path(__file__)):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _package_version(package: str) -> str:
    meta = NODE / package / "package.json"
    if not meta.is_file():
        raise FileNotFoundError(f"{meta} not found: run `npm ci` in {ROOT} first")
    return json.loads(meta.read_text())["version"]


def _copy(src: Path, dst: Path) -> None:
    if src.is_dir():
        shutil.copytree(src, dst, ignore=shutil.ignore_patterns("*.map"))
    else:
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst)


def vendor_assets() -> dict[str, str]:
    """Copy the pinned browser assets into ``book/_assets/vendor``; return package versions."""
    versions = {pkg: _package_version(pkg) for pkg in VENDORED}
    VENDOR.parent.mkdir(parents=True, exist_ok=True)
    from smlib.atomic import atomic_dir  # installed by `pip install -e .` just before

    with atomic_dir(VENDOR) as tmp:
        for package, items in VENDORED.items():
            for item, dest in items:
                src = NODE / package / item
                if not src.exists():
                    raise FileNotFoundError(f"{src} missing from the {package} npm package")
                _copy(src, tmp / dest)
        (tmp / "VERSIONS.json").write_text(json.dumps(versions, indent=2, sort_keys=True) + "\n")
    return versions


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="rebuild even if up to date")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")

    from smlib.report.naturalearth import (
        NaturalEarthMissing,
        build_natural_earth,
        configure_cartopy,
    )

    want = _stamp_value()
    try:
        configure_cartopy()
        have_maps = True
    except NaturalEarthMissing:
        have_maps = False
    if not args.force and have_maps and STAMP.is_file() and STAMP.read_text().strip() == want:
        log.info("book assets and Natural Earth data are up to date")
        return 0

    versions = vendor_assets()
    log.info(
        "vendored into %s: %s",
        VENDOR.relative_to(ROOT),
        ", ".join(f"{k}@{v}" for k, v in versions.items()),
    )
    build_natural_earth(NODE / "world-atlas" / "countries-110m.json")
    STAMP.write_text(want + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
