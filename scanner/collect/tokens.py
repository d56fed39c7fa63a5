"""Collect access tokens (PATs and SATs) and the OAuth clients authorized in the org."""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator, Mapping
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
    rel_id,
)
from scanner.errors import APIError, UnavailableError
from scanner.timeutil import parse_timestamp

TOKENS = "/api/v2/personal_access_tokens"
CLIENTS = "/api/v2/org_authorized_clients"
_KINDS = {"personal_access_tokens": "personal", "service_access_tokens": "service"}
_OWNER_KINDS = {"users": "personal", "service_account": "service"}
# A public portion is one run of letters and digits after an optional `ddpat_`-like
# prefix; anything longer or with a second part could be a whole token, and is not kept.
_PUBLIC_PORTION = re.compile(r"(?:[a-z]{4,5}_)?[A-Za-z0-9]{8,40}")


async def collect_access_tokens(ctx: TargetContext, tally: Tally, inputs: Inputs) -> None:
    """Page through the org's tokens, both kinds in one listing (`total_filtered_count`).

    The listing shows every token only to a key pair that may read the org-wide
    application keys (org_app_keys_read); with `user_app_keys` alone it shows the key
    pair's own user's tokens, so the endpoint is partial whenever that read failed.
    """
    keys = inputs["application_keys"]
    if keys.value is False or keys.coverage.status == "forbidden":
        tally.incomplete = True
        tally.add_note("the key pair cannot read the org-wide application keys (needs "
                       "org_app_keys_read), so the token listing shows only its own user's "
                       "tokens")
    pages = _offered(ctx.client.pages_by_number(TOKENS, total_of="total_filtered_count"))
    await consume(ctx, tally, pages, _token_rows, total_of="total_filtered_count")


def _token_rows(ctx: TargetContext, tally: Tally, page: Page) -> PageRows:
    tokens: list[dict[str, Any]] = []
    scopes: list[dict[str, Any]] = []
    for item in page.data:
        ident, owner = item_id(item), rel_id(item, "owned_by")
        if owner is None and ident is not None:
            tally.unparseable += 1  # a token nobody owns cannot be judged
            continue
        if not tally.admit(ident):
            continue
        tokens.append(ctx.tag(parse_access_token(item)))
        scope_list = attrs(item).get("scopes")
        if isinstance(scope_list, list):
            scopes.extend(ctx.tag({"token_id": ident, "scope": s})
                          for s in sorted({s for s in scope_list if isinstance(s, str)}))
    return {"access_tokens": tokens, "access_token_scopes": scopes}


def parse_access_token(item: Mapping[str, Any]) -> dict[str, Any]:
    """Map one token (either kind; tolerant of the 2026 schema's older shapes) to a row."""
    a = attrs(item)
    rels = item.get("relationships")
    owned = rels.get("owned_by") if isinstance(rels, Mapping) else None
    data = owned.get("data") if isinstance(owned, Mapping) else None
    owner_type = as_str(data.get("type")) if isinstance(data, Mapping) else None
    kind = _KINDS.get(str(item.get("type"))) or _OWNER_KINDS.get(owner_type or "")
    portion = as_str(a.get("public_portion"))
    created, expires = parse_timestamp(a.get("created_at")), parse_timestamp(a.get("expires_at"))
    return {
        "id": item_id(item),
        "kind": kind,
        "name": as_str(a.get("name")),
        "owner_id": rel_id(item, "owned_by"),
        "owner_type": owner_type,
        "created_at": created,
        "expires_at": expires,
        "lifetime_days": (expires - created).total_seconds() / 86400
        if created is not None and expires is not None else None,
        "last_used_at": parse_timestamp(a.get("last_used_at")),
        "modified_at": parse_timestamp(a.get("modified_at")),
        "public_portion": portion if portion and _PUBLIC_PORTION.fullmatch(portion) else None,
        "raw": raw_json(item),
    }


async def collect_oauth_clients(ctx: TargetContext, tally: Tally, inputs: Inputs) -> None:
    """Page through the OAuth applications authorized in the org."""
    pages = _offered(ctx.client.pages_by_number(CLIENTS, total_of="total_count"))
    await consume(ctx, tally, pages, _client_rows, total_of="total_count")


def _client_rows(ctx: TargetContext, tally: Tally, page: Page) -> PageRows:
    rows = []
    for item in page.data:
        if tally.admit(item_id(item)):
            a = attrs(item)
            rows.append(ctx.tag({
                "id": item_id(item),
                "client_id": rel_id(item, "oauth2_client"),
                "disabled": as_bool(a.get("disabled")),
                "last_exercised": parse_timestamp(a.get("last_exercised")),
                "user_count": as_int(a.get("user_count")),
                "raw": raw_json(item),
            }))
    return {"oauth_clients": rows}


async def _offered(pages: AsyncGenerator[Page, None]) -> AsyncGenerator[Page, None]:
    """`pages`, where a 404 on the first page means the site or org does not offer it."""
    first = True
    try:
        async for page in pages:
            first = False
            yield page
    except APIError as exc:
        if first and exc.status == 404:
            raise UnavailableError(f"{exc} (this site or org does not offer it)",
                                   status=404) from None
        raise
    finally:
        await pages.aclose()


ACCESS_TOKENS = Family("access_tokens", ("access_tokens", "access_token_scopes"),
                       collect_access_tokens, needs=("orgs", "application_keys"))
OAUTH_CLIENTS = Family("oauth_clients", ("oauth_clients",), collect_oauth_clients,
                       needs=("orgs",))
