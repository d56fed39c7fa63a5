"""Writing an evaluation's findings: batches of rows, finished and inserted with executemany.

The engine hands the writer one findings row at a time, a list in COLUMNS order. When a
batch is full the writer finishes it (first_seen from finding_history, suppressions
applied), counts it, inserts it and records its sightings in the history. Memory stays
flat however many findings a scan has.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Insert, Table
from sqlalchemy.exc import SQLAlchemyError

from rules.first_seen import HISTORY_COLUMNS, FindingHistory
from rules.suppressions import SuppressionTracker
from scanner.errors import StoreError
from scanner.store.schema import finding_history, findings

WRITE = 2000  # findings rows per executemany

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
        self.history = FindingHistory(conn)
        self.insert = BulkInsert(conn, findings, COLUMNS)
        self.remember = BulkInsert(conn, finding_history, HISTORY_COLUMNS,
                                   self.history.upsert())

    def add(self, row: list[Any]) -> None:
        """Queue one findings row (a list in COLUMNS order); write when the batch is full."""
        self.pending.append(row)
        if len(self.pending) >= WRITE:
            self.flush()

    def flush(self) -> None:
        """Finish and insert the queued rows, and record them in finding_history."""
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
        counts = self.counts
        for row in rows:
            counts[(row[_SEVERITY], row[_STATUS])] += 1
        # BulkInsert converts the rows in place, so the history's rows are picked first.
        sightings = ((row[_ID], row[_SEEN]) for row in rows if row[_STATUS] != "not_assessed")
        history = self.history.updates(sightings, known)
        try:
            self.insert(rows)
            if history:
                self.remember(history)
        except SQLAlchemyError as exc:
            message = str(getattr(exc, "orig", exc)).splitlines()[0]
            raise StoreError(f"cannot write findings: {message}") from exc

    def _suppress(self, rows: list[list[Any]]) -> None:
        match = self.tracker.match_fields
        for row in rows:
            if row[_STATUS] != "open":
                continue
            hit = match(row[_RULE], row[_SITE], row[_ORG], row[_ORG_NAME], row[_RID], row[_RNAME])
            if hit is not None:
                row[_STATUS] = "suppressed"
                row[_SUPPRESSION] = json.dumps(hit.as_dict())


class BulkInsert:
    """executemany of prepared rows in the driver's own parameter style.

    SQLAlchemy's per-row parameter handling costs more than SQLite's insert itself; here
    the statement is compiled once and only the columns whose type needs it (DateTime on
    SQLite) are converted.
    """

    def __init__(self, conn: Connection, table: Table, columns: Sequence[str],
                 statement: Insert | None = None) -> None:
        dialect = conn.dialect
        insert = table.insert() if statement is None else statement
        compiled = insert.compile(dialect=dialect, column_keys=list(columns))
        self.conn, self.sql, self.columns = conn, compiled.string, tuple(columns)
        positions = compiled.positiontup if compiled.positional else None
        self.order = [self.columns.index(name) for name in positions] if positions else None
        self.convert = [
            (i, proc)
            for i, name in enumerate(columns)
            if (proc := dialect.type_descriptor(table.c[name].type).bind_processor(dialect))
        ]

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
        params: list[Any]
        if self.order is None:
            params = [dict(zip(self.columns, row, strict=True)) for row in rows]
        else:
            pick = itemgetter(*self.order)
            params = [pick(row) for row in rows]
        self.conn.exec_driver_sql(self.sql, params)
