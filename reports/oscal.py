"""Render assessment-results.json: OSCAL 1.2.1 Assessment Results, deterministic (uuid5) ids.

Shape: one `result` for the scan; one OSCAL `finding` per NIST SP 800-53 control the rule
pack maps (satisfied / not-satisfied); one `observation` per rule (its outcome, with every
framework's controls as props) and per ddaudit finding. Something that was not assessed is
an observation only, never a finding. No array is ever empty (the schema's minItems 1).
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Mapping
from datetime import datetime
from json.encoder import encode_basestring

from reports.context import ReportContext, RuleResult, split_control, worst_status
from rules.model import Finding
from scanner.timeutil import isoformat_z

OSCAL_VERSION = "1.2.1"
NS = "urn:ddaudit:oscal"
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, NS)
_NAMESPACE_BYTES = NAMESPACE.bytes
NIST = "NIST800-53"

_NIST_ID = re.compile(r"^([A-Za-z]{2})-(\d+)(?:\((\d+)\))?$")
_MD_SPECIAL = re.compile(r"([\\`*_\[\]])")
_MD_ANY = re.compile(r"[&<>\\`*_\[\]]")  # what _md escapes


def oscal_uuid(*parts: str) -> str:
    """A version-5 UUID from a fixed namespace: the same input always gives the same id.

    `str(uuid.uuid5(NAMESPACE, "/".join(parts)))`, written out: uuid.UUID is slow to build
    and the document has one per finding.
    """
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + "/".join(parts).encode("utf-8")).digest())
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest[:16].hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


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
    document = OscalDocument(ctx, tool_version)
    return (document.head() + "".join(document.observation(f) for f in ctx.report.findings)
            + document.tail(evidence))


class OscalDocument:
    """The document in three parts, so that its finding observations stream: `head` (through
    the rule observations), one `observation` per finding in report order, `tail`.

    Joined, they are the compact JSON of {"assessment-results": {uuid, metadata, import-ap,
    results: [{uuid, title, description, start, end?, props, reviewed-controls,
    observations?, findings?}], back-matter}} (at 100,000 findings the indented form is
    2.5x the size and 4x the time).
    """

    def __init__(self, ctx: ReportContext, tool_version: str) -> None:
        self.ctx = ctx
        self.tool_version = tool_version
        scan = ctx.report.scan
        self.plan_uuid = oscal_uuid(scan.id, "assessment-plan")
        self.findings_uuid = oscal_uuid(scan.id, "evidence", "findings.json")
        self.rule_obs = {r.rule.id: _rule_observation(ctx, r, self.findings_uuid)
                         for r in ctx.rules if r.status != "disabled"}
        self.total = len(ctx.report.findings)
        self.listed = bool(self.rule_obs)  # an observation is written already
        self.scan_id = scan.id
        self.evidence_href = _s(f"#{self.findings_uuid}")
        self.collected = _s(_ts(scan.started_at))
        self._props: dict[tuple[str, str | None], str] = {}
        self._shared: dict[tuple[str | None, ...], str] = {}

    def head(self) -> str:
        """Everything before the first finding's observation."""
        scan = self.ctx.report.scan
        result: dict[str, object] = {
            "uuid": oscal_uuid(scan.id, "result"),
            "title": _line(f"ddaudit scan {scan.id}"),
            "description": _md(
                f"Automated assessment of the Datadog access surface "
                f"({len(self.ctx.report.targets)} targets, {self.total} findings, scan status "
                f"{scan.status})."
            ),
            "start": _ts(scan.started_at),
        }
        if scan.finished_at is not None:
            result["end"] = _ts(scan.finished_at)
        result["props"] = [_prop("scan-status", scan.status)]
        result["reviewed-controls"] = _reviewed_controls(self.ctx)
        document = {
            "uuid": oscal_uuid(scan.id, "assessment-results"),
            "metadata": _metadata(self.ctx, self.tool_version),
            "import-ap": {
                "href": f"#{self.plan_uuid}",
                "remarks": "The assessment plan is the ddaudit rule pack named in back-matter.",
            },
        }
        text = '{"assessment-results":' + _compact(document)[:-1] + ',"results":['
        text += _compact(result)[:-1]
        if self.rule_obs or self.total:
            text += ',"observations":[' + ",".join(map(_compact, self.rule_obs.values()))
        return text

    def observation(self, f: Finding) -> str:
        """The observation of one finding (the one place its fields are chosen), as compact
        JSON after a comma unless it is the first."""
        props = [
            _prop_text("finding-id", f.id), self._shared_props(f),
            _prop_text("resource-id", f.resource_id),
            _prop_text("resource-name", f.resource_name),
        ]
        if f.suppression is not None:
            props.append(self._prop("suppression-reason", str(f.suppression.get("reason") or "")))
            props.append(self._prop("suppression-expires",
                                    str(f.suppression.get("expires") or "")))
        name = f.resource_name or f.resource_id
        parts = [
            "," if self.listed else "",
            '{"uuid":"', oscal_uuid(self.scan_id, "observation", f.id), '","title":',
            _s(_line(f"{f.rule_id} {f.status.replace('_', ' ')}: {f.resource_type} {name}")),
            ',"description":', _s(_md(f.detail)),
            ',"props":[', ",".join(p for p in props if p), '],"methods":["TEST"]',
            ',"types":["finding"]' if f.status != "not_assessed" else "",
            ',"relevant-evidence":[{"href":', self.evidence_href,
            ',"description":', _s(_md(f"Finding {f.id} in findings.json")),
            '}],"collected":', self.collected, "}",
        ]
        self.listed = True
        return "".join(parts)

    def _shared_props(self, f: Finding) -> str:
        """The props from rule-id to resource-type, which many findings share."""
        key = (f.rule_id, f.severity, f.status, f.site, f.org_public_id, f.org_name, f.target,
               f.resource_type)
        text = self._shared.get(key)
        if text is None:
            props = [
                _prop_text("rule-id", f.rule_id), _prop_text("severity", f.severity),
                _prop_text("finding-status", f.status.replace("_", "-")),
                _prop_text("site", f.site), _prop_text("org-public-id", f.org_public_id),
                _prop_text("org-name", f.org_name), _prop_text("target", f.target),
                _prop_text("resource-type", f.resource_type),
            ]
            if len(self._shared) > 1024:
                self._shared.clear()
            text = self._shared[key] = ",".join(p for p in props if p)
        return text

    def _prop(self, name: str, value: str | None) -> str:
        """`_prop_text`, remembered for values many findings share (rule, site, org, ...)."""
        text = self._props.get((name, value))
        if text is None:
            if len(self._props) > 1024:
                self._props.clear()
            text = self._props[(name, value)] = _prop_text(name, value)
        return text

    def tail(self, evidence: Mapping[str, tuple[str, int]]) -> str:
        """Everything after the last finding's observation; `evidence` maps bundle file
        names to (sha256, size) for the back-matter."""
        text = "]" if self.rule_obs or self.total else ""
        control_findings = _control_findings(self.ctx, self.rule_obs)
        if control_findings:
            text += ',"findings":' + _compact(control_findings)
        back_matter = {"resources": _resources(self.ctx, self.plan_uuid, evidence)}
        return text + '}],"back-matter":' + _compact(back_matter) + "}}\n"


_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_s = encode_basestring  # a JSON string, as json.dumps(ensure_ascii=False) writes it
_NS = _s(NS)


def _compact(value: object) -> str:
    return _COMPACT.encode(value)


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
    if text.isprintable() and " " not in text:  # no whitespace at all (ids, names)
        return text
    return " ".join(text.split())


def _line(text: str) -> str:
    """A markup-line: one line, Markdown and HTML specials escaped (names are untrusted)."""
    return _md(_single(text)) or "untitled"


def _md(text: str) -> str:
    if _MD_ANY.search(text) is None:  # most text: nothing to escape
        return text.strip() or "none"
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", escaped).strip() or "none"


def _token(text: str) -> str:
    token = re.sub(r"[^A-Za-z0-9._-]", "-", text)
    return token if token[:1].isalpha() or token[:1] == "_" else f"_{token}"


def _prop_text(name: str, value: str | None) -> str:
    """`_prop(name, value)` as compact JSON; "" when it is left out."""
    single = None if value is None else _single(value)
    if not single:
        return ""
    return '{"name":' + _s(name) + ',"ns":' + _NS + ',"value":' + _s(single) + "}"


def _prop(name: str, value: str | None, *, cls: str | None = None) -> dict[str, object] | None:
    """A ddaudit prop; None (left out) when the value is empty once made one line."""
    if value is None or not _single(value):
        return None
    prop: dict[str, object] = {"name": name, "ns": NS, "value": _single(value)}
    if cls:
        prop["class"] = cls
    return prop

