"""Collect application keys (org-wide, or per service account when forbidden) and API keys."""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Any

from scanner.client import Page, page_total, path_segment
from scanner.collect.base import (
    PageRows,
    Tally,
    TargetContext,
    as_str,
    attrs,
    consume,
    index_included,
    item_id,
    leak_of,
    raw_json,
    rel_id,
    rows_of,
)
from scanner.errors import APIError, ForbiddenError
from scanner.timeutil import parse_timestamp

PER_ACCOUNT_CONCURRENCY = 8


async def collect_application_keys(ctx: TargetContext, tally: Tally) -> None:
    """Prefer the org-wide listing (a few pages); fall back to one listing per service account."""
    pages = ctx.client.pages_by_number(
        "/api/v2/application_keys", {"include": "owned_by"}, total_of="total_filtered_count"
    )
    try:
        await consume(ctx, tally, pages, _org_rows, total_of="total_filtered_count")
        return
    except ForbiddenError as exc:
        if tally.collected:
            raise
        forbidden = exc
    await _per_service_account(ctx, tally, forbidden)


def _org_rows(ctx: TargetContext, tally: Tally, page: Page) -> PageRows:
    return _key_rows(ctx, tally, page, listing="org", owner=None)


async def _per_service_account(ctx: TargetContext, tally: Tally, cause: ForbiddenError) -> None:
    if ctx.users_coverage is None:
        raise cause
    users = await ctx.users_coverage
    if users.status in ("forbidden", "failed"):
        raise cause  # no list of service accounts to fall back on
    if users.status != "complete":
        tally.incomplete = True
        tally.note = (f"org-wide listing forbidden and the user list is {users.status}, so "
                      "keys of unlisted service accounts are missing")
    else:
        tally.note = "org-wide listing forbidden; collected per service account"
    tally.expected = 0
    limit = asyncio.Semaphore(PER_ACCOUNT_CONCURRENCY)

    async def one(account_id: str) -> None:
        async with limit:
            account = path_segment(account_id, "the service account id")
            path = f"/api/v2/service_accounts/{account}/application_keys"
            first = True
            # Paced as the org-wide listing's bucket from the first request on.
            pages = ctx.client.pages_by_number(path, total_of="total_filtered_count",
                                               like="/api/v2/application_keys")
            async for page in pages:
                if first:
                    tally.add_expected(page_total(page.meta, "total_filtered_count"))
                    first = False
                rows = await rows_of(partial(_key_rows, listing="service_account",
                                             owner=account_id), ctx, tally, page)
                for table, batch in rows.items():
                    await ctx.writer.put(table, batch)
                tally.page_done(len(page.data))

    results = await asyncio.gather(
        *(one(a) for a in list(ctx.service_account_ids)), return_exceptions=True
    )
    failures = [r for r in results if isinstance(r, BaseException)]
    for failure in failures:
        if not isinstance(failure, APIError):
            raise failure
    if failures and len(failures) == len(results) and tally.collected == 0:
        raise failures[0]
    if failures:
        tally.incomplete = True
        tally.note = (f"org-wide listing forbidden; {len(failures)} of "
                      f"{len(results)} service-account listings failed: {failures[0]}")


def _key_rows(ctx: TargetContext, tally: Tally, page: Page, *, listing: str,
              owner: str | None) -> PageRows:
    included = index_included(page.included)
    keys: list[dict[str, Any]] = []
    scopes: list[dict[str, Any]] = []
    for item in page.data:
        ident = item_id(item)
        if not tally.admit(ident):
            continue
        row = parse_application_key(item, included, listing=listing, owner=owner)
        keys.append(ctx.tag(row))
        scope_list = attrs(item).get("scopes")
        if isinstance(scope_list, list):
            scopes.extend(
                ctx.tag({"key_id": ident, "scope": s})
                for s in sorted({s for s in scope_list if isinstance(s, str)})
            )
    return {"application_keys": keys, "application_key_scopes": scopes}


def parse_application_key(item: dict[str, Any], included: Any, *, listing: str,
                          owner: str | None) -> dict[str, Any]:
    """Map one `application_keys` object to a row; `scopes: null` or [] means unscoped."""
    a = attrs(item)
    leaked, leak_date, leak_source = leak_of(item, included)
    scope_list = a.get("scopes")
    return {
        "id": item_id(item),
        "name": as_str(a.get("name")),
        "owner_id": rel_id(item, "owned_by") or owner,
        "created_at": parse_timestamp(a.get("created_at")),
        "last_used_at": parse_timestamp(a.get("last_used_at")),
        "unscoped": not (isinstance(scope_list, list) and scope_list),
        "leaked": leaked,
        "leak_date": leak_date,
        "leak_source": leak_source,
        "listing": listing,
        "raw": raw_json(item),
    }


async def collect_api_keys(ctx: TargetContext, tally: Tally) -> None:
    """Page through /api/v2/api_keys (never the single-key GET: it returns the secret)."""
    pages = ctx.client.pages_by_number("/api/v2/api_keys", total_of="total_filtered_count")
    await consume(ctx, tally, pages, _api_key_rows, total_of="total_filtered_count")


def _api_key_rows(ctx: TargetContext, tally: Tally, page: Page) -> PageRows:
    included = index_included(page.included)
    rows = []
    for item in page.data:
        ident = item_id(item)
        if not tally.admit(ident):
            continue
        rows.append(ctx.tag(parse_api_key(item, included)))
    return {"api_keys": rows}


def parse_api_key(item: dict[str, Any], included: Any) -> dict[str, Any]:
    """Map one `api_keys` object to a row (last use is `date_last_used`)."""
    a = attrs(item)
    leaked, leak_date, leak_source = leak_of(item, included)
    return {
        "id": item_id(item),
        "name": as_str(a.get("name")),
        "category": as_str(a.get("category")),
        "created_at": parse_timestamp(a.get("created_at")),
        "date_last_used": parse_timestamp(a.get("date_last_used")),
        "created_by_id": rel_id(item, "created_by"),
        "modified_by_id": rel_id(item, "modified_by"),
        "leaked": leaked,
        "leak_date": leak_date,
        "leak_source": leak_source,
        "raw": raw_json(item),
    }
