"""Fixtures shared by every test package: the shared/ reference folder and a SQLite store."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import Engine

from scanner.store.engine import open_store

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("DDAUDIT_SHARED", ROOT.parent / "shared"))


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The shared/ folder beside the project (specs, OpenAPI subset, cassettes)."""
    if not (SHARED / "reference").is_dir():
        pytest.fail(f"shared/reference not found at {SHARED}; set DDAUDIT_SHARED")
    return SHARED


@pytest.fixture()
def sqlite_engine(tmp_path: Path) -> Engine:
    """A fresh SQLite snapshot database with the schema created."""
    return open_store(f"sqlite:///{tmp_path / 'snapshot.db'}")
