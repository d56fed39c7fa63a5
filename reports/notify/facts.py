"""What one stored scan tells its notifications: status, counts, open findings and gaps."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from rules.model import SEVERITIES, SEVERITY_RANK
from rules.results import naive_utc, report_order
from scanner.errors import NotFoundError, NothingToDoError
from scanner.store.lifecycle import ScanStatus
from scanner.store.schema import SETTLED, coverage, findings, scans
from scanner.timeutil import isoformat_z


@dataclass(frozen=True, slots=True)
class Item:
    """One open finding as a digest lists it (rule, resource, org, owner)."""

    id: str
    rule_id: str
    severity: str
    title: str
    detail: str
    site: str
    org_public_id: str | None
    org_name: str | None
    target: str
    resource_type: str
    resource_id: str
    resource_name: str | None
    owner: str | None
    first_seen: datetime

    def as_json(self) -> dict[str, Any]:
        """The item of the webhook body (docs/notifications.md)."""
        return {"id": self.id, "rule_id": self.rule_id, "severity": self.severity,
                "title": self.title, "detail": self.detail, "site": self.site,
                "org_public_id": self.org_public_id, "org_name": self.org_name,
                "target": self.target, "resource_type": self.resource_type,
                "resource_id": self.resource_id, "resource_name": self.resource_name,
                "owner": self.owner, "first_seen": isoformat_z(self.first_seen)}


@dataclass(frozen=True, slots=True)
class Unassessed:
    """A rule that was not assessed for one target's org (its input was not collected)."""

    rule_id: str
    severity: str
    site: str
    target: str
    org_public_id: str | None
    org_name: str | None

    def as_json(self) -> dict[str, Any]:
        """The item of the webhook body."""
        return {"rule_id": self.rule_id, "severity": self.severity, "site": self.site,
                "target": self.target, "org_public_id": self.org_public_id,
                "org_name": self.org_name}


@dataclass(frozen=True, slots=True)
class Gap:
    """A (target, endpoint) that was not fully collected."""

    target: str
    site: str
    org_public_id: str | None
    endpoint: str
    status: str

    def as_json(self) -> dict[str, Any]:
        """The item of the webhook body."""
        return {"target": self.target, "site": self.site,
                "org_public_id": self.org_public_id, "endpoint": self.endpoint,
                "status": self.status}


@dataclass(frozen=True)
class ScanFacts:
    """One scan as its digests see it; `open_items` holds open findings at or above a floor."""

    id: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    tool_version: str
    open_by_severity: tuple[tuple[str, int], ...]
    suppressed: int
    not_assessed: int
    open_items: tuple[Item, ...]
    unassessed: tuple[Unassessed, ...]
    gaps: tuple[Gap, ...]

    @property
    def open_total(self) -> int:
        """Open findings of every severity."""
        return sum(n for _, n in self.open_by_severity)

    def scan_json(self) -> dict[str, Any]:
        """The `scan` object of the webhook body."""
        return {"id": self.id, "status": self.status,
                "started_at": isoformat_z(self.started_at),
                "finished_at": isoformat_z(self.finished_at),
                "tool_version": self.tool_version}


def load_facts(conn: Connection, scan_id: str, floor: str) -> ScanFacts:
    """Read scan `scan_id`: open findings at or above severity `floor`, in report order.

    A failed scan gives no findings and no counts: what its evaluation stored, if any, is
    not a result anyone should act on. NotFoundError when there is no such scan,
    NothingToDoError when it finished collecting but was never evaluated.
    """
    row = conn.execute(select(scans).where(scans.c.id == scan_id)).mappings().first()
    if row is None:
        raise NotFoundError(f"no scan {scan_id!r} in the database; `ddaudit scans list` "
                            "shows stored scans")
    status = str(row["status"])
    finished = row["finished_at"]
    bare = ScanFacts(id=scan_id, status=status, started_at=naive_utc(row["started_at"]),
                     finished_at=None if finished is None else naive_utc(finished),
                     tool_version=str(row["tool_version"]),
                     open_by_severity=tuple((s, 0) for s in SEVERITIES), suppressed=0,
                     not_assessed=0, open_items=(), unassessed=(), gaps=())
    if status not in (ScanStatus.COMPLETE, ScanStatus.PARTIAL):
        return bare
    if row["evaluated_at"] is None:  # collected only (a shard's run): no findings to tell
        raise NothingToDoError(f"scan {scan_id} has not been evaluated; run 'ddaudit "
                               f"evaluate --scan {scan_id}' first")
    counts: dict[tuple[str, str], int] = {
        (str(sev), str(st)): int(n) for sev, st, n in conn.execute(
            select(findings.c.severity, findings.c.status, func.count())
            .where(findings.c.scan_id == scan_id)
            .group_by(findings.c.severity, findings.c.status))}
    return replace(
        bare,
        open_by_severity=tuple((s, counts.get((s, "open"), 0)) for s in SEVERITIES),
        suppressed=sum(n for (_, st), n in counts.items() if st == "suppressed"),
        not_assessed=sum(n for (_, st), n in counts.items() if st == "not_assessed"),
        open_items=tuple(_open_items(conn, scan_id, floor)),
        unassessed=tuple(_unassessed(conn, scan_id)),
        gaps=tuple(_gaps(conn, scan_id)),
    )


def _open_items(conn: Connection, scan_id: str, floor: str) -> list[Item]:
    wanted = [s for s in SEVERITIES if SEVERITY_RANK[s] <= SEVERITY_RANK[floor]]
    query = (select(findings)
             .where(findings.c.scan_id == scan_id, findings.c.status == "open",
                    findings.c.severity.in_(wanted))
             .order_by(*report_order(conn.dialect.name)))
    return [Item(id=r["id"], rule_id=r["rule_id"], severity=r["severity"], title=r["title"],
                 detail=r["detail"], site=r["site"], org_public_id=r["org_public_id"],
                 org_name=r["org_name"], target=r["target"],
                 resource_type=r["resource_type"], resource_id=r["resource_id"],
                 resource_name=r["resource_name"], owner=r["owner"],
                 first_seen=naive_utc(r["first_seen"]))
            for r in conn.execute(query).mappings()]


def _unassessed(conn: Connection, scan_id: str) -> list[Unassessed]:
    rows = conn.execute(
        select(findings.c.rule_id, findings.c.severity, findings.c.site, findings.c.target,
               findings.c.org_public_id, findings.c.org_name)
        .where(findings.c.scan_id == scan_id, findings.c.status == "not_assessed")
        .distinct())
    items = [Unassessed(*r) for r in rows]
    return sorted(items, key=lambda u: (SEVERITY_RANK.get(u.severity, len(SEVERITIES)),
                                        u.rule_id, u.site, u.target))


def _gaps(conn: Connection, scan_id: str) -> list[Gap]:
    rows = conn.execute(
        select(coverage.c.target, coverage.c.site, coverage.c.org_public_id,
               coverage.c.endpoint, coverage.c.status)
        .where(coverage.c.scan_id == scan_id, coverage.c.status.notin_(SETTLED)))
    return sorted((Gap(*r) for r in rows), key=lambda g: (g.target, g.endpoint))
