"""Collect org connections (limit/offset paging) and Okta integration accounts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from scanner.client import Page
from scanner.collect.base import (
    Family,
    Inputs,
    PageRows,
    Tally,
    TargetContext,
    as_str,
    attrs,
    consume,
    item_id,
    raw_json,
    rel_id,
)
from scanner.timeutil import parse_timestamp


async def collect_org_connections(ctx: TargetContext, tally: Tally, inputs: Inputs) -> None:
    """Page through /api/v2/org_connections with limit/offset."""
    pages = ctx.client.pages_by_offset("/api/v2/org_connections")
    await consume(ctx, tally, pages, _connection_rows, total_of="total_count")


def _connection_rows(ctx: TargetContext, tally: Tally, page: Page) -> PageRows:
    rows = []
    for item in page.data:
        ident = item_id(item)
        if not tally.admit(ident):
            continue
        rows.append(ctx.tag(parse_org_connection(item)))
    return {"org_connections": rows}


def _rel_name(item: Mapping[str, Any], name: str) -> str | None:
    rels = item.get("relationships")
    rel = rels.get(name) if isinstance(rels, Mapping) else None
    data = rel.get("data") if isinstance(rel, Mapping) else None
    return as_str(data.get("name")) if isinstance(data, Mapping) else None


def parse_org_connection(item: dict[str, Any]) -> dict[str, Any]:
    """Map one `org_connection` object to a row; the peers' names ride inside `data`."""
    a = attrs(item)
    types = a.get("connection_types")
    kinds = sorted({t for t in types if isinstance(t, str)}) if isinstance(types, list) else []
    return {
        "id": item_id(item),
        "source_org_id": rel_id(item, "source_org"),
        "source_org_name": _rel_name(item, "source_org"),
        "sink_org_id": rel_id(item, "sink_org"),
        "sink_org_name": _rel_name(item, "sink_org"),
        "created_by_id": rel_id(item, "created_by"),
        "created_by_name": _rel_name(item, "created_by"),
        "connection_types": "," + ",".join(kinds) + "," if kinds else ",",
        "created_at": parse_timestamp(a.get("created_at")),
        "raw": raw_json(item),
    }


async def collect_okta_accounts(ctx: TargetContext, tally: Tally, inputs: Inputs) -> None:
    """Read the Okta integration accounts (one unpaginated list; secrets are dropped)."""
    page = await ctx.client.get_page("/api/v2/integrations/okta/accounts")
    rows = []
    for item in page.data:
        ident = item_id(item)
        if not tally.admit(ident):
            continue
        rows.append(ctx.tag(parse_okta_account(item)))
    await ctx.writer.put("okta_accounts", rows)
    tally.page_done(len(page.data))


def normalise_domain(value: str | None) -> str | None:
    """`https://Acme.okta.com/` -> `acme.okta.com`, so duplicates compare equal."""
    if not value:
        return None
    text = value.strip()
    host = urlsplit(text if "://" in text else f"https://{text}").hostname
    return host.lower() if host else text.lower().rstrip("/")


def parse_okta_account(item: dict[str, Any]) -> dict[str, Any]:
    """Map one `okta-accounts` object to a row (api_key / client_secret never kept)."""
    a = attrs(item)
    return {
        "id": item_id(item),
        "name": as_str(a.get("name")),
        "domain": normalise_domain(as_str(a.get("domain"))),
        "auth_method": as_str(a.get("auth_method")),
        "client_id": as_str(a.get("client_id")),
        "raw": raw_json(item),
    }


ORG_CONNECTIONS = Family("org_connections", ("org_connections",), collect_org_connections,
                         needs=("orgs",))
OKTA_ACCOUNTS = Family("okta_accounts", ("okta_accounts",), collect_okta_accounts,
                       needs=("orgs",))
