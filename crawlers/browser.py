"""Which Chromium to drive and how to start it: the one place for that fact.

Playwright cannot download its own browsers here; we drive Debian's build.
`chromium-headless-shell` renders 1.5-2.5x the pages per second of the full
browser on a 2-core machine, so it is the default. Override with
`$FANGXIN_CHROMIUM` (a binary path) or the FANGXIN_CHROMIUM setting.
"""

from __future__ import annotations

import os
from pathlib import Path

CANDIDATES = (
    "/usr/lib/chromium/chromium-headless-shell",
    "/usr/lib/chromium/chromium",
)

LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]


class BrowserNotFound(RuntimeError):
    pass


def chromium_path(preferred: str | None = None) -> str:
    """Return the Chromium binary to launch, or raise BrowserNotFound with the fix in one line."""
    for candidate in (preferred, os.environ.get("FANGXIN_CHROMIUM"), *CANDIDATES):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise BrowserNotFound(
        "no Chromium found in /usr/lib/chromium/; run `make demo` or "
        "`apt-get install chromium-headless-shell chromium` (未找到 Chromium)"
    )


def launch_options(preferred: str | None = None) -> dict:
    """Keyword arguments for Playwright's `chromium.launch()`."""
    return {"executable_path": chromium_path(preferred), "headless": True, "args": list(LAUNCH_ARGS)}
