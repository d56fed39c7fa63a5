"""Collect the org's roles with their permission ids, and the permission catalogue."""

from __future__ import annotations

from typing import Any

from scanner.client import Page
from scanner.collect.base import (
    Family,
    Inputs,
    PageRows,
    Tally,
    TargetContext,
    as_bool,
    as_int,
    as_str,
    attrs,
    consume,
    item_id,
    raw_json,
    rel_ids,
)
from scanner.errors import APIError
from scanner.timeutil import parse_timestamp


async def collect_roles(ctx: TargetContext, tally: Tally, inputs: Inputs) -> None:
    """Page through /api/v2/roles; permission ids come inline, so no per-role call."""
    pages = ctx.client.pages_by_number("/api/v2/roles", total_of="total_count")
    await consume(ctx, tally, pages, _role_rows, total_of="total_count")


def _role_rows(ctx: TargetContext, tally: Tally, page: Page) -> PageRows:
    roles: list[dict[str, Any]] = []
    grants: list[dict[str, Any]] = []
    for item in page.data:
        ident = item_id(item)
        if not tally.admit(ident):
            continue
        roles.append(ctx.tag(parse_role(item)))
        grants.extend(
            ctx.tag({"role_id": ident, "permission_id": p})
            for p in sorted(set(rel_ids(item, "permissions")))
        )
    return {"roles": roles, "role_permissions": grants}


def parse_role(item: dict[str, Any]) -> dict[str, Any]:
    """Map one `roles` object to a roles row."""
    a = attrs(item)
    return {
        "id": item_id(item),
        "name": as_str(a.get("name")),
        "created_at": parse_timestamp(a.get("created_at")),
        "modified_at": parse_timestamp(a.get("modified_at")),
        "user_count": as_int(a.get("user_count")),
        "raw": raw_json(item),
    }


async def collect_permissions(ctx: TargetContext, tally: Tally, inputs: Inputs) -> None:
    """Read the permission catalogue (one unpaginated response)."""
    page = await ctx.client.get_page("/api/v2/permissions")
    rows: list[dict[str, Any]] = []
    for item in page.data:
        ident = item_id(item)
        if not tally.admit(ident):
            continue
        rows.append(ctx.tag(parse_permission(item)))
    if not rows:
        raise APIError("GET /api/v2/permissions: the catalogue is empty")
    await ctx.writer.put("permissions", rows)
    tally.page_done(len(page.data))


def parse_permission(item: dict[str, Any]) -> dict[str, Any]:
    """Map one `permissions` object to a permissions row."""
    a = attrs(item)
    return {
        "id": item_id(item),
        "name": as_str(a.get("name")),
        "display_name": as_str(a.get("display_name")),
        "restricted": as_bool(a.get("restricted")),
        "raw": raw_json(item),
    }


ROLES = Family("roles", ("roles", "role_permissions"), collect_roles, needs=("orgs",))
PERMISSIONS = Family("permissions", ("permissions",), collect_permissions, needs=("orgs",))
