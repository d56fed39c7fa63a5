"""Whose key pair is this: the key-pair check before collecting, and the org's identity."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from scanner.client import DatadogClient
from scanner.collect.base import item_id, rel_id, rel_ids
from scanner.errors import APIError, ForbiddenError

log = logging.getLogger(__name__)
OrgObject = Mapping[str, Any]  # a JSON:API `orgs` object: id and attributes


async def check_key_pair(client: DatadogClient, site: str) -> str | None:
    """Why the target's key pair cannot be used on its site, or None when it can.

    GET /api/v1/validate checks the API key (needs no permission); GET
    /api/v2/current_user then checks the application key (needs none either) and names
    the org (`identify_org` reads the same answer: `get_once`). An answer other than a
    refusal (a 404 from a site without the recent endpoint, a 5xx) proves nothing either
    way: collection goes on and each endpoint reports what it meets.
    """
    try:
        body = await client.get("/api/v1/validate")
    except ForbiddenError as exc:
        return f"API key not valid for site {site} ({exc})"
    except APIError as exc:
        log.debug("key check inconclusive on %s: %s", site, exc)
    else:
        if isinstance(body, Mapping) and body.get("valid") is False:
            return f"API key not valid for site {site} (GET /api/v1/validate: valid false)"
    try:
        await client.get_once("/api/v2/current_user")
    except ForbiddenError as exc:
        return f"application key rejected on site {site} ({exc})"
    except APIError as exc:
        log.debug("application key check inconclusive on %s: %s", site, exc)
    return None


@dataclass
class Identification:
    """How the org was identified: its object, which endpoint named it, its child orgs."""

    org: OrgObject
    source: str  # the endpoint that named the org
    children: list[OrgObject] = field(default_factory=list)
    children_error: APIError | None = None  # why the child orgs were not listed
    tried: list[str] = field(default_factory=list)  # what failed before `source`

    def note(self) -> str | None:
        """The coverage note: which endpoint identified the org, after which failures."""
        if not self.tried:
            return None
        return f"org identified by {self.source} ({'; '.join(self.tried)})"


async def identify_org(client: DatadogClient) -> Identification:
    """The org of the key pair: /api/v2/org, else /api/v2/current_user, else the users.

    /api/v2/org and /api/v2/current_user are recent; any API error on one falls back to
    the next. The last resort is the org every /api/v2/users item names (its UUID only).
    """
    tried: list[str] = []
    try:
        current, children = _parse_managed(await client.get("/api/v2/org"))
        return Identification(current, "/api/v2/org", children)
    except APIError as exc:
        children_error = exc
        tried.append(str(exc))
    try:
        org = _org_of_user(await client.get_once("/api/v2/current_user"))
        if org is None:
            raise APIError("GET /api/v2/current_user: the answer names no org")
        return Identification(org, "/api/v2/current_user", [], children_error, tried)
    except APIError as exc:
        tried.append(str(exc))
    page = await client.get_page("/api/v2/users", {"page[size]": 100, "page[number]": 0})
    named = {rel_id(item, "org") for item in page.data}
    if len(named) != 1 or None in named:
        raise APIError("could not identify the org of this key pair: " + "; ".join(
            [*tried, "GET /api/v2/users: its items do not all name one org"]))
    uuid = named.pop()
    return Identification({"id": uuid, "attributes": {}}, "/api/v2/users", [], children_error,
                       tried)


def _parse_managed(body: Any) -> tuple[OrgObject, list[OrgObject]]:
    if not isinstance(body, Mapping) or not isinstance(body.get("data"), Mapping):
        raise APIError("GET /api/v2/org: response has no 'data' object")
    data = body["data"]
    included = [i for i in body.get("included") or [] if isinstance(i, Mapping)]
    by_id = {item_id(i): i for i in included}
    current_id = rel_id(data, "current_org") or item_id(data)
    if current_id is None:
        raise APIError("GET /api/v2/org: response names no current org")
    current = by_id.get(current_id) or {"id": current_id, "attributes": {}}
    children = [
        by_id.get(cid) or {"id": cid, "attributes": {}}
        for cid in rel_ids(data, "managed_orgs")
        if cid != current_id
    ]
    return current, children


def _org_of_user(body: Any) -> OrgObject | None:
    data = body.get("data") if isinstance(body, Mapping) else None
    if not isinstance(data, Mapping):
        return None
    org_id = rel_id(data, "org")
    for inc in body.get("included") or []:
        if isinstance(inc, Mapping) and inc.get("type") == "orgs" and inc.get("id") == org_id:
            return inc
    return {"id": org_id, "attributes": {}} if org_id else None
