"""Launching Debian's Chromium through Playwright for the browser tests.

Playwright's own browser downloads are not used: the tests drive the distribution's
`/usr/bin/chromium` (installed by `apt-get install chromium`), so they run offline and on CI
images without Playwright's download step.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from playwright.sync_api import Browser, Playwright

CHROMIUM_ENV = "WALLETBOT_CHROMIUM"
DEFAULT_CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> Path | None:
    """The Chromium binary: $WALLETBOT_CHROMIUM, /usr/bin/chromium, or `chromium` on PATH."""
    for candidate in (os.environ.get(CHROMIUM_ENV), DEFAULT_CHROMIUM, shutil.which("chromium")):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def launch_chromium(playwright: Playwright) -> Browser:
    """A headless Chromium; raises FileNotFoundError saying how to install it when missing."""
    path = chromium_path()
    if path is None:
        raise FileNotFoundError(
            f"Chromium not found at {DEFAULT_CHROMIUM}: install it with "
            "`apt-get update && apt-get install -y chromium`, or set "
            f"{CHROMIUM_ENV} to the browser's path."
        )
    return playwright.chromium.launch(executable_path=str(path), headless=True, args=CHROMIUM_ARGS)
