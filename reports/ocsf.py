"""Render findings.ocsf.jsonl: one OCSF 1.5 Compliance Finding (class 2003) event per finding."""

from __future__ import annotations

import json
import re
from calendar import timegm
from datetime import datetime

from reports.context import ReportContext, RuleInfo, split_control
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
    rules = ctx.rule_map
    new_ids = ctx.diff.new_ids
    lines = [
        json.dumps(
            _event(f, rules.get(f.rule_id), ctx, tool_version, f.id in new_ids),
            ensure_ascii=False, separators=(",", ":"), sort_keys=False,
        )
        for f in ctx.report.findings
    ]
    return "".join(line + "\n" for line in lines)


def _event(
    f: Finding, rule: RuleInfo | None, ctx: ReportContext, tool_version: str, new: bool
) -> dict[str, object]:
    scan = ctx.report.scan
    activity = 1 if new else 2
    severity_id = SEVERITY_IDS.get(f.severity, 0)
    triage_id, triage = _TRIAGE.get(f.status, (0, "Unknown"))
    compliance_id, compliance = _COMPLIANCE.get(f.status, (0, "Unknown"))
    standards = sorted({split_control(c)[0] for c in f.controls})
    compliance_obj: dict[str, object] = {
        "control": f.rule_id,
        "status_id": compliance_id,
        "status": compliance,
    }
    if standards:
        compliance_obj["standards"] = standards
    if f.controls:
        compliance_obj["requirements"] = list(f.controls)
    if f.status == "not_assessed":
        compliance_obj["status_detail"] = f.detail
    finding_info: dict[str, object] = {
        "uid": f.id,
        "title": f.title,
        "desc": f.detail,
        "first_seen_time": epoch_ms(f.first_seen),
        "last_seen_time": epoch_ms(scan.started_at),
        "product": {"name": "ddaudit", "vendor_name": "ddaudit", "version": tool_version},
    }
    if rule is not None and rule.references:
        finding_info["src_url"] = rule.references[0]
    event: dict[str, object] = {
        "category_uid": CATEGORY_UID,
        "category_name": "Findings",
        "class_uid": CLASS_UID,
        "class_name": CLASS_NAME,
        "activity_id": activity,
        "activity_name": _ACTIVITY[activity],
        "type_uid": CLASS_UID * 100 + activity,
        "type_name": f"{CLASS_NAME}: {_ACTIVITY[activity]}",
        "time": epoch_ms(scan.started_at),
        "severity_id": severity_id,
        "severity": _SEVERITY_NAMES.get(severity_id, "Unknown"),
        "status_id": triage_id,
        "status": triage,
        "message": f.detail,
        "metadata": {
            "version": OCSF_VERSION,
            "uid": f"{scan.id}/{f.id}",
            "correlation_uid": f.id,
            "product": {"name": "ddaudit", "vendor_name": "ddaudit", "version": tool_version},
            "log_name": scan.id,
        },
        "finding_info": finding_info,
        "compliance": compliance_obj,
        "cloud": {
            "provider": "Datadog",
            "region": f.site,
            "account": {"uid": f.org_public_id or "", "name": f.org_name or ""},
        },
        "resources": [
            {
                "uid": f.resource_id,
                "name": f.resource_name or f.resource_id,
                "type": f.resource_type,
                "region": f.site,
                **({} if f.owner is None else {"owner": owner_user(f.owner)}),
            }
        ],
        "unmapped": {"target": f.target, "scan_id": scan.id},
    }
    if f.suppression is not None:
        supp = f.suppression
        event["status_detail"] = (
            f"suppressed until {supp.get('expires')}: {supp.get('reason')} "
            f"(owner {supp.get('owner')}, ticket {supp.get('ticket') or 'none'})"
        )
    if rule is not None and rule.remediation:
        event["remediation"] = {"desc": rule.remediation}
    return event
