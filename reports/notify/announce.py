"""Which open findings a sink announces for a scan: new, regressed, or already told.

For each open finding at or above the sink's min_severity:
- never announced to the sink (no ledger row): announced. It is *regressed* when it was
  seen before this scan (first_seen earlier) and the latest earlier scan that judged it
  did not find it: it resolved, and this scan is the one it came back in. Otherwise it is
  *new* to the sink: first seen now, or open before but not yet told to this sink (a sink
  added later, a severity raised, a suppression that expired, a delivery that failed).
- announced before: announced again, as regressed, only when it resolved in a scan after
  the ledger's `seen_through` (it went away in a scan that assessed it, then came back);
  else it is only *seen*, and its ledger row moves on to this scan.
- announced in this scan or a later one (the ledger is ahead: a re-send): nothing.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection

from reports.notify import ledger
from reports.notify.digest import Digest
from reports.notify.facts import Item, ScanFacts
from reports.notify.history import ScanHistory
from rules.model import SEVERITY_RANK
from scanner.config_notify import NOTIFY_EVENTS, NotifySink
from scanner.store.lifecycle import ScanStatus

REPORT = "report.html"


def plan_digest(conn: Connection, history: ScanHistory, sink: NotifySink, facts: ScanFacts,
                report_path: str | None) -> Digest:
    """The digest `sink` gets for the scan of `facts`, from the ledger and the history.

    `history` holds the scans before `facts`' scan; `report_path` is where its report is
    (None for a failed scan). Reads the database only.
    """
    floor = SEVERITY_RANK[sink.min_severity]
    items = [i for i in facts.open_items if SEVERITY_RANK.get(i.severity, floor + 1) <= floor]
    known = ledger.entries(conn, sink.name, [i.id for i in items])
    fresh: list[Item] = []
    recheck: dict[str, tuple[Item, datetime]] = {}
    for item in items:
        entry = known.get(item.id)
        if entry is None:
            fresh.append(item)
        elif entry.seen_through < facts.started_at:
            recheck[item.id] = (item, entry.seen_through)
    back = history.resolved_since(recheck)
    came_back = history.came_back([i for i in fresh if i.first_seen < facts.started_at])
    wants_new, wants_regressed = "new" in sink.on, "regressed" in sink.on
    new = tuple(i for i in fresh if i.id not in came_back) if wants_new else ()
    regressed = (tuple(i for i in items if i.id in back or i.id in came_back)
                 if wants_regressed else ())
    # A regression the sink does not ask for is known unresolved from here on all the same.
    seen = tuple(fid for fid in recheck if fid not in back or not wants_regressed)
    delivered = ledger.delivered_events(conn, sink.name, facts.id)
    raised = {"new": bool(new), "regressed": bool(regressed),
              "partial": facts.status == ScanStatus.PARTIAL and "partial" not in delivered,
              "failed": facts.status == ScanStatus.FAILED and "failed" not in delivered}
    events = tuple(e for e in NOTIFY_EVENTS if raised[e] and e in sink.on)
    url = None
    if sink.report_url and report_path is not None:
        url = f"{sink.report_url.rstrip('/')}/{facts.id}/{REPORT}"
    return Digest(sink=sink, facts=facts, events=events, new=new, regressed=regressed,
                  seen=seen, report_path=report_path, report_url=url)
