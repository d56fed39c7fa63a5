"""finding_history: when each finding was first seen, carried from scan to scan.

The table holds one row per finding id: the earliest first_seen it ever had while open or
suppressed. It is looked up by primary key one batch of findings at a time, so its cost
does not grow with the number of scans kept.

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

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import Connection, Insert, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite

from scanner.store.schema import finding_history

LOOKUP = 500  # finding ids per finding_history query
HISTORY_COLUMNS = ("id", "first_seen")

# The history of some finding ids, by primary key.
_RECORDED = select(finding_history.c.id, finding_history.c.first_seen).where(
    finding_history.c.id.in_(bindparam("ids", expanding=True))
)


class FindingHistory:
    """The finding_history table as one evaluation reads and updates it."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
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

    @staticmethod
    def updates(
        sightings: Iterable[tuple[str, datetime]], known: dict[str, datetime]
    ) -> list[list[object]]:
        """The (id, first_seen) rows to upsert: ids new to the history or seen earlier.

        `sightings` are the open or suppressed findings of a batch; `known`, what
        `recorded` returned for them.
        """
        out: list[list[object]] = []
        for fid, seen in sightings:
            recorded = known.get(fid)
            if recorded is None or seen < recorded:
                out.append([fid, seen])
        return out

    def upsert(self) -> Insert:
        """INSERT into finding_history that keeps the earlier first_seen of an existing id."""
        dialect = postgresql if self.conn.dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(finding_history)
        upsert: Insert = stmt.on_conflict_do_update(
            index_elements=[finding_history.c.id],
            set_={"first_seen": stmt.excluded.first_seen},
            where=stmt.excluded.first_seen < finding_history.c.first_seen,
        )
        return upsert
