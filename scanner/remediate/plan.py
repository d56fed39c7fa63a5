"""`ddaudit plan`: a remediation plan (plan.json, plan.md) from a stored scan's open findings.

One action per resource: the open findings whose rule maps to an action (actions.py) are
what it answers; every other open finding on that resource resolves along with it and is
listed as such. Suppressed and not-assessed findings are never planned. No Datadog key is
read and no request is sent.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from reports.load import latest_finished_scan, load_scan
from reports.manifest import MANIFEST, sha256_hex
from rules.model import Finding
from scanner import __version__
from scanner.errors import APIError, ConfigError, NotFoundError
from scanner.remediate.actions import REMEDIABLE_RULES, call_for, kind_for
from scanner.remediate.effects import side_effects
from scanner.remediate.evidence import write_private
from scanner.remediate.model import SCHEMA, Answered, PlannedAction, action_document, seal
from scanner.remediate.observe import observe
from scanner.remediate.planmd import render_plan_md
from scanner.timeutil import isoformat_z


@dataclass(frozen=True)
class Selection:
    """What `ddaudit plan` was asked for: rules, targets, and a cap on the actions."""

    rules: frozenset[str] = frozenset()  # empty: every remediable rule
    targets: frozenset[str] = frozenset()  # empty: every target of the scan
    max_actions: int | None = None


@dataclass(frozen=True)
class WrittenPlan:
    """Where the plan went and what it holds."""

    plan_id: str
    json_path: Path
    md_path: Path
    actions: int
    left_out: int
    sha256: str


def check_selection(selection: Selection, scan_targets: Collection[str]) -> None:
    """ConfigError (exit 2) for a rule no action answers or a target the scan lacks."""
    unknown = sorted(selection.rules - REMEDIABLE_RULES)
    if unknown:
        raise ConfigError(f"--rules: {', '.join(unknown)} cannot be remediated by ddaudit; "
                          f"choose among {', '.join(sorted(REMEDIABLE_RULES))}")
    missing = sorted(selection.targets - set(scan_targets))
    if missing:
        raise ConfigError(f"--target: {', '.join(missing)} not in the scan; its targets are "
                          f"{', '.join(sorted(scan_targets)) or '(none)'}")
    if selection.max_actions is not None and selection.max_actions < 1:
        raise ConfigError("--max must be at least 1")


def build_plan(engine: Engine, output_root: Path, scan_id: str | None, selection: Selection,
               now: datetime) -> dict[str, Any]:
    """The plan document (without its sha256) for the scan's open findings.

    The scan's evidence bundle must exist under `output_root`: the plan records its
    manifest's SHA-256, so the remediation evidence chains to what the scan found.
    """
    if scan_id is None:
        scan_id = latest_finished_scan(engine)
        if scan_id is None:
            raise NotFoundError("the database holds no finished scan; run 'ddaudit scan' first")
    report = load_scan(engine, scan_id)
    check_selection(selection, {t.target for t in report.targets})
    manifest = output_root / scan_id / MANIFEST
    try:
        manifest_sha = sha256_hex(manifest.read_bytes())
    except OSError:
        raise ConfigError(f"scan {scan_id} has no evidence bundle at {manifest.parent} "
                          f"({MANIFEST} missing); run 'ddaudit report --scan {scan_id}' or "
                          "give the --config whose [scan] output holds it") from None
    org_uuids = {(t.target, t.site): t.org_uuid for t in report.targets}
    groups = _group(report.findings, selection)
    kept = groups if selection.max_actions is None else groups[:selection.max_actions]
    actions: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    with engine.connect() as conn:
        for kind, answers, others in kept:
            first = answers[0]
            facts = observe(conn, scan_id, first.target, kind, first.resource_id)
            try:
                if facts is None:
                    raise APIError("the resource is not in the scan's snapshot")
                request = call_for(kind, first.resource_id, facts)
            except APIError as exc:
                skipped.append({"finding_id": first.id, "rule_id": first.rule_id,
                                "reason": str(exc)})
                continue
            action = PlannedAction(
                number=len(actions) + 1, kind=kind, finding_id=first.id,
                rule_id=first.rule_id, severity=first.severity,
                answers=tuple(Answered(f.id, f.rule_id) for f in answers),
                also_resolves=tuple(Answered(f.id, f.rule_id) for f in others),
                target=first.target, site=first.site, org_public_id=first.org_public_id,
                org_uuid=org_uuids.get((first.target, first.site)), org_name=first.org_name,
                resource_type=first.resource_type, resource_id=first.resource_id,
                resource_name=first.resource_name, observed=facts, request=request.as_dict())
            actions.append(action_document(action))
        effects = side_effects(conn, scan_id, actions, report.findings)
    return {
        "schema": SCHEMA,
        "plan_id": f"plan-{now:%Y%m%d-%H%M%S}-{secrets.token_hex(3)}",
        "created_at": isoformat_z(now),
        "tool_version": __version__,
        "scan": {"id": scan_id, "started_at": isoformat_z(report.scan.started_at),
                 "status": report.scan.status, "manifest": f"{scan_id}/{MANIFEST}",
                 "manifest_sha256": manifest_sha},
        "selection": {"rules": sorted(selection.rules), "targets": sorted(selection.targets),
                      "max": selection.max_actions},
        "actions": actions,
        "left_out": len(groups) - len(kept),
        "not_planned": skipped,
        "side_effects": effects,
    }


def _group(findings: Sequence[Finding], selection: Selection
           ) -> list[tuple[str, list[Finding], list[Finding]]]:
    """(kind, findings answered, other open findings) per resource, most severe first.

    `findings` come in report order (severity, rule, site, org, resource), so the first
    finding of each group is its most severe and the groups keep that order.
    """
    open_ = [f for f in findings if f.status == "open"]
    by_resource: dict[tuple[str, str, str], list[Finding]] = {}
    for f in open_:
        by_resource.setdefault((f.target, f.resource_type, f.resource_id), []).append(f)
    groups: dict[tuple[str, str, str], tuple[str, list[Finding]]] = {}
    for f in open_:
        kind = kind_for(f.rule_id, f.resource_type)
        if kind is None or (selection.rules and f.rule_id not in selection.rules):
            continue
        if selection.targets and f.target not in selection.targets:
            continue
        key = (f.target, f.resource_type, f.resource_id)
        groups.setdefault(key, (kind, []))[1].append(f)
    out = []
    for key, (kind, answers) in groups.items():
        answered = {f.id for f in answers}
        others = [f for f in by_resource[key] if f.id not in answered]
        out.append((kind, answers, others))
    return out


def write_plan(document: dict[str, Any], out_dir: Path) -> WrittenPlan:
    """Write plan.json (sealed with its SHA-256) and plan.md into `out_dir` (0700/0600)."""
    data, sealed_sha = seal(document)
    json_path, md_path = out_dir / "plan.json", out_dir / "plan.md"
    write_private(json_path, data)
    write_private(md_path, render_plan_md(document, sealed_sha).encode("utf-8"))
    return WrittenPlan(document["plan_id"], json_path, md_path, len(document["actions"]),
                       int(document["left_out"]), sealed_sha)
