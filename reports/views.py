"""View models of report.html: coverage, breakdowns, controls, rule sections, explorer data.

What the page shows of the findings is gathered as they stream by: `OrgTally`,
`OwnerTally`, `RuleSamples` and `ChangeSamples` each take one finding at a time (the
explorer's data is reports.explorer's).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from reports.context import ReportContext, RuleResult, split_control, worst_status
from reports.diff import Sample, ScanDiff, changes, with_remediations
from reports.stream import StoredFindings
from reports.verdicts import FindingRow, gone_rows
from rules.model import SEVERITIES, Finding

RULE_SAMPLE = 25  # findings shown server-side under each rule; the explorer has them all
CHANGES_SAMPLE = 100


@dataclass(frozen=True, slots=True)
class OrgCoverage:
    """Coverage completeness of one target (one org)."""

    target: str
    site: str
    org_name: str | None
    org_public_id: str | None
    complete: int
    total: int

    @property
    def status(self) -> str:
        """complete, partial (some endpoints), or failed (nothing complete or nothing recorded)."""
        if self.total and self.complete == self.total:
            return "complete"
        return "partial" if self.complete else "failed"


@dataclass(frozen=True, slots=True)
class OrgBreakdown:
    """Findings of one (site, org, target): open by severity, suppressed, not assessed."""

    site: str
    org_name: str | None
    org_public_id: str | None
    target: str
    open_by_severity: tuple[int, ...]
    suppressed: int
    not_assessed: int


@dataclass(frozen=True, slots=True)
class OwnerBreakdown:
    """Open findings of one owner (None: nobody named) by severity, and their total."""

    owner: str | None
    open_by_severity: tuple[int, ...]

    @property
    def total(self) -> int:
        """Open findings of this owner."""
        return sum(self.open_by_severity)


@dataclass(frozen=True, slots=True)
class ControlRow:
    """One control of one framework: the rules mapped to it and its worst rule status."""

    control: str
    rules: tuple[RuleResult, ...]
    status: str
    open: int


@dataclass(frozen=True, slots=True)
class RuleSection:
    """One rule section: its result, its first findings, and how many are not shown."""

    result: RuleResult
    findings: tuple[Finding, ...]
    more: int


def org_coverage(ctx: ReportContext) -> list[OrgCoverage]:
    """One row per target, in scope order."""
    out = []
    for t in ctx.report.targets:
        rows = [c for c in ctx.report.coverage if c.target == t.target]
        out.append(OrgCoverage(t.target, t.site, t.org_name, t.org_public_id,
                               sum(1 for c in rows if c.is_complete), len(rows)))
    return out


class OrgTally:
    """Findings per (site, org, target): open by severity, suppressed, not assessed."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, str, str], dict[tuple[str, str], int]] = {}
        self._names: dict[tuple[str, str, str], str | None] = {}

    def add(self, f: Finding) -> None:
        """Count one finding."""
        key = (f.site, f.org_public_id or "", f.target)
        counts = self._counts.get(key)
        if counts is None:
            counts = self._counts[key] = {}
            self._names[key] = f.org_name  # the first finding's (report order)
        counts[(f.status, f.severity)] = counts.get((f.status, f.severity), 0) + 1

    def rows(self) -> list[OrgBreakdown]:
        """One row per (site, org, target) that has findings, by site, org name, target."""
        names = self._names
        out = []
        for key in sorted(self._counts, key=lambda k: (k[0], names[k] or "", k[1], k[2])):
            counts = self._counts[key]
            by_status: dict[str, int] = {}
            for (status, _severity), n in counts.items():
                by_status[status] = by_status.get(status, 0) + n
            sev = tuple(counts.get(("open", s), 0) for s in SEVERITIES)
            out.append(OrgBreakdown(key[0], names[key], key[1] or None, key[2], sev,
                                    by_status.get("suppressed", 0),
                                    by_status.get("not_assessed", 0)))
        return out


class OwnerTally:
    """Open findings per owner and severity."""

    def __init__(self) -> None:
        self._rank = {s: i for i, s in enumerate(SEVERITIES)}
        self._counts: dict[str | None, list[int]] = {}

    def add(self, f: Finding) -> None:
        """Count one finding (when it is open)."""
        if f.status == "open" and f.severity in self._rank:
            self._counts.setdefault(f.owner, [0] * len(SEVERITIES))[self._rank[f.severity]] += 1

    def rows(self) -> list[OwnerBreakdown]:
        """One row per owner with open findings, the most severe lists first, then by owner."""
        rows = [OwnerBreakdown(owner, tuple(n)) for owner, n in self._counts.items()]
        return sorted(rows, key=lambda r: (tuple(-n for n in r.open_by_severity),
                                           r.owner is None, r.owner or ""))


def controls_view(ctx: ReportContext) -> list[tuple[str, list[ControlRow]]]:
    """Framework -> control -> rules -> status, frameworks and controls sorted."""
    mapping: dict[str, dict[str, list[RuleResult]]] = {}
    for r in ctx.rules:
        for control in r.rule.controls:
            framework, ident = split_control(control)
            mapping.setdefault(framework, {}).setdefault(ident, []).append(r)
    out = []
    for framework in sorted(mapping):
        rows = [
            ControlRow(ident, tuple(rules), worst_status(r.status for r in rules),
                       sum(r.open for r in rules))
            for ident, rules in sorted(mapping[framework].items(), key=lambda kv: _natural(kv[0]))
        ]
        out.append((framework, rows))
    return out


class RuleSamples:
    """The first RULE_SAMPLE findings of each rule (report order) and how many it has."""

    def __init__(self, size: int = RULE_SAMPLE) -> None:
        self.size = size
        self._first: dict[str, list[Finding]] = {}
        self._total: dict[str, int] = {}

    def add(self, f: Finding) -> None:
        """Take one finding."""
        first = self._first.setdefault(f.rule_id, [])
        if len(first) < self.size:
            first.append(f)
        self._total[f.rule_id] = self._total.get(f.rule_id, 0) + 1

    def sections(self, ctx: ReportContext) -> list[RuleSection]:
        """One section per rule, most severe first, with its first findings."""
        order = {s: i for i, s in enumerate(SEVERITIES)}
        results = sorted(ctx.rules, key=lambda r: (order.get(r.rule.severity, 9), r.rule.id))
        return [RuleSection(r, tuple(self._first.get(r.rule.id, ())),
                            max(0, self._total.get(r.rule.id, 0) - self.size))
                for r in results]


class ChangeSamples:
    """The diff as report.html shows it: each list's first CHANGES_SAMPLE and its length.

    New and changed findings come from the flags of the streamed rows; resolved and no
    longer assessed ones from one read of the previous scan's findings, in `diff`.
    """

    def __init__(self, size: int = CHANGES_SAMPLE) -> None:
        self.size = size
        self._new: list[Finding] = []
        self._changed: list[Finding] = []
        self._counts = [0, 0]

    def add(self, row: FindingRow) -> None:
        """Take one streamed finding."""
        if row.new:
            self._counts[0] += 1
            if len(self._new) < self.size:
                self._new.append(row.finding)
        if row.changed:
            self._counts[1] += 1
            if len(self._changed) < self.size:
                self._changed.append(row.finding)

    def diff(self, ctx: ReportContext) -> ScanDiff:
        """The sampled diff of the scan against the previous one (`ctx.diff.from_scan`)."""
        before, now = ctx.diff.from_scan, ctx.report.findings
        new = Sample(self._new, self._counts[0])
        if before is None:
            return ScanDiff(None, ctx.diff.to_scan, new, (), (), ())
        previous = StoredFindings(now.engine, before.id)
        resolved: list[Finding] = []
        unassessed: list[Finding] = []
        counts = [0, 0]
        for f, not_assessed in gone_rows(previous, now.scan_id):
            kept = unassessed if not_assessed else resolved
            counts[not_assessed] += 1
            if len(kept) < self.size:
                kept.append(f)
        diff = ScanDiff(before, ctx.diff.to_scan, new, Sample(resolved, counts[0]),
                        Sample(changes(previous, self._changed), self._counts[1]),
                        Sample(unassessed, counts[1]))
        return with_remediations(now.engine, diff)  # the resolved ones shown


def _natural(text: str) -> list[tuple[int, int | str]]:
    """Sort key that puts CC6.10 after CC6.9 and AC-2(7) after AC-2."""
    parts: list[tuple[int, int | str]] = []
    token = ""
    for ch in text + " ":
        if token and ch.isdigit() != token[-1].isdigit():
            parts.append((0, int(token)) if token.isdigit() else (1, token))
            token = ""
        token += ch
    return parts


def sample(rows: Sequence[Finding], n: int = CHANGES_SAMPLE) -> tuple[Finding, ...]:
    """The first `n` rows (server-side tables stay small at any estate size)."""
    return tuple(rows[:n])
