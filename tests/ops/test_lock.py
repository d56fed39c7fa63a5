"""The run lock: a second run exits at once (exit 5); dead holders are taken over."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, update

from scanner.errors import BusyError
from scanner.ops.lock import RunLock
from scanner.store.schema import locks
from scanner.timeutil import utcnow
from tests.ops.conftest import ddaudit


def _row(engine: Engine) -> dict[str, object] | None:
    with engine.connect() as conn:
        row = conn.execute(select(locks)).mappings().first()
    return None if row is None else dict(row)


def test_second_run_is_refused_with_the_holder_named(store: Engine) -> None:
    with RunLock(store, command="scan") as first:
        with pytest.raises(BusyError) as caught:
            RunLock(store, command="prune").acquire()
        message = str(caught.value)
        assert caught.value.exit_code == 5 and "\n" not in message
        assert f"pid {first.pid} on {first.host}" in message and "(scan," in message
    assert _row(store) is None  # released on exit
    with RunLock(store, command="prune"):
        pass


def test_other_lock_names_do_not_conflict(store: Engine) -> None:
    with RunLock(store, "shard:s:1"), RunLock(store, "shard:s:2"):
        with pytest.raises(BusyError):
            RunLock(store, "shard:s:1").acquire()


def test_lock_of_a_dead_process_on_this_host_is_taken_over(store: Engine) -> None:
    dead = RunLock(store, command="scan")
    dead.acquire()
    dead._stop.set()  # a SIGKILLed run: no release, no heartbeat
    with store.begin() as conn:
        conn.execute(update(locks).values(pid=2**22 + 12345))  # no such process
    with RunLock(store, command="scan") as second:
        row = _row(store)
        assert row is not None and row["holder"] == second.token


def test_lock_of_another_host_is_taken_over_only_once_its_heartbeat_is_stale(
    store: Engine,
) -> None:
    other = RunLock(store, command="scan", stale_after=timedelta(minutes=10))
    other.host = "elsewhere"
    other.acquire()
    other._stop.set()
    with pytest.raises(BusyError):
        RunLock(store).acquire()
    with store.begin() as conn:
        conn.execute(update(locks).values(heartbeat_at=utcnow() - timedelta(minutes=11)))
    with RunLock(store) as taker:
        row = _row(store)
        assert row is not None and row["holder"] == taker.token and row["host"] == taker.host


def test_heartbeat_keeps_a_long_run_from_looking_stale(store: Engine) -> None:
    stale_after = timedelta(seconds=0.5)
    with RunLock(store, stale_after=stale_after):
        first = _row(store)
        time.sleep(0.8)  # longer than stale_after: only the heartbeat keeps it alive
        later = _row(store)
        assert first is not None and later is not None
        assert later["heartbeat_at"] > first["heartbeat_at"]  # type: ignore[operator]
        rival = RunLock(store, stale_after=stale_after)
        rival.host = "elsewhere-too"  # not on this host, so only the heartbeat age counts
        with pytest.raises(BusyError):
            rival.acquire()


def test_overlapping_cli_scan_exits_5_with_one_line_and_no_scan(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'lock.db'}"
    env = {"PATH": "/usr/bin:/bin", "DD_API_KEY": "k" * 32, "DD_APP_KEY": "a" * 40}
    from scanner.store.database import open_store

    engine = open_store(url)
    with RunLock(engine, command="scan"):
        result = ddaudit("scan", "--database", url, "--output", "out", env=env, cwd=tmp_path)
        pruned = ddaudit("prune", "--database", url, "--keep-days", "30", env=env,
                         cwd=tmp_path)
    assert result.returncode == 5 and pruned.returncode == 5
    assert result.stderr.count("\n") == 1 and "holds the lock 'ddaudit'" in result.stderr
    assert "Traceback" not in result.stderr + pruned.stderr
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM scans").scalar() == 0
    engine.dispose()
