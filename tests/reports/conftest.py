"""Fixtures for the reports tests: a real SQLite snapshot with one seeded scan."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from report_seed import HOSTILE, XSS_ATTR, MakeStore, Seed, insert_seed
from sqlalchemy import Engine

from scanner.store.database import open_store


@pytest.fixture
def make_store(tmp_path: Path) -> Iterator[MakeStore]:
    """Factory: a fresh SQLite snapshot seeded from a `Seed`; engines are disposed after."""
    engines: list[Engine] = []

    def make(seed: Seed | None = None, *, name: str = "snap", reverse: bool = False) -> Engine:
        engine = open_store(f"sqlite:///{tmp_path / name}.db")
        engines.append(engine)
        insert_seed(engine, seed or Seed(), reverse=reverse)
        return engine

    yield make
    for engine in engines:
        engine.dispose()


@pytest.fixture
def store(make_store: MakeStore) -> Engine:
    """The standard partial scan: two targets, a forbidden endpoint, mixed findings."""
    return make_store()


@pytest.fixture
def hostile_store(make_store: MakeStore) -> Engine:
    """The standard scan with every API-provided name replaced by markup."""
    return make_store(
        Seed(
            org_names=(HOSTILE, HOSTILE + " eu"),
            targets=(HOSTILE, "prod-eu1" + XSS_ATTR),
            resource_name=HOSTILE,
            detail=f"Key {HOSTILE} was last used never.",
            owner=HOSTILE,
        ),
        name="hostile",
    )
