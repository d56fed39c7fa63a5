"""Writing an evaluation's findings: batches of rows, finished and inserted with executemany.

The engine hands the writer one findings row at a time, a list in COLUMNS order. When a
batch is full the writer finishes it (first_seen from finding_history, suppressions
applied), counts it and inserts it; `close` then records the evaluation's sightings in the
history with one statement. Memory stays flat however many findings a scan has.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from itertools import chain
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.exc import SQLAlchemyError

from rules.first_seen import FindingHistory
from rules.suppressions import SuppressionTracker
from scanner.errors import StoreError
from scanner.store.schema import findings

WRITE = 5000  # findings rows per batch
PARAMETERS = 999  # parameters per statement: the oldest SQLite's limit (newer ones take more)

# A findings row as the engine builds it: a list in this column order.
COLUMNS = (
    "scan_id", "id", "rule_id", "severity", "status", "title", "detail", "site",
    "org_public_id", "org_name", "target", "resource_type", "resource_id", "resource_name",
    "first_seen", "controls", "suppression",
)  # fmt: skip
_ID, _RULE, _SEVERITY, _STATUS = 1, 2, 3, 4
_SITE, _ORG, _ORG_NAME, _RID, _RNAME, _SEEN, _SUPPRESSION = 7, 8, 9, 12, 13, 14, 16
_MISSING = object()


class FindingsWriter:
    """Finishes findings rows in batches (first_seen, suppressions) and inserts them.

    `counts` tallies the rows written by (severity, status).
    """

    def __init__(
        self, conn: Connection, scan_id: str, now: datetime, tracker: SuppressionTracker
    ) -> None:
        self.conn, self.scan_id, self.now, self.tracker = conn, scan_id, now, tracker
        self.pending: list[list[Any]] = []
        self.counts: Counter[tuple[str, str]] = Counter()
        self.history = FindingHistory(conn, scan_id, now)
        self.insert = BulkInsert(conn, findings, COLUMNS)

    def add(self, row: list[Any]) -> None:
        """Queue one findings row (a list in COLUMNS order); write when the batch is full."""
        self.pending.append(row)
        if len(self.pending) >= WRITE:
            self.flush()

    def flush(self) -> None:
        """Finish and insert the queued rows."""
        rows, self.pending = self.pending, []
        if not rows:
            return
        known = self.history.recorded([row[_ID] for row in rows])
        if known:
            first_seen = self.history.first_seen
            for row in rows:
                row[_SEEN] = first_seen(known.get(row[_ID]), row[_SEEN])
        if self.tracker.in_force:
            self._suppress(rows)
        self.counts.update(map(itemgetter(_SEVERITY, _STATUS), rows))
        with _storing(self.conn):
            self.insert(rows)

    def close(self) -> None:
        """Insert what is queued, then record the evaluation's sightings in the history."""
        self.flush()
        with _storing(self.conn):
            self.history.record()

    def _suppress(self, rows: list[list[Any]]) -> None:
        match = self.tracker.match_fields
        for row in rows:
            if row[_STATUS] != "open":
                continue
            hit = match(row[_RULE], row[_SITE], row[_ORG], row[_ORG_NAME], row[_RID], row[_RNAME])
            if hit is not None:
                row[_STATUS] = "suppressed"
                row[_SUPPRESSION] = json.dumps(hit.as_dict())


@contextmanager
def _storing(conn: Connection) -> Iterator[None]:
    """Database errors while writing findings, as a one-line StoreError."""
    try:
        yield
    except (SQLAlchemyError, conn.dialect.loaded_dbapi.Error) as exc:  # COPY: the driver's
        message = str(getattr(exc, "orig", exc)).splitlines()[0]
        raise StoreError(f"cannot write findings: {message}") from exc


class BulkInsert:
    """Inserts prepared rows in the driver's own terms: COPY on psycopg, else executemany.

    SQLAlchemy's per-row parameter handling costs more than SQLite's insert itself; here
    the statement is compiled once and only the columns whose type needs it (DateTime on
    SQLite) are converted. With positional parameters (SQLite) an INSERT takes as many rows
    as PARAMETERS allows, which SQLite runs faster than as many one-row INSERTs. PostgreSQL
    takes rows by COPY many times faster than by executemany.
    """

    def __init__(self, conn: Connection, table: Table, columns: Sequence[str]) -> None:
        dialect = conn.dialect
        compiled = table.insert().compile(dialect=dialect, column_keys=list(columns))
        self.conn, self.sql, self.columns = conn, compiled.string, tuple(columns)
        self.named = not compiled.positional
        # Positional: the row index of each parameter, unless rows are in that order.
        order = [self.columns.index(name) for name in compiled.positiontup or ()]
        self.pick = None if order == list(range(len(order))) else itemgetter(*order)
        self.at_once = max(1, PARAMETERS // len(self.columns))
        head, values = self.sql.rsplit(" VALUES ", 1)
        self.many_sql = f"{head} VALUES {', '.join([values] * self.at_once)}"
        self.convert = [
            (i, proc)
            for i, name in enumerate(columns)
            if (proc := dialect.type_descriptor(table.c[name].type).bind_processor(dialect))
        ]
        self.copy = (f"COPY {table.name} ({', '.join(self.columns)}) FROM STDIN"
                     if dialect.driver == "psycopg" else None)

    def __call__(self, rows: Sequence[list[Any]]) -> None:
        """Insert the rows (lists in the columns' order), converting their values in place."""
        for i, proc in self.convert:
            done: dict[Any, Any] = {}  # values repeat (first_seen is mostly the scan's start)
            for row in rows:
                value = row[i]
                converted = done.get(value, _MISSING)
                if converted is _MISSING:
                    converted = done[value] = proc(value)
                row[i] = converted
        if self.copy is not None:
            driver: Any = self.conn.connection.driver_connection  # psycopg, in the transaction
            with driver.cursor() as cursor, cursor.copy(self.copy) as copy:
                for row in rows:
                    copy.write_row(row)
            return
        if self.named:
            self.conn.exec_driver_sql(
                self.sql, [dict(zip(self.columns, row, strict=True)) for row in rows])
            return
        ordered = rows if self.pick is None else list(map(self.pick, rows))
        step, flat = self.at_once, chain.from_iterable
        whole = len(ordered) - len(ordered) % step
        if whole:
            self.conn.exec_driver_sql(self.many_sql, [
                tuple(flat(ordered[i : i + step])) for i in range(0, whole, step)])
        if whole < len(ordered):  # SQLAlchemy takes tuples, not lists
            self.conn.exec_driver_sql(self.sql, list(map(tuple, ordered[whole:])))
