"""Open a page in headless Chromium and ask it what a learner would see.

    with Browser() as browser:
        page = browser.open(Path("build/html/04_test_model.html"))
        page.counts   # {"img": 12, "svg": 3, "audio": 5, ...}
        page.errors   # JavaScript exceptions and console errors
        page.screenshot(Path("04.png"))  # the whole page, however long

A small client of the Chrome DevTools protocol over a websocket (``websocket-client``, which
Jupyter already installs). Chromium (Debian: ``apt-get install chromium``) runs with a new,
empty profile and no network: a page must show everything from the HTML file itself (resources
it tries to fetch, such as MathJax from a CDN, are listed in ``page.blocked``). Used by
``scripts/screenshot_notebooks.py`` and ``tests/test_browser.py``.
"""
from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--mute-audio", "--remote-debugging-port=0",
         "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]

# What the page holds: figures, sheet music, audio players, widgets.
COUNT_JS = """JSON.stringify({
  img: document.querySelectorAll('img').length,
  img_with_alt: [...document.querySelectorAll('img[alt]')].filter(i => i.alt.trim() &&
      !i.alt.startsWith('No description has been provided')).length,  // nbconvert's stand-in
  img_broken: [...document.querySelectorAll('img')].filter(i => !(i.complete && i.naturalWidth > 0)).length,
  svg: document.querySelectorAll('.jp-OutputArea-output svg, img[src^="data:image/svg+xml"]').length,
  audio: document.querySelectorAll('audio').length,
  audio_playable: [...document.querySelectorAll('audio')].filter(a => a.canPlayType(
      (a.querySelector('source') || {}).type || 'audio/wav') !== '').length,
  tables: document.querySelectorAll('.jp-OutputArea-output table').length,
  errors_shown: document.querySelectorAll('.jp-RenderedText[data-mime-type="application/vnd.jupyter.stderr"]').length,
  height: document.documentElement.scrollHeight
})"""


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        if (path := shutil.which(name)):
            return path
    return None


@dataclass
class Page:
    """One loaded page: what it holds, what went wrong, and a way to photograph it."""

    browser: "Browser"
    counts: dict = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)

    def screenshot(self, png: Path, width: int = 1280) -> Path:
        """A PNG of the WHOLE page (not just the first screenful)."""
        for height in (800, None):  # lay the page out at ``width`` first, then measure it
            if height is None:
                height = int(self.browser.evaluate("document.documentElement.scrollHeight"))
            self.browser.call("Emulation.setDeviceMetricsOverride",
                              width=width, height=height, deviceScaleFactor=1, mobile=False)
        shot = self.browser.call("Page.captureScreenshot", format="png",
                                 captureBeyondViewport=True,
                                 clip={"x": 0, "y": 0, "width": width, "height": height,
                                       "scale": 1})
        self.browser.call("Emulation.clearDeviceMetricsOverride")  # the next page's own height
        png.parent.mkdir(parents=True, exist_ok=True)
        png.write_bytes(base64.b64decode(shot["data"]))
        return png


class Browser:
    """Headless Chromium with one tab, driven through the DevTools protocol."""

    def __init__(self, chromium: str | None = None, timeout: float = 60.0):
        self.chromium = chromium or find_chromium()
        if self.chromium is None:
            raise RuntimeError("no Chromium found: apt-get install -y chromium "
                               "(or make system-deps)")
        self.timeout = timeout
        self._id = 0
        self._events: list[dict] = []

    def __enter__(self) -> "Browser":
        import websocket  # websocket-client, installed with Jupyter

        self._profile = tempfile.TemporaryDirectory(prefix="folkrnn-chromium-")
        self._process = subprocess.Popen(
            [self.chromium, *FLAGS, f"--user-data-dir={self._profile.name}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        port = self._devtools_port()
        target = self._page_target(port)
        self._ws = websocket.create_connection(target, timeout=self.timeout,
                                               suppress_origin=True)
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable")
        return self

    def __exit__(self, *exc) -> None:
        try:
            self._ws.close()
        finally:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
            self._profile.cleanup()

    def _devtools_port(self) -> int:
        deadline = time.monotonic() + self.timeout
        seen = []
        while time.monotonic() < deadline:
            line = self._process.stderr.readline()
            if not line and self._process.poll() is not None:
                break
            seen.append(line)
            if (match := re.search(r"DevTools listening on ws://[^:]+:(\d+)/", line)):
                return int(match.group(1))
        raise RuntimeError("Chromium did not start: " + "".join(seen)[-800:])

    def _page_target(self, port: int) -> str:
        from urllib.request import urlopen

        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            with urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as response:
                pages = [t for t in json.load(response) if t.get("type") == "page"]
            if pages:
                return pages[0]["webSocketDebuggerUrl"]
            time.sleep(0.2)
        raise RuntimeError("Chromium opened no tab")

    def call(self, method: str, **params) -> dict:
        """Send one DevTools command and return its result (events are kept for later)."""
        self._id += 1
        self._ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            message = json.loads(self._ws.recv())
            if message.get("id") == self._id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self._events.append(message)

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True,
                           awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"page script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def _wait_for(self, method: str) -> None:
        deadline = time.monotonic() + self.timeout
        while not any(e.get("method") == method for e in self._events):
            if time.monotonic() > deadline:
                raise RuntimeError(f"timed out waiting for {method}")
            self._ws.settimeout(max(0.1, deadline - time.monotonic()))
            self._events.append(json.loads(self._ws.recv()))

    def open(self, html: Path, settle: float = 1.0) -> Page:
        """Load ``html``, let its scripts run, and collect what it holds and any errors."""
        self._events.clear()
        self.call("Emulation.clearDeviceMetricsOverride")
        self.call("Page.navigate", url=html.resolve().as_uri())
        self._wait_for("Page.loadEventFired")
        time.sleep(settle)  # late scripts (module scripts, timers) get their chance
        page = Page(self, counts=json.loads(self.evaluate(COUNT_JS)))
        self.evaluate("0")  # flush events that arrived meanwhile
        for event in self._events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                text = details.get("exception", {}).get("description") or details.get("text")
                page.errors.append(f"exception: {text}")
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                args = " ".join(str(a.get("value", a.get("description", ""))) for a in params["args"])
                page.errors.append(f"console.{params['type']}: {args}")
            elif method == "Network.loadingFailed":
                page.blocked.append(params.get("errorText", ""))
            elif method == "Log.entryAdded":
                entry = params["entry"]
                if entry.get("source") == "network" or "net::ERR_" in entry.get("text", ""):
                    page.blocked.append(entry.get("url") or entry.get("text", ""))
                elif entry.get("level") == "error":
                    page.errors.append(f"{entry.get('source')}: {entry.get('text')}")
        return page
