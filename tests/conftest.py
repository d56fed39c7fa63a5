"""Fixtures shared by every test package: the reference data folder and snapshot stores.

`db_url` / `store` are parametrized over SQLite and a real PostgreSQL that the session
starts itself (tests/pgserver.py); when that server cannot start, the PostgreSQL cases are
skipped with the reason, which is also printed at the end of the run.

The repository stands alone: the tests read only files inside it (reference data in
tests/reference). An audit hook installed when this module is imported records every file
this process opens beside the repository (in its parent folder but outside it, e.g. a
sibling checkout); the session fails when there is any (tests/test_standalone.py).
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text

from scanner.simulator import SimulatedDatadog, SimulatorThread
from scanner.simulator.model import Estate
from scanner.store.database import open_store
from scanner.store.schema import metadata
from tests.pgserver import PgServer, PgUnavailable, start_server

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "tests" / "reference"
BACKENDS = [pytest.param("sqlite", id="sqlite"),
            pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgresql)]
_PG: dict[str, PgServer | str] = {}  # "server" or "reason", once the session has tried


# --- the repository stands alone: opens beside it are recorded -------------------------

_ROOT_TEXT = str(ROOT)
_ROOT_PREFIX = _ROOT_TEXT + os.sep
_BESIDE_TEXT = os.path.dirname(_ROOT_TEXT)  # standalone: guard (the folder holding the root)
_BESIDE_PREFIX = _BESIDE_TEXT if _BESIDE_TEXT.endswith(os.sep) else _BESIDE_TEXT + os.sep
# A checkout placed directly in the temp folder has the tests' own temp files beside it.
_IN_TEMP = os.path.realpath(tempfile.gettempdir()) == os.path.realpath(_BESIDE_TEXT)
_TEMP_NAMES = (tempfile.gettempprefix(), "pytest-of-", "ddaudit-")
_AUDITED = frozenset({"open", "os.listdir", "os.scandir"})
OUTSIDE_OPENS: list[str] = []
"""Paths this process opened (or listed) beside the repository: each one is a failure."""


def outside_repository(path: str) -> bool:
    """Whether an absolute, normalised path is beside the repository: in its parent, not in it.

    String prefix checks only (no file system call): it runs inside an audit hook.
    """
    if not path.startswith(_BESIDE_PREFIX) or path == _ROOT_TEXT or path.startswith(_ROOT_PREFIX):
        return False
    return not (_IN_TEMP and path[len(_BESIDE_PREFIX):].startswith(_TEMP_NAMES))


def _audit_open(event: str, args: tuple[Any, ...]) -> None:
    """Audit hook: record an open/listing of a path beside the repository. Never raises."""
    if event not in _AUDITED:
        return
    try:
        path = args[0] if args else None
        if path is None or isinstance(path, int):
            return
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        elif not isinstance(path, str):
            path = os.fsdecode(os.fspath(path))
        if not os.path.isabs(path):
            path = os.path.join(os.getcwd(), path)
        path = os.path.normpath(path)
        if outside_repository(path):
            OUTSIDE_OPENS.append(path)
    except Exception:  # an audit hook must never break the operation it watches
        return


sys.addaudithook(_audit_open)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the session when any test opened a file beside the repository."""
    if OUTSIDE_OPENS and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _report_outside_opens(terminalreporter: pytest.TerminalReporter) -> None:
    if OUTSIDE_OPENS:
        terminalreporter.write_line(
            f"FAILED: the tests opened {len(OUTSIDE_OPENS)} path(s) outside the repository "
            f"(it must stand alone; copy reference data into tests/reference): "
            + ", ".join(sorted(set(OUTSIDE_OPENS))[:10]), red=True, bold=True)


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """tests/reference: the OpenAPI subset, recorded API responses, the OSCAL schema."""
    assert REFERENCE.is_dir(), f"{REFERENCE} is missing: it is part of the repository"
    return REFERENCE


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
    """Say loudly whether the PostgreSQL half of the suite ran, and any open outside the root."""
    _report_outside_opens(terminalreporter)
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
