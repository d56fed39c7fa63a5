"""Open the snapshot database from a URL and make sure its schema is at the head revision."""

from __future__ import annotations

import os

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from scanner.errors import StoreError
from scanner.store.migrate import ensure_current

DB_FILE_MODE = 0o600  # the snapshot holds the estate's whole access surface


def create_store_engine(url: str) -> Engine:
    """An engine for `url` (SQLite gets WAL and a busy timeout); the schema is not checked."""
    try:
        if url.startswith("sqlite"):
            _create_private_file(url)
            engine = create_engine(url, connect_args={"timeout": 30})
            event.listen(engine, "connect", _sqlite_pragmas)
        else:
            engine = create_engine(url, pool_pre_ping=True)
    except (SQLAlchemyError, ValueError, ImportError) as exc:
        raise StoreError(f"cannot use database URL: {exc}; check [scan] database") from exc
    return engine


def open_store(url: str, *, migrate: bool = False) -> Engine:
    """Create an engine for `url` and check its schema revision (see scanner.store.migrate).

    An empty database gets the schema; an older one stops with a one-line SchemaError
    unless `migrate` is true.
    """
    engine = create_store_engine(url)
    try:
        ensure_current(engine, migrate=migrate)
    except SQLAlchemyError as exc:
        engine.dispose()
        raise StoreError(
            f"cannot open database {engine.url.render_as_string(hide_password=True)}: "
            f"{exc.__class__.__name__}; check that it exists, is reachable and is writable"
        ) from exc
    except BaseException:
        engine.dispose()
        raise
    return engine


def _create_private_file(url: str) -> None:
    """Create a new SQLite database file readable by its owner only, before SQLite does.

    SQLite gives its -wal and -shm files the database file's permissions.
    """
    try:
        path = make_url(url).database
    except ArgumentError:
        return  # create_engine says what is wrong with the URL
    if not path or path == ":memory:" or path.startswith("file:"):
        return
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, DB_FILE_MODE)
    except FileExistsError:
        return  # an existing database keeps the mode its owner gave it
    except OSError:
        return  # a missing or read-only folder: opening the store reports it
    try:
        os.fchmod(fd, DB_FILE_MODE)  # whatever the umask
    finally:
        os.close(fd)


def _sqlite_pragmas(dbapi_conn: object, _record: object) -> None:
    cursor = dbapi_conn.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
