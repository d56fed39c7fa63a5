"""Drive Debian's chromium headless through playwright (no browser download, ever)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run",
]


def chromium_path() -> str | None:
    """Debian's chromium ($DDAUDIT_CHROMIUM overrides), or None when it is not installed."""
    override = os.environ.get("DDAUDIT_CHROMIUM")
    if override:
        return override if os.access(override, os.X_OK) else None
    return shutil.which("chromium") or (
        "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None
    )


def unavailable_reason() -> str | None:
    """Why the browser cannot run here (None: it can), for a loud skip message."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is missing: pip install -e '.[dev]'"
    if chromium_path() is None:
        return ("Debian's chromium is not installed (scripts/ensure-chromium.sh, called by "
                "`make test`, installs it with apt-get as root)")
    return None


@contextmanager
def browser() -> Iterator[Any]:
    """A headless chromium Browser; closed on exit."""
    from playwright.sync_api import sync_playwright

    path = chromium_path()
    assert path is not None
    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()
