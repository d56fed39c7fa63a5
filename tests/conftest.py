"""Fixtures shared by every test package: the shared/ folder and snapshot stores.

`db_url` / `store` are parametrized over SQLite and a real PostgreSQL that the session
starts itself (tests/pgserver.py); when that server cannot start, the PostgreSQL cases are
skipped with the reason, which is also printed at the end of the run.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from scanner.simulator import SimulatedDatadog, SimulatorThread
from scanner.simulator.model import Estate
from scanner.store.engine import open_store
from scanner.store.schema import metadata
from tests.pgserver import PgServer, PgUnavailable, start_server

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("DDAUDIT_SHARED", ROOT.parent / "shared"))
BACKENDS = [pytest.param("sqlite", id="sqlite"),
            pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgresql)]
_PG: dict[str, PgServer | str] = {}  # "server" or "reason", once the session has tried


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


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """The session's PostgreSQL server, started on first use; skip when it cannot start."""
    if "reason" not in _PG and "server" not in _PG:
        try:
            _PG["server"] = start_server()
        except PgUnavailable as exc:
            _PG["reason"] = str(exc)
            print(f"\nPostgreSQL tests will be skipped: {exc}", flush=True)
    server = _PG.get("server")
    if not isinstance(server, PgServer):
        pytest.skip(f"PostgreSQL unavailable: {_PG['reason']}")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def pg_url(pg_server: PgServer) -> str:
    """A database on the session server, at the head schema revision, shared by tests."""
    url = pg_server.create_database("ddaudit_test")
    open_store(url).dispose()
    return url


@pytest.fixture()
def pg_clean_url(pg_url: str) -> str:
    """`pg_url`, with every ddaudit table emptied first."""
    engine = create_engine(pg_url)
    names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names}"))
    engine.dispose()
    return pg_url


@pytest.fixture()
def new_database(pg_server: PgServer, request: pytest.FixtureRequest) -> Callable[[str], str]:
    """Make empty PostgreSQL databases (no schema) for tests of migrations and concurrency."""
    def make(suffix: str) -> str:
        return pg_server.create_database(f"ddaudit_{request.node.name[:20]}_{suffix}".lower()
                                         .replace("-", "_").replace("[", "_").replace("]", ""))
    return make


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty snapshot database: SQLite, then PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'snapshot.db'}"
    return str(request.getfixturevalue("pg_clean_url"))


@pytest.fixture(params=BACKENDS)
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a database with no tables at all (not even the schema): both backends."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.db'}"
    make = request.getfixturevalue("new_database")
    return str(make("empty"))


@pytest.fixture()
def store(db_url: str) -> Iterator[Engine]:
    """An opened snapshot store on each backend."""
    engine = open_store(db_url)
    yield engine
    engine.dispose()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say loudly whether the PostgreSQL half of the suite ran."""
    if "reason" in _PG:
        terminalreporter.write_line(
            f"PostgreSQL tests SKIPPED: {_PG['reason']}", yellow=True, bold=True)
    elif "server" in _PG:
        server = _PG["server"]
        assert isinstance(server, PgServer)
        terminalreporter.write_line(f"PostgreSQL tests ran against {server.base_url}")


@pytest.fixture
def server(estate: Estate) -> Iterator[SimulatorThread]:
    """The simulator serving the test's `estate` fixture on loopback, from a thread."""
    thread = SimulatedDatadog.start_in_thread(estate)
    try:
        yield thread
    finally:
        thread.stop()
