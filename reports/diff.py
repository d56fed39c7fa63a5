"""Differences between two scans: new, resolved, changed and no-longer-assessed findings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from sqlalchemy import Engine

from reports.load import ScanReport, ScanSummary, latest_finished_scan, load_scan
from rules.model import Finding
from scanner.errors import ConfigError, NotFoundError


@dataclass(frozen=True, slots=True)
class Change:
    """One finding present in both scans whose severity or status moved."""

    before: Finding
    after: Finding

    @property
    def what(self) -> str:
        """`severity medium -> high`, `status open -> suppressed`, or both, joined by `; `."""
        parts = []
        if self.before.severity != self.after.severity:
            parts.append(f"severity {self.before.severity} -> {self.after.severity}")
        if self.before.status != self.after.status:
            parts.append(f"status {self.before.status} -> {self.after.status}")
        return "; ".join(parts)


@dataclass(frozen=True, slots=True)
class ScanDiff:
    """Findings of `to_scan` compared with `from_scan` (None: there is no earlier scan).

    `resolved` holds only findings whose rule was assessed for that target in `to_scan`;
    a finding that disappeared because its rule was not assessed there is `unassessed`,
    never "resolved": missing data does not fix anything. `remediated` maps a resolved
    finding's id to the plan whose applied action removed its resource (`with_remediations`).
    """

    from_scan: ScanSummary | None
    to_scan: ScanSummary
    new: tuple[Finding, ...]
    resolved: tuple[Finding, ...]
    changed: tuple[Change, ...]
    unassessed: tuple[Finding, ...]
    remediated: Mapping[str, str] = field(default_factory=dict)

    @property
    def new_ids(self) -> frozenset[str]:
        """Ids of the new findings (the explorer's "new" flag)."""
        return frozenset(f.id for f in self.new)

    @property
    def is_empty(self) -> bool:
        """True when nothing moved between the two scans."""
        return not (self.new or self.resolved or self.changed or self.unassessed)


def diff_reports(before: ScanReport | None, after: ScanReport) -> ScanDiff:
    """Compare two loaded scans by finding id; every list keeps the report order."""
    if before is None:
        return ScanDiff(None, after.scan, after.findings, (), (), ())
    old = {f.id: f for f in before.findings}
    now_ids = {f.id for f in after.findings}
    not_assessed = {(f.rule_id, f.target) for f in after.findings if f.status == "not_assessed"}
    new = tuple(f for f in after.findings if f.id not in old)
    changed = tuple(
        Change(old[f.id], f)
        for f in after.findings
        if f.id in old and (old[f.id].severity, old[f.id].status) != (f.severity, f.status)
    )
    # A not-assessed finding that disappeared was assessed this time: nothing was resolved.
    gone = [f for f in before.findings if f.id not in now_ids and f.status != "not_assessed"]
    resolved = tuple(f for f in gone if (f.rule_id, f.target) not in not_assessed)
    unassessed = tuple(f for f in gone if (f.rule_id, f.target) in not_assessed)
    return ScanDiff(before.scan, after.scan, new, resolved, changed, unassessed)


def diff_scans(engine: Engine, from_id: str | None, to_id: str | None) -> ScanDiff:
    """Load and compare two stored scans; defaults: the latest finished scan and the one before.

    ConfigError when a named scan does not exist or there is nothing to compare.
    """
    if to_id is None:
        to_id = latest_finished_scan(engine)
        if to_id is None:
            raise NotFoundError("the database holds no finished scan; run 'ddaudit scan' first")
    after = load_scan(engine, to_id)
    if from_id is None:
        from_id = latest_finished_scan(engine, before=after.scan.started_at)
        if from_id is None:
            raise ConfigError(
                f"scan {to_id} has no earlier finished scan to compare with; pass --from ID"
            )
    before = load_scan(engine, from_id)
    return with_remediations(engine, diff_reports(before, after))


def with_remediations(engine: Engine, diff: ScanDiff) -> ScanDiff:
    """`diff` with each resolved finding that a ddaudit plan remediated marked by its plan."""
    from scanner.remediate.record import remediated_by

    marks = remediated_by(engine, [f.id for f in diff.resolved], until=diff.to_scan.started_at)
    return replace(diff, remediated=marks) if marks else diff


def render_diff_text(diff: ScanDiff, *, limit: int = 200) -> str:
    """The terminal form: a headline of counts, then one line per finding in each group."""
    origin = diff.from_scan.id if diff.from_scan else "(nothing)"
    lines = [
        f"diff {origin} -> {diff.to_scan.id}: {len(diff.new)} new, {len(diff.resolved)} "
        f"resolved, {len(diff.changed)} changed, {len(diff.unassessed)} no longer assessed"
    ]
    groups: list[tuple[str, list[str]]] = [
        ("new", [_line(f) for f in diff.new]),
        ("resolved", [_line(f) + (f"  [remediated by plan {diff.remediated[f.id]}]"
                                   if f.id in diff.remediated else "")
                      for f in diff.resolved]),
        ("changed", [f"{_line(c.after)}  [{c.what}]" for c in diff.changed]),
        ("no longer assessed (not resolved: the data was not collected)",
         [_line(f) for f in diff.unassessed]),
    ]
    for title, rows in groups:
        if not rows:
            continue
        lines.append("")
        lines.append(f"{title} ({len(rows)}):")
        lines.extend(f"  {row}" for row in rows[:limit])
        if len(rows) > limit:
            lines.append(f"  ... and {len(rows) - limit} more (see findings.json of each scan)")
    return "\n".join(lines) + "\n"


def _line(f: Finding) -> str:
    org = f.org_name or f.org_public_id or "?"
    name = f.resource_name or f.resource_id
    return (
        f"{f.severity:<8} {f.status:<12} {f.rule_id:<13} {f.site} / {_clean(org)} / "
        f"{f.resource_type} {_clean(name)}"
    )


def _clean(text: str) -> str:
    """Names come from the API: no control characters (terminal escapes) reach the screen."""
    return "".join(ch if ch.isprintable() else "?" for ch in text)


def diff_counts(diff: ScanDiff) -> dict[str, int]:
    """Counts of each group, for summaries."""
    return {
        "new": len(diff.new),
        "new_open": sum(1 for f in diff.new if f.status == "open"),
        "resolved": len(diff.resolved),
        "changed": len(diff.changed),
        "unassessed": len(diff.unassessed),
    }
