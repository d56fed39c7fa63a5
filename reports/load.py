"""Read one scan from the snapshot database into the frozen value objects every renderer shares.

Findings are rules.Finding in the one report order (Finding.sort_key), read from the
database whenever they are iterated (reports.stream.StoredFindings): a report never holds
a whole scan's findings.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError

from reports.stream import StoredFindings
from rules.model import SEVERITIES, Finding
from rules.results import naive_utc
from scanner.errors import ConfigError, StoreError
from scanner.store.lifecycle import ScanStatus
from scanner.store.schema import (
    ENDPOINTS,
    SETTLED,
    coverage,
    scans,
    suppression_usage,
    targets,
)

BASELINE_STATUSES: tuple[str, ...] = (ScanStatus.COMPLETE, ScanStatus.PARTIAL)
"""Scan statuses that can be compared against: the collection finished."""

_ENDPOINT_RANK = {name: rank for rank, name in enumerate(ENDPOINTS)}


@dataclass(frozen=True, slots=True)
class ScanSummary:
    """One row of `scans`: identity, times (naive UTC), status and provenance hashes."""

    id: str
    started_at: datetime
    finished_at: datetime | None
    status: str
    tool_version: str
    config_sha256: str | None
    rulepack_sha256: str | None


@dataclass(frozen=True, slots=True)
class TargetRow:
    """One configured target and the org its key pair turned out to belong to."""

    target: str
    site: str
    org_public_id: str | None
    org_uuid: str | None
    org_name: str | None


@dataclass(frozen=True, slots=True)
class CoverageRow:
    """How completely one (target, endpoint) was collected; `org_name` comes from `targets`."""

    target: str
    site: str
    org_public_id: str | None
    org_name: str | None
    endpoint: str
    status: str
    collected: int
    expected: int | None
    error: str | None

    @property
    def is_complete(self) -> bool:
        """True for a fully collected endpoint, or one the site does not offer (no gap)."""
        return self.status in SETTLED


@dataclass(frozen=True, slots=True)
class FindingCounts:
    """Open findings per severity, and how many findings are suppressed or not assessed."""

    open_by_severity: tuple[tuple[str, int], ...]
    open_total: int
    suppressed: int
    not_assessed: int


@dataclass(frozen=True, slots=True)
class ScanReport:
    """Everything a renderer needs about one scan, already in report order.

    `findings` streams from the database each time it is iterated.
    """

    scan: ScanSummary
    targets: tuple[TargetRow, ...]
    coverage: tuple[CoverageRow, ...]
    findings: StoredFindings

    @property
    def incomplete_coverage(self) -> tuple[CoverageRow, ...]:
        """Coverage rows that were not fully collected."""
        return tuple(row for row in self.coverage if not row.is_complete)

    @property
    def is_partial(self) -> bool:
        """True unless the scan is complete and has coverage rows, all of them complete."""
        return (
            self.scan.status != ScanStatus.COMPLETE
            or not self.coverage
            or bool(self.incomplete_coverage)
        )

    @property
    def counts(self) -> FindingCounts:
        """Counts of findings by severity (open only) and by status."""
        return counts_of(self.findings.summary().count_by("severity", "status"))


def count_findings(rows: Iterable[Finding]) -> FindingCounts:
    """Count open findings per severity (every scale level, zeros included) and by status."""
    by: dict[tuple[str, str], int] = {}
    for row in rows:
        by[(row.severity, row.status)] = by.get((row.severity, row.status), 0) + 1
    return counts_of(by)


def counts_of(by_severity_status: Mapping[tuple[Any, ...], int]) -> FindingCounts:
    """FindingCounts from the number of findings per (severity, status), in report order."""
    open_by: dict[str, int] = {name: 0 for name in SEVERITIES}
    suppressed = not_assessed = 0
    for (severity, status), n in by_severity_status.items():
        if status == "open":
            open_by[severity] = open_by.get(severity, 0) + n
        elif status == "suppressed":
            suppressed += n
        elif status == "not_assessed":
            not_assessed += n
    return FindingCounts(
        open_by_severity=tuple(open_by.items()),
        open_total=sum(open_by.values()),
        suppressed=suppressed,
        not_assessed=not_assessed,
    )


def load_scan(engine: Engine, scan_id: str) -> ScanReport:
    """Read scan `scan_id` with its targets and coverage, sorted for reporting.

    Its findings are read when iterated, in Finding.sort_key order, which the database
    gives alike on SQLite and PostgreSQL (rules.results.report_order compares code points,
    not by locale).
    """
    try:
        with engine.connect() as conn:
            scan_row = conn.execute(select(scans).where(scans.c.id == scan_id)).mappings().first()
            if scan_row is None:
                raise ConfigError(
                    f"no scan {scan_id!r} in the database; `ddaudit scans list` shows stored scans"
                )
            target_rows = conn.execute(
                select(targets).where(targets.c.scan_id == scan_id)
            ).mappings().all()
            coverage_rows = conn.execute(
                select(coverage).where(coverage.c.scan_id == scan_id)
            ).mappings().all()
    except SQLAlchemyError as exc:
        raise StoreError(
            f"cannot read scan {scan_id!r} from the database: {exc.__class__.__name__}; "
            "check that the database is reachable and migrated"
        ) from exc

    summary = ScanSummary(
        id=scan_row["id"],
        started_at=naive_utc(scan_row["started_at"]),
        finished_at=_utc_or_none(scan_row["finished_at"]),
        status=scan_row["status"],
        tool_version=scan_row["tool_version"],
        config_sha256=scan_row["config_sha256"],
        rulepack_sha256=scan_row["rulepack_sha256"],
    )
    target_objs = sorted(
        (
            TargetRow(
                target=r["target"],
                site=r["site"],
                org_public_id=r["org_public_id"],
                org_uuid=r["org_uuid"],
                org_name=r["org_name"],
            )
            for r in target_rows
        ),
        key=lambda t: (t.target, t.site, t.org_public_id or ""),
    )
    org_names = {(t.target, t.site): t.org_name for t in target_objs}
    coverage_objs = sorted(
        (
            CoverageRow(
                target=r["target"],
                site=r["site"],
                org_public_id=r["org_public_id"],
                org_name=org_names.get((r["target"], r["site"])),
                endpoint=r["endpoint"],
                status=r["status"],
                collected=r["collected"],
                expected=r["expected"],
                error=r["error"],
            )
            for r in coverage_rows
        ),
        key=_coverage_key,
    )
    return ScanReport(
        scan=summary,
        targets=tuple(target_objs),
        coverage=tuple(coverage_objs),
        findings=StoredFindings(engine, scan_id),
    )


@dataclass(frozen=True, slots=True)
class RecordedSuppression:
    """One suppressions entry as the scan's evaluation stored it, with its state then."""

    state: str  # active | expired | unused
    entry: Mapping[str, object]  # rule, resource, reason, owner, expires, ticket[, site, org]
    matches: int


def load_suppression_usage(engine: Engine, scan_id: str) -> tuple[RecordedSuppression, ...] | None:
    """The suppression usage stored when scan `scan_id` was last evaluated, in file order.

    None when the scan was not evaluated since revision 0003 (which began storing it):
    the caller falls back on the current suppressions file.
    """
    try:
        with engine.connect() as conn:
            evaluated = conn.execute(
                select(scans.c.evaluated_at).where(scans.c.id == scan_id)
            ).scalar()
            if evaluated is None:
                return None
            rows = conn.execute(
                select(suppression_usage)
                .where(suppression_usage.c.scan_id == scan_id)
                .order_by(suppression_usage.c.position)
            ).mappings().all()
    except SQLAlchemyError as exc:
        raise StoreError(
            f"cannot read the suppression usage of scan {scan_id!r}: "
            f"{exc.__class__.__name__}; check that the database is reachable and migrated"
        ) from exc
    out = []
    for r in rows:
        entry: dict[str, object] = {
            "rule": r["rule"], "resource": r["resource"], "reason": r["reason"],
            "owner": r["owner"], "expires": r["expires"].isoformat(), "ticket": r["ticket"],
        }
        for key in ("site", "org"):
            if r[key] is not None:
                entry[key] = r[key]
        out.append(RecordedSuppression(str(r["state"]), MappingProxyType(entry),
                                       int(r["matches"])))
    return tuple(out)


def latest_finished_scan(engine: Engine, *, before: datetime | None = None) -> str | None:
    """The latest scan whose collection finished (complete or partial); None if there is none.

    With `before`, only scans started before it: the baseline of a scan started then.
    Failed and running scans are skipped: their findings are no baseline for "new" or
    "resolved", and they may have written no evidence bundle to chain to.
    """
    query = select(scans.c.id).where(scans.c.status.in_(BASELINE_STATUSES))
    if before is not None:
        query = query.where(scans.c.started_at < before)
    query = query.order_by(scans.c.started_at.desc(), scans.c.id.desc()).limit(1)
    try:
        with engine.connect() as conn:
            row = conn.execute(query).first()
    except SQLAlchemyError as exc:
        raise StoreError(
            f"cannot read the scan history: {exc.__class__.__name__}; "
            "check that the database is reachable and migrated"
        ) from exc
    return None if row is None else str(row[0])


def _coverage_key(row: CoverageRow) -> tuple[str, int, str, str, str]:
    # Unknown endpoints (a newer collector) go after the known ones, by name.
    rank = _ENDPOINT_RANK.get(row.endpoint, len(ENDPOINTS))
    return (row.target, rank, row.endpoint, row.site, row.org_public_id or "")


def _utc_or_none(value: object) -> datetime | None:
    return None if value is None else naive_utc(value)
