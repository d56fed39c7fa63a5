"""Open the snapshot database from a URL and make sure its schema exists."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import SQLAlchemyError

from scanner.errors import StoreError
from scanner.store.schema import metadata


def open_store(url: str) -> Engine:
    """Create an engine for `url`, create missing tables, and return it."""
    try:
        engine = create_engine(url, future=True)
    except (SQLAlchemyError, ValueError, ImportError) as exc:
        raise StoreError(f"cannot use database URL: {exc}; check [scan] database") from exc
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    try:
        metadata.create_all(engine)
    except SQLAlchemyError as exc:
        raise StoreError(
            f"cannot open database {engine.url.render_as_string(hide_password=True)}: "
            f"{exc.__class__.__name__}; check that it exists and is writable"
        ) from exc
    return engine


def _sqlite_pragmas(dbapi_conn: object, _record: object) -> None:
    cursor = dbapi_conn.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
