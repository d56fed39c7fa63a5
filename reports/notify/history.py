"""Whether a finding resolved in earlier scans, read from the stored scan history.

A scan *judged* a finding when it evaluated the finding's rule for the finding's target:
it then either found it (an open or suppressed row with its id: present) or did not
(resolved in that scan). A scan where the rule was not assessed for that target (a
not_assessed row: its input was not fully collected) judges nothing: missing data fixes
nothing, the rule `ddaudit diff` follows too. Only scans that finished collecting
(complete or partial) and were evaluated count; a suppressed finding has not resolved.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from sqlalchemy import Connection, select

from reports.notify.facts import Item
from rules.results import naive_utc
from scanner.store.lifecycle import COLLECTED
from scanner.store.schema import findings, scans

LOOKUP = 500  # finding ids per query
WHOLE_SCAN = 2 * LOOKUP  # above this many ids, read the scan's ids once instead


class ScanHistory:
    """The evaluated scans started before one scan, newest first, read as they are asked."""

    def __init__(self, conn: Connection, before: datetime) -> None:
        self.conn = conn
        self.scans: list[tuple[str, datetime]] = [
            (str(sid), naive_utc(started)) for sid, started in conn.execute(
                select(scans.c.id, scans.c.started_at)
                .where(scans.c.started_at < before,
                       scans.c.status.in_([s.value for s in COLLECTED]),
                       scans.c.evaluated_at.is_not(None))
                .order_by(scans.c.started_at.desc()))]
        self._unjudged: dict[str, frozenset[tuple[str, str]]] = {}

    def resolved_since(self, since: Mapping[str, tuple[Item, datetime]]) -> set[str]:
        """Ids of the findings that resolved in a scan started after their own time.

        `since` maps a finding id to the finding and a time: only scans started after
        that time (and before this history's scan) are asked.
        """
        pending = dict(since)
        resolved: set[str] = set()
        for scan_id, started in self.scans:
            if not pending or started <= min(t for _, t in pending.values()):
                break
            live = [item for item, t in pending.values() if started > t]
            _, gone = self._judge(scan_id, live)
            resolved |= gone
            for fid in gone:
                del pending[fid]
        return resolved

    def came_back(self, items: Sequence[Item]) -> set[str]:
        """Ids of the findings the latest earlier scan that judged them did not find.

        Only scans since each finding's first_seen are asked (before it, it never was).
        """
        pending = {item.id: item for item in items}
        back: set[str] = set()
        for scan_id, started in self.scans:
            live = [item for item in pending.values() if started >= item.first_seen]
            if not live:
                break
            present, gone = self._judge(scan_id, live)
            back |= gone
            for fid in present | gone:
                pending.pop(fid, None)
        return back

    def _judge(self, scan_id: str, items: Sequence[Item]) -> tuple[set[str], set[str]]:
        """(present, resolved) among `items` in one scan; the rest were not judged."""
        present = set(self._present(scan_id, [item.id for item in items]))
        unjudged = self._unjudged_in(scan_id)
        gone = {item.id for item in items
                if item.id not in present and (item.rule_id, item.target) not in unjudged}
        return present, gone

    def _present(self, scan_id: str, ids: Sequence[str]) -> Iterable[str]:
        """Which of `ids` the scan has open or suppressed."""
        seen = select(findings.c.id).where(findings.c.scan_id == scan_id,
                                           findings.c.status.in_(("open", "suppressed")))
        if len(ids) > WHOLE_SCAN:
            # Many ids (a sink's first digest): one pass over the scan's rows beats a
            # query per chunk, each of which reads them all again (findings has no id index).
            wanted = set(ids)
            return [fid for fid in self.conn.execute(seen).scalars() if fid in wanted]
        return [fid for start in range(0, len(ids), LOOKUP)
                for fid in self.conn.execute(
                    seen.where(findings.c.id.in_(ids[start:start + LOOKUP]))).scalars()]

    def _unjudged_in(self, scan_id: str) -> frozenset[tuple[str, str]]:
        """(rule id, target) pairs the scan did not assess."""
        if scan_id not in self._unjudged:
            self._unjudged[scan_id] = frozenset(
                (str(rule), str(target)) for rule, target in self.conn.execute(
                    select(findings.c.rule_id, findings.c.target)
                    .where(findings.c.scan_id == scan_id, findings.c.status == "not_assessed")
                    .distinct()))
        return self._unjudged[scan_id]
