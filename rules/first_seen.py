"""finding_history: when each finding was first seen, carried from scan to scan.

The table holds one row per finding id: the earliest first_seen it ever had while open or
suppressed. The engine looks it up by primary key one batch of findings at a time, so the
cost does not grow with the number of scans kept, and records an evaluation's sightings
in one statement once all its findings are written.

A finding's first_seen is the history's value when that is earlier than this scan's
start, else the scan's start; the history then keeps the smaller of the two. Re-evaluating
a scan thus gives the findings it gave before, even after later scans were evaluated:
their entries are never earlier than the earliest scan a finding was seen in. The history
outlives the scans `prune` deletes (first seen is history), and a finding once seen
failing stays in it even if a re-evaluation with other rules or suppressions no longer
finds it. A not_assessed finding takes its first_seen from the history too, but is no
sighting: it is not recorded there.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, Insert, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite

from scanner.store.schema import finding_history, findings

LOOKUP = 2000  # finding ids per finding_history query

# The history of some finding ids, by primary key.
_RECORDED = select(finding_history.c.id, finding_history.c.first_seen).where(
    finding_history.c.id.in_(bindparam("ids", expanding=True))
)


class FindingHistory:
    """The finding_history table as one evaluation of scan `scan_id` reads and updates it."""

    def __init__(self, conn: Connection, scan_id: str, now: datetime) -> None:
        self.conn, self.scan_id, self.now = conn, scan_id, now
        # An empty history (the first evaluation ever) has nothing to look up.
        self.empty = conn.execute(select(finding_history.c.id).limit(1)).first() is None

    def recorded(self, ids: Sequence[str]) -> dict[str, datetime]:
        """The first_seen the history holds for these finding ids (absent: never seen)."""
        known: dict[str, datetime] = {}
        if self.empty:
            return known
        for start in range(0, len(ids), LOOKUP):
            chunk = list(ids[start : start + LOOKUP])
            for fid, first in self.conn.execute(_RECORDED, {"ids": chunk}):
                known[fid] = first
        return known

    @staticmethod
    def first_seen(recorded: datetime | None, seen: datetime) -> datetime:
        """A finding's first_seen: the history's value when earlier than `seen`."""
        return recorded if recorded is not None and recorded < seen else seen

    def record(self) -> None:
        """Record the scan's sightings, once its findings are all written.

        A sighting is an open or suppressed finding. Only those first seen in this scan
        can change the history (new ids, or ids it holds with a later first_seen); one
        carried from the history already has its entry. They go in id order, so the
        primary key index grows in sequence rather than at random places.
        """
        seen = findings.c
        sightings = (
            select(seen.id, seen.first_seen)
            .where(seen.scan_id == self.scan_id, seen.status != "not_assessed",
                   seen.first_seen == self.now)
            .order_by(seen.id)
        )
        dialect = postgresql if self.conn.dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(finding_history).from_select(["id", "first_seen"], sightings)
        upsert: Insert = stmt.on_conflict_do_update(
            index_elements=[finding_history.c.id],
            set_={"first_seen": stmt.excluded.first_seen},
            where=stmt.excluded.first_seen < finding_history.c.first_seen,
        )
        self.conn.execute(upsert)
