"""Collect the scanned org (its UUID, public id and SAML/sharing settings) and its child orgs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection, select

from scanner.client import path_segment
from scanner.collect.base import (
    Coverage,
    Done,
    Family,
    Inputs,
    ScannedOrg,
    Tally,
    TargetContext,
    as_bool,
    as_str,
    attrs,
    item_id,
    raw_json,
)
from scanner.collect.identity import identify_org
from scanner.errors import APIError, ForbiddenError
from scanner.store import schema
from scanner.timeutil import parse_timestamp


async def collect_orgs(ctx: TargetContext, tally: Tally, inputs: Inputs) -> ScannedOrg:
    """Identify the target's org, read its settings, and list the orgs it manages.

    The endpoint splits in two parts (schema.INPUT_PARTS): `settings` (the org's SAML and
    sharing settings, for DDA-ORG-001..006 and DDA-MAP-004) and `children` (the managed
    orgs, for DDA-ORG-007). Either may be missing while the other is whole; what was
    read is written whatever failed after it.
    """
    identity = await identify_org(ctx.client)
    ctx.identify(ScannedOrg(as_str(attrs(identity.org).get("public_id")),
                            item_id(identity.org), as_str(attrs(identity.org).get("name"))))
    if note := identity.note():
        tally.add_note(note)
    if identity.children_error is not None:
        tally.incomplete = True
        tally.parts["children"] = _status_of(identity.children_error)
        tally.add_note(f"managed child orgs not listed: {identity.children_error}")
    settings_org = await _read_settings(ctx, tally)
    children = identity.children
    tally.add_expected(1 + len(children))
    rows = [ctx.tag(_self_row(ctx, settings_org))]
    tally.first_time(ctx.org_uuid or ctx.org_public_id or "self")
    for child in children:
        ident = item_id(child)
        if ident and tally.first_time(ident):
            rows.append(ctx.tag(_child_row(child)))
    await ctx.writer.put("orgs", rows)
    tally.page_done(len(rows))
    domains = _autocreate_domains(settings_org)
    await ctx.writer.put("org_autocreate_domains", [ctx.tag({"domain": d}) for d in domains])
    return ctx.org


async def _read_settings(ctx: TargetContext, tally: Tally) -> Mapping[str, Any]:
    """GET /api/v1/org/{public_id}; on any failure, note it and return no settings."""
    if not ctx.org_public_id:
        _missing_settings(tally, "failed", "the org's public id is unknown, so "
                          "/api/v1/org/{public_id} could not be read")
        return {}
    public_id = path_segment(ctx.org_public_id, "the org public id")
    try:
        body = await ctx.client.get(f"/api/v1/org/{public_id}")
    except APIError as exc:
        _missing_settings(tally, _status_of(exc), str(exc))
        return {}
    org = body.get("org") if isinstance(body, Mapping) else None
    if not isinstance(org, Mapping):
        _missing_settings(tally, "failed", f"GET /api/v1/org/{public_id} gave no 'org' object")
        return {}
    if name := as_str(org.get("name")):
        ctx.identify(replace(ctx.org, name=name))
    return org


def _status_of(exc: APIError) -> str:
    return "forbidden" if isinstance(exc, ForbiddenError) else "failed"


def _missing_settings(tally: Tally, status: str, why: str) -> None:
    """Mark the org's row incomplete: its SAML and sharing settings were not read."""
    tally.incomplete = True
    tally.parts["settings"] = status
    tally.add_note(f"the org's SAML and sharing settings were not collected: {why}")


def _enabled(settings: Mapping[str, Any], name: str) -> bool | None:
    value = settings.get(name)
    return as_bool(value.get("enabled")) if isinstance(value, Mapping) else None


def _self_row(ctx: TargetContext, org: Mapping[str, Any]) -> dict[str, Any]:
    settings = org.get("settings")
    settings = settings if isinstance(settings, Mapping) else {}
    return {
        "public_id": ctx.org_public_id,
        "uuid": ctx.org_uuid,
        "name": ctx.org_name,
        "relation": "self",
        "created_at": parse_timestamp(org.get("created")),
        "saml_enabled": _enabled(settings, "saml"),
        "saml_strict_mode": _enabled(settings, "saml_strict_mode"),
        "saml_idp_initiated_login": _enabled(settings, "saml_idp_initiated_login"),
        "saml_autocreate_access_role": as_str(settings.get("saml_autocreate_access_role")),
        "saml_autocreate_domains_enabled": _enabled(settings, "saml_autocreate_users_domains"),
        "private_widget_share": as_bool(settings.get("private_widget_share")),
        "raw": raw_json(org) if org else None,
    }


def _child_row(child: Mapping[str, Any]) -> dict[str, Any]:
    a = attrs(child)
    return {
        "public_id": as_str(a.get("public_id")),
        "uuid": item_id(child),
        "name": as_str(a.get("name")),
        "relation": "child",
        "created_at": parse_timestamp(a.get("created_at")),
        "saml_enabled": None,
        "saml_strict_mode": None,
        "saml_idp_initiated_login": None,
        "saml_autocreate_access_role": None,
        "saml_autocreate_domains_enabled": None,
        "private_widget_share": None,
        "raw": raw_json(child),
    }


def _autocreate_domains(org: Mapping[str, Any]) -> list[str]:
    settings = org.get("settings")
    block = settings.get("saml_autocreate_users_domains") if isinstance(settings, Mapping) else None
    domains = block.get("domains") if isinstance(block, Mapping) else None
    if not isinstance(domains, list):
        return []
    return sorted({d.strip().lower() for d in domains if isinstance(d, str) and d.strip()})


def restore_org(conn: Connection, scan_id: str, target: str, coverage: Coverage) -> Done:
    """The org a stored scan identified for `target` (its `targets` row)."""
    row = conn.execute(select(schema.targets).where(
        schema.targets.c.scan_id == scan_id, schema.targets.c.target == target)).first()
    org = ScannedOrg() if row is None else ScannedOrg(row.org_public_id, row.org_uuid,
                                                      row.org_name)
    return Done(coverage, org)


ORGS = Family("orgs", ("orgs", "org_autocreate_domains"), collect_orgs, restore=restore_org)
