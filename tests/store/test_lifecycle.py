"""The scan lifecycle (scanner/store/lifecycle.py) on SQLite and PostgreSQL: every move."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, select, update

from scanner.errors import (
    BusyError,
    ConfigError,
    DDAuditError,
    NotFoundError,
    ScanStateError,
)
from scanner.store import lifecycle, schema
from scanner.store.lifecycle import ScanStatus
from scanner.timeutil import utcnow

RUNNING, COMPLETE, PARTIAL, FAILED = (ScanStatus.RUNNING, ScanStatus.COMPLETE,
                                      ScanStatus.PARTIAL, ScanStatus.FAILED)


def _row(store: Engine, scan_id: str) -> dict[str, object]:
    with store.connect() as conn:
        return dict(conn.execute(select(schema.scans).where(schema.scans.c.id == scan_id))
                    .mappings().one())


def _start(store: Engine) -> str:
    scan_id, _ = lifecycle.start(store, config_sha256="c" * 64, rulepack_sha256="r" * 64)
    return scan_id


def _coverage(store: Engine, scan_id: str, *statuses: str) -> None:
    with store.begin() as conn:
        for n, status in enumerate(statuses):
            conn.execute(schema.coverage.insert().values(
                scan_id=scan_id, target=f"t{n}", site="datadoghq.com", endpoint="users",
                status=status, collected=1, expected=1))


def _force(store: Engine, scan_id: str, status: ScanStatus) -> None:
    """Put a scan in a status directly, as a run that got that far would have left it."""
    with store.begin() as conn:
        conn.execute(update(schema.scans).where(schema.scans.c.id == scan_id)
                     .values(status=status.value))


def test_status_values_are_the_stored_strings() -> None:
    assert [s.value for s in ScanStatus] == ["running", "complete", "partial", "failed"]
    assert ScanStatus.COMPLETE == "complete" and f"{ScanStatus.PARTIAL}" == "partial"
    assert lifecycle.COLLECTED == {"complete", "partial"}
    assert issubclass(ScanStateError, DDAuditError) and ScanStateError.exit_code == 4


# --- legal moves ------------------------------------------------------------------------

def test_start_inserts_a_running_scan(store: Engine) -> None:
    scan_id, started = lifecycle.start(store, config_sha256="c", rulepack_sha256=None)
    row = _row(store, scan_id)
    assert (row["status"], row["started_at"], row["finished_at"], row["shards"]) == (
        "running", started, None, None)
    assert scan_id.startswith(started.strftime("%Y%m%dT%H%M%SZ-"))
    assert lifecycle.status_of(store, scan_id) is RUNNING
    assert lifecycle.status_of(store, "nope") is None


@pytest.mark.parametrize(("coverage", "expected"), [(("complete", "complete"), COMPLETE),
                                                    (("complete", "forbidden"), PARTIAL)])
def test_the_run_holds_then_finishes_the_status_coverage_implies(
        store: Engine, coverage: tuple[str, ...], expected: ScanStatus) -> None:
    scan_id = _start(store)
    _coverage(store, scan_id, *coverage)
    assert lifecycle.hold(store, scan_id) is expected
    assert _row(store, scan_id)["status"] == "running"  # held until evaluated
    lifecycle.evaluated(store, scan_id)
    assert lifecycle.finished(store, scan_id, expected) is expected
    lifecycle.reported(store, scan_id)
    row = _row(store, scan_id)
    assert row["status"] == expected.value
    assert None not in (row["evaluated_at"], row["finished_at"], row["reported_at"])


def test_a_collect_only_scan_records_its_status_at_once(store: Engine) -> None:
    scan_id = _start(store)
    _coverage(store, scan_id, "complete", "partial")
    assert lifecycle.collected(store, scan_id) is PARTIAL
    row = _row(store, scan_id)
    assert (row["status"], row["finished_at"], row["evaluated_at"]) == ("partial", None, None)


def test_evaluated_stamps_any_status_and_clears_reported(store: Engine) -> None:
    for status in ScanStatus:
        scan_id = _start(store)
        _force(store, scan_id, status)
        with store.begin() as conn:
            conn.execute(update(schema.scans).where(schema.scans.c.id == scan_id)
                         .values(reported_at=utcnow()))
        with store.begin() as conn:  # inside the caller's transaction (the rule engine's)
            lifecycle.evaluated(conn, scan_id)
        row = _row(store, scan_id)
        assert (row["status"], row["reported_at"]) == (status.value, None)
        assert row["evaluated_at"] is not None


@pytest.mark.parametrize("status", [COMPLETE, PARTIAL, FAILED])
def test_reported_stamps_a_collected_or_failed_scan(store: Engine, status: ScanStatus) -> None:
    scan_id = _start(store)
    _force(store, scan_id, status)
    lifecycle.reported(store, scan_id)
    row = _row(store, scan_id)
    assert row["status"] == status.value and row["reported_at"] is not None


@pytest.mark.parametrize("status", [RUNNING, COMPLETE, PARTIAL])
def test_failed_marks_a_running_or_finished_scan(store: Engine, status: ScanStatus) -> None:
    scan_id = _start(store)
    _force(store, scan_id, status)
    assert lifecycle.failed(store, scan_id) is True
    row = _row(store, scan_id)
    assert row["status"] == "failed" and row["finished_at"] is not None


def test_failed_leaves_a_failed_or_unknown_scan_alone(store: Engine) -> None:
    scan_id = _start(store)
    assert lifecycle.failed(store, scan_id)
    first = _row(store, scan_id)["finished_at"]
    assert lifecycle.failed(store, scan_id) is False
    assert _row(store, scan_id)["finished_at"] == first
    assert lifecycle.failed(store, "nope") is False


@pytest.mark.parametrize("status", [PARTIAL, FAILED])
def test_reopen_puts_a_partial_or_failed_scan_back_to_running(
        store: Engine, status: ScanStatus) -> None:
    scan_id = _start(store)
    _coverage(store, scan_id, "failed")
    if status is PARTIAL:
        lifecycle.hold(store, scan_id)
        lifecycle.finished(store, scan_id, PARTIAL)
    else:
        lifecycle.failed(store, scan_id)
    lifecycle.reopen(store, scan_id)
    row = _row(store, scan_id)
    assert (row["status"], row["finished_at"]) == ("running", None)
    assert lifecycle.finished(store, scan_id, COMPLETE) is COMPLETE  # and on to the end


def test_abandoned_fails_only_unsharded_running_scans(store: Engine) -> None:
    stuck = _start(store)
    done = _start(store)
    _force(store, done, COMPLETE)
    assert lifecycle.join(store, "sharded", shards=2, config_sha256="c") is not None
    assert lifecycle.abandoned(store) == [stuck]
    assert {s: _row(store, s)["status"] for s in (stuck, done, "sharded")} == {
        stuck: "failed", done: "complete", "sharded": "running"}
    assert _row(store, stuck)["finished_at"] is not None
    assert lifecycle.abandoned(store) == []


def test_reading_helpers(store: Engine) -> None:
    with pytest.raises(NotFoundError, match="holds no scan yet"):
        lifecycle.latest_scan_id(store)
    assert lifecycle.latest(store) is None and lifecycle.latest_complete(store) is None
    old, new = _start(store), _start(store)
    with store.begin() as conn:
        conn.execute(update(schema.scans).where(schema.scans.c.id == old)
                     .values(started_at=utcnow() - timedelta(days=3), status="complete"))
    assert lifecycle.latest_scan_id(store) == new
    assert lifecycle.latest_complete(store) == old
    assert [r["id"] for r in lifecycle.recent(store)] == [new, old]
    assert [r["id"] for r in lifecycle.recent(store, 1)] == [new]
    assert lifecycle.prunable(store, utcnow() - timedelta(days=1)) == [old]
    _force(store, old, RUNNING)
    assert lifecycle.prunable(store, utcnow() - timedelta(days=1)) == []


def test_remove_deletes_a_scan_and_its_rows(store: Engine) -> None:
    scan_id = _start(store)
    _coverage(store, scan_id, "complete", "complete")
    lifecycle.hold(store, scan_id)
    lifecycle.finished(store, scan_id, COMPLETE)
    with store.begin() as conn:
        assert lifecycle.remove(conn, [scan_id]) == 2
    assert lifecycle.status_of(store, scan_id) is None


# --- illegal moves ----------------------------------------------------------------------

def _finished_scan(store: Engine, status: ScanStatus) -> str:
    scan_id = _start(store)
    _force(store, scan_id, status)
    return scan_id


@pytest.mark.parametrize(("status", "move", "message"), [
    (COMPLETE, "finish", r"cannot finish scan \S+: it is complete, not running$"),
    (FAILED, "finish", r"cannot finish scan \S+: it is failed, not running$"),
    (PARTIAL, "hold", r"cannot hold scan \S+: it is partial, not running$"),
    (COMPLETE, "collected",
     r"cannot record the collection of scan \S+: it is complete, not running$"),
    (COMPLETE, "reopen", r"cannot reopen scan \S+: it is complete, not partial or failed$"),
    (RUNNING, "reopen", r"cannot reopen scan \S+: it is running, not partial or failed$"),
    (RUNNING, "reported",
     r"cannot stamp reported scan \S+: it is running, not complete, partial or failed$"),
    (RUNNING, "remove", r"cannot delete scan \S+: it is running, not complete, partial or "
                        r"failed$"),
])
def test_an_illegal_move_is_refused_with_one_line(
        store: Engine, status: ScanStatus, move: str, message: str) -> None:
    scan_id = _finished_scan(store, status)
    before = _row(store, scan_id)
    with pytest.raises(ScanStateError, match=message) as caught:
        if move == "finish":
            lifecycle.finished(store, scan_id, COMPLETE)
        elif move == "hold":
            lifecycle.hold(store, scan_id)
        elif move == "collected":
            lifecycle.collected(store, scan_id)
        elif move == "reopen":
            lifecycle.reopen(store, scan_id)
        elif move == "reported":
            lifecycle.reported(store, scan_id)
        else:
            with store.begin() as conn:
                lifecycle.remove(conn, [scan_id])
    assert "\n" not in str(caught.value)
    assert _row(store, scan_id) == before  # nothing changed


@pytest.mark.parametrize("move", ["finish", "hold", "evaluated", "reported", "reopen"])
def test_a_move_of_an_unknown_scan_is_refused(store: Engine, move: str) -> None:
    calls = {"finish": lambda: lifecycle.finished(store, "nope", COMPLETE),
             "hold": lambda: lifecycle.hold(store, "nope"),
             "evaluated": lambda: lifecycle.evaluated(store, "nope"),
             "reported": lambda: lifecycle.reported(store, "nope"),
             "reopen": lambda: lifecycle.reopen(store, "nope")}
    with pytest.raises(ScanStateError, match=r"scan nope: it is not in the database; see "):
        calls[move]()


@pytest.mark.parametrize("status", ["running", "failed", "bogus"])
def test_a_scan_finishes_only_complete_or_partial(store: Engine, status: str) -> None:
    scan_id = _start(store)
    with pytest.raises(ScanStateError,
                       match=rf"cannot finish scan \S+ as {status}: a collection ends "
                             "complete or partial$"):
        lifecycle.finished(store, scan_id, status)
    assert _row(store, scan_id)["status"] == "running"


def test_failed_never_raises_when_the_database_is_gone(tmp_path: Path) -> None:
    gone = create_engine(f"sqlite:///{tmp_path / 'missing' / 'no.db'}")  # cannot even open
    assert lifecycle.failed(gone, "any") is False
    assert lifecycle.shard_failed(gone, "any", 1) is False
    gone.dispose()


def test_failed_never_raises_on_a_database_without_the_schema(db_url: str) -> None:
    bare = create_engine(db_url)  # no tables: every statement fails
    assert lifecycle.failed(bare, "any") is False
    bare.dispose()


# --- sharded scans ----------------------------------------------------------------------

def _shard(store: Engine, scan_id: str, index: int, count: int) -> ScanStatus | None:
    with store.begin() as conn:
        return lifecycle.shard_started(conn, scan_id, index, count, host="h", pid=1, targets=1)


def test_shards_run_the_scan_until_the_last_one_ends(store: Engine) -> None:
    row = lifecycle.join(store, "s", shards=2, config_sha256="c")
    assert row is not None and (row["status"], row["shards"]) == ("running", 2)
    again = lifecycle.join(store, "s", shards=3, config_sha256="d")  # the first one stays
    assert again is not None and (again["shards"], again["config_sha256"]) == (2, "c")
    assert _shard(store, "s", 1, 2) is None
    assert _shard(store, "s", 2, 2) is None
    with pytest.raises(BusyError, match=r"0 of 2 shards finished \(waiting for 1/2, 2/2\)"):
        lifecycle.require_collected(store, "s")
    _coverage(store, "s", "complete", "partial")
    assert lifecycle.shard_ended(store, "s", 1, COMPLETE) is RUNNING
    assert lifecycle.shard_failed(store, "s", 2) is True
    assert _shard(store, "s", 2, 2) is FAILED  # a failed shard runs again
    with pytest.raises(BusyError, match=r"1 of 2 shards finished \(waiting for 2/2\)"):
        lifecycle.require_collected(store, "s")
    assert lifecycle.shard_ended(store, "s", 2, PARTIAL) is PARTIAL  # the whole coverage's
    row = _row(store, "s")
    assert row["status"] == "partial" and row["finished_at"] is not None
    lifecycle.require_collected(store, "s")  # evaluate and report may go on


def test_a_finished_shard_is_not_started_again(store: Engine) -> None:
    lifecycle.join(store, "s", shards=1, config_sha256="c")
    _shard(store, "s", 1, 1)
    assert lifecycle.shard_ended(store, "s", 1, COMPLETE) is COMPLETE
    with pytest.raises(ConfigError, match=r"shard 1/1 of scan s has already finished "
                                          r"\(complete\); run evaluate"):
        _shard(store, "s", 1, 1)


def test_a_shard_ends_only_once_and_only_collected(store: Engine) -> None:
    lifecycle.join(store, "s", shards=2, config_sha256="c")
    _shard(store, "s", 1, 2)
    with pytest.raises(ScanStateError, match=r"cannot end shard 1 of scan s as failed"):
        lifecycle.shard_ended(store, "s", 1, FAILED)
    lifecycle.shard_ended(store, "s", 1, COMPLETE)
    with pytest.raises(ScanStateError, match=r"cannot end shard 1/2 of scan s: it is not "
                                             r"running"):
        lifecycle.shard_ended(store, "s", 1, COMPLETE)
    assert lifecycle.shard_failed(store, "s", 1) is False  # a finished shard stays finished


def test_require_collected_of_an_unsharded_running_scan(store: Engine) -> None:
    scan_id = _start(store)
    with pytest.raises(BusyError, match="is still marked running"):
        lifecycle.require_collected(store, scan_id)
    lifecycle.require_collected(store, "nope")  # unknown: the caller reports it
