"""The citizens' widget: what it weighs and how soon a citizen can use it.

The API runs alone as its own process (``python -m api``, SQLite under a temporary folder): the widget's
first paint and readiness need nothing else. Measured:

- size: ``/widget.js`` as served (its style sheet inside), plain and gzip-compressed by the API, its source
  files, and rasa-webchat's bundle (``node_modules/rasa-webchat/lib/index.js``) beside it when installed;
- time to interactive on the demo page (``/``), in Debian's headless Chromium, each run in a fresh browser
  context (cold cache): from navigation start to the widget's ``guichet:ready`` event (it is then drawn,
  its launcher answers), with the page's ``DOMContentLoaded`` and ``load`` for context;
- opening: from a click on the launcher to the focus in the message box, to the next frame painted, and to
  the end of the panel's rise animation;
- the same with Chromium's network (150 ms latency, 1.6 Mbit/s down, 750 kbit/s up) and CPU (4×) throttled.

Times are ``performance.now()`` in the page (navigation start is 0). One untimed page load warms the API
and the browser first.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from playwright.sync_api import Browser, sync_playwright

from api.routes.pages import WIDGET_DIR
from benchmarks.common import running_api, summary
from scripts.browser import CHROMIUM_ARGS, chromium_path
from scripts.model import REPO

CHROMIUM = chromium_path()
RASA_WEBCHAT = REPO / "node_modules" / "rasa-webchat" / "lib" / "index.js"

#: Chromium's network throttling, "Fast 3G"-like: bytes per second, as the DevTools protocol wants them.
SLOW_NETWORK = {
    "offline": False,
    "latency": 150,
    "downloadThroughput": 1_600_000 / 8,
    "uploadThroughput": 750_000 / 8,
}
CPU_SLOWDOWN = 4

# Runs before any of the page's scripts: keeps the moment the widget says it is ready.
RECORD_READY = """
window.__guichetReady = new Promise((resolve) => {
  document.addEventListener("guichet:ready", () => resolve(performance.now()), { once: true });
});
"""

READY_FIGURES = """
async () => {
  const ready = await window.__guichetReady;
  const host = document.getElementById("guichet-widget");
  const navigation = performance.getEntriesByType("navigation")[0];
  const script = performance.getEntriesByType("resource").find((entry) => entry.name.endsWith("/widget.js"));
  return {
    ready,
    flagged: host !== null && host.dataset.ready === "true",
    domContentLoaded: navigation.domContentLoadedEventEnd,
    load: navigation.loadEventEnd,
    encoded: script ? script.encodedBodySize : 0,
    decoded: script ? script.decodedBodySize : 0,
  };
}
"""

# Clicks the launcher and times: focus in the message box with the panel shown, the next frame painted
# (a task after the frame's animation callbacks), the end of the panel's rise animation.
OPEN_FIGURES = """
() => new Promise((resolve, reject) => {
  const root = document.getElementById("guichet-widget").shadowRoot;
  const launcher = root.querySelector('[data-testid="launcher"]');
  const panel = root.querySelector('[data-testid="panel"]');
  const input = root.querySelector("textarea");
  const figures = { focused: null, painted: null, risen: null };
  const done = () => {
    if (figures.painted !== null && figures.risen !== null) resolve(figures);
  };
  const timeout = setTimeout(() => reject(new Error(JSON.stringify(figures))), 10000);
  panel.addEventListener("animationend", () => {
    figures.risen = performance.now() - started;
    done();
  }, { once: true });
  const started = performance.now();
  launcher.click();
  const poll = () => {
    if (root.activeElement === input && !panel.hidden && panel.getBoundingClientRect().height > 0) {
      figures.focused = performance.now() - started;
      requestAnimationFrame(() => setTimeout(() => {
        figures.painted = performance.now() - started;
        clearTimeout(timeout);
        done();
      }, 0));
    } else {
      requestAnimationFrame(poll);
    }
  };
  poll();
})
"""


@dataclass
class PageRuns:
    """Figures of a set of page loads, in milliseconds from navigation start (or from the click)."""

    ready: list[float] = field(default_factory=list)
    dom_content_loaded: list[float] = field(default_factory=list)
    load: list[float] = field(default_factory=list)
    focused: list[float] = field(default_factory=list)
    painted: list[float] = field(default_factory=list)
    risen: list[float] = field(default_factory=list)
    transferred: tuple[int, int] = (0, 0)


def _gzip_size(path: Path) -> int:
    return len(gzip.compress(path.read_bytes(), compresslevel=9))


def print_sizes(api_url: str) -> None:
    """Bytes of the served widget, plain and gzip-compressed, of its sources and of rasa-webchat's bundle."""
    with httpx.Client(base_url=api_url, timeout=10) as client:
        plain = client.get("/widget.js", headers={"Accept-Encoding": "identity"})
        plain.raise_for_status()
        with client.stream("GET", "/widget.js", headers={"Accept-Encoding": "gzip"}) as response:
            response.raise_for_status()
            if response.headers.get("content-encoding") != "gzip":
                raise RuntimeError("the API did not compress /widget.js")
            compressed = b"".join(response.iter_raw())
    if gzip.decompress(compressed) != plain.content:
        raise RuntimeError("/widget.js differs once decompressed")
    print(f"{'/widget.js as served, uncompressed':<52} {len(plain.content):9,d} B")
    print(f"{'/widget.js as served, gzip (the API)':<52} {len(compressed):9,d} B")
    for name in ("widget.js", "widget.css"):
        path = WIDGET_DIR / name
        label = f"  source {name}, plain / gzip -9"
        print(f"{label:<52} {path.stat().st_size:9,d} B {_gzip_size(path):8,d} B")
    if RASA_WEBCHAT.exists():
        print(
            f"{'rasa-webchat lib/index.js, plain / gzip -9':<52} {RASA_WEBCHAT.stat().st_size:9,d} B "
            f"{_gzip_size(RASA_WEBCHAT):8,d} B"
        )
    else:
        print(f"{'rasa-webchat lib/index.js':<52} not installed (make node)")


def load_pages(browser: Browser, url: str, runs: int, *, throttled: bool) -> PageRuns:
    """Loads the demo page ``runs`` times, each in a fresh context, then opens the widget."""
    figures = PageRuns()
    for _ in range(runs):
        context = browser.new_context()
        try:
            context.add_init_script(RECORD_READY)
            page = context.new_page()
            if throttled:
                cdp = context.new_cdp_session(page)
                cdp.send("Network.enable")
                cdp.send("Network.emulateNetworkConditions", SLOW_NETWORK)
                cdp.send("Emulation.setCPUThrottlingRate", {"rate": CPU_SLOWDOWN})
            page.goto(url, wait_until="load")
            ready = page.evaluate(READY_FIGURES)
            if not ready["flagged"]:
                raise RuntimeError("guichet:ready came before the widget's data-ready")
            figures.ready.append(ready["ready"])
            figures.dom_content_loaded.append(ready["domContentLoaded"])
            figures.load.append(ready["load"])
            figures.transferred = (ready["encoded"], ready["decoded"])
            opened = page.evaluate(OPEN_FIGURES)
            figures.focused.append(opened["focused"])
            figures.painted.append(opened["painted"])
            figures.risen.append(opened["risen"])
        finally:
            context.close()
    return figures


def print_runs(label: str, figures: PageRuns) -> None:
    """The lines of one set of page loads."""
    print(summary(f"{label}: widget ready (guichet:ready)", figures.ready))
    print(summary(f"{label}: DOMContentLoaded end", figures.dom_content_loaded))
    print(summary(f"{label}: load end", figures.load))
    print(summary(f"{label}: click → focus in the message box", figures.focused))
    print(summary(f"{label}: click → next frame painted", figures.painted))
    print(summary(f"{label}: click → rise animation ended", figures.risen))


def bench_widget(runs: int) -> None:
    """Prints the widget's sizes, then its time to interactive and opening over ``runs`` cold page loads,
    and over ``max(runs // 3, 1)`` throttled ones."""
    if not CHROMIUM.exists():
        print(f"widget: no Chromium at {CHROMIUM} (set GUICHET_CHROMIUM); sizes only")
    with running_api() as settings:
        print_sizes(settings.api_url)
        if not CHROMIUM.exists():
            return
        url = f"{settings.api_url}/"
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )
            try:
                print(f"browser: Chromium {browser.version}, headless")
                load_pages(browser, url, 1, throttled=False)  # warm-up, not counted
                fast = load_pages(browser, url, runs, throttled=False)
                encoded, decoded = fast.transferred
                label = "/widget.js in the browser, body received / decoded"
                print(f"{label:<52} {encoded:9,d} B {decoded:8,d} B")
                print_runs("cold", fast)
                slow = load_pages(browser, url, max(runs // 3, 1), throttled=True)
                print_runs("throttled", slow)
            finally:
                browser.close()
