"""The scan history behind the Trends charts: per-scan counts of the last 30 scans, read set-based.

Grouped queries, whatever the number of findings: the scans of the window, each scan's
open findings grouped by (target, severity), coverage rows grouped by scan, and the
targets of the window's scans. The window holds the scan itself and the finished (complete or
partial) scans started before it, newest 30: the same scans `ddaudit diff` and the
report's "Changes since the previous scan" compare with, so the point before each point
is the scan its changes are counted against. Failed and running scans are left out:
their findings are not a count of anything.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple
from urllib.parse import quote

from sqlalchemy import Connection, Engine, and_, bindparam, case, func, or_, select
from sqlalchemy.exc import SQLAlchemyError

from reports.load import BASELINE_STATUSES
from rules.model import SEVERITIES
from rules.results import naive_utc
from scanner.errors import ConfigError, StoreError
from scanner.store.schema import SETTLED, coverage, findings, scans, targets

TREND_SCANS = 30  # points of every chart: the scan itself and up to 29 before it

Link = Callable[[str, str], str | None]
"""(scan id, anchor in its report.html) -> the href of that section, or None: no report."""


@dataclass(frozen=True, slots=True)
class ScanPoint:
    """One scan of the window: its open findings per severity and its coverage."""

    id: str
    started_at: datetime
    status: str
    reported: bool  # its evidence bundle was written (scans.reported_at is set)
    open_by_severity: tuple[int, ...]  # in SEVERITIES order
    coverage_complete: int  # coverage rows complete or unavailable
    coverage_total: int

    @property
    def open_total(self) -> int:
        """Open findings of every severity."""
        return sum(self.open_by_severity)

    @property
    def coverage_share(self) -> float | None:
        """Share of (target, endpoint) rows complete or unavailable; None: none recorded."""
        return self.coverage_complete / self.coverage_total if self.coverage_total else None


@dataclass(frozen=True, slots=True)
class OrgTrend:
    """One target (one org) of the scan: its open findings in each scan of the window."""

    target: str
    site: str
    org_public_id: str | None
    org_name: str | None
    open: tuple[int | None, ...]  # per Trends.scans; None: the target was not in that scan

    @property
    def earliest(self) -> int:
        """Open findings in the oldest scan of the window that had this target."""
        return next(n for n in self.open if n is not None)

    @property
    def latest(self) -> int:
        """Open findings in the scan the trends are for (which has this target)."""
        return next(n for n in reversed(self.open) if n is not None)


@dataclass(frozen=True, slots=True)
class Trends:
    """The window, oldest scan first (the last is the scan the trends are for), and its orgs."""

    scans: tuple[ScanPoint, ...]
    orgs: tuple[OrgTrend, ...]

    @property
    def current(self) -> ScanPoint:
        """The scan the trends were loaded for."""
        return self.scans[-1]


def load_trends(engine: Engine, scan_id: str, *, limit: int = TREND_SCANS) -> Trends:
    """The last `limit` finished scans up to and including `scan_id`, with their counts.

    ConfigError when the scan is not in the database; StoreError when it cannot be read.
    """
    try:
        with engine.connect() as conn:
            return _load(conn, scan_id, limit)
    except SQLAlchemyError as exc:
        raise StoreError(
            f"cannot read the scan history for the trends: {exc.__class__.__name__}; "
            "check that the database is reachable and migrated"
        ) from exc


def _load(conn: Connection, scan_id: str, limit: int) -> Trends:
    started = conn.execute(select(scans.c.started_at).where(scans.c.id == scan_id)).scalar()
    if started is None:
        raise ConfigError(f"no scan {scan_id!r} in the database; `ddaudit scans list` shows "
                          "stored scans")
    earlier = or_(scans.c.started_at < started,
                  and_(scans.c.started_at == started, scans.c.id < scan_id))
    window = conn.execute(
        select(scans.c.id, scans.c.started_at, scans.c.status, scans.c.reported_at)
        .where(or_(scans.c.id == scan_id,
                   and_(scans.c.status.in_(BASELINE_STATUSES), earlier)))
        .order_by(scans.c.started_at.desc(), scans.c.id.desc())
        .limit(limit)
    ).all()[::-1]
    ids = [str(row.id) for row in window]
    # One grouped count per scan gives both the severity and the org lines. A query per
    # scan, not one for the window: SQLite groups by sorting, and 30 sorts of one scan's
    # rows cost about 40% less than one sort of them all (python -m bench.trends).
    by_target = select(findings.c.target, findings.c.severity, func.count()).where(
        findings.c.scan_id == bindparam("scan"), findings.c.status == "open",
    ).group_by(findings.c.target, findings.c.severity)
    open_counts: dict[tuple[str, str, str], int] = {
        (s, str(t), str(sev)): int(n)
        for s in ids for t, sev, n in conn.execute(by_target, {"scan": s})
    }
    settled = case((coverage.c.status.in_(sorted(SETTLED)), 1), else_=0)
    cov: dict[str, tuple[int, int]] = {
        str(s): (int(done or 0), int(total)) for s, done, total in conn.execute(
            select(coverage.c.scan_id, func.sum(settled), func.count())
            .where(coverage.c.scan_id.in_(ids)).group_by(coverage.c.scan_id))
    }
    scoped = [
        _Scoped(str(s), str(t), str(site), org_id, name) for s, t, site, org_id, name in
        conn.execute(select(targets.c.scan_id, targets.c.target, targets.c.site,
                            targets.c.org_public_id, targets.c.org_name)
                     .where(targets.c.scan_id.in_(ids)))
    ]
    points = tuple(
        ScanPoint(
            id=str(row.id), started_at=naive_utc(row.started_at), status=str(row.status),
            reported=row.reported_at is not None,
            open_by_severity=_by_severity(open_counts, str(row.id)),
            coverage_complete=cov.get(str(row.id), (0, 0))[0],
            coverage_total=cov.get(str(row.id), (0, 0))[1],
        )
        for row in window
    )
    return Trends(points, _org_trends(ids, scan_id, scoped, open_counts))


def _by_severity(counts: Mapping[tuple[str, str, str], int], scan_id: str) -> tuple[int, ...]:
    totals = dict.fromkeys(SEVERITIES, 0)
    for (scan, _, severity), n in counts.items():
        if scan == scan_id and severity in totals:
            totals[severity] += n
    return tuple(totals.values())


class _Scoped(NamedTuple):
    """A target of one scan of the window."""

    scan_id: str
    target: str
    site: str
    org_public_id: str | None
    org_name: str | None


def _org_trends(ids: list[str], scan_id: str, scoped: Sequence[_Scoped],
                counts: Mapping[tuple[str, str, str], int]) -> tuple[OrgTrend, ...]:
    """One line per target of `scan_id` (its scope), in the report's site, org, target order."""
    present = {(r.scan_id, r.target) for r in scoped}
    per_target: dict[tuple[str, str], int] = {}
    for (scan, target, severity), n in counts.items():
        if severity in SEVERITIES:
            per_target[(scan, target)] = per_target.get((scan, target), 0) + n
    lines = [
        OrgTrend(
            target=r.target, site=r.site, org_public_id=r.org_public_id,
            org_name=r.org_name,
            open=tuple(per_target.get((s, r.target), 0) if (s, r.target) in present else None
                       for s in ids),
        )
        for r in scoped if r.scan_id == scan_id
    ]
    return tuple(sorted(lines, key=lambda o: (o.site, o.org_name or "", o.target)))


def report_links(trends: Trends) -> Link:
    """Links from the report.html of `trends.current`: its own sections, and those of the
    other scans' reports in the sibling folders `../<scan id>/` when their bundle was written
    (a scan stamped reported); None for a scan without one."""
    current = trends.current.id
    reported = {p.id for p in trends.scans if p.reported}

    def link(scan_id: str, anchor: str) -> str | None:
        if scan_id == current:
            return f"#{anchor}"
        if scan_id in reported:
            return f"../{quote(scan_id, safe='')}/report.html#{anchor}"
        return None

    return link
