"""Debian's Chromium, as the browser tests and the widget benchmark launch it.

Playwright never downloads a browser here: ``make browser`` installs Debian's ``chromium``.
"""

from __future__ import annotations

import os
from pathlib import Path

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
"""Headless Chromium's options here: no sandbox (containers), no GPU, nothing fetched in the background."""


def chromium_path() -> Path:
    """Return the Chromium to drive: ``$GUICHET_CHROMIUM``, else Debian's ``/usr/bin/chromium``."""
    return Path(os.environ.get("GUICHET_CHROMIUM", "/usr/bin/chromium"))
