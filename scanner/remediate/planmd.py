"""plan.md: the plan as a reviewer reads it, one section per action, with the exact call."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from scanner.remediate.actions import LISTINGS, VERBS

# What apply checks again before each kind of action (docs/remediation.md says the same).
_CONDITIONS: dict[str, str] = {
    "DDA-KEY-001": "not used since the scan",
    "DDA-KEY-002": "not used since the scan",
    "DDA-TOK-003": "not used since the scan",
    "DDA-KEY-006": "its creator is still disabled or gone",
    "DDA-TOK-004": "its owner is still disabled or gone",
    "DDA-KEY-007": "still reported leaked",
    "DDA-MAP-001": "the role or team it points to still does not exist",
    "DDA-SA-002": "still enabled, still without application keys or access tokens",
}


def clean(value: object) -> str:
    """API text made safe for Markdown: no control characters, backticks or pipes."""
    text = "" if value is None else str(value)
    return "".join(ch if ch.isprintable() and ch not in "`|" else "?" for ch in text)


def _facts(observed: Mapping[str, Any]) -> list[str]:
    lines = []
    for key, value in observed.items():
        if isinstance(value, Mapping):  # owner / creator
            who = value.get("name") or value.get("id") or "unknown"
            kind = " (service account)" if value.get("service_account") else ""
            value = f"{who}{kind}, {value.get('state')}"
        elif isinstance(value, list):
            value = ", ".join(str(v) for v in value) or "(none)"
        elif value is None:
            value = "unscoped (every permission of its owner)" if key == "scopes" else "none"
        lines.append(f"  - {key.replace('_', ' ')}: `{clean(value)}`")
    return lines


def render_plan_md(document: Mapping[str, Any], sha256: str) -> str:
    """The Markdown review copy of a plan document."""
    scan = document["scan"]
    actions = document["actions"]
    kinds = Counter(a["kind"] for a in actions)
    targets = Counter(a["target"] for a in actions)
    out = [
        f"# Remediation plan {document['plan_id']}",
        "",
        f"- created: {document['created_at']} by ddaudit {document['tool_version']}",
        f"- from scan `{scan['id']}` ({scan['status']}, started {scan['started_at']}); its "
        f"manifest.json SHA-256 `{scan['manifest_sha256']}`",
        f"- plan SHA-256: `{sha256}` (apply refuses the plan if plan.json changes)",
        f"- {len(actions)} actions"
        + (f"; {document['left_out']} more left out by --max" if document["left_out"] else ""),
        "",
        "Apply after review, with the target's write key pair:",
        "",
        "```sh",
        "ddaudit apply plan.json --approved-by \"NAME\" --dry-run   # re-reads, writes nothing",
        "ddaudit apply plan.json --approved-by \"NAME\"",
        "```",
        "",
        "| action | count |",
        "|---|---|",
        *(f"| {VERBS[k]} | {n} |" for k, n in sorted(kinds.items())),
        "",
        "| target | actions |",
        "|---|---|",
        *(f"| {clean(t)} | {n} |" for t, n in sorted(targets.items())),
        "",
    ]
    for a in actions:
        resource = a["resource"]
        name = resource.get("name") or resource["id"]
        request = a["request"]
        checks = "; or ".join(dict.fromkeys(_CONDITIONS[x["rule_id"]] for x in a["answers"]
                                            if x["rule_id"] in _CONDITIONS))
        out += [
            f"## {a['number']}. {VERBS[a['kind']]} `{clean(name)}`",
            "",
            f"- target `{clean(a['target'])}`, site {a['site']}, org "
            f"`{clean(a.get('org_name') or a.get('org_public_id'))}` "
            f"(`{clean(a.get('org_public_id'))}`)",
            f"- resource: {resource['type']} `{clean(resource['id'])}`",
            "- answers: " + ", ".join(f"{x['rule_id']} (finding `{x['finding_id']}`)"
                                      for x in a["answers"]),
        ]
        if a["also_resolves"]:
            out.append("- also resolves: " + ", ".join(
                f"{x['rule_id']} (finding `{x['finding_id']}`)" for x in a["also_resolves"]))
        out += [
            "- observed by the scan:",
            *_facts(a["observed"]),
            f"- call: `{request['method']} {clean(request['path'])}` (needs "
            f"`{request['permission']}`)",
            f"- before it: re-read from `GET {LISTINGS[a['kind']]}`; acts only if {checks}",
            "",
        ]
    if document["side_effects"]:
        out += ["## Side effects", "",
                "Removing these resources may change findings on others:", ""]
        out += [f"- {x['effect']}: {x['rule_id']} on {x['resource_type']} "
                f"`{clean(x['resource_id'])}` (finding `{x['finding_id']}`): "
                f"{clean(x['because'])}" for x in document["side_effects"]]
        out.append("")
    if document["not_planned"]:
        out += ["## Not planned", ""]
        out += [f"- {x['rule_id']} finding `{x['finding_id']}`: {clean(x['reason'])}"
                for x in document["not_planned"]]
        out.append("")
    return "\n".join(out)
