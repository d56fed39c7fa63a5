"""Alembic owns the schema: fresh databases get it, old ones stop until upgraded."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, create_engine, inspect, select, text

from scanner.errors import SchemaError, StoreError
from scanner.store import migrate
from scanner.store.database import create_store_engine, open_store
from scanner.store.schema import finding_history, metadata, scans


def _revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _stamped_at(url: str, revision: str) -> None:
    """Build the database as an older ddaudit left it: migrate up to `revision` only."""
    engine = create_store_engine(url)
    with engine.begin() as conn:
        command.upgrade(migrate.alembic_config(conn), revision)
    engine.dispose()


def test_fresh_database_gets_exactly_the_declared_schema(store: Engine) -> None:
    assert _revision(store) == migrate.head_revision()
    with store.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diffs == []


def test_older_revision_stops_with_one_line_until_migrate(empty_db_url: str) -> None:
    db_url = empty_db_url
    _stamped_at(db_url, migrate.BASELINE)
    with pytest.raises(SchemaError) as caught:
        open_store(db_url)
    message = str(caught.value)
    assert "\n" not in message and caught.value.exit_code == 4
    assert f"schema revision {migrate.BASELINE} but this ddaudit needs" in message
    assert "ddaudit db upgrade" in message and "--migrate" in message
    engine = open_store(db_url, migrate=True)
    assert _revision(engine) == migrate.head_revision()
    assert "locks" in inspect(engine).get_table_names()
    engine.dispose()


def test_unversioned_0_1_0_database_is_stamped_then_upgraded(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    _stamped_at(url, migrate.BASELINE)
    legacy = create_engine(url)
    with legacy.begin() as conn:  # 0.1.0 used create_all: no alembic_version at all
        conn.exec_driver_sql("DROP TABLE alembic_version")
        conn.exec_driver_sql("INSERT INTO scans (id, started_at, status, tool_version) "
                             "VALUES ('old-scan', '2026-01-01 02:00:00', 'complete', '0.1.0')")
    with pytest.raises(SchemaError, match="unversioned 0.1.0 schema"):
        open_store(url)
    before, after = migrate.upgrade(legacy)
    assert (before, after) == ("an unversioned 0.1.0 schema", migrate.head_revision())
    with legacy.connect() as conn:  # the old data survived the upgrade
        assert conn.exec_driver_sql("SELECT id, shards FROM scans").all() == [("old-scan", None)]
    legacy.dispose()


def test_newer_revision_than_this_ddaudit_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"
    open_store(url).dispose()
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(SchemaError, match="newer than this ddaudit knows"):
        open_store(url, migrate=True)
    engine.dispose()


def test_unreachable_database_is_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="cannot open database"):
        open_store(f"sqlite:///{tmp_path / 'missing' / 'dir' / 'x.db'}")


def test_cli_db_upgrade_and_scan_refusal(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    _stamped_at(url, migrate.BASELINE)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "scanner.cli", *args], cwd=tmp_path,
                              capture_output=True, text=True, timeout=60,
                              env={"PATH": "/usr/bin:/bin"})

    status = cli("db", "status", "--database", url)
    assert status.returncode == 0 and f"revision {migrate.BASELINE}" in status.stdout
    refused = cli("scans", "list", "--database", url)
    assert refused.returncode == 4
    assert refused.stderr.count("\n") == 1 and "ddaudit db upgrade" in refused.stderr
    upgraded = cli("db", "upgrade", "--database", url)
    assert upgraded.returncode == 0, upgraded.stderr
    assert f"from {migrate.BASELINE} to {migrate.head_revision()}" in upgraded.stdout
    assert cli("scans", "list", "--database", url).returncode == 0


def test_0003_backfills_history_and_reported_at_then_downgrades(empty_db_url: str) -> None:
    _stamped_at(empty_db_url, "0002")
    engine = create_store_engine(empty_db_url)
    day = timedelta(days=1)
    t0 = datetime(2026, 11, 1, 2, 0, 0)
    with engine.begin() as conn:
        for n, status in enumerate(("complete", "partial", "failed")):
            conn.execute(text(
                "INSERT INTO scans (id, started_at, finished_at, status, tool_version) "
                "VALUES (:id, :started, :finished, :status, '0.2')"),
                {"id": f"s{n}", "started": t0 + n * day, "status": status,
                 "finished": None if status == "failed" else t0 + n * day + timedelta(hours=1)})
        for scan, fid, status, seen in (("s0", "a", "open", t0), ("s1", "a", "open", t0),
                                        ("s1", "b", "suppressed", t0 + day),
                                        ("s0", "c", "not_assessed", t0),
                                        ("s2", "c", "open", t0 + 2 * day)):
            conn.execute(text(
                "INSERT INTO findings (scan_id, id, rule_id, severity, status, title, detail, "
                "site, target, resource_type, resource_id, first_seen, controls) VALUES "
                "(:scan, :id, 'R', 'high', :status, 't', 'd', 's', 't', 'org', 'x', :seen, "
                "'[]')"), {"scan": scan, "id": fid, "status": status, "seen": seen})
    before, after = migrate.upgrade(engine)
    assert (before, after) == ("0002", migrate.head_revision())
    with engine.connect() as conn:
        history = dict(conn.execute(select(finding_history.c.id, finding_history.c.first_seen))
                       .all())
        reported = dict(conn.execute(select(scans.c.id, scans.c.reported_at)).all())
        evaluated = set(conn.execute(select(scans.c.evaluated_at)).scalars())
    assert history == {"a": t0, "b": t0 + day, "c": t0 + 2 * day}  # not_assessed left out
    assert reported == {"s0": t0 + timedelta(hours=1), "s1": t0 + day + timedelta(hours=1),
                        "s2": None}  # finished scans taken as reported
    assert evaluated == {None}  # their suppression usage was never recorded
    assert "ix_findings_id" not in {ix["name"] for ix in inspect(engine).get_indexes("findings")}
    with engine.begin() as conn:
        command.downgrade(migrate.alembic_config(conn), "0002")
    inspector = inspect(engine)
    assert "finding_history" not in inspector.get_table_names()
    assert "reported_at" not in {c["name"] for c in inspector.get_columns("scans")}
    assert "ix_findings_id" in {ix["name"] for ix in inspector.get_indexes("findings")}
    engine.dispose()
