"""The scan lifecycle: the one owner of the `scans` table and of the status of `scan_shards`.

A scan moves through these statuses (`ScanStatus`; the strings are what the database,
findings.json, run.json and `scans list` show):

    start ──> running ──collected──> complete | partial       (`ddaudit collect`)
                 │  hold (stays running while evaluated)
                 ├──finished──> complete | partial             (the run evaluated it)
                 ├──failed────> failed    (also from complete | partial: the run then died)
                 └──abandoned─> failed    (left running by a run that died; under the lock)
    partial | failed ──reopen──> running                      (`scan --resume`)

`evaluated` (any status) and `reported` (complete, partial, failed) stamp the scan
without moving it. Each transition is a compare-and-set on the current status: an illegal
move (finishing a scan that is not running, reopening a complete one) raises
ScanStateError with one line naming the scan, what it is and what the move needs. Every
function takes an Engine (its own transaction) or a Connection (the caller's).

A sharded scan (`collect --shard i/n`) is created by whichever shard `join`s first and
stays running until its last shard ends (`shard_ended`), which finishes it; each shard's
own row in `scan_shards` goes through the same statuses (running, then complete, partial
or failed).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Engine, RowMapping, delete, func, select, update
from sqlalchemy.exc import IntegrityError

from scanner import __version__
from scanner.errors import BusyError, ConfigError, NotFoundError, ScanStateError
from scanner.store import schema
from scanner.timeutil import utcnow

log = logging.getLogger(__name__)

scans = schema.scans
shards_table = schema.scan_shards
Bind = Engine | Connection


class ScanStatus(StrEnum):
    """The status of a scan (and of a shard of a sharded scan), as stored and shown."""

    RUNNING = "running"  # being collected, or collected and held until evaluated
    COMPLETE = "complete"  # every target and endpoint fully collected
    PARTIAL = "partial"  # collected, with coverage gaps
    FAILED = "failed"  # stopped half-way (error, interrupt, or its run died)


COLLECTED: frozenset[ScanStatus] = frozenset({ScanStatus.COMPLETE, ScanStatus.PARTIAL})
"""The statuses of a scan whose collection finished: what reports compare against."""

_ORDER = tuple(ScanStatus)


@contextmanager
def _transaction(bind: Bind) -> Iterator[Connection]:
    """The caller's connection as it is, or a new transaction on an engine."""
    if isinstance(bind, Connection):
        yield bind
    else:
        with bind.begin() as conn:
            yield conn


def _either(allowed: Collection[ScanStatus]) -> str:
    names = [s.value for s in _ORDER if s in allowed]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def _refusal(conn: Connection, scan_id: str, verb: str,
             allowed: Collection[ScanStatus]) -> ScanStateError:
    """The one-line error of a move the scan's current status does not allow."""
    current = conn.execute(select(scans.c.status).where(scans.c.id == scan_id)).scalar()
    if current is None:
        return ScanStateError(f"cannot {verb} scan {scan_id}: it is not in the database; "
                              "see `ddaudit scans list`")
    return ScanStateError(f"cannot {verb} scan {scan_id}: it is {current}, not "
                          f"{_either(allowed)}")


def _move(conn: Connection, scan_id: str, verb: str, allowed: Collection[ScanStatus],
          **values: Any) -> None:
    """Update the scan's row if its status is one of `allowed`, else refuse."""
    done = conn.execute(update(scans).where(
        scans.c.id == scan_id, scans.c.status.in_([s.value for s in allowed]),
    ).values(**values))
    if done.rowcount != 1:
        raise _refusal(conn, scan_id, verb, allowed)


def _final(scan_id: str, status: str, verb: str) -> ScanStatus:
    """`status` as the complete or partial a scan (or shard) ends collected with."""
    if status not in COLLECTED:
        raise ScanStateError(f"cannot {verb} scan {scan_id} as {status}: a collection ends "
                             "complete or partial")
    return ScanStatus(status)


# --- reading -----------------------------------------------------------------------------

def new_scan_id(started: datetime) -> str:
    """A sortable, unique scan id: the start time plus a random suffix."""
    return started.strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


def status_of(bind: Bind, scan_id: str) -> ScanStatus | None:
    """The scan's current status; None when there is no such scan."""
    with _transaction(bind) as conn:
        current = conn.execute(select(scans.c.status).where(scans.c.id == scan_id)).scalar()
    return None if current is None else ScanStatus(current)


def coverage_status(conn: Connection, scan_id: str) -> ScanStatus:
    """COMPLETE when every coverage row of the scan is complete, else PARTIAL."""
    bad = conn.execute(select(schema.coverage.c.endpoint).where(
        schema.coverage.c.scan_id == scan_id, schema.coverage.c.status.notin_(schema.SETTLED),
    ).limit(1)).first()
    return ScanStatus.PARTIAL if bad is not None else ScanStatus.COMPLETE


def latest(bind: Bind) -> RowMapping | None:
    """The row of the most recently started scan, or None when there is none."""
    with _transaction(bind) as conn:
        return conn.execute(select(scans).order_by(scans.c.started_at.desc())
                            .limit(1)).mappings().first()


def latest_scan_id(engine: Engine) -> str:
    """The id of the most recent scan in the database (StoreError when there is none)."""
    row = latest(engine)
    if row is None:
        raise NotFoundError("the database holds no scan yet; run 'ddaudit scan' first")
    return str(row["id"])


def latest_complete(bind: Bind) -> str | None:
    """The id of the most recent complete scan, which retention always keeps."""
    with _transaction(bind) as conn:
        return conn.execute(select(scans.c.id).where(scans.c.status == ScanStatus.COMPLETE.value)
                            .order_by(scans.c.started_at.desc()).limit(1)).scalar()


def recent(bind: Bind, limit: int | None = None) -> Sequence[RowMapping]:
    """The rows of the most recent scans (all of them without `limit`), newest first."""
    query = select(scans).order_by(scans.c.started_at.desc(), scans.c.id.desc())
    with _transaction(bind) as conn:
        return conn.execute(query.limit(limit) if limit else query).mappings().all()


def prunable(bind: Bind, cutoff: datetime) -> list[str]:
    """Ids of the scans started before `cutoff` that are not running, oldest first."""
    with _transaction(bind) as conn:
        return list(conn.execute(select(scans.c.id).where(
            scans.c.started_at < cutoff, scans.c.status != ScanStatus.RUNNING.value,
        ).order_by(scans.c.started_at)).scalars().all())


def require_collected(engine: Engine, scan_id: str) -> None:
    """Refuse (BusyError, exit 5) to evaluate or report a scan still being collected."""
    with engine.connect() as conn:
        row = conn.execute(select(scans.c.status, scans.c.shards)
                           .where(scans.c.id == scan_id)).first()
        if row is None or row.status != ScanStatus.RUNNING:
            return
        if not row.shards:
            raise BusyError(f"scan {scan_id} is still marked running (being collected, or "
                            "interrupted); wait for it, or run 'ddaudit scan --resume'")
        done = conn.execute(select(shards_table.c.shard).where(
            shards_table.c.scan_id == scan_id,
            shards_table.c.status.in_([s.value for s in COLLECTED]))).scalars().all()
    waiting = [f"{i}/{row.shards}" for i in range(1, row.shards + 1) if i not in set(done)]
    raise BusyError(f"scan {scan_id} is still being collected: {len(done)} of {row.shards} "
                    f"shards finished (waiting for {', '.join(waiting)}); run evaluate and "
                    "report once every shard has finished")


# --- transitions -------------------------------------------------------------------------

def start(bind: Bind, *, config_sha256: str | None,
          rulepack_sha256: str | None) -> tuple[str, datetime]:
    """Insert a new running scan; return its id and start time."""
    started = utcnow()
    scan_id = new_scan_id(started)
    with _transaction(bind) as conn:
        conn.execute(scans.insert().values(
            id=scan_id, started_at=started, status=ScanStatus.RUNNING.value,
            tool_version=__version__, config_sha256=config_sha256,
            rulepack_sha256=rulepack_sha256))
    return scan_id, started


def hold(bind: Bind, scan_id: str) -> ScanStatus:
    """Keep a collected scan running until it is evaluated; return what its coverage implies.

    The run finishes it (`finished`) with that status once evaluated, so a run killed
    meanwhile never leaves it complete. Refused unless the scan is running.
    """
    with _transaction(bind) as conn:
        current = conn.execute(select(scans.c.status).where(scans.c.id == scan_id)).scalar()
        if current != ScanStatus.RUNNING:
            raise _refusal(conn, scan_id, "hold", {ScanStatus.RUNNING})
        return coverage_status(conn, scan_id)


def collected(bind: Bind, scan_id: str) -> ScanStatus:
    """Record a collect-only scan's status as its coverage implies (complete or partial).

    `ddaudit collect` evaluates nothing, so nothing holds the scan: it leaves running now.
    Its finish time stays unset, as before this module. Refused unless it is running.
    """
    with _transaction(bind) as conn:
        status = coverage_status(conn, scan_id)
        _move(conn, scan_id, "record the collection of", {ScanStatus.RUNNING},
              status=status.value)
    return status


def evaluated(bind: Bind, scan_id: str) -> None:
    """Stamp the scan evaluated now, and not reported since (its bundle is out of date).

    Legal in every status (the run's held scan, or `ddaudit evaluate --scan ID` of any
    stored scan); refused only for a scan that is not in the database.
    """
    with _transaction(bind) as conn:
        _move(conn, scan_id, "stamp evaluated", _ORDER, evaluated_at=utcnow(),
              reported_at=None)


def reported(bind: Bind, scan_id: str) -> None:
    """Stamp the scan's evidence bundle written now; refused while the scan is running."""
    with _transaction(bind) as conn:
        _move(conn, scan_id, "stamp reported",
              {ScanStatus.COMPLETE, ScanStatus.PARTIAL, ScanStatus.FAILED},
              reported_at=utcnow())


def finished(bind: Bind, scan_id: str, status: str) -> ScanStatus:
    """Finish a running scan as complete or partial, stamping its finish time."""
    final = _final(scan_id, status, "finish")
    with _transaction(bind) as conn:
        _move(conn, scan_id, "finish", {ScanStatus.RUNNING}, status=final.value,
              finished_at=utcnow())
    return final


def failed(bind: Bind, scan_id: str) -> bool:
    """Mark a scan that stopped half-way failed, so it is never taken for complete.

    From running, complete or partial (the run died after finishing it, e.g. writing its
    report); a scan already failed is left as it is. Never raises: it runs while another
    error is on its way out, and the database itself may be what failed. True when marked.
    """
    try:
        with _transaction(bind) as conn:
            _move(conn, scan_id, "mark failed",
                  {ScanStatus.RUNNING, ScanStatus.COMPLETE, ScanStatus.PARTIAL},
                  status=ScanStatus.FAILED.value, finished_at=utcnow())
        return True
    except ScanStateError as exc:
        log.debug("scan %s not marked failed: %s", scan_id, exc)
    except Exception:  # the database itself may be what failed
        log.debug("could not mark scan %s failed", scan_id, exc_info=True)
    return False


def abandoned(bind: Bind) -> list[str]:
    """Mark failed the unsharded scans left running by a run that died; return their ids.

    Call only while holding the global run lock (scanner.ops.lock): then no such scan can
    really be running. A sharded scan is left alone: its shards run under their own locks
    and a shard that died is simply run again.
    """
    with _transaction(bind) as conn:
        stuck = list(conn.execute(select(scans.c.id).where(
            scans.c.status == ScanStatus.RUNNING.value,
            scans.c.shards.is_(None))).scalars().all())
        if stuck:
            conn.execute(update(scans).where(
                scans.c.id.in_(stuck), scans.c.status == ScanStatus.RUNNING.value,
            ).values(status=ScanStatus.FAILED.value, finished_at=utcnow()))
    for scan_id in stuck:
        log.warning("scan %s was left running by a run that died; marked failed", scan_id)
    return stuck


def reopen(bind: Bind, scan_id: str) -> None:
    """Put a partial or failed scan back to running, to re-collect what it missed."""
    with _transaction(bind) as conn:
        _move(conn, scan_id, "reopen", {ScanStatus.PARTIAL, ScanStatus.FAILED},
              status=ScanStatus.RUNNING.value, finished_at=None)


def remove(conn: Connection, scan_ids: Sequence[str]) -> int:
    """Delete the scans and every row they own (prune); return the owned rows deleted.

    Refused (nothing deleted) when one of them is running.
    """
    running = conn.execute(select(scans.c.id).where(
        scans.c.id.in_(scan_ids), scans.c.status == ScanStatus.RUNNING.value,
    ).limit(1)).scalar()
    if running is not None:
        raise _refusal(conn, running, "delete", set(ScanStatus) - {ScanStatus.RUNNING})
    rows = 0
    for table in schema.SCAN_TABLES:
        rows += conn.execute(delete(table).where(table.c.scan_id.in_(scan_ids))).rowcount
    conn.execute(delete(scans).where(scans.c.id.in_(scan_ids)))
    return rows


# --- sharded scans -----------------------------------------------------------------------

def join(engine: Engine, scan_id: str, *, shards: int,
         config_sha256: str | None) -> RowMapping | None:
    """Create the running sharded scan unless a shard did first; return its stored row.

    The caller checks the row (its `shards` and `config_sha256`) against its own.
    """
    try:
        with engine.begin() as conn:
            conn.execute(scans.insert().values(
                id=scan_id, started_at=utcnow(), status=ScanStatus.RUNNING.value,
                tool_version=__version__, config_sha256=config_sha256, shards=shards))
    except IntegrityError:
        pass  # another shard created it first
    with engine.connect() as conn:
        return conn.execute(select(scans).where(scans.c.id == scan_id)).mappings().first()


def shard_started(conn: Connection, scan_id: str, index: int, count: int, *, host: str,
                  pid: int, targets: int) -> ScanStatus | None:
    """Record shard `index` of `count` running; return how its previous attempt ended.

    A shard that already finished (complete or partial) is refused with ConfigError (exit
    2: the operator ran it again); one that failed or died is simply started again.
    """
    previous = conn.execute(select(shards_table.c.status).where(
        shards_table.c.scan_id == scan_id, shards_table.c.shard == index)).scalar()
    if previous in COLLECTED:
        raise ConfigError(f"shard {index}/{count} of scan {scan_id} has already finished "
                          f"({previous}); run evaluate, or --scan for another scan")
    conn.execute(delete(shards_table).where(
        shards_table.c.scan_id == scan_id, shards_table.c.shard == index))
    conn.execute(shards_table.insert().values(
        scan_id=scan_id, shard=index, shards=count, status=ScanStatus.RUNNING.value,
        host=host[:255], pid=pid, targets=targets, started_at=utcnow()))
    return None if previous is None else ScanStatus(previous)


def shard_ended(engine: Engine, scan_id: str, index: int, status: str) -> ScanStatus:
    """Finish a running shard complete or partial; the last one finishes the scan.

    Returns the scan's status: RUNNING while other shards are still collecting, else the
    status its whole coverage implies.
    """
    final = _final(scan_id, status, f"end shard {index} of")
    with engine.begin() as conn:
        # Lock the scan's row first, so two shards ending together see each other's end.
        count = conn.execute(select(scans.c.shards).where(
            scans.c.id == scan_id).with_for_update()).scalar_one()
        done = conn.execute(update(shards_table).where(
            shards_table.c.scan_id == scan_id, shards_table.c.shard == index,
            shards_table.c.status == ScanStatus.RUNNING.value,
        ).values(status=final.value, finished_at=utcnow()))
        if done.rowcount != 1:
            raise ScanStateError(f"cannot end shard {index}/{count} of scan {scan_id}: it is "
                                 "not running (another run of it took over?)")
        ended = conn.execute(select(func.count()).select_from(shards_table).where(
            shards_table.c.scan_id == scan_id,
            shards_table.c.status.in_([s.value for s in COLLECTED]))).scalar_one()
        if ended < count:
            return ScanStatus.RUNNING
        return finished(conn, scan_id, coverage_status(conn, scan_id))


def shard_failed(engine: Engine, scan_id: str, index: int) -> bool:
    """Mark a running shard failed (the scan stays running); like `failed`, never raises."""
    try:
        with engine.begin() as conn:
            done = conn.execute(update(shards_table).where(
                shards_table.c.scan_id == scan_id, shards_table.c.shard == index,
                shards_table.c.status == ScanStatus.RUNNING.value,
            ).values(status=ScanStatus.FAILED.value, finished_at=utcnow()))
        return done.rowcount == 1
    except Exception:  # the database itself may be what failed
        log.debug("could not mark shard %d of scan %s failed", index, scan_id, exc_info=True)
        return False
