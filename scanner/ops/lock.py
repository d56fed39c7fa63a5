"""A run lock kept in the snapshot database, so overlapping runs never interleave.

The lock is a row of the `locks` table keyed by name: inserting it takes the lock, the
primary key makes a second run fail at once (BusyError, exit 5). Because it lives in the
database it works across hosts sharing a PostgreSQL. The holder refreshes `heartbeat_at`
from a background thread; a lock whose heartbeat is older than `stale_after` (its holder
died without releasing: SIGKILL, power loss), or whose holder was a process on this host
that no longer exists, is taken over. Take-over is compare-and-swap on the holder's token,
so two runs that both find a stale lock cannot both win.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from datetime import timedelta
from types import TracebackType
from typing import Any

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

from scanner.errors import BusyError
from scanner.store.schema import locks
from scanner.timeutil import utcnow

log = logging.getLogger(__name__)

GLOBAL = "ddaudit"  # the lock of scan, collect, resume and prune
STALE_AFTER = timedelta(minutes=10)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunLock:
    """The named lock, held from `acquire` (or `with`) until `release`."""

    def __init__(self, engine: Engine, name: str = GLOBAL, *, command: str = "scan",
                 stale_after: timedelta = STALE_AFTER) -> None:
        self.engine, self.name, self.command = engine, name, command
        self.stale_after = stale_after
        self.token = secrets.token_hex(16)
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()

    def acquire(self) -> None:
        """Take the lock, or raise BusyError naming its holder."""
        for _attempt in range(3):
            try:
                if self._try_take():
                    break
            except (IntegrityError, OperationalError):
                time.sleep(0.2)  # another run wrote it first (or SQLite was busy): look again
        else:
            raise BusyError(f"could not take the run lock '{self.name}'; try again")
        log.debug("took the run lock %s", self.name)
        self._thread = threading.Thread(target=self._beat, name="ddaudit-lock", daemon=True)
        self._thread.start()

    def _try_take(self) -> bool:
        now = utcnow()
        with self.engine.begin() as conn:
            row = conn.execute(select(locks).where(locks.c.name == self.name)).mappings().first()
            if row is not None:
                if not self._stale(row, now):
                    raise BusyError(self._busy_message(row, now))
                taken = conn.execute(delete(locks).where(
                    locks.c.name == self.name, locks.c.holder == row["holder"]))
                if taken.rowcount != 1:
                    return False
                log.warning("took over the run lock %s from %s pid %s (last heartbeat %s)",
                            self.name, row["host"], row["pid"], row["heartbeat_at"])
            conn.execute(locks.insert().values(
                name=self.name, holder=self.token, host=self.host[:255], pid=self.pid,
                command=self.command[:64], acquired_at=now, heartbeat_at=now))
        return True

    def _stale(self, row: Any, now: Any) -> bool:
        if now - row["heartbeat_at"] > self.stale_after:
            return True
        return bool(row["host"] == self.host and not _pid_alive(int(row["pid"])))

    def _busy_message(self, row: Any, now: Any) -> str:
        since = row["acquired_at"].strftime("%Y-%m-%dT%H:%M:%SZ")
        beat = int((now - row["heartbeat_at"]).total_seconds())
        return (f"another ddaudit run holds the lock '{self.name}' ({row['command']}, pid "
                f"{row['pid']} on {row['host']}, since {since}, heartbeat {beat}s ago); "
                "this run exits without doing anything")

    def _beat(self) -> None:
        interval = max(self.stale_after.total_seconds() / 5, 0.05)
        while not self._stop.wait(interval):
            try:
                with self.engine.begin() as conn:
                    kept = conn.execute(update(locks).where(
                        locks.c.name == self.name, locks.c.holder == self.token,
                    ).values(heartbeat_at=utcnow()))
                if kept.rowcount != 1:
                    log.warning("the run lock %s was taken over by another run", self.name)
                    return
            except SQLAlchemyError as exc:  # keep trying: the database may come back
                log.warning("could not refresh the run lock %s: %s", self.name,
                            exc.__class__.__name__)

    def release(self) -> None:
        """Stop the heartbeat and delete the lock row (only if it is still ours)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        try:
            with self.engine.begin() as conn:
                conn.execute(delete(locks).where(
                    locks.c.name == self.name, locks.c.holder == self.token))
        except SQLAlchemyError:
            log.warning("could not release the run lock %s; the next run takes it over "
                        "once its heartbeat is %s old", self.name, self.stale_after)
