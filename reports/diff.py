"""Differences between two scans: new, resolved, changed and no-longer-assessed findings.

A diff is a set of queries on the two scans' stored findings (reports.verdicts): each
list is read from the database when it is used (its length is counted there, a slice is a
LIMIT), so comparing two scans of a million findings holds neither.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TypeVar, overload

from sqlalchemy import Engine

from reports.load import ScanReport, ScanSummary, latest_finished_scan, load_scan
from reports.stream import StoredFindings
from reports.verdicts import changed_since, gone, new_since, unassessed_in
from rules.model import Finding
from scanner.errors import ConfigError, NotFoundError
from scanner.store.schema import findings


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
    never "resolved": missing data does not fix anything. Every list is in report order.
    `remediated` maps a resolved finding's id to the plan whose applied action removed its
    resource (`with_remediations`).
    """

    from_scan: ScanSummary | None
    to_scan: ScanSummary
    new: Sequence[Finding]
    resolved: Sequence[Finding]
    changed: Sequence[Change]
    unassessed: Sequence[Finding]
    remediated: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_empty(self) -> bool:
        """True when nothing moved between the two scans."""
        return not (self.new or self.resolved or self.changed or self.unassessed)


class StoredChanges(Sequence[Change]):
    """The changed findings of a diff, read on demand: `after` pairs with `before` by id."""

    def __init__(self, after: StoredFindings, before: StoredFindings) -> None:
        self.after = after
        self.before = before

    def __len__(self) -> int:
        return len(self.after)

    def __iter__(self) -> Iterator[Change]:
        batch: list[Finding] = []
        for f in self.after:
            batch.append(f)
            if len(batch) == 500:
                yield from self._pair(batch)
                batch = []
        yield from self._pair(batch)

    @overload
    def __getitem__(self, index: int) -> Change: ...

    @overload
    def __getitem__(self, index: slice) -> list[Change]: ...

    def __getitem__(self, index: int | slice) -> Change | list[Change]:
        if isinstance(index, slice):
            return self._pair(self.after[index])
        return self._pair([self.after[index]])[0]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, str | bytes):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]

    def _pair(self, after: Sequence[Finding]) -> list[Change]:
        return changes(self.before, after)


def changes(before: StoredFindings, after: Sequence[Finding]) -> list[Change]:
    """Each of `after` (changed findings) paired with its namesake in `before`."""
    if not after:
        return []
    earlier = {f.id: f for f in before.where(findings.c.id.in_([f.id for f in after]))}
    return [Change(earlier[f.id], f) for f in after]


T = TypeVar("T")


class Sample(Sequence[T]):
    """What a report shows of a longer list: its first items, and the list's length.

    `len` is the whole list's; indexing, slicing and iterating reach the kept items only.
    """

    def __init__(self, first: Sequence[T], total: int) -> None:
        self.first = tuple(first)
        self.total = total

    def __len__(self) -> int:
        return self.total

    def __iter__(self) -> Iterator[T]:
        return iter(self.first)

    @overload
    def __getitem__(self, index: int) -> T: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[T, ...]: ...

    def __getitem__(self, index: int | slice) -> T | tuple[T, ...]:
        return self.first[index]

    def __repr__(self) -> str:
        return f"<Sample of {len(self.first)} of {self.total}>"


def diff_reports(before: ScanReport | None, after: ScanReport) -> ScanDiff:
    """Compare two stored scans by finding id; each list is a query, in report order."""
    now = after.findings
    if before is None:
        return ScanDiff(None, after.scan, now, (), (), ())
    old = before.findings
    missing = gone(old, now.scan_id)
    return ScanDiff(
        before.scan, after.scan,
        new=now.where(new_since(old.scan_id)),
        resolved=missing.where(~unassessed_in(now.scan_id)),
        changed=StoredChanges(now.where(changed_since(old.scan_id)), old),
        unassessed=missing.where(unassessed_in(now.scan_id)),
    )


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
        "resolved": len(diff.resolved),
        "changed": len(diff.changed),
        "unassessed": len(diff.unassessed),
    }
