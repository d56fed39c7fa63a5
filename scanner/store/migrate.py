"""Alembic, driven from code: the schema revision of a database, its check and its upgrade.

The migrations ship inside the package (`scanner/store/migrations`), so an installed
ddaudit needs no alembic.ini. A brand-new empty database is brought to the head revision
on first use; a database at an older revision is never changed behind the operator's back:
opening it stops with one line unless `--migrate` or `ddaudit db upgrade` asks for it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text

from scanner.errors import SchemaError

log = logging.getLogger(__name__)
logging.getLogger("alembic").setLevel(logging.WARNING)  # its INFO chatter is not for cron

SCRIPT_LOCATION = "scanner.store:migrations"
BASELINE = "0001"  # the schema ddaudit 0.1.0 created without Alembic
_PG_MIGRATION_LOCK = 0x64646175  # "ddau": serialises concurrent first-use upgrades


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic Config pointing at the packaged migrations (and at `connection`)."""
    cfg = Config()
    cfg.set_main_option("script_location", SCRIPT_LOCATION)
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    """The newest revision this ddaudit knows."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def known_revisions() -> set[str]:
    """Every revision shipped with this ddaudit."""
    script = ScriptDirectory.from_config(alembic_config())
    return {rev.revision for rev in script.walk_revisions()}


@dataclass(frozen=True)
class SchemaState:
    """Where a database stands: its revision (None: not stamped) and whether it is empty."""

    current: str | None
    head: str
    empty: bool

    @property
    def up_to_date(self) -> bool:
        """True when the database is at this ddaudit's head revision."""
        return self.current == self.head

    @property
    def label(self) -> str:
        """The current revision for messages ('none' or 'unversioned 0.1.0 schema')."""
        if self.current is not None:
            return self.current
        return "empty" if self.empty else "an unversioned 0.1.0 schema"


def schema_state(conn: Connection) -> SchemaState:
    """Read the database's revision without changing anything."""
    current = MigrationContext.configure(conn).get_current_revision()
    empty = current is None and not inspect(conn).has_table("scans")
    return SchemaState(current, head_revision(), empty)


def _serialise(conn: Connection) -> None:
    """On PostgreSQL, make concurrent first-use upgrades (shards starting at once) queue."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})


def upgrade(engine: Engine) -> tuple[str, str]:
    """Bring the database to the head revision; return (revision before, after).

    A 0.1.0 database (tables but no alembic_version) is first stamped at the baseline.
    """
    with engine.begin() as conn:
        _serialise(conn)
        state = schema_state(conn)
        before = state.label
        if state.current is not None and state.current not in known_revisions():
            raise SchemaError(_newer(engine, state))
        if state.current is None and not state.empty:
            command.stamp(alembic_config(conn), BASELINE)
        if not state.up_to_date:
            command.upgrade(alembic_config(conn), "head")
    return before, head_revision()


def ensure_current(engine: Engine, *, migrate: bool = False) -> None:
    """Stop with one line unless the schema is current; create it in an empty database.

    With `migrate`, an out-of-date database is upgraded instead.
    """
    with engine.connect() as conn:
        state = schema_state(conn)
    if state.up_to_date:
        return
    if state.current is not None and state.current not in known_revisions():
        raise SchemaError(_newer(engine, state))
    if state.empty or migrate:
        before, after = upgrade(engine)
        if not state.empty:
            log.info("database upgraded from revision %s to %s", before, after)
        return
    raise SchemaError(
        f"database {_where(engine)} has schema revision {state.label} but this ddaudit needs "
        f"{state.head}; back it up, then run 'ddaudit db upgrade' (or pass --migrate)"
    )


def _newer(engine: Engine, state: SchemaState) -> str:
    return (f"database {_where(engine)} has schema revision {state.current}, newer than this "
            f"ddaudit knows (head {state.head}); upgrade ddaudit")


def _where(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)
