"""View models of report.html: coverage, breakdowns, controls, rule sections, explorer data.

What the page shows of the findings is gathered as they stream by: `OrgTally`,
`RuleSamples` and `ChangeSamples` each take one finding at a time, and `Explorer` writes
the explorer's data row by row.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from json.encoder import encode_basestring

from reports.context import ReportContext, RuleResult, split_control, worst_status
from reports.diff import (
    FindingRow,
    Sample,
    ScanDiff,
    changes,
    gone_rows,
    with_remediations,
)
from reports.stream import StoredFindings
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


class Explorer:
    """The findings explorer's data, compact JSON safe inside <script type=application/json>.

    Repeated strings (rules, sites, orgs, targets, types, owners) are indexes into
    dictionaries (from the findings' counts; `owner` ends with null, "no owner", when a
    finding has none); `<`, `>` and `&` are escaped as \\u003c etc., so no name can close
    the element. Written as `prefix`, each `row` (after a comma but the first), and
    `SUFFIX`.
    """

    SUFFIX = "]}"
    STATUSES = ("open", "suppressed", "not_assessed")

    def __init__(self, ctx: ReportContext) -> None:
        summary = ctx.report.findings.summary()
        self.has_previous = ctx.diff.from_scan is not None
        self.rule_ids = sorted({r.rule.id for r in ctx.rules} | summary.values("rule_id"))
        titles = ctx.rule_map
        orgs = {_label(g.org_name, g.org_public_id) for g in summary.groups}
        owned = ctx.report.findings.owners()
        owners: list[str | None] = [*sorted(o for o in owned if o is not None),
                                    *([None] if None in owned else [])]
        self.dictionaries: dict[str, list[str]] = {
            "sev": list(SEVERITIES),
            "status": list(self.STATUSES),
            "rule": self.rule_ids,
            "title": [titles[r].title if r in titles else r for r in self.rule_ids],
            "site": sorted(summary.values("site")),
            "org": sorted(orgs),
            "target": sorted(summary.values("target")),
            "rtype": sorted(summary.values("resource_type")),
        }
        self.owners = owners
        self._index = {name: {v: i for i, v in enumerate(values)}
                       for name, values in self.dictionaries.items()}
        self._owner_index = {v: i for i, v in enumerate(owners)}
        self._known: dict[tuple[str | None, ...], str] = {}
        self._days: dict[datetime, str] = {}

    def prefix(self) -> str:
        """The data up to the first row."""
        document: dict[str, object] = {"v": 1, "hasPrevious": self.has_previous}
        document.update((k, v) for k, v in self.dictionaries.items())
        document["owner"] = self.owners
        return _script_safe(_COMPACT.encode(document)[:-1] + ',"rows":[')

    def row(self, f: Finding, new: bool) -> str:
        """One finding's row (the one place its explorer fields are chosen): the indexes of
        severity, status, rule, site, org, target and type, then resource id, name, detail,
        the day first seen, the new flag and the owner's index."""
        text = "".join((
            self._codes(f), _s(f.resource_id), ",", _s(f.resource_name or ""), ",",
            _s(f.detail), ',"', self._day(f.first_seen), '",',
            "1," if new and self.has_previous else "0,", str(self._owner_index[f.owner]), "]",
        ))
        return _script_safe(text)

    def _codes(self, f: Finding) -> str:
        """`[` and the dictionary indexes of the finding, each with its comma."""
        key = (f.severity, f.status, f.rule_id, f.site, f.org_name, f.org_public_id, f.target,
               f.resource_type)
        text = self._known.get(key)
        if text is None:
            idx = self._index
            codes = (
                idx["sev"].get(f.severity, len(SEVERITIES) - 1), idx["status"].get(f.status, 0),
                idx["rule"][f.rule_id], idx["site"][f.site],
                idx["org"][_label(f.org_name, f.org_public_id)], idx["target"][f.target],
                idx["rtype"][f.resource_type],
            )
            if len(self._known) >= 1024:
                self._known.clear()
            text = self._known[key] = "[" + "".join(f"{c}," for c in codes)
        return text

    def _day(self, value: datetime) -> str:
        text = self._days.get(value)
        if text is None:
            if len(self._days) >= 1024:
                self._days.clear()
            text = self._days[value] = value.strftime("%Y-%m-%d")
        return text


_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_s = encode_basestring  # a JSON string, as json.dumps(ensure_ascii=False) writes it


def _label(name: str | None, public_id: str | None) -> str:
    text = name or "unknown org"
    return f"{text} ({public_id})" if public_id else text


def _script_safe(text: str) -> str:
    return (text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def sample(rows: Sequence[Finding], n: int = CHANGES_SAMPLE) -> tuple[Finding, ...]:
    """The first `n` rows (server-side tables stay small at any estate size)."""
    return tuple(rows[:n])
