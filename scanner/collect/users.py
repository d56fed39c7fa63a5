"""Collect every user of the org, service accounts and disabled users included, with roles."""

from __future__ import annotations

from typing import Any

from scanner.client import Page
from scanner.collect.base import (
    PageRows,
    Tally,
    TargetContext,
    as_bool,
    as_str,
    attrs,
    consume,
    item_id,
    raw_json,
    rel_ids,
)
from scanner.timeutil import parse_timestamp


async def collect_users(ctx: TargetContext, tally: Tally) -> None:
    """Page through /api/v2/users (no status filter: disabled users matter)."""
    pages = ctx.client.pages_by_number("/api/v2/users", total_of="total_count")
    await consume(ctx, tally, pages, _rows, total_of="total_count")


def _rows(ctx: TargetContext, tally: Tally, page: Page) -> PageRows:
    users: list[dict[str, Any]] = []
    links: list[dict[str, Any]] = []
    for item in page.data:
        ident = item_id(item)
        if not tally.admit(ident):
            continue
        row = parse_user(item)
        users.append(ctx.tag(row))
        if row["service_account"]:
            ctx.service_account_ids.append(ident)
        links.extend(ctx.tag({"user_id": ident, "role_id": r}) for r in rel_ids(item, "roles"))
    return {"users": users, "user_roles": links}


def parse_user(item: dict[str, Any]) -> dict[str, Any]:
    """Map one `users` object to a users row (roles go to user_roles)."""
    a = attrs(item)
    return {
        "id": item_id(item),
        "uuid": as_str(a.get("uuid")),
        "handle": as_str(a.get("handle")),
        "email": as_str(a.get("email")),
        "name": as_str(a.get("name")),
        "status": as_str(a.get("status")),
        "disabled": as_bool(a.get("disabled")),
        "service_account": a.get("service_account") is True,
        "created_at": parse_timestamp(a.get("created_at")),
        "last_login_time": parse_timestamp(a.get("last_login_time")),
        "raw": raw_json(item),
    }
