"""Scan history and retention: counts per scan; prune keeps the latest complete scan."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, func, select

from scanner.ops.history import list_scans, mark_abandoned, prune
from scanner.store import schema
from tests.ops.conftest import ddaudit

NOW = datetime(2026, 11, 21, 2, 0, 0)


def seed(engine: Engine, output: Path, scan_id: str, days_ago: float, status: str,
         *, shards: int | None = None) -> None:
    """A scan with two targets, a coverage gap when partial, findings and an output folder."""
    started = NOW - timedelta(days=days_ago)
    with engine.begin() as conn:
        conn.execute(schema.scans.insert().values(
            id=scan_id, started_at=started, finished_at=started + timedelta(minutes=5),
            status=status, tool_version="t", shards=shards))
        for target in ("a", "b"):
            tag = {"scan_id": scan_id, "target": target, "site": "datadoghq.com",
                   "org_public_id": f"pub-{target}"}
            conn.execute(schema.targets.insert().values(**tag))
            conn.execute(schema.users.insert(), [
                {**tag, "id": f"u{i}", "service_account": False} for i in range(3)])
            for endpoint in schema.ENDPOINTS:
                bad = status == "partial" and target == "b" and endpoint == "teams"
                conn.execute(schema.coverage.insert().values(
                    **tag, endpoint=endpoint, status="failed" if bad else "complete",
                    collected=1, expected=1))
            conn.execute(schema.findings.insert().values(
                scan_id=scan_id, id=f"f-{target}", rule_id="DDA-KEY-001", severity="high",
                status="open" if target == "a" else "suppressed", title="t", detail="d",
                site="datadoghq.com", target=target, resource_type="api_key",
                resource_id="k", first_seen=started, controls="[]"))
    (output / scan_id).mkdir(parents=True)
    (output / scan_id / "findings.json").write_text("{}")


def _ids(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(select(schema.scans.c.id)).scalars())


def _rows(engine: Engine, scan_id: str) -> int:
    with engine.connect() as conn:
        return sum(conn.execute(select(func.count()).select_from(t)
                                .where(t.c.scan_id == scan_id)).scalar_one()
                   for t in schema.SCAN_TABLES)


def test_list_shows_times_status_and_counts_newest_first(store: Engine, tmp_path: Path) -> None:
    seed(store, tmp_path, "old", 3, "complete")
    seed(store, tmp_path, "new", 1, "partial", shards=2)
    rows = list_scans(store)
    assert [r.id for r in rows] == ["new", "old"]
    new = rows[0]
    assert (new.status, new.shards, new.targets, new.incomplete) == ("partial", 2, 2, 1)
    assert (new.open_findings, new.findings) == (1, 2)
    assert rows[1].incomplete == 0 and rows[1].finished_at == NOW - timedelta(days=3, minutes=-5)
    assert [r.id for r in list_scans(store, limit=1)] == ["new"]


def test_prune_deletes_old_scans_rows_and_folders_only(store: Engine, tmp_path: Path) -> None:
    seed(store, tmp_path, "s100", 100, "complete")
    seed(store, tmp_path, "s60", 60, "failed")
    seed(store, tmp_path, "s40", 40, "running", shards=2)  # another host may still collect
    seed(store, tmp_path, "s5", 5, "complete")
    seed(store, tmp_path, "s1", 1, "partial")
    (tmp_path / "not-a-scan").mkdir()
    result = prune(store, tmp_path, 30, now=NOW)
    assert sorted(result.scans) == ["s100", "s60"] and result.folders == 2
    assert _ids(store) == {"s40", "s5", "s1"}
    assert _rows(store, "s100") == 0 and _rows(store, "s5") > 0
    assert not (tmp_path / "s100").exists() and (tmp_path / "s5" / "findings.json").exists()
    assert (tmp_path / "not-a-scan").is_dir()


def test_prune_never_deletes_the_latest_complete_scan(store: Engine, tmp_path: Path) -> None:
    seed(store, tmp_path, "c90", 90, "complete")
    seed(store, tmp_path, "c80", 80, "complete")
    seed(store, tmp_path, "p2", 2, "partial")  # newer, but not complete
    dry = prune(store, tmp_path, 30, now=NOW, dry_run=True)
    assert dry.scans == ["c90"] and dry.kept_latest == "c80" and _ids(store) == {"c90", "c80",
                                                                                  "p2"}
    prune(store, tmp_path, 30, now=NOW)
    assert _ids(store) == {"c80", "p2"} and (tmp_path / "c80").is_dir()


def test_abandoned_running_scans_are_marked_failed(store: Engine, tmp_path: Path) -> None:
    seed(store, tmp_path, "killed", 1, "running")
    seed(store, tmp_path, "sharded", 1, "running", shards=3)
    assert mark_abandoned(store) == ["killed"]
    assert {r.id: r.status for r in list_scans(store)} == {"killed": "failed",
                                                           "sharded": "running"}


def test_cli_scans_list_json_and_prune(tmp_path: Path) -> None:
    from scanner.store.database import open_store

    url = f"sqlite:///{tmp_path / 'h.db'}"
    engine = open_store(url)
    out = tmp_path / "out"
    seed(engine, out, "20240101T020000Z-aaaaaa", 2000, "complete")
    seed(engine, out, "20240102T020000Z-bbbbbb", 1999, "complete")
    engine.dispose()
    env = {"PATH": "/usr/bin:/bin"}
    listed = ddaudit("scans", "list", "--database", url, "--json", env=env, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [r["id"] for r in rows] == ["20240102T020000Z-bbbbbb", "20240101T020000Z-aaaaaa"]
    assert rows[0]["targets"] == 2 and rows[0]["status"] == "complete"
    table = ddaudit("scans", "list", "--database", url, env=env, cwd=tmp_path)
    assert "20240101T020000Z-aaaaaa" in table.stdout and "incomplete" in table.stdout
    pruned = ddaudit("prune", "--database", url, "--output", str(out), "--keep-days", "30",
                     env=env, cwd=tmp_path)
    assert pruned.returncode == 0, pruned.stderr
    assert "deleted 1 scans" in pruned.stdout and "20240102T020000Z-bbbbbb" in pruned.stdout
    assert not (out / "20240101T020000Z-aaaaaa").exists()
    missing = ddaudit("prune", "--database", url, env=env, cwd=tmp_path)
    assert missing.returncode == 2 and "--keep-days" in missing.stderr
