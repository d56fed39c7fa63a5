"""Render findings.ocsf.jsonl: one OCSF 1.5 Compliance Finding (class 2003) event per finding."""

from __future__ import annotations

import json
import re
from calendar import timegm
from datetime import datetime
from json.encoder import encode_basestring

from reports.context import ReportContext, split_control
from reports.verdicts import flagged
from rules.model import Finding

OCSF_VERSION = "1.5.0"
CATEGORY_UID = 2  # Findings
CLASS_UID = 2003  # Compliance Finding
CLASS_NAME = "Compliance Finding"

SEVERITY_IDS: dict[str, int] = {"info": 1, "low": 2, "medium": 3, "high": 4, "critical": 5}
_SEVERITY_NAMES = {1: "Informational", 2: "Low", 3: "Medium", 4: "High", 5: "Critical"}

# Triage: finding.status_id (0 Unknown, 1 New, 2 In Progress, 3 Suppressed, 4 Resolved, 99 Other).
_TRIAGE: dict[str, tuple[int, str]] = {
    "open": (1, "New"),
    "suppressed": (3, "Suppressed"),
    "not_assessed": (99, "Not Assessed"),
}
# Pass/fail: compliance.status_id (0 Unknown, 1 Pass, 2 Warning, 3 Fail, 99 Other).
_COMPLIANCE: dict[str, tuple[int, str]] = {
    "open": (3, "Fail"),
    "suppressed": (3, "Fail"),  # still failing; the risk is accepted in triage
    "not_assessed": (0, "Unknown"),
}
_ACTIVITY = {1: "Create", 2: "Update"}
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def epoch_ms(value: datetime) -> int:
    """A naive UTC datetime as integer epoch milliseconds (OCSF `timestamp_t`)."""
    return timegm(value.utctimetuple()) * 1000 + value.microsecond // 1000


def owner_user(owner: str) -> dict[str, str]:
    """A finding's owner as an OCSF User object (`resources[].owner`): name, and e-mail."""
    user = {"name": owner}
    if _EMAIL.fullmatch(owner):
        user["email_addr"] = owner
    return user


def render_ocsf(ctx: ReportContext, tool_version: str) -> str:
    """Return the JSON Lines text: one compact event per finding, in report order."""
    lines = EventLines(ctx, tool_version)
    previous = ctx.diff.from_scan
    rows = flagged(ctx.report.findings, None if previous is None else previous.id)
    return "".join(lines.line(row.finding, row.new) for row in rows)


class EventLines:
    """The JSON line of each finding's event, in the compact form of `json.dumps`.

    `line` writes the event field by field (keys in this order); what many findings share
    (the event's head per activity, severity and status; its compliance object per rule,
    status and controls; its cloud object per org; a rule's reference and remediation; an
    owner) is encoded once and reused, which makes a million events take seconds, not
    minutes. The findings come in report order (by rule, site, org), so small caches,
    emptied when full, keep nearly every hit and never grow with the scan.
    """

    def __init__(self, ctx: ReportContext, tool_version: str) -> None:
        scan = ctx.report.scan
        self.rules = ctx.rule_map
        self.scan_id = _s(scan.id)
        self.scan_prefix = scan.id + "/"
        self.started = str(epoch_ms(scan.started_at))
        self.product = _s(tool_version).join(
            ('{"name":"ddaudit","vendor_name":"ddaudit","version":', "}"))
        self._heads: dict[tuple[bool, str, str], str] = {}
        self._compliance: dict[tuple[str, str, tuple[str, ...]], str] = {}
        self._clouds: dict[tuple[str, str | None, str | None], str] = {}
        self._rules: dict[str, tuple[str, str]] = {}
        self._ms: dict[datetime, str] = {}
        self._owners: dict[str, str] = {}

    def line(self, f: Finding, new: bool) -> str:
        """One finding's event and its newline (the one place its fields are chosen)."""
        src_url, remediation = self._rule(f.rule_id)
        compliance = self._compliance_of(f)
        if f.status == "not_assessed":
            compliance += ',"status_detail":' + _s(f.detail)
        detail = _s(f.detail)
        parts = [
            self._head(new, f.severity, f.status), ',"message":', detail,
            ',"metadata":{"version":"', OCSF_VERSION, '","uid":', _s(self.scan_prefix + f.id),
            ',"correlation_uid":', _s(f.id), ',"product":', self.product,
            ',"log_name":', self.scan_id,
            '},"finding_info":{"uid":', _s(f.id), ',"title":', _s(f.title), ',"desc":', detail,
            ',"first_seen_time":', self._epoch_ms(f.first_seen),
            ',"last_seen_time":', self.started, ',"product":', self.product, src_url,
            '},"compliance":', compliance, '},"cloud":', self._cloud(f),
            ',"resources":[{"uid":', _s(f.resource_id), ',"name":',
            _s(f.resource_name or f.resource_id), ',"type":', _s(f.resource_type),
            ',"region":', _s(f.site), self._owner(f.owner), '}],"unmapped":{"target":',
            _s(f.target),
            ',"scan_id":', self.scan_id, "}",
        ]
        if f.suppression is not None:
            supp = f.suppression
            parts += [',"status_detail":', _s(
                f"suppressed until {supp.get('expires')}: {supp.get('reason')} "
                f"(owner {supp.get('owner')}, ticket {supp.get('ticket') or 'none'})")]
        parts += [remediation, "}\n"]
        return "".join(parts)

    def _head(self, new: bool, severity: str, status: str) -> str:
        """The event up to its status: class, activity, time, severity and triage."""
        key = (new, severity, status)
        head = self._heads.get(key)
        if head is None:
            activity = 1 if new else 2
            severity_id = SEVERITY_IDS.get(severity, 0)
            triage_id, triage = _TRIAGE.get(status, (0, "Unknown"))
            head = self._heads[key] = _COMPACT.encode({
                "category_uid": CATEGORY_UID,
                "category_name": "Findings",
                "class_uid": CLASS_UID,
                "class_name": CLASS_NAME,
                "activity_id": activity,
                "activity_name": _ACTIVITY[activity],
                "type_uid": CLASS_UID * 100 + activity,
                "type_name": f"{CLASS_NAME}: {_ACTIVITY[activity]}",
                "time": int(self.started),
                "severity_id": severity_id,
                "severity": _SEVERITY_NAMES.get(severity_id, "Unknown"),
                "status_id": triage_id,
                "status": triage,
            })[:-1]
        return head

    def _compliance_of(self, f: Finding) -> str:
        """The compliance object, open (a not-assessed finding adds its detail)."""
        key = (f.rule_id, f.status, f.controls)
        text = self._compliance.get(key)
        if text is None:
            if len(self._compliance) > 1024:
                self._compliance.clear()
            compliance_id, compliance = _COMPLIANCE.get(f.status, (0, "Unknown"))
            standards = sorted({split_control(c)[0] for c in f.controls})
            obj: dict[str, object] = {
                "control": f.rule_id,
                "status_id": compliance_id,
                "status": compliance,
            }
            if standards:
                obj["standards"] = standards
            if f.controls:
                obj["requirements"] = list(f.controls)
            text = self._compliance[key] = _COMPACT.encode(obj)[:-1]
        return text

    def _cloud(self, f: Finding) -> str:
        key = (f.site, f.org_public_id, f.org_name)
        text = self._clouds.get(key)
        if text is None:
            if len(self._clouds) > 1024:
                self._clouds.clear()
            text = self._clouds[key] = _COMPACT.encode({
                "provider": "Datadog",
                "region": f.site,
                "account": {"uid": f.org_public_id or "", "name": f.org_name or ""},
            })
        return text

    def _rule(self, rule_id: str) -> tuple[str, str]:
        """The finding_info src_url and the event's remediation, as `,"key":value` (or "")."""
        parts = self._rules.get(rule_id)
        if parts is None:
            rule = self.rules.get(rule_id)
            src_url = remediation = ""
            if rule is not None and rule.references:
                src_url = ',"src_url":' + _s(rule.references[0])
            if rule is not None and rule.remediation:
                remediation = ',"remediation":' + _COMPACT.encode({"desc": rule.remediation})
            parts = self._rules[rule_id] = (src_url, remediation)
        return parts

    def _owner(self, owner: str | None) -> str:
        """The resource's `,"owner":{...}` (an OCSF User), or "" when nobody answers for it."""
        if owner is None:
            return ""
        text = self._owners.get(owner)
        if text is None:
            if len(self._owners) > 1024:
                self._owners.clear()
            text = self._owners[owner] = ',"owner":' + _COMPACT.encode(owner_user(owner))
        return text

    def _epoch_ms(self, value: datetime) -> str:
        text = self._ms.get(value)
        if text is None:
            if len(self._ms) > 1024:
                self._ms.clear()
            text = self._ms[value] = str(epoch_ms(value))
        return text


_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=False)
_s = encode_basestring  # a JSON string, as json.dumps(ensure_ascii=False) writes it
