"""Evaluating a rule pack over one stored scan and writing its findings."""

from __future__ import annotations

import json
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, bindparam, delete, func, select
from sqlalchemy.exc import SQLAlchemyError

from rules.model import Finding, Rule, RulePack, RuleSettings, fingerprint
from rules.params import Shown, bind_values, check_settings, rule_parameters, statement
from rules.suppressions import Suppressions
from scanner.errors import ConfigError, RuleError
from scanner.store.schema import coverage, findings, orgs, scans, targets

_FORMATTER = string.Formatter()
_CHUNK = 500


@dataclass(frozen=True)
class _Target:
    name: str
    site: str
    org_public_id: str | None
    org_name: str | None


def evaluate_scan(
    engine: Engine,
    scan_id: str,
    pack: RulePack,
    settings: RuleSettings,
    suppressions: Suppressions | None = None,
) -> list[Finding]:
    """Evaluate every enabled rule on scan `scan_id`, replace its findings rows, return them.

    Findings come back sorted by severity, rule id, site, org and resource id.
    """
    check_settings(pack, settings)
    with engine.begin() as conn:
        now = conn.execute(select(scans.c.started_at).where(scans.c.id == scan_id)).scalar()
        if now is None:
            raise ConfigError(f"scan {scan_id} is not in the database; see `ddaudit scans list`")
        scan_targets = _targets(conn, scan_id)
        cov = _coverage(conn, scan_id)
        found: dict[str, Finding] = {}
        for rule in pack.rules:
            if rule.id in settings.disabled:
                continue
            for f in _evaluate_rule(conn, rule, pack, settings, scan_id, now, scan_targets, cov):
                found.setdefault(f.id, f)
        carried = _first_seen(conn, sorted(found), now)
        result = [
            replace(f, first_seen=min(carried.get(f.id, f.first_seen), f.first_seen))
            for f in found.values()
        ]
        if suppressions is not None:
            result = suppressions.apply(result, now)
        result.sort(key=lambda f: f.sort_key)
        conn.execute(delete(findings).where(findings.c.scan_id == scan_id))
        if result:
            conn.execute(findings.insert(), [_row(scan_id, f) for f in result])
    return result


def _targets(conn: Connection, scan_id: str) -> list[_Target]:
    names = dict(
        conn.execute(
            select(orgs.c.target, func.min(orgs.c.name))
            .where(orgs.c.scan_id == scan_id, orgs.c.relation == "self")
            .group_by(orgs.c.target)
        ).all()
    )
    rows = conn.execute(
        select(targets.c.target, targets.c.site, targets.c.org_public_id, targets.c.org_name)
        .where(targets.c.scan_id == scan_id)
        .order_by(targets.c.target)
    ).all()
    return [_Target(r[0], r[1], r[2], r[3] or names.get(r[0])) for r in rows]


def _coverage(conn: Connection, scan_id: str) -> dict[tuple[str, str], str]:
    rows = conn.execute(
        select(coverage.c.target, coverage.c.endpoint, coverage.c.status).where(
            coverage.c.scan_id == scan_id
        )
    ).all()
    status: dict[tuple[str, str], str] = {}
    for target, endpoint, state in rows:
        # Several rows for one (target, endpoint): the worst one wins.
        if status.get((target, endpoint), "complete") == "complete":
            status[(target, endpoint)] = state
    return status


def _evaluate_rule(
    conn: Connection,
    rule: Rule,
    pack: RulePack,
    settings: RuleSettings,
    scan_id: str,
    now: datetime,
    scan_targets: Sequence[_Target],
    cov: Mapping[tuple[str, str], str],
) -> list[Finding]:
    values = bind_values(
        rule_parameters(pack, rule, settings),
        scan_id=scan_id,
        now=now,
        trusted_orgs=settings.trusted_orgs,
    )
    stmt, params = statement(rule.condition, values)
    try:
        rows = conn.execute(stmt, params).mappings().all()
    except SQLAlchemyError as exc:
        message = str(getattr(exc, "orig", exc)).splitlines()[0]
        raise RuleError(f"{rule.path}: field 'condition' failed: {message}") from exc
    names = {t.name: t.org_name for t in scan_targets}
    shown = {k: Shown(v) for k, v in values.items()}
    skipped: set[str] = set()
    out: list[Finding] = []
    for t in scan_targets:
        missing = [(e, cov.get((t.name, e), "missing")) for e in rule.inputs]
        missing = [(e, s) for e, s in missing if s != "complete"]
        if missing:
            skipped.add(t.name)
            out.append(_not_assessed(rule, t, missing, now))
    for row in rows:
        if row["target"] in skipped:
            continue
        out.append(_finding(rule, dict(row), shown, names.get(row["target"]), now))
    return out


def _not_assessed(
    rule: Rule, t: _Target, missing: Sequence[tuple[str, str]], now: datetime
) -> Finding:
    resource_id = t.org_public_id or t.name
    what = ", ".join(f"{e} ({s})" for e, s in missing)
    return Finding(
        id=fingerprint(rule.id, t.site, t.org_public_id, "org", resource_id),
        rule_id=rule.id,
        severity=rule.severity,
        status="not_assessed",
        title=rule.title,
        detail=f"Not assessed for this org: {what} not fully collected.",
        site=t.site,
        org_public_id=t.org_public_id,
        org_name=t.org_name,
        target=t.name,
        resource_type="org",
        resource_id=resource_id,
        resource_name=t.org_name,
        first_seen=now,
        controls=rule.control_ids,
    )


def _finding(
    rule: Rule,
    row: Mapping[str, Any],
    shown: Mapping[str, Shown],
    org_name: str | None,
    now: datetime,
) -> Finding:
    rtype = str(row["resource_type"])
    if rtype not in rule.resource_types:
        raise RuleError(
            f"{rule.path}: field 'condition' returned resource_type {rtype!r}, "
            f"not one of {', '.join(rule.resource_types)}"
        )
    try:
        detail = rule.detail.format_map({**shown, **{k: Shown(v) for k, v in row.items()}})
    except (KeyError, IndexError, ValueError) as exc:
        raise RuleError(f"{rule.path}: field 'detail' cannot be filled: {exc}") from exc
    site, org = str(row["site"]), row["org_public_id"]
    resource_id = str(row["resource_id"])
    return Finding(
        id=fingerprint(rule.id, site, org, rtype, resource_id),
        rule_id=rule.id,
        severity=rule.severity,
        status="open",
        title=rule.title,
        detail=detail,
        site=site,
        org_public_id=None if org is None else str(org),
        org_name=org_name,
        target=str(row["target"]),
        resource_type=rtype,
        resource_id=resource_id,
        resource_name=None if row["resource_name"] is None else str(row["resource_name"]),
        first_seen=now,
        controls=rule.control_ids,
    )


def _first_seen(conn: Connection, ids: Sequence[str], now: datetime) -> dict[str, datetime]:
    """Earliest first_seen of each finding id in earlier scans where it was failing."""
    carried: dict[str, datetime] = {}
    query = (
        select(findings.c.id, func.min(findings.c.first_seen))
        .join(scans, scans.c.id == findings.c.scan_id)
        .where(
            and_(
                scans.c.started_at < now,
                findings.c.status.in_(("open", "suppressed")),
                findings.c.id.in_(bindparam("ids", expanding=True)),
            )
        )
        .group_by(findings.c.id)
    )
    for start in range(0, len(ids), _CHUNK):
        chunk = list(ids[start : start + _CHUNK])
        for fid, seen in conn.execute(query, {"ids": chunk}).all():
            if seen is not None:
                carried[fid] = seen
    return carried


def _row(scan_id: str, f: Finding) -> dict[str, Any]:
    return {
        "scan_id": scan_id,
        "id": f.id,
        "rule_id": f.rule_id,
        "severity": f.severity,
        "status": f.status,
        "title": f.title,
        "detail": f.detail,
        "site": f.site,
        "org_public_id": f.org_public_id,
        "org_name": f.org_name,
        "target": f.target,
        "resource_type": f.resource_type,
        "resource_id": f.resource_id,
        "resource_name": f.resource_name,
        "first_seen": f.first_seen,
        "controls": json.dumps(list(f.controls)),
        "suppression": None if f.suppression is None else json.dumps(dict(f.suppression)),
    }
