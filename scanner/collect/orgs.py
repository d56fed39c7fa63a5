"""Collect the scanned org (its UUID, public id and SAML/sharing settings) and its child orgs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scanner.client import path_segment
from scanner.collect.base import (
    Tally,
    TargetContext,
    as_bool,
    as_str,
    attrs,
    item_id,
    raw_json,
    rel_id,
    rel_ids,
)
from scanner.errors import APIError, ForbiddenError
from scanner.timeutil import parse_timestamp


async def collect_orgs(ctx: TargetContext, tally: Tally) -> None:
    """Identify the target's org, read its settings, and list the orgs it manages."""
    children: list[Mapping[str, Any]] = []
    try:
        managed = await ctx.client.get("/api/v2/org")
        current, children = _parse_managed(managed)
    except ForbiddenError as exc:
        # Listing managed orgs needs org_management; the org's identity does not.
        current = await _current_org_from_user(ctx)
        tally.incomplete = True
        tally.note = f"managed child orgs not listed: {exc}"
    if current is None:
        raise APIError("could not identify the org of this key pair")
    ctx.org_uuid = item_id(current)
    ctx.org_public_id = as_str(attrs(current).get("public_id"))
    ctx.org_name = as_str(attrs(current).get("name"))
    settings_org: Mapping[str, Any] = {}
    if ctx.org_public_id:
        public_id = path_segment(ctx.org_public_id, "the org public id")
        body = await ctx.client.get(f"/api/v1/org/{public_id}")
        org = body.get("org") if isinstance(body, Mapping) else None
        if isinstance(org, Mapping):
            settings_org = org
            ctx.org_name = as_str(org.get("name")) or ctx.org_name
        else:
            _missing_settings(tally, f"GET /api/v1/org/{public_id} gave no 'org' object")
    else:
        _missing_settings(tally, "the org's public id is unknown, so /api/v1/org/{public_id} "
                                 "could not be read")
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


def _missing_settings(tally: Tally, why: str) -> None:
    """Mark the org's row incomplete: its SAML and sharing settings were not read."""
    tally.incomplete = True
    detail = f"the org's SAML and sharing settings were not collected: {why}"
    tally.note = f"{tally.note}; {detail}" if tally.note else detail


def _parse_managed(body: Any) -> tuple[Mapping[str, Any] | None, list[Mapping[str, Any]]]:
    if not isinstance(body, Mapping) or not isinstance(body.get("data"), Mapping):
        raise APIError("GET /api/v2/org: response has no 'data' object")
    data = body["data"]
    included = [i for i in body.get("included") or [] if isinstance(i, Mapping)]
    by_id = {item_id(i): i for i in included}
    current_id = rel_id(data, "current_org") or item_id(data)
    current = by_id.get(current_id) or {"id": current_id, "attributes": {}}
    children = [
        by_id.get(cid) or {"id": cid, "attributes": {}}
        for cid in rel_ids(data, "managed_orgs")
        if cid != current_id
    ]
    return current, children


async def _current_org_from_user(ctx: TargetContext) -> Mapping[str, Any] | None:
    body = await ctx.client.get("/api/v2/current_user")
    data = body.get("data") if isinstance(body, Mapping) else None
    if not isinstance(data, Mapping):
        return None
    org_id = rel_id(data, "org")
    for inc in body.get("included") or []:
        if isinstance(inc, Mapping) and inc.get("type") == "orgs" and inc.get("id") == org_id:
            return inc
    return {"id": org_id, "attributes": {}} if org_id else None


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
