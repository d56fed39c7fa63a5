"""Collect application keys (org-wide, or per service account when forbidden) and API keys."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from functools import partial
from typing import Any

from scanner.client import Page, path_segment
from scanner.collect.base import (
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
    index_included,
    item_id,
    leak_of,
    raw_json,
    rel_id,
)
from scanner.errors import APIError, ForbiddenError
from scanner.timeutil import parse_timestamp

PER_ACCOUNT_CONCURRENCY = 8


async def collect_application_keys(ctx: TargetContext, tally: Tally, inputs: Inputs) -> bool:
    """Prefer the org-wide listing (a few pages); fall back to one listing per service account.

    No `include=owned_by`: every org-wide item names its owner in `relationships` anyway,
    and the owners' user objects would only make each answer larger. Its value: whether
    the org-wide listing could be read (the access-token listing needs the same
    permission to see every token).
    """
    pages = ctx.client.pages_by_number("/api/v2/application_keys",
                                       total_of="total_filtered_count")
    try:
        await consume(ctx, tally, pages, _org_rows, total_of="total_filtered_count")
        return True
    except ForbiddenError as exc:
        if tally.collected:
            raise
        forbidden = exc
    await _per_service_account(ctx, tally, forbidden, inputs["users"])
    return False


def _org_rows(ctx: TargetContext, tally: Tally, page: Page) -> PageRows:
    return _key_rows(ctx, tally, page, listing="org", owner=None)


async def _per_service_account(ctx: TargetContext, tally: Tally, cause: ForbiddenError,
                               listed: Done) -> None:
    """List the keys of each service account, the org-wide listing being forbidden.

    The per-account listing needs service_account_write, which read-only auditors rarely
    hold: one account is asked first, and a refusal there ends the fallback with one
    forbidden request rather than one per account. Never complete: keys owned by human
    users have no per-owner listing such a key pair may read, so the endpoint is partial
    whatever was found; the service accounts' keys (part `service_accounts`) can still be
    whole, and the rules that need only those are then assessed.
    """
    users = listed.coverage
    if users.status in ("forbidden", "failed"):
        raise cause  # no list of service accounts to fall back on
    tally.expected = 0
    limit = asyncio.Semaphore(PER_ACCOUNT_CONCURRENCY)

    async def one(account_id: str) -> None:
        async with limit:
            account = path_segment(account_id, "the service account id")
            # Paced as the org-wide listing's bucket from the first request on.
            pages = ctx.client.pages_by_number(
                f"/api/v2/service_accounts/{account}/application_keys",
                total_of="total_filtered_count", like="/api/v2/application_keys")
            rows = partial(_key_rows, listing="service_account", owner=account_id)
            await consume(ctx, tally, pages, rows, total_of="total_filtered_count")

    accounts = list(listed.value or ())
    failures: list[BaseException] = []
    if accounts:
        try:
            await one(accounts[0])
        except ForbiddenError as exc:
            raise ForbiddenError(f"{cause}; the per-service-account fallback is forbidden "
                                 f"too: {exc}", status=exc.status) from None
        except APIError as exc:
            failures.append(exc)
    results = await asyncio.gather(*(one(a) for a in accounts[1:]), return_exceptions=True)
    failures += [r for r in results if isinstance(r, BaseException)]
    for failure in failures:
        if not isinstance(failure, APIError):
            raise failure
    notes = [f"org-wide listing forbidden (needs org_app_keys_read): collected the keys of "
             f"{len(accounts) - len(failures)} service accounts; keys owned by users cannot "
             "be listed"]
    if users.status != "complete":
        notes.append(f"the user list is {users.status}, so keys of unlisted service accounts "
                     "are missing")
    if failures:
        notes.append(f"{len(failures)} of {len(accounts)} service-account listings failed: "
                     f"{failures[0]}")
    whole = users.status == "complete" and not failures and not tally.incomplete
    if tally.note:  # a listing whose total changed meanwhile, say
        notes.append(tally.note)
    tally.incomplete = True
    tally.note = "; ".join(notes)
    tally.parts["service_accounts"] = "complete" if whole else "partial"


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


async def collect_api_keys(ctx: TargetContext, tally: Tally, inputs: Inputs) -> None:
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
    """Map one `api_keys` object to a row.

    Last use: `date_last_used` (the spec's field) and `last_used_date.timestamp` (what
    real answers carry beside it: the last use within the 90 days Datadog keeps), either
    of which may be null while the other holds the use.
    """
    a = attrs(item)
    leaked, leak_date, leak_source = leak_of(item, included)
    window = a.get("last_used_date")
    return {
        "id": item_id(item),
        "name": as_str(a.get("name")),
        "category": as_str(a.get("category")),
        "created_at": parse_timestamp(a.get("created_at")),
        "date_last_used": parse_timestamp(a.get("date_last_used")),
        "last_used_date": parse_timestamp(window.get("timestamp"))
        if isinstance(window, Mapping) else None,
        "used_in_last_24_hours": as_bool(a.get("used_in_last_24_hours")),
        "created_by_id": rel_id(item, "created_by"),
        "modified_by_id": rel_id(item, "modified_by"),
        "leaked": leaked,
        "leak_date": leak_date,
        "leak_source": leak_source,
        "raw": raw_json(item),
    }


APPLICATION_KEYS = Family("application_keys", ("application_keys", "application_key_scopes"),
                          collect_application_keys, needs=("orgs", "users"))
API_KEYS = Family("api_keys", ("api_keys",), collect_api_keys, needs=("orgs",))
