"""Before each action: read the resource again from its listing and check the finding holds.

Only listing endpoints are read (the single-key GETs return the secret), with the target's
scan key pair. A narrowing filter (the name, the owner) is tried first; when it finds
nothing the whole listing is read, so a renamed resource is never taken for gone. Items
are parsed by the collectors' own parsers, so "used since the scan" means what the rules
mean by use.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import aclosing
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from scanner.client import DatadogClient, path_segment
from scanner.collect.base import attrs, index_included, item_id, rel_id
from scanner.collect.keys import parse_api_key, parse_application_key
from scanner.collect.mappings import parse_authn_mapping
from scanner.collect.tokens import parse_access_token
from scanner.collect.users import parse_user
from scanner.errors import APIError, ForbiddenError
from scanner.remediate.actions import (
    DELETE_AUTHN_MAPPING,
    DISABLE_SERVICE_ACCOUNT,
    LISTINGS,
    REVOKE_ACCESS_TOKEN,
    REVOKE_API_KEY,
    REVOKE_APPLICATION_KEY,
)
from scanner.remediate.model import PlannedAction
from scanner.timeutil import parse_timestamp

Params = Mapping[str, str | int]
STALE_RULES = frozenset({"DDA-KEY-001", "DDA-KEY-002", "DDA-TOK-003"})
DEPARTED_RULES = frozenset({"DDA-KEY-006", "DDA-TOK-004"})


@dataclass(frozen=True)
class Reading:
    """What the re-read found: gone, or why the finding no longer holds, or neither (act)."""

    gone: str | None = None  # why there is nothing left to do ("not in the listing")
    changed: str | None = None  # why no answered finding holds any more
    last4: str | None = None  # what the listing shows of a key: checked against ddaudit's own
    public_portion: str | None = None  # the same for an access token


async def find(client: DatadogClient, path: str, item_id_: str, *, base: Params | None = None,
               narrow: Params | None = None, by_uuid: bool = False,
               ) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
    """The listing item with `item_id_` (or, `by_uuid`, that `attributes.uuid`) and its
    page's `included`; None when the listing does not hold it."""
    attempts = [{**(base or {}), **narrow}] if narrow else []
    attempts.append(dict(base or {}))
    for params in attempts:
        pages = client.pages_by_number(path, params, total_of="total_filtered_count")
        async with aclosing(pages):
            async for page in pages:
                for item in page.data:
                    if item_id(item) == item_id_ or (by_uuid and
                                                     attrs(item).get("uuid") == item_id_):
                        return item, page.included
    return None


async def owned(client: DatadogClient, path: str, owner: str) -> int:
    """How many items of listing `path` are owned by `owner`.

    `filter[owned_by]` narrows the read; ownership is checked on each item, so a server
    that ignores the filter costs pages, not correctness. A listing the site does not
    offer (404) counts none.
    """
    count = 0
    pages = client.pages_by_number(path, {"filter[owned_by]": owner},
                                   total_of="total_filtered_count")
    try:
        async with aclosing(pages):
            async for page in pages:
                count += sum(1 for item in page.data if rel_id(item, "owned_by") == owner)
    except APIError as exc:
        if exc.status != 404:
            raise
        return 0  # the site does not offer this listing (access tokens on some sites)
    return count


async def service_account_keys(client: DatadogClient, account: str) -> int:
    """The service account's application keys: from the org-wide listing, or, when that
    is forbidden, from the account's own listing (as the collector falls back)."""
    try:
        return await owned(client, LISTINGS[REVOKE_APPLICATION_KEY], account)
    except ForbiddenError:
        path = f"/api/v2/service_accounts/{path_segment(account, 'the account id')}" \
               "/application_keys"
        count = 0
        pages = client.pages_by_number(path, total_of="total_filtered_count")
        async with aclosing(pages):
            async for page in pages:
                count += len(page.data)
        return count


async def user_state(client: DatadogClient, user_id: str, handle: str | None) -> str:
    """`enabled`, `disabled` or `not among the org's users`, read from the users listing
    (matched by id, then uuid, as the rules match a key's creator or a token's owner)."""
    found = await find(client, LISTINGS[DISABLE_SERVICE_ACCOUNT], user_id,
                       narrow={"filter": handle} if handle else None, by_uuid=True)
    if found is None:
        return "not among the org's users"
    row = parse_user(found[0])
    return "disabled" if row["disabled"] or row["status"] == "Disabled" else "enabled"


def _used_since(now: datetime | None, observed: Mapping[str, Any]) -> str | None:
    then = parse_timestamp(observed.get("last_used_at"))  # the plan keeps whole seconds
    if now is not None and (then is None or now.replace(microsecond=0) > then):
        return f"used since the scan (last use now {now:%Y-%m-%d %H:%M} UTC)"
    return None


async def _departed(client: DatadogClient, who: str | None, observed: Mapping[str, Any],
                    role: str) -> str | None:
    if who is None:
        return None
    seen = observed.get(role)
    handle = seen.get("handle") if isinstance(seen, Mapping) else None
    state = await user_state(client, who, handle if isinstance(handle, str) else None)
    return f"its {role} {who} is enabled" if state == "enabled" else None


async def reread(client: DatadogClient, action: PlannedAction) -> Reading:
    """Read the action's resource again and judge each finding it answers.

    `changed` is set only when no answered finding holds any more (a leaked key that was
    used since is still revoked: it is leaked).
    """
    return await _READERS[action.kind](client, action)


async def _application_key(client: DatadogClient, action: PlannedAction) -> Reading:
    seen = action.observed
    if seen.get("listing") == "service_account":
        owner = path_segment(seen.get("owner_id"), "the owner id")
        path = f"/api/v2/service_accounts/{owner}/application_keys"
    else:
        path = LISTINGS[action.kind]
    name = action.resource_name
    found = await find(client, path, action.resource_id, narrow={"filter": name} if name else None)
    if found is None:
        return Reading(gone="not in the application key listing")
    row = parse_application_key(found[0], index_included(found[1]),
                                listing=str(seen.get("listing")), owner=None)
    reasons = {"DDA-KEY-001": _used_since(row["last_used_at"], seen),
               "DDA-KEY-007": None if row["leaked"] else "no longer reported leaked"}
    return _judged(action, reasons, found[0])


async def _api_key(client: DatadogClient, action: PlannedAction) -> Reading:
    name = action.resource_name
    found = await find(client, LISTINGS[action.kind], action.resource_id,
                       narrow={"filter": name} if name else None)
    if found is None:
        return Reading(gone="not in the API key listing")
    row = parse_api_key(found[0], index_included(found[1]))
    used = row["date_last_used"] or row["last_used_date"]
    reasons: dict[str, str | None] = {
        "DDA-KEY-002": _used_since(used, action.observed),
        "DDA-KEY-007": None if row["leaked"] else "no longer reported leaked",
    }
    if _answers(action, "DDA-KEY-006"):
        reasons["DDA-KEY-006"] = await _departed(client, row["created_by_id"], action.observed,
                                                 "creator")
    return _judged(action, reasons, found[0])


async def _access_token(client: DatadogClient, action: PlannedAction) -> Reading:
    owner = action.observed.get("owner_id")
    found = await find(client, LISTINGS[action.kind], action.resource_id,
                       narrow={"filter[owned_by]": owner} if isinstance(owner, str) else None)
    if found is None:
        return Reading(gone="not in the access token listing (revoked or expired)")
    row = parse_access_token(found[0])
    reasons = {"DDA-TOK-003": _used_since(row["last_used_at"], action.observed)}
    if _answers(action, "DDA-TOK-004"):
        reasons["DDA-TOK-004"] = await _departed(client, row["owner_id"], action.observed,
                                                 "owner")
    return _judged(action, reasons, found[0])


async def _authn_mapping(client: DatadogClient, action: PlannedAction) -> Reading:
    kind = str(action.observed.get("mapping_kind") or "role")
    value = action.observed.get("attribute_value")
    found = await find(client, LISTINGS[action.kind], action.resource_id,
                       base={"resource_type": kind},
                       narrow={"filter": value} if isinstance(value, str) and value else None)
    if found is None:
        return Reading(gone="not in the AuthN mapping listing")
    row = parse_authn_mapping(found[0], kind)
    target = row["team_id"] if row["resource_type"] == "team" else row["role_id"]
    reason = None
    if target is not None:
        path, narrow = (("/api/v2/team", None) if row["resource_type"] == "team"
                        else ("/api/v2/roles", {"filter[id]": target}))
        if await find(client, path, target, narrow=narrow) is not None:
            reason = f"the {row['resource_type']} {target} it points to exists now"
    return _judged(action, {"DDA-MAP-001": reason}, found[0])


async def _service_account(client: DatadogClient, action: PlannedAction) -> Reading:
    handle = action.observed.get("handle")
    found = await find(client, LISTINGS[action.kind], action.resource_id,
                       narrow={"filter": handle} if isinstance(handle, str) and handle else None)
    if found is None:
        return Reading(gone="not in the users listing")
    row = parse_user(found[0])
    if row["disabled"] or row["status"] == "Disabled":
        return Reading(gone="already disabled")
    keys = await service_account_keys(client, action.resource_id)
    tokens = await owned(client, LISTINGS[REVOKE_ACCESS_TOKEN], action.resource_id)
    reason = (f"it holds {keys} application keys and {tokens} access tokens now"
              if keys or tokens else None)
    return _judged(action, {"DDA-SA-002": reason}, found[0])


def _answers(action: PlannedAction, rule_id: str) -> bool:
    return any(a.rule_id == rule_id for a in action.answers)


def _judged(action: PlannedAction, reasons: Mapping[str, str | None],
            item: Mapping[str, Any]) -> Reading:
    """Act when any answered finding still holds; else `changed`, with every reason."""
    answered = [a.rule_id for a in action.answers]
    shown = attrs(item)
    last4, portion = shown.get("last4"), shown.get("public_portion")
    seen = {"last4": last4 if isinstance(last4, str) else None,
            "public_portion": portion if isinstance(portion, str) else None}
    if any(r in reasons and reasons[r] is None for r in answered):
        return Reading(**seen)
    why = "; ".join(dict.fromkeys(str(reasons[r]) for r in answered if reasons.get(r)))
    return Reading(changed=why or "the finding no longer holds", **seen)


_READERS = {
    REVOKE_APPLICATION_KEY: _application_key,
    REVOKE_API_KEY: _api_key,
    REVOKE_ACCESS_TOKEN: _access_token,
    DELETE_AUTHN_MAPPING: _authn_mapping,
    DISABLE_SERVICE_ACCOUNT: _service_account,
}
