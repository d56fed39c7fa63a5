"""View models of report.html: coverage, breakdowns, controls, rule sections, explorer data."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from reports.context import ReportContext, RuleResult, split_control, worst_status
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


def org_breakdown(ctx: ReportContext) -> list[OrgBreakdown]:
    """One row per (site, org, target) that has findings, sorted by site, org name, target."""
    groups: dict[tuple[str, str, str], list[Finding]] = {}
    names: dict[tuple[str, str, str], str | None] = {}
    for f in ctx.report.findings:
        key = (f.site, f.org_public_id or "", f.target)
        groups.setdefault(key, []).append(f)
        names.setdefault(key, f.org_name)
    out = []
    for key in sorted(groups, key=lambda k: (k[0], names[k] or "", k[1], k[2])):
        rows = groups[key]
        sev = tuple(sum(1 for f in rows if f.status == "open" and f.severity == s)
                    for s in SEVERITIES)
        out.append(OrgBreakdown(key[0], names[key], key[1] or None, key[2], sev,
                                sum(1 for f in rows if f.status == "suppressed"),
                                sum(1 for f in rows if f.status == "not_assessed")))
    return out


def owner_breakdown(ctx: ReportContext) -> list[OwnerBreakdown]:
    """One row per owner with open findings, the most severe lists first, then by owner."""
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    counts: dict[str | None, list[int]] = {}
    for f in ctx.report.findings:
        if f.status == "open" and f.severity in rank:
            counts.setdefault(f.owner, [0] * len(SEVERITIES))[rank[f.severity]] += 1
    rows = [OwnerBreakdown(owner, tuple(n)) for owner, n in counts.items()]
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


def rule_sections(ctx: ReportContext) -> list[RuleSection]:
    """One section per rule, most severe first, with its first RULE_SAMPLE findings."""
    by_rule: dict[str, list[Finding]] = {}
    for f in ctx.report.findings:
        by_rule.setdefault(f.rule_id, []).append(f)
    order = {s: i for i, s in enumerate(SEVERITIES)}
    results = sorted(ctx.rules, key=lambda r: (order.get(r.rule.severity, 9), r.rule.id))
    return [
        RuleSection(r, tuple(by_rule.get(r.rule.id, [])[:RULE_SAMPLE]),
                    max(0, len(by_rule.get(r.rule.id, [])) - RULE_SAMPLE))
        for r in results
    ]


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


def explorer_data(ctx: ReportContext) -> str:
    """The findings explorer's data, compact JSON safe inside <script type=application/json>.

    Repeated strings (rules, sites, orgs, targets, types, owners) are indexes into
    dictionaries (`owner` ends with null, "no owner", when a finding has none);
    `<`, `>` and `&` are escaped as \\u003c etc., so no name can close the element.
    """
    findings = ctx.report.findings
    rule_ids = sorted({r.rule.id for r in ctx.rules} | {f.rule_id for f in findings})
    titles = ctx.rule_map
    sites = sorted({f.site for f in findings})
    orgs = sorted({_org_label(f) for f in findings})
    targets = sorted({f.target for f in findings})
    rtypes = sorted({f.resource_type for f in findings})
    owned = {f.owner for f in findings}
    owners: list[str | None] = [*sorted(o for o in owned if o is not None),
                                *([None] if None in owned else [])]
    statuses = ("open", "suppressed", "not_assessed")
    idx = {name: {v: i for i, v in enumerate(values)} for name, values in (
        ("rule", rule_ids), ("site", sites), ("org", orgs), ("target", targets),
        ("rtype", rtypes), ("sev", SEVERITIES), ("status", statuses))}
    owner_idx = {v: i for i, v in enumerate(owners)}
    new_ids = ctx.diff.new_ids if ctx.diff.from_scan is not None else frozenset()
    rows = [
        [
            idx["sev"].get(f.severity, len(SEVERITIES) - 1), idx["status"].get(f.status, 0),
            idx["rule"][f.rule_id], idx["site"][f.site], idx["org"][_org_label(f)],
            idx["target"][f.target], idx["rtype"][f.resource_type], f.resource_id,
            f.resource_name or "", f.detail, f.first_seen.strftime("%Y-%m-%d"),
            1 if f.id in new_ids else 0, owner_idx[f.owner],
        ]
        for f in findings
    ]
    document = {
        "v": 1,
        "hasPrevious": ctx.diff.from_scan is not None,
        "sev": list(SEVERITIES),
        "status": list(statuses),
        "rule": rule_ids,
        "title": [titles[r].title if r in titles else r for r in rule_ids],
        "site": sites,
        "org": orgs,
        "target": targets,
        "rtype": rtypes,
        "owner": owners,
        "rows": rows,
    }
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    return _script_safe(text)


def _org_label(f: Finding) -> str:
    name = f.org_name or "unknown org"
    return f"{name} ({f.org_public_id})" if f.org_public_id else name


def _script_safe(text: str) -> str:
    return (text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def sample(rows: Sequence[Finding], n: int = CHANGES_SAMPLE) -> tuple[Finding, ...]:
    """The first `n` rows (server-side tables stay small at any estate size)."""
    return tuple(rows[:n])
