"""Values and helpers the notification tests share: the secrets, where they must not show."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from pathlib import Path

from scanner.config import Secret

# Secret values the tests look for everywhere they must not be.
HOOK_PATH = "/hooks/T0KEN-hook-9f8e7d6c"  # a webhook URL is a secret: its path is the token
SLACK_PATH = "/services/T01/B02/SLACKT0KEN5ecret"
HOOK_SECRET = "hmac-s3cret-0f-the-hook"
SMTP_USER, SMTP_PASSWORD = "ddaudit", "smtp-pa55word-xyz"


def secret(env: Mapping[str, str], variable: str) -> Secret:
    """A sink secret read from `env` on use."""
    return Secret.from_env(variable, f"{variable} is not set", env)


def leaks_in(secrets: list[str], *, text: str, db: Path, folder: Path) -> list[str]:
    """Where any of `secrets` shows: the log text, a dump of the database, a file of `folder`."""
    found = [f"log: {s}" for s in secrets if s in text]
    with sqlite3.connect(db) as conn:
        dump = "\n".join(conn.iterdump())
    found += [f"database: {s}" for s in secrets if s in dump]
    for path in folder.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            found += [f"{path.name}: {s}" for s in secrets if s.encode() in data]
    return found
