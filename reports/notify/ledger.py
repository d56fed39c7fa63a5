"""The notification ledger: what each sink was told about, and every delivery of a scan.

`notify_ledger` holds, per sink name and finding id, the scan the finding was last
announced in and `seen_through`: the latest scan start through which it is known not to
have resolved since. `notify_deliveries` holds one row per notification of a scan to a
sink, whatever its outcome; run.json lists them. Only a real send writes either table:
a dry run reads them and nothing more.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from rules.results import naive_utc
from scanner.store.schema import notify_deliveries, notify_ledger
from scanner.timeutil import isoformat_z

LOOKUP = 500  # finding ids per query

SENT, FAILED, SKIPPED = "sent", "failed", "skipped"


@dataclass(frozen=True, slots=True)
class Entry:
    """A finding's ledger row for one sink."""

    scan_id: str
    announced_at: datetime
    seen_through: datetime


@dataclass(frozen=True, slots=True)
class Delivery:
    """The outcome of one sink for one scan: no URL, address or key in it."""

    sink: str
    kind: str
    outcome: str  # sent | failed | skipped (nothing to announce)
    attempts: int
    events: tuple[str, ...]
    new: int
    regressed: int
    error: str | None = None

    def as_json(self, at: datetime | None = None) -> dict[str, Any]:
        """The entry of run.json's `notifications`."""
        return {"sink": self.sink, "kind": self.kind, "at": isoformat_z(at),
                "outcome": self.outcome, "attempts": self.attempts,
                "events": list(self.events), "new": self.new, "regressed": self.regressed,
                "error": self.error}


def entries(conn: Connection, sink: str, ids: Sequence[str]) -> dict[str, Entry]:
    """The ledger rows of these finding ids for `sink` (absent: never announced there)."""
    found: dict[str, Entry] = {}
    for start in range(0, len(ids), LOOKUP):
        for fid, scan_id, announced, seen in conn.execute(
                select(notify_ledger.c.finding_id, notify_ledger.c.announced_scan_id,
                       notify_ledger.c.announced_at, notify_ledger.c.seen_through)
                .where(notify_ledger.c.sink == sink,
                       notify_ledger.c.finding_id.in_(ids[start:start + LOOKUP]))):
            found[str(fid)] = Entry(str(scan_id), naive_utc(announced), naive_utc(seen))
    return found


def delivered_events(conn: Connection, sink: str, scan_id: str) -> set[str]:
    """The events already sent to `sink` for scan `scan_id` (partial, failed: once each)."""
    sent: set[str] = set()
    for (events,) in conn.execute(
            select(notify_deliveries.c.events).where(
                notify_deliveries.c.scan_id == scan_id, notify_deliveries.c.sink == sink,
                notify_deliveries.c.outcome == SENT)):
        sent.update(e for e in str(events).split(",") if e)
    return sent


def record_announced(conn: Connection, sink: str, scan_id: str, started_at: datetime,
                     announced: Sequence[str], seen: Sequence[str]) -> None:
    """After a delivery: `announced` were told in this scan, `seen` are known unresolved.

    `seen` are findings announced earlier, found again in this scan and not resolved in
    between: their ledger rows now hold through this scan, so later scans look back only
    as far as here.
    """
    for start in range(0, len(announced), LOOKUP):
        chunk = list(announced[start:start + LOOKUP])
        conn.execute(delete(notify_ledger).where(notify_ledger.c.sink == sink,
                                                 notify_ledger.c.finding_id.in_(chunk)))
        conn.execute(insert(notify_ledger), [
            {"sink": sink, "finding_id": fid, "announced_scan_id": scan_id,
             "announced_at": started_at, "seen_through": started_at} for fid in chunk])
    for start in range(0, len(seen), LOOKUP):
        conn.execute(update(notify_ledger).where(
            notify_ledger.c.sink == sink,
            notify_ledger.c.finding_id.in_(seen[start:start + LOOKUP]),
            notify_ledger.c.seen_through < started_at).values(seen_through=started_at))


def record_delivery(conn: Connection, scan_id: str, delivery: Delivery, at: datetime) -> None:
    """Store one delivery of scan `scan_id` (what run.json will list)."""
    conn.execute(insert(notify_deliveries).values(
        scan_id=scan_id, sink=delivery.sink, kind=delivery.kind, at=at,
        outcome=delivery.outcome, attempts=delivery.attempts,
        events=",".join(delivery.events), new_findings=delivery.new,
        regressed_findings=delivery.regressed, error=delivery.error))


def deliveries(conn: Connection, scan_id: str) -> list[dict[str, Any]]:
    """Every delivery recorded for scan `scan_id`, oldest first, as run.json lists them."""
    rows = conn.execute(select(notify_deliveries).where(
        notify_deliveries.c.scan_id == scan_id).order_by(
        notify_deliveries.c.at, notify_deliveries.c.sink)).mappings()
    return [Delivery(sink=r["sink"], kind=r["kind"], outcome=r["outcome"],
                     attempts=r["attempts"],
                     events=tuple(e for e in str(r["events"]).split(",") if e),
                     new=r["new_findings"], regressed=r["regressed_findings"],
                     error=r["error"]).as_json(naive_utc(r["at"]))
            for r in rows]
