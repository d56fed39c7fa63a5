"""Everything the renderers share about one scan: findings, rule metadata, diff, suppressions."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from reports.diff import ScanDiff
from reports.load import RecordedSuppression, ScanReport
from reports.stream import StoredFindings
from rules.model import RulePack
from rules.suppressions import Suppressions, SuppressionTracker
from scanner.store.schema import findings as findings_table

RULE_STATUSES: tuple[str, ...] = ("fail", "not_assessed", "accepted", "pass", "disabled")
"""Status of a rule (and of a control) in one scan, worst first.

fail: an open finding; not_assessed: its input was not collected for some org;
accepted: only suppressed findings; pass: evaluated, nothing found; disabled: not run.
"""


@dataclass(frozen=True, slots=True)
class RuleInfo:
    """A rule's metadata as the reports show it; `in_pack` False: an id seen only in findings."""

    id: str
    title: str
    severity: str
    description: str
    rationale: str
    remediation: str
    references: tuple[str, ...]
    controls: tuple[str, ...]
    in_pack: bool = True


@dataclass(frozen=True, slots=True)
class RuleResult:
    """One rule in one scan: its metadata, status and finding counts."""

    rule: RuleInfo
    status: str
    open: int
    suppressed: int
    not_assessed: int

    @property
    def total(self) -> int:
        """All findings of the rule."""
        return self.open + self.suppressed + self.not_assessed


@dataclass(frozen=True, slots=True)
class SuppressionEntry:
    """One suppressions.yaml entry and what it did in this scan."""

    state: str  # active | expired | unused
    rule: str
    resource: str
    reason: str
    owner: str
    ticket: str | None
    expires: str
    scope: str
    matched: int


@dataclass(frozen=True)
class ReportContext:
    """A loaded scan plus what the report adds around it (pack metadata, diff, suppressions)."""

    report: ScanReport
    rules: tuple[RuleResult, ...]
    diff: ScanDiff
    suppressions: tuple[SuppressionEntry, ...]
    suppression_usage_known: bool
    pack_sha256: str | None

    @property
    def rule_map(self) -> dict[str, RuleInfo]:
        """Rule metadata by id."""
        return {r.rule.id: r.rule for r in self.rules}

    @property
    def pack_matches_scan(self) -> bool:
        """True when the rule metadata comes from the pack the scan was evaluated with."""
        return self.pack_sha256 is None or self.pack_sha256 == self.report.scan.rulepack_sha256


def build_context(
    report: ScanReport,
    diff: ScanDiff,
    *,
    pack: RulePack | None,
    suppressions: Suppressions | None,
    disabled_rules: frozenset[str] = frozenset(),
    recorded: Sequence[RecordedSuppression] | None = None,
) -> ReportContext:
    """Join the scan with rule metadata, the diff and the suppressions in force.

    `recorded`, the suppression usage stored by the scan's evaluation, wins over
    `suppressions` (today's file, which may have changed since); without it (a scan
    evaluated before revision 0003) the file's entries are matched against the findings.
    """
    infos = _rule_infos(report.findings, pack)
    counts = report.findings.summary().count_by("rule_id", "status")
    results = tuple(_rule_result(info, counts, disabled_rules) for info in infos)
    if recorded is not None:
        entries: tuple[SuppressionEntry, ...] = tuple(
            _entry(r.state, r.entry, r.matches) for r in recorded)
        known = True
    else:
        entries, known = _suppressions(report, suppressions)
    return ReportContext(
        report=report,
        rules=results,
        diff=diff,
        suppressions=entries,
        suppression_usage_known=known,
        pack_sha256=None if pack is None else pack.sha256,
    )


def split_control(control: str) -> tuple[str, str]:
    """`NIST800-53:AC-6(5)` -> (`NIST800-53`, `AC-6(5)`); no framework -> (`other`, text)."""
    framework, sep, ident = control.partition(":")
    return (framework, ident) if sep and ident else ("other", control)


def _rule_infos(findings: StoredFindings, pack: RulePack | None) -> list[RuleInfo]:
    infos: dict[str, RuleInfo] = {}
    if pack is not None:
        for r in pack.rules:
            infos[r.id] = RuleInfo(
                id=r.id, title=r.title, severity=r.severity, description=r.description,
                rationale=r.rationale, remediation=r.remediation, references=r.references,
                controls=r.control_ids,
            )
    for rule_id in sorted(findings.summary().values("rule_id") - set(infos)):
        # A custom or since-removed rule: what its first finding (report order) says.
        f = findings.where(findings_table.c.rule_id == rule_id)[0]
        if f.rule_id not in infos:
            infos[f.rule_id] = RuleInfo(
                id=f.rule_id, title=f.title, severity=f.severity, description="",
                rationale="", remediation="", references=(), controls=f.controls, in_pack=False,
            )
    return [infos[k] for k in sorted(infos)]


def _rule_result(
    info: RuleInfo, by_status: Mapping[tuple[str, str], int], disabled: frozenset[str]
) -> RuleResult:
    counts = {s: by_status.get((info.id, s), 0) for s in ("open", "suppressed", "not_assessed")}
    if counts["open"]:
        status = "fail"
    elif counts["not_assessed"]:
        status = "not_assessed"
    elif counts["suppressed"]:
        status = "accepted"
    elif info.id in disabled:
        status = "disabled"
    else:
        status = "pass"
    return RuleResult(info, status, counts["open"], counts["suppressed"], counts["not_assessed"])


def worst_status(statuses: Iterable[str]) -> str:
    """The worst of some rule statuses (RULE_STATUSES order); `disabled` when there are none."""
    ranked = [RULE_STATUSES.index(s) for s in statuses if s in RULE_STATUSES]
    return RULE_STATUSES[min(ranked)] if ranked else "disabled"


def _suppressions(
    report: ScanReport, suppressions: Suppressions | None
) -> tuple[tuple[SuppressionEntry, ...], bool]:
    """Entries with their use; without the file, only the entries findings carry (active).

    For a scan evaluated before its suppression usage was stored (revision 0003): today's
    file is matched against the scan's findings as the engine would have at its start.
    """
    if suppressions is not None:
        tracker = SuppressionTracker(suppressions, report.scan.started_at)
        for f in report.findings:
            if f.status != "not_assessed":
                tracker.match(f)
        rows = [_entry(state, e.as_dict(), matches)
                for e, state, matches in tracker.usage().states()]
        return tuple(rows), True
    seen: dict[str, tuple[Mapping[str, object], int]] = {}
    for f in report.findings.where(findings_table.c.suppression.is_not(None)):
        if f.suppression is not None:
            key = json.dumps(dict(f.suppression), sort_keys=True, default=str)
            entry, n = seen.get(key, (f.suppression, 0))
            seen[key] = (entry, n + 1)
    rows = [_entry("active", entry, n) for entry, n in (seen[k] for k in sorted(seen))]
    return tuple(rows), False


def _entry(state: str, raw: Mapping[str, object], matched: int) -> SuppressionEntry:
    def text(key: str) -> str:
        value = raw.get(key)
        return "" if value is None else str(value)

    scope = ", ".join(f"{k} {raw[k]}" for k in ("site", "org") if raw.get(k) is not None)
    expires = raw.get("expires")
    return SuppressionEntry(
        state=state, rule=text("rule"), resource=text("resource"), reason=text("reason"),
        owner=text("owner"), ticket=text("ticket") or None,
        expires=expires.isoformat() if isinstance(expires, date) else text("expires"),
        scope=scope, matched=matched,
    )
