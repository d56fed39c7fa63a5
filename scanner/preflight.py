"""Checks run before any request: keys set, the database URL parses, the output is writable."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from scanner.config import Config, Target
from scanner.errors import ConfigError


def check_output_dir(path: Path) -> None:
    """Create `path` (owner-only) if needed and prove a file can be written there."""
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".ddaudit-probe-"):
            pass
    except OSError as exc:
        reason = exc.strerror or exc.__class__.__name__
        raise ConfigError(f"output folder {path} is not writable ({reason}); choose another "
                          "with --output or [scan] output, or fix its permissions") from None


def check_database_url(url: str) -> None:
    """Refuse a database URL SQLAlchemy cannot parse, naming the setting to fix."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        # A URL with credentials may hold a password (one with '#' or '/' breaks
        # parsing): show only its scheme then.
        shown = url if "@" not in url else url.split(":", 1)[0] + "://…"
        raise ConfigError(f"database URL '{shown}' is not a SQLAlchemy URL; use e.g. "
                          "sqlite:///ddaudit.db or postgresql+psycopg://host/db") from None
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigError(f"database '{parsed.get_backend_name()}' is not supported; use "
                          "sqlite:/// or postgresql+psycopg://")
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        folder = Path(parsed.database).parent
        if not os.access(folder if str(folder) else Path("."), os.W_OK):
            raise ConfigError(f"database folder {folder} is not writable; fix its permissions "
                              "or choose another [scan] database")


def preflight(config: Config, *, targets: Sequence[Target] | None = None,
              output: bool = True) -> None:
    """Everything that can be checked before the first request is sent.

    The key variables of `targets` (default: every target) are set, the database URL
    parses, and (unless `output` is False: `collect` writes no report) the output folder
    is writable. Each failure is a ConfigError of one line (exit 2).
    """
    config.check_credentials(targets)
    check_database_url(config.database)
    if output:
        check_output_dir(config.output)
