"""The whole offline book path: notebook -> papermill -> executed copy -> HTML -> browser.

A tiny book (the real book sources and notebooks, with tiny parameters) is built once into a
temporary folder; the built HTML is then opened in headless Chromium over the DevTools
protocol, served from 127.0.0.1, with every non-local host name unresolvable. The browser test
skips when no Chromium is installed (``./run test`` installs Debian's ``chromium``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import nbformat
import pytest
import yaml
from _browser import Chromium, find_chromium, is_local, serve

from smlib.report.book import load_plan

ROOT = Path(__file__).resolve().parents[1]
BOOK_SOURCES = ("_config.yml", "references.bib", "_assets")
#: Tiny parameters per notebook, on top of params/quick.yml (keep every notebook listed there).
TINY_PARAMETERS: dict[str, dict] = {
    "00_overview": {"map_extent": [-170.0, 20.0, 20.0, 75.0]},
    "07_explorer": {"dpi": 30},
}
#: A tiny twin and a tiny model for every notebook (the same scale as tests/test_notebooks_run).
TINY_TWIN = {"n_stations": 8, "n_days": 120, "seed": 0}
TINY_DEFAULTS = {
    "overrides": [
        "train.max_epochs=1",
        "model.hidden_size=8",
        "train.max_samples_per_epoch=512",
        "train.max_val_samples=512",
        "train.num_threads=1",
    ],
    "min_days": 30,
}
PAGES = (
    "intro.html",
    "methods.html",
    "reproducibility.html",
    "references.html",
)


def test_npm_assets_are_pinned_and_vendored_from_the_lock() -> None:
    """package.json pins exact versions; the vendored copies are those of package-lock.json."""
    wanted = json.loads((ROOT / "package.json").read_text())["dependencies"]
    assert all(re.fullmatch(r"\d+\.\d+\.\d+", v) for v in wanted.values()), wanted
    assert wanted["mathjax"].startswith("3."), "Sphinx 7 loads MathJax 3 (tex-mml-chtml.js)"
    locked = json.loads((ROOT / "package-lock.json").read_text())["packages"]
    for name, version in wanted.items():
        assert locked[f"node_modules/{name}"]["version"] == version
    vendored = json.loads((ROOT / "book" / "_assets" / "vendor" / "VERSIONS.json").read_text())
    assert vendored == {k: v for k, v in wanted.items() if k != "world-atlas"}


@pytest.fixture(scope="module")
def tiny_book(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Build the book with tiny parameters into a temporary folder; return its paths."""
    vendor = ROOT / "book" / "_assets" / "vendor" / "VERSIONS.json"
    assert vendor.is_file(), "book assets missing: run `./run setup` (npm ci + install_assets)"
    tmp = tmp_path_factory.mktemp("book")
    book = tmp / "book"
    book.mkdir()
    for name in BOOK_SOURCES:
        src = ROOT / "book" / name
        if src.is_dir():
            shutil.copytree(src, book / name)
        else:
            shutil.copy2(src, book / name)
    for page in ROOT.joinpath("book").glob("*.md"):
        shutil.copy2(page, book / page.name)

    plan = yaml.safe_load((ROOT / "params" / "quick.yml").read_text())
    for entry in plan["notebooks"]:
        stem = Path(entry["notebook"]).stem
        entry["parameters"] = {**(entry.get("parameters") or {}), **TINY_PARAMETERS.get(stem, {})}
    plan["description"] = "Tiny parameters of the test suite."
    plan["twin"] = TINY_TWIN
    plan["defaults"] = TINY_DEFAULTS
    params = tmp / "tiny.yml"
    params.write_text(yaml.safe_dump(plan, sort_keys=False))

    # The book is built in a fresh interpreter, as `smlib book` runs it: in this process, after
    # the dask-distributed tests, nbclient once waited forever on an idle kernel (an event-loop
    # left-over), and a subprocess is also the honest test of the command.
    script = (
        "import sys, smlib.report.book as b, smlib.report.book.build as build\n"
        # other work on smlib must not make the "skip when unchanged" check flaky
        "build.library_digest = lambda pattern='**/*.py': 'fixed'\n"
        "kw = dict(params=sys.argv[1], book_dir=sys.argv[2], work_root=sys.argv[3], data=None)\n"
        "b.build_book('quick', skip_html=sys.argv[4] == 'skip_html', **kw)\n"
    )
    env = {**os.environ, "SMLIB_CELL_TIMEOUT": "180"}  # a hung cell is retried once, never blocks

    def build(times: str) -> None:
        proc = subprocess.run(
            [sys.executable, "-c", script, str(params), str(book), str(tmp / "work"), times],
            capture_output=True, text=True, env=env, timeout=1500,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-4000:]

    build("once")
    index = book / "_build" / "html" / "index.html"
    timings_first = json.loads((book / "sections" / "_timings.json").read_text())
    build("skip_html")
    timings_second = json.loads((book / "sections" / "_timings.json").read_text())
    return {
        "book": book,
        "html": book / "_build" / "html",
        "index": index,
        "plan": load_plan(params),
        "first": timings_first,
        "second": timings_second,
    }


@pytest.mark.slow
def test_every_notebook_executed_into_a_copy_with_injected_parameters(tiny_book: dict) -> None:
    sections = tiny_book["book"] / "sections"
    for spec in tiny_book["plan"].notebooks:
        copy = sections / f"{spec.stem}.ipynb"
        nb = nbformat.read(copy, as_version=4)
        injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
        assert len(injected) == 1, f"{copy}: papermill did not inject parameters"
        # one visible parameters cell: the executed values; the defaults cell is not shown
        (defaults,) = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert "remove-cell" in defaults.metadata["tags"]
        assert "remove-cell" not in injected[0].metadata["tags"]
        for name, value in TINY_PARAMETERS.get(spec.stem, {}).items():
            assert f"{name} = {value!r}" in injected[0].source
        assert any(c.get("outputs") for c in nb.cells if c.cell_type == "code")
        assert (sections / f"{spec.stem}.key.json").is_file()
        assert (tiny_book["html"] / "sections" / f"{spec.stem}.html").is_file()
    assert tiny_book["index"] == tiny_book["html"] / "index.html"
    assert tiny_book["index"].is_file()


@pytest.mark.slow
def test_second_run_reuses_unchanged_notebooks(tiny_book: dict) -> None:
    first = tiny_book["first"]["notebooks"]
    second = tiny_book["second"]["notebooks"]
    assert {t["status"] for t in first.values()} == {"executed"}
    assert {t["status"] for t in second.values()} == {"up to date"}
    assert tiny_book["first"]["html_s"] > 0


@pytest.mark.slow
def test_book_states_its_profile_and_timings(tiny_book: dict) -> None:
    intro = (tiny_book["html"] / "intro.html").read_text()
    assert "<strong>quick</strong> profile" in intro
    # the results at a glance hold this build's numbers
    work = tiny_book["book"].parent / "work" / "book-work" / "quick"
    (summary_path,) = work.glob("report_*/summary.json")
    summary = json.loads(summary_path.read_text())
    for method, value in summary["median_hf_r_vs_truth"].items():
        assert f"{value:.2f}".replace("-", "−") in intro, method
    repro = (tiny_book["html"] / "reproducibility.html").read_text()
    for spec in tiny_book["plan"].notebooks:
        assert spec.stem in repro
    assert "mathjax" in repro and "3.2.2" in repro


@pytest.mark.slow
def test_html_references_no_remote_scripts_or_styles(tiny_book: dict) -> None:
    """Static check (no browser): every script, stylesheet and image is served locally."""
    pattern = re.compile(r'<(?:script|link|img)\b[^>]*?\b(?:src|href)="([^"]+)"', re.I)
    offenders = []
    for page in tiny_book["html"].rglob("*.html"):
        for tag_url in pattern.findall(page.read_text()):
            if tag_url.startswith(("http:", "https:", "//")) and not is_local(tag_url):
                offenders.append(f"{page.name}: {tag_url}")
    assert not offenders


#: The width of the window the browser test renders every page in, CSS pixels.
VIEWPORT_WIDTH = 1280
#: Visible elements of the page body that end right of the viewport and are not inside a box
#: that scrolls sideways within it (i.e. content cut off or pushing the page wider).
TOO_WIDE = """(() => {
  const vw = document.documentElement.clientWidth;
  const scrolls = (e) => {
    for (let a = e.parentElement; a && a !== document.body; a = a.parentElement) {
      const x = getComputedStyle(a).overflowX;
      if ((x === 'auto' || x === 'scroll') && a.getBoundingClientRect().right <= vw + 1) return true;
    }
    return false;
  };
  const main = document.querySelector('main') || document.body;
  const wide = [...main.querySelectorAll('*')].filter((e) => {
    const r = e.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && r.right > vw + 1 && !scrolls(e);
  });
  return {
    page: document.documentElement.scrollWidth - window.innerWidth,
    elements: wide.slice(0, 5).map((e) => e.tagName + '.' + [...e.classList].join('.')
      + ' right=' + Math.round(e.getBoundingClientRect().right)),
  };
})()"""
#: Every image in the page, with whether it loaded.
IMAGES = (
    "[...document.images].map(i => [i.getAttribute('src').slice(0, 80),"
    " i.complete && i.naturalWidth > 0])"
)
#: The explorer's visible pictures (record and zoom) as checksums of their bytes: the widget
#: manager gives every rendering a fresh blob: URL, so the URL does not identify a picture.
EXPLORER_PICTURES = """Promise.all(
  [...document.querySelectorAll('.smlib-explorer-plots img')]
    .filter((i) => i.offsetParent !== null)
    .map((i) => fetch(i.src).then((r) => r.arrayBuffer()).then((buf) => {
      let h = 2166136261;
      for (const b of new Uint8Array(buf)) { h = Math.imul(h ^ b, 16777619) >>> 0; }
      return h.toString(16) + ':' + buf.byteLength;
    }))
).then((sums) => sums.join())"""


def _choose(browser: Chromium, select_css: str, index: str) -> None:
    """Pick an option of a widget's <select> as a user would (change event)."""
    browser.evaluate(
        f"(() => {{ const s = document.querySelector({json.dumps(select_css)});"
        f" s.selectedIndex = {index};"
        " s.dispatchEvent(new Event('change', {bubbles: true})); return true; })()"
    )


def _type(browser: Chromium, input_css: str, text: str, enter: bool) -> None:
    """Type into a text box (input event per keystroke), then Enter (change event)."""
    browser.evaluate(f"document.querySelector({json.dumps(input_css)}).focus()")
    browser.call("Input.insertText", text=text)
    if enter:
        for kind in ("keyDown", "keyUp"):
            browser.call(
                "Input.dispatchKeyEvent",
                type=kind,
                key="Enter",
                code="Enter",
                windowsVirtualKeyCode=13,
                text="\r" if kind == "keyDown" else "",
            )


def _changed(browser: Chromium, expression: str, before: str) -> str:
    """Wait until ``expression`` evaluates to something other than ``before``."""
    return browser.wait_for(
        f"(async () => {{ const v = await ({expression});"
        f" return v !== {json.dumps(before)} && v; }})()"
    )


def _check_explorer(browser: Chromium) -> None:
    """Kernel-free explorer: every control changes the picture, without a kernel."""
    station_select = ".smlib-explorer-station select"
    week_select = ".smlib-explorer-week select"
    browser.wait_for(f"document.querySelector({json.dumps(week_select)})")
    n_options = browser.evaluate(f"document.querySelector({json.dumps(station_select)}).length")
    assert n_options >= 2, "the explorer lists fewer than two stations"
    assert browser.evaluate(f"document.querySelector({json.dumps(week_select)}).length") >= 2
    first = browser.wait_for(EXPLORER_PICTURES)
    assert len(first.split(",")) == 2, "expected the record and the zoomed picture"
    # station: both pictures change
    _choose(browser, station_select, "s.options.length - 1")
    second = _changed(browser, EXPLORER_PICTURES, first)
    assert all(a != b for a, b in zip(first.split(","), second.split(","), strict=True))
    # week: the zoomed picture changes, the record stays
    _choose(browser, week_select, "s.options.length - 1")
    third = _changed(browser, EXPLORER_PICTURES, second)
    assert third.split(",")[0] == second.split(",")[0] and third != second
    # search: part of the first station's label, then Enter, selects it
    label = browser.evaluate(
        f"document.querySelector({json.dumps(station_select)}).options[0].text"
    )
    _type(browser, ".smlib-explorer-search input", label.split(" ")[0][-6:], enter=True)
    browser.wait_for(f"document.querySelector({json.dumps(station_select)}).selectedIndex === 0")
    fourth = _changed(browser, EXPLORER_PICTURES, third)
    assert fourth.split(",")[0] == first.split(",")[0], "search did not bring back station 1"


@pytest.mark.slow
@pytest.mark.browser
def test_pages_render_offline_in_chromium(tiny_book: dict) -> None:
    chromium = find_chromium()
    if chromium is None:
        pytest.skip("chromium not installed (./run test installs it)")
    html = tiny_book["html"]
    sections = [f"sections/{s.stem}.html" for s in tiny_book["plan"].notebooks]
    with serve(html) as server, Chromium(chromium, width=VIEWPORT_WIDTH) as browser:
        loads = {}
        loads["index.html"] = browser.open(f"{server.url}/index.html")
        browser.wait_for("location.pathname.endsWith('/intro.html')")
        assert browser.evaluate("window.innerWidth") == VIEWPORT_WIDTH
        for page in (*PAGES, *sections):
            loads[page] = browser.open(f"{server.url}/{page}")
            browser.wait_for(
                "document.readyState === 'complete' && (window.MathJax === undefined"
                " || MathJax.startup.promise.then(() => true))"
            )
            if page.startswith("sections/"):  # widgets render after the load event
                browser.wait_for(
                    "document.querySelectorAll('.jupyter-widgets-view').length === 0"
                    " || [...document.images].every(i => i.complete)"
                )
            dom = browser.evaluate(
                "({math: document.querySelectorAll('mjx-container').length,"
                " mathErrors: document.querySelectorAll('mjx-merror').length,"
                " rawTex: document.body.innerText.includes('\\\\frac'),"
                f" images: {IMAGES}}})"
            )
            assert dom["mathErrors"] == 0, page
            assert all(ok for _, ok in dom["images"]), f"{page}: images not loaded {dom}"
            wide = browser.evaluate(TOO_WIDE)
            assert wide["page"] <= 0, f"{page} is {wide['page']} px wider than the window"
            assert wide["elements"] == [], f"{page}: cut off at the right edge {wide}"
            if page == "intro.html":
                # results at a glance, from this build's evaluation, linking to the sections
                text = browser.evaluate("document.body.innerText")
                assert "Results at a glance" in text and "HF R against the truth" in text
                links = browser.evaluate(
                    "[...document.querySelectorAll('#results-at-a-glance a')]"
                    ".map(a => a.getAttribute('href'))"
                )
                assert any("sections/04_evaluation.html" in href for href in links), links
            if page == "methods.html":
                assert dom["math"] >= 10, "MathJax did not render the methods' equations"
                assert not dom["rawTex"], "unrendered TeX left on the methods page"
            if page.startswith("sections/"):
                # one parameters cell per section, and no frozen progress bar
                text = browser.evaluate("document.body.innerText")
                assert text.count("parameters this section ran with") == 1, page
                assert "papermill replaces this cell" not in text, f"{page}: the defaults cell"
                assert not re.search(r"\d+%\|", text), f"{page}: a progress bar was saved"
                assert not browser.evaluate(
                    "document.querySelectorAll('.widget-progress, progress').length"
                ), f"{page}: a progress-bar widget was saved"
            if page == "sections/00_overview.html":
                maps = [src for src, _ in dom["images"] if "_images/" in src]
                assert maps, "the station map image is missing"
                assert dom["math"] >= 1
                # the station table scrolls inside the page, folded under a summary when long
                tables = browser.evaluate(
                    "[...document.querySelectorAll('.smlib-table')].map(t =>"
                    " [t.querySelectorAll('tbody tr').length, !!t.closest('details')])"
                )
                assert tables, "the station table is not shown with smlib.report.display.show_table"
                rows, folded = tables[0]  # the first is the station table
                assert folded == (rows > 15), tables
                # the saved widget state renders: tabs per sensor type, switching works
                visible = (
                    "[...document.querySelectorAll('.widget-html-content')]"
                    ".filter(e => e.offsetParent !== null).map(e => e.textContent).join('|')"
                )
                browser.wait_for("document.querySelectorAll('.lm-TabBar-tab').length >= 2")
                before = browser.wait_for(visible)
                browser.click("[...document.querySelectorAll('.lm-TabBar-tab')].pop()")
                after = _changed(browser, visible, before)
                assert after and after != before
            if page == "sections/07_explorer.html":
                _check_explorer(browser)
                images = browser.evaluate(IMAGES)
                assert all(ok for _, ok in images), f"explorer images not loaded {images}"
        served = {path.split("?")[0] for path, status in server.requests if status == 200}

    for page, load in loads.items():
        assert load.non_local_requests() == [], f"{page} requested remote resources"
        failed = [u for u in load.failed_requests() if "/favicon.ico" not in u]
        assert failed == [], f"{page}: failed requests {failed}"
        assert load.exceptions() == [], f"{page}: JavaScript errors {load.exceptions()}"
    assert any(p.startswith("/_images/") and p.endswith(".png") for p in served)
    assert any("/vendor/mathjax/output/chtml/fonts/" in p for p in served), "MathJax fonts"


@pytest.mark.slow
@pytest.mark.browser
def test_book_opened_from_the_file_system_requests_nothing_else(tiny_book: dict) -> None:
    """Opened as files (file://), as a reader who downloads the book would: every request
    stays on the file system, and the widgets and images still render."""
    chromium = find_chromium()
    if chromium is None:
        pytest.skip("chromium not installed (./run test installs it)")
    html = tiny_book["html"]
    pages = ("intro.html", "methods.html", "sections/00_overview.html", "sections/07_explorer.html")
    with Chromium(chromium, width=VIEWPORT_WIDTH) as browser:
        for page in pages:
            load = browser.open((html / page).as_uri())
            browser.wait_for(
                "document.readyState === 'complete' && (window.MathJax === undefined"
                " || MathJax.startup.promise.then(() => true))"
            )
            if page == "sections/07_explorer.html":
                _check_explorer(browser)
            images = browser.evaluate(IMAGES)
            assert all(ok for _, ok in images), f"{page}: images not loaded {images}"
            if page.startswith("sections/"):
                assert images, f"{page} shows no image"
            schemes = {urlsplit(u).scheme for u in load.requested_urls()}
            assert schemes <= {"file", "data", "blob"}, f"{page}: requests {schemes}"
            assert load.failed_requests() == [], f"{page}: failed {load.failed_requests()}"
            assert load.exceptions() == [], f"{page}: JavaScript errors {load.exceptions()}"
