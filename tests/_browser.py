"""Headless Chromium over the DevTools protocol, and a local static server, for book tests.

``serve(folder)`` serves a folder on 127.0.0.1 (random port) and records every request.
``Chromium`` starts Debian's ``chromium`` headless with networking hardened (no background
services; every host name except localhost resolves to nothing) and drives one page over the
Chrome DevTools protocol: it records every request the page makes -- including those that fail
-- so a test can assert that nothing left localhost, and evaluates JavaScript to inspect the
rendered DOM (MathJax output, loaded images, widgets).
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome")
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
#: URL schemes that never touch the network.
LOCAL_SCHEMES = {"data", "blob", "about", "chrome", "chrome-error", "devtools"}


def find_chromium() -> str | None:
    """Path of a Chromium/Chrome executable, or ``None``."""
    for name in CHROMIUM_CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


def is_local(url: str) -> bool:
    """True when fetching ``url`` does not leave this machine."""
    parts = urlsplit(url)
    if parts.scheme in LOCAL_SCHEMES or parts.scheme == "":
        return True
    if parts.scheme == "file":
        return True
    return (parts.hostname or "") in LOCAL_HOSTS


@dataclass
class StaticServer:
    """A running local HTTP server and the log of what it served."""

    url: str
    requests: list[tuple[str, int]] = field(default_factory=list)


@contextlib.contextmanager
def serve(folder: Path) -> Iterator[StaticServer]:
    """Serve ``folder`` over HTTP on 127.0.0.1 in a background thread."""
    log: list[tuple[str, int]] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_request(self, code: Any = "-", size: Any = "-") -> None:
            log.append((self.path, int(code) if str(code).isdigit() else 0))

        def log_message(self, format: str, *args: Any) -> None:  # silence stderr
            pass

    handler = functools.partial(Handler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield StaticServer(f"http://127.0.0.1:{server.server_address[1]}", log)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


class Chromium:
    """One headless Chromium page driven over the DevTools protocol.

    Use as a context manager; :meth:`open` loads a URL and returns the requests it made.
    """

    def __init__(
        self, executable: str, timeout: float = 30.0, width: int = 1280, height: int = 2000
    ) -> None:
        self.executable = executable
        self.timeout = timeout
        self.width, self.height = width, height
        self._profile = Path(tempfile.mkdtemp(prefix="smlib-chromium-"))
        self._proc: subprocess.Popen[bytes] | None = None
        self._ws: Any = None
        self._next_id = 0
        self.events: list[dict[str, Any]] = []

    # -- lifecycle ------------------------------------------------------------------------
    def __enter__(self) -> Chromium:
        import websocket

        args = [
            self.executable,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-default-apps",
            "--disable-extensions",
            "--metrics-recording-only",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
            "--remote-allow-origins=*",
            "--remote-debugging-port=0",
            f"--user-data-dir={self._profile}",
            f"--window-size={self.width},{self.height}",
            "about:blank",
        ]
        self._proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = self._profile / "DevToolsActivePort"
        deadline = time.monotonic() + self.timeout
        while not (port_file.is_file() and port_file.read_text().strip()):
            if self._proc.poll() is not None:
                raise RuntimeError(f"{self.executable} exited with {self._proc.returncode}")
            if time.monotonic() > deadline:
                raise TimeoutError("chromium did not open its DevTools port")
            time.sleep(0.05)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as resp:
            targets = json.load(resp)
        page = next(t for t in targets if t.get("type") == "page")
        self._ws = websocket.create_connection(
            page["webSocketDebuggerUrl"], timeout=self.timeout, suppress_origin=True
        )
        for domain in ("Page", "Network", "Runtime"):
            self.call(f"{domain}.enable")
        # the layout viewport is exactly width x height CSS pixels, whatever the window chrome
        self.call(
            "Emulation.setDeviceMetricsOverride",
            width=self.width,
            height=self.height,
            deviceScaleFactor=1,
            mobile=False,
        )
        self.call("Network.setCacheDisabled", cacheDisabled=True)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._ws is not None:
            with contextlib.suppress(Exception):
                self._ws.close()
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=10)
        shutil.rmtree(self._profile, ignore_errors=True)

    # -- protocol -------------------------------------------------------------------------
    def _receive(self, timeout: float) -> dict[str, Any] | None:
        import websocket

        self._ws.settimeout(timeout)
        try:
            message = json.loads(self._ws.recv())
        except websocket.WebSocketTimeoutException:
            return None
        if "method" in message:
            self.events.append(message)
        return message

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Send one DevTools command and return its result (events are recorded meanwhile)."""
        self._next_id += 1
        ident = self._next_id
        self._ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            message = self._receive(max(0.05, deadline - time.monotonic()))
            if message is not None and message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
        raise TimeoutError(f"no answer to {method}")

    def evaluate(self, expression: str) -> Any:
        """Evaluate a JavaScript expression in the page (promises are awaited)."""
        result = self.call(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"JavaScript error: {result['exceptionDetails']}")
        return result["result"].get("value")

    def click(self, element_expression: str) -> None:
        """Click, as a user would, the element a JavaScript expression returns."""
        box = self.evaluate(
            f"(() => {{ const e = {element_expression}; e.scrollIntoView({{block: 'center'}});"
            " const r = e.getBoundingClientRect();"
            " return [r.left + r.width / 2, r.top + r.height / 2]; })()"
        )
        for kind in ("mousePressed", "mouseReleased"):
            self.call(
                "Input.dispatchMouseEvent",
                type=kind,
                x=box[0],
                y=box[1],
                button="left",
                clickCount=1,
            )

    def wait_for(self, expression: str, timeout: float | None = None) -> Any:
        """Poll a JavaScript expression until it is truthy; return its value."""
        deadline = time.monotonic() + (timeout or self.timeout)
        value = None
        while time.monotonic() < deadline:
            try:
                value = self.evaluate(expression)
            except RuntimeError:  # e.g. the page navigated away while evaluating: retry
                value = None
            if value:
                return value
            self._receive(0.2)
        raise TimeoutError(f"still false after {timeout or self.timeout} s: {expression}")

    def open(self, url: str, settle: float = 1.0) -> PageLoad:
        """Navigate to ``url``, wait for the load event and network quiet; return its log."""
        start = len(self.events)
        self.call("Page.navigate", url=url)
        deadline = time.monotonic() + self.timeout
        loaded = False
        while time.monotonic() < deadline and not loaded:
            message = self._receive(0.5)
            loaded = bool(message and message.get("method") == "Page.loadEventFired")
        if not loaded:
            raise TimeoutError(f"{url} did not finish loading")
        # let deferred scripts (MathJax fonts, widget manager) make their requests
        quiet_until = time.monotonic() + settle
        while time.monotonic() < min(quiet_until, deadline):
            if self._receive(0.1) is not None and "Network." in self.events[-1]["method"]:
                quiet_until = time.monotonic() + settle
        return PageLoad(url, self.events[start:])


@dataclass
class PageLoad:
    """The DevTools events recorded while one page loaded."""

    url: str
    events: list[dict[str, Any]]

    def requested_urls(self) -> list[str]:
        return [
            e["params"]["request"]["url"]
            for e in self.events
            if e["method"] == "Network.requestWillBeSent"
        ]

    def non_local_requests(self) -> list[str]:
        return [u for u in self.requested_urls() if not is_local(u)]

    def failed_requests(self) -> list[str]:
        """URLs that failed to load or answered with HTTP status >= 400."""
        urls = {
            e["params"]["requestId"]: e["params"]["request"]["url"]
            for e in self.events
            if e["method"] == "Network.requestWillBeSent"
        }
        failed = [
            urls.get(e["params"]["requestId"], "?") + f" ({e['params'].get('errorText')})"
            for e in self.events
            if e["method"] == "Network.loadingFailed"
        ]
        failed += [
            f"{e['params']['response']['url']} (HTTP {e['params']['response']['status']})"
            for e in self.events
            if e["method"] == "Network.responseReceived"
            and e["params"]["response"]["status"] >= 400
        ]
        return failed

    def exceptions(self) -> list[str]:
        return [
            e["params"]["exceptionDetails"].get("text", "")
            + " "
            + str(e["params"]["exceptionDetails"].get("exception", {}).get("description", ""))
            for e in self.events
            if e["method"] == "Runtime.exceptionThrown"
        ]
