"""Endpoints listing access tokens (PATs and SATs together) and authorized OAuth clients."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from scanner.simulator import render
from scanner.simulator.handlers import Answer, Ctx
from scanner.simulator.model import AccessToken, OAuthClient
from scanner.simulator.query import BadRequest, contains, page, page_params, sort_key_name

TOKENS_PATH = "/api/v2/personal_access_tokens"
OAUTH_CLIENTS_PATH = "/api/v2/org_authorized_clients"
# Both listings; an org whose site does not offer them has them in `missing_endpoints`.
TOKEN_PATHS: frozenset[str] = frozenset({TOKENS_PATH, OAUTH_CLIENTS_PATH})
# PersonalAccessTokensSort (each also with a leading `-`).
TOKEN_SORTS = ("name", "created_at", "expires_at", "last_used_at")
CLIENT_SORT = "oauth2_client.name"


def query_values(query: Mapping[str, str], name: str) -> list[str]:
    """Every value of a repeated query key (`filter[owned_by]=a&filter[owned_by]=b`)."""
    getall = getattr(query, "getall", None)
    if callable(getall):
        return [str(v) for v in getall(name, [])]
    value = query.get(name)
    return [] if value is None else [value]


def visible_tokens(ctx: Ctx) -> list[AccessToken]:
    """The tokens the caller's key pair may list.

    `org_app_keys_read` lists every token of the org; `user_app_keys` alone lists only
    the tokens owned by the key pair's own user (as for application keys).
    """
    if "org_app_keys_read" in ctx.target.permissions:
        return list(ctx.org.access_tokens)
    return [t for t in ctx.org.access_tokens if t.owner_id == ctx.org.current_user_id]


def _token_sort(sort: str | None) -> tuple[Callable[[AccessToken], tuple[object, ...]], bool]:
    field, desc = sort_key_name(sort)
    if field not in TOKEN_SORTS:
        raise BadRequest(f"Invalid sort: {sort!r}")
    if field == "name":
        return (lambda t: (t.name.lower(), t.id)), desc

    def by_time(t: AccessToken) -> tuple[object, ...]:
        value: datetime | None = getattr(t, field)
        # nulls (never expires / never used) after every date in ascending order
        return (value is None, value or datetime.min, t.id)

    return by_time, desc


def list_access_tokens(ctx: Ctx) -> Answer:
    """GET /api/v2/personal_access_tokens: PATs and SATs in one list (ListPersonalAccessTokens).

    0-based page[number], page[size] up to 100 (default 10); `sort` (default `name`);
    `filter` on the name; `filter[owned_by]` as a repeated key. `meta.page` carries
    `total_filtered_count` only; no `links`, no `included`, never the secret `key`.
    """
    size, number = page_params(ctx.query)
    keyfn, desc = _token_sort(ctx.query.get("sort"))
    owners = set(query_values(ctx.query, "filter[owned_by]"))
    text = ctx.query.get("filter")
    tokens = [
        t
        for t in visible_tokens(ctx)
        if (not owners or t.owner_id in owners) and contains(text, t.name)
    ]
    tokens.sort(key=keyfn, reverse=desc)
    return 200, {
        "data": [render.access_token(t) for t in page(tokens, size, number)],
        "meta": {"page": {"total_filtered_count": len(tokens)}},
    }


def _disabled_filter(raw: str | None) -> bool | None:
    if raw is None or raw == "":
        return None
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    raise BadRequest(f"Invalid value for parameter filter[disabled]: {raw!r}")


def list_oauth_clients(ctx: Ctx) -> Answer:
    """GET /api/v2/org_authorized_clients: the OAuth clients authorized in the org.

    page[size]/page[number] (0-based, up to 100); sorted by the client's name (the only
    documented `sort`); `filter`, `filter[oauth2_client][name]` and `filter[disabled]`.
    `include` is accepted but the answer has no `included` (the schema has none).
    """
    size, number = page_params(ctx.query)
    field, desc = sort_key_name(ctx.query.get("sort"), CLIENT_SORT)
    if field != CLIENT_SORT:
        raise BadRequest(f"Invalid sort: {ctx.query.get('sort')!r}")
    disabled = _disabled_filter(ctx.query.get("filter[disabled]"))
    clients: list[OAuthClient] = [
        c
        for c in ctx.org.oauth_clients
        if contains(ctx.query.get("filter"), c.name)
        and contains(ctx.query.get("filter[oauth2_client][name]"), c.name)
        and (disabled is None or c.disabled == disabled)
    ]
    clients.sort(key=lambda c: (c.name.lower(), c.id), reverse=desc)
    return 200, {
        "data": [render.oauth_client(c) for c in page(clients, size, number)],
        "meta": {
            "page": {
                "total_count": len(ctx.org.oauth_clients),
                "total_filtered_count": len(clients),
            }
        },
    }
