"""Collect every user of the org, service accounts and disabled users included, with roles."""

from __future__ import annotations

from functools import partial
from typing import Any

from sqlalchemy import Connection, select

from scanner.client import Page
from scanner.collect.base import (
    Coverage,
    Done,
    Family,
    Inputs,
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
from scanner.store import schema
from scanner.timeutil import parse_timestamp


async def collect_users(ctx: TargetContext, tally: Tally, inputs: Inputs) -> tuple[str, ...]:
    """Page through /api/v2/users (no status filter: disabled users matter).

    Its value: the ids of the service accounts, whose keys the application-key fallback
    lists one account at a time.
    """
    accounts: list[str] = []
    pages = ctx.client.pages_by_number("/api/v2/users", total_of="total_count")
    await consume(ctx, tally, pages, partial(_rows, accounts=accounts), total_of="total_count")
    return tuple(accounts)


def _rows(ctx: TargetContext, tally: Tally, page: Page, *, accounts: list[str]) -> PageRows:
    users: list[dict[str, Any]] = []
    links: list[dict[str, Any]] = []
    for item in page.data:
        ident = item_id(item)
        if not tally.admit(ident):
            continue
        row = parse_user(item)
        users.append(ctx.tag(row))
        if row["service_account"]:
            accounts.append(ident)
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


def restore_users(conn: Connection, scan_id: str, target: str, coverage: Coverage) -> Done:
    """The service accounts a stored scan listed for `target`."""
    accounts = conn.execute(select(schema.users.c.id).where(
        schema.users.c.scan_id == scan_id, schema.users.c.target == target,
        schema.users.c.service_account.is_(True))).scalars().all()
    return Done(coverage, tuple(accounts))


USERS = Family("users", ("users", "user_roles"), collect_users, needs=("orgs",),
               restore=restore_users)
