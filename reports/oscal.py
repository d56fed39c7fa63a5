"""Render assessment-results.json: OSCAL 1.2.1 Assessment Results, deterministic (uuid5) ids.

Shape: one `result` for the scan; one OSCAL `finding` per NIST SP 800-53 control the rule
pack maps (satisfied / not-satisfied); one `observation` per rule (its outcome, with every
framework's controls as props) and per ddaudit finding. Something that was not assessed is
an observation only, never a finding. No array is ever empty (the schema's minItems 1).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from datetime import datetime

from reports.context import ReportContext, RuleResult, split_control, worst_status
from rules.model import Finding
from scanner.timeutil import isoformat_z

OSCAL_VERSION = "1.2.1"
NS = "urn:ddaudit:oscal"
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, NS)
NIST = "NIST800-53"

_NIST_ID = re.compile(r"^([A-Za-z]{2})-(\d+)(?:\((\d+)\))?$")
_MD_SPECIAL = re.compile(r"([\\`*_\[\]])")


def oscal_uuid(*parts: str) -> str:
    """A version-5 UUID from a fixed namespace: the same input always gives the same id."""
    return str(uuid.uuid5(NAMESPACE, "/".join(parts)))


def nist_control_id(control: str) -> str | None:
    """`AC-6(5)` -> `ac-6.5` (OSCAL's lower-case form); None when it is not such an id."""
    m = _NIST_ID.match(control.strip())
    if m is None:
        return None
    family, number, enhancement = m.groups()
    base = f"{family.lower()}-{int(number)}"
    return f"{base}.{int(enhancement)}" if enhancement else base


def render_oscal(
    ctx: ReportContext, evidence: Mapping[str, tuple[str, int]], tool_version: str
) -> str:
    """Return the document; `evidence` maps bundle file names to (sha256, size) for back-matter."""
    scan = ctx.report.scan
    plan_uuid = oscal_uuid(scan.id, "assessment-plan")
    findings_uuid = oscal_uuid(scan.id, "evidence", "findings.json")
    rule_obs = {r.rule.id: _rule_observation(ctx, r, findings_uuid) for r in ctx.rules
                if r.status != "disabled"}
    observations = list(rule_obs.values())
    observations += [_finding_observation(ctx, f, findings_uuid) for f in ctx.report.findings]
    result: dict[str, object] = {
        "uuid": oscal_uuid(scan.id, "result"),
        "title": _line(f"ddaudit scan {scan.id}"),
        "description": _md(
            f"Automated assessment of the Datadog access surface ({len(ctx.report.targets)} "
            f"targets, {len(ctx.report.findings)} findings, scan status {scan.status})."
        ),
        "start": _ts(scan.started_at),
    }
    if scan.finished_at is not None:
        result["end"] = _ts(scan.finished_at)
    result["props"] = [_prop("scan-status", scan.status)]
    result["reviewed-controls"] = _reviewed_controls(ctx)
    if observations:
        result["observations"] = observations
    control_findings = _control_findings(ctx, rule_obs)
    if control_findings:
        result["findings"] = control_findings
    document = {
        "assessment-results": {
            "uuid": oscal_uuid(scan.id, "assessment-results"),
            "metadata": _metadata(ctx, tool_version),
            "import-ap": {
                "href": f"#{plan_uuid}",
                "remarks": "The assessment plan is the ddaudit rule pack named in back-matter.",
            },
            "results": [result],
            "back-matter": {"resources": _resources(ctx, plan_uuid, evidence)},
        }
    }
    # Compact: at 100,000 findings the indented form is 2.5x the size and 4x the time.
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")) + "\n"


def _metadata(ctx: ReportContext, tool_version: str) -> dict[str, object]:
    scan = ctx.report.scan
    props = [
        _prop("tool", "ddaudit"),
        _prop("tool-version", tool_version),
        _prop("rulepack-sha256", scan.rulepack_sha256),
        _prop("config-sha256", scan.config_sha256),
    ]
    return {
        "title": _line(f"ddaudit assessment results, scan {scan.id}"),
        "last-modified": _ts(scan.finished_at or scan.started_at),
        "version": scan.id,
        "oscal-version": OSCAL_VERSION,
        "props": [p for p in props if p],
    }


def _nist_controls(rule: RuleResult) -> list[str]:
    ids = (nist_control_id(ctl) for fw, ctl in map(split_control, rule.rule.controls) if fw == NIST)
    return sorted({i for i in ids if i})


def _reviewed_controls(ctx: ReportContext) -> dict[str, object]:
    controls = sorted({c for r in ctx.rules if r.status != "disabled" for c in _nist_controls(r)})
    selection: dict[str, object] = {
        "description": "NIST SP 800-53 controls the ddaudit rule pack maps its rules to."
    }
    if controls:
        selection["include-controls"] = [{"control-id": c} for c in controls]
    else:
        selection["include-all"] = {}
    return {"control-selections": [selection]}


def _control_findings(ctx: ReportContext, rule_obs: Mapping[str, dict[str, object]]) -> list[
        dict[str, object]]:
    by_control: dict[str, list[RuleResult]] = {}
    for r in ctx.rules:
        if r.status == "disabled":
            continue
        for control in _nist_controls(r):
            by_control.setdefault(control, []).append(r)
    out: list[dict[str, object]] = []
    for control in sorted(by_control):
        rules = by_control[control]
        status = worst_status(r.status for r in rules)
        if status == "not_assessed":
            continue  # not assessed: the rule observations say so, no finding claims a state
        state = "satisfied" if status == "pass" else "not-satisfied"
        reason = {"pass": "pass", "fail": "fail"}.get(status, "other")
        ids = ", ".join(r.rule.id for r in rules)
        target: dict[str, object] = {
            "type": "objective-id",
            "target-id": f"{control}_obj",
            "status": {"state": state, "reason": reason},
        }
        if status == "accepted":
            target["remarks"] = "Every failing resource carries an accepted, unexpired suppression."
        out.append({
            "uuid": oscal_uuid(ctx.report.scan.id, "finding", control),
            "title": _line(f"{control}: {state}"),
            "description": _md(f"Control {control} as assessed by ddaudit rules {ids}: {status}."),
            "props": [_prop("control-status", status)],
            "target": target,
            "related-observations": [
                {"observation-uuid": str(rule_obs[r.rule.id]["uuid"])} for r in rules
            ],
        })
    return out


def _rule_observation(ctx: ReportContext, r: RuleResult, evidence_uuid: str) -> dict[str, object]:
    props = [
        _prop("rule-id", r.rule.id),
        _prop("severity", r.rule.severity),
        _prop("rule-status", r.status),
        _prop("open-findings", str(r.open)),
        _prop("suppressed-findings", str(r.suppressed)),
        _prop("not-assessed-findings", str(r.not_assessed)),
    ]
    for control in r.rule.controls:
        framework, ident = split_control(control)
        props.append(_prop("control", ident, cls=_token(framework)))
    obs: dict[str, object] = {
        "uuid": oscal_uuid(ctx.report.scan.id, "rule", r.rule.id),
        "title": _line(f"{r.rule.id} {r.rule.title}: {r.status.replace('_', ' ')}"),
        "description": _md(
            f"{r.rule.description or r.rule.title} Outcome: {r.open} open, {r.suppressed} "
            f"suppressed, {r.not_assessed} not assessed."
        ),
        "props": [p for p in props if p],
        "methods": ["TEST"],
    }
    if r.status in ("fail", "accepted"):
        obs["types"] = ["finding"]
    elif r.status == "pass":
        obs["types"] = ["control-objective"]
    obs["relevant-evidence"] = [{"href": f"#{evidence_uuid}",
                                 "description": "findings.json of this scan"}]
    obs["collected"] = _ts(ctx.report.scan.started_at)
    return obs


def _finding_observation(ctx: ReportContext, f: Finding, evidence_uuid: str) -> dict[
        str, object]:
    props = [
        _prop("finding-id", f.id), _prop("rule-id", f.rule_id), _prop("severity", f.severity),
        _prop("finding-status", f.status.replace("_", "-")), _prop("site", f.site),
        _prop("org-public-id", f.org_public_id), _prop("org-name", f.org_name),
        _prop("target", f.target), _prop("resource-type", f.resource_type),
        _prop("resource-id", f.resource_id), _prop("resource-name", f.resource_name),
    ]
    if f.suppression is not None:
        props.append(_prop("suppression-reason", str(f.suppression.get("reason") or "")))
        props.append(_prop("suppression-expires", str(f.suppression.get("expires") or "")))
    name = f.resource_name or f.resource_id
    obs: dict[str, object] = {
        "uuid": oscal_uuid(ctx.report.scan.id, "observation", f.id),
        "title": _line(f"{f.rule_id} {f.status.replace('_', ' ')}: {f.resource_type} {name}"),
        "description": _md(f.detail),
        "props": [p for p in props if p],
        "methods": ["TEST"],
    }
    if f.status != "not_assessed":
        obs["types"] = ["finding"]
    obs["relevant-evidence"] = [{"href": f"#{evidence_uuid}",
                                 "description": _md(f"Finding {f.id} in findings.json")}]
    obs["collected"] = _ts(ctx.report.scan.started_at)
    return obs


def _resources(
    ctx: ReportContext, plan_uuid: str, evidence: Mapping[str, tuple[str, int]]
) -> list[dict[str, object]]:
    scan = ctx.report.scan
    plan: dict[str, object] = {
        "uuid": plan_uuid,
        "title": "ddaudit rule pack (the assessment plan)",
        "description": "The rules, parameters and control mappings evaluated by this scan.",
    }
    plan_props = [_prop("rulepack-sha256", scan.rulepack_sha256), _prop("rules", str(
        sum(1 for r in ctx.rules if r.status != "disabled")))]
    plan["props"] = [p for p in plan_props if p]
    out: list[dict[str, object]] = [plan]
    for name in sorted(evidence):
        digest, size = evidence[name]
        out.append({
            "uuid": oscal_uuid(scan.id, "evidence", name),
            "title": _line(name),
            "props": [_prop("size-bytes", str(size))],
            "rlinks": [{
                "href": name,
                "media-type": _media_type(name),
                "hashes": [{"algorithm": "SHA-256", "value": digest}],
            }],
        })
    return out


def _media_type(name: str) -> str:
    for suffix, media in ((".jsonl", "application/jsonl"), (".json", "application/json"),
                          (".csv", "text/csv"), (".html", "text/html")):
        if name.endswith(suffix):
            return media
    return "application/octet-stream"


def _ts(value: datetime) -> str:
    text = isoformat_z(value)
    assert text is not None
    return text


def _single(text: str) -> str:
    return " ".join(text.split())


def _line(text: str) -> str:
    """A markup-line: one line, Markdown and HTML specials escaped (names are untrusted)."""
    return _md(_single(text)) or "untitled"


def _md(text: str) -> str:
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", escaped).strip() or "none"


def _token(text: str) -> str:
    token = re.sub(r"[^A-Za-z0-9._-]", "-", text)
    return token if token[:1].isalpha() or token[:1] == "_" else f"_{token}"


def _prop(name: str, value: str | None, *, cls: str | None = None) -> dict[str, object] | None:
    """A ddaudit prop; None (left out) when the value is empty once made one line."""
    if value is None or not _single(value):
        return None
    prop: dict[str, object] = {"name": name, "ns": NS, "value": _single(value)}
    if cls:
        prop["class"] = cls
    return prop

