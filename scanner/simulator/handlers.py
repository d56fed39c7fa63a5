"""One function per simulated endpoint: (context) -> (HTTP status, JSON body)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from scanner.simulator import permissions as perms
from scanner.simulator import render
from scanner.simulator.model import Estate, Leak, Org, SimTarget, User
from scanner.simulator.query import (
    BadRequest,
    contains,
    limit_offset,
    page,
    page_params,
    sort_key_name,
)

Json = dict[str, Any]
Answer = tuple[int, Json]


@dataclass
class Ctx:
    """Everything a handler needs: the estate, the caller's org and target, the request."""

    estate: Estate
    org: Org
    target: SimTarget
    query: Mapping[str, str]
    path_params: Mapping[str, str]
    now: datetime
    body: bytes = b""  # a write's request body (PATCH)


def _children(ctx: Ctx) -> list[Org]:
    return [o for o in ctx.estate.orgs if o.parent_public_id == ctx.org.public_id]


def dedupe(items: list[Json]) -> list[Json]:
    seen: set[tuple[str, str]] = set()
    out: list[Json] = []
    for item in items:
        key = (item["type"], item["id"])
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


def _roles_with_permissions(org: Org, role_ids: list[str]) -> list[Json]:
    out: list[Json] = []
    for rid in role_ids:
        role = org.role(rid)
        if role is None:
            continue
        out.append(render.role(role))
        out.extend(render.permission(perms.BY_ID[p]) for p in role.permission_ids)
    return out


def leaks(leaks: list[Leak | None]) -> list[Json]:
    return [render.leak(x) for x in leaks if x is not None]


def list_orgs_v1(ctx: Ctx) -> Answer:
    """GET /api/v1/org: the current org and its managed children."""
    return 200, {"orgs": [render.org_v1(o) for o in [ctx.org, *_children(ctx)]]}


def get_org_v1(ctx: Ctx) -> Answer:
    """GET /api/v1/org/{public_id}: own org or a managed child, else 404."""
    wanted = ctx.path_params["public_id"]
    for org in [ctx.org, *_children(ctx)]:
        if org.public_id == wanted:
            return 200, {"org": render.org_v1(org)}
    return 404, {"errors": ["Org not found"]}


def list_orgs_v2(ctx: Ctx) -> Answer:
    """GET /api/v2/org: ManagedOrgsResponse."""
    name = ctx.query.get("filter[name]")
    children = [o for o in _children(ctx) if contains(name, o.name)]
    return 200, {
        "data": {
            "id": ctx.org.uuid,
            "type": "managed_orgs",
            "relationships": {
                "current_org": {"data": {"id": ctx.org.uuid, "type": "orgs"}},
                "managed_orgs": {"data": [{"id": o.uuid, "type": "orgs"} for o in children]},
            },
        },
        "included": [render.org_v2(o) for o in [ctx.org, *children]],
    }


def validate(ctx: Ctx) -> Answer:
    """GET /api/v1/validate."""
    return 200, {"valid": True}


def current_user(ctx: Ctx) -> Answer:
    """GET /api/v2/current_user: the owner of the calling application key.

    `included` holds the user's org (UserResponseIncludedItem: Organization | Permission |
    Role in the spec; no recording exists), then its roles and their permissions.
    """
    me = ctx.org.user(ctx.org.current_user_id)
    if me is None:
        return 404, {"errors": ["Not found"]}
    return 200, {
        "data": render.user(me, ctx.org),
        "included": [render.org_v2(ctx.org),
                     *dedupe(_roles_with_permissions(ctx.org, list(me.role_ids)))],
    }


def list_users(ctx: Ctx) -> Answer:
    """GET /api/v2/users: roles and their permissions in `included`, up to 1000 a page.

    As the 2026 recordings show, the answer says how large a page it serves in
    `meta.page.max_page_size` (an org may be set to serve less: `users_page_limit`).
    """
    largest = ctx.org.users_page_limit
    size, number = page_params(ctx.query, largest=largest)
    statuses = {s.strip() for s in ctx.query.get("filter[status]", "").split(",") if s.strip()}
    text = ctx.query.get("filter")
    matched = [
        u
        for u in ctx.org.users
        if (not statuses or u.status in statuses) and contains(text, u.name, u.email, u.handle)
    ]
    field, desc = sort_key_name(ctx.query.get("sort"))
    keyfn: Callable[[User], tuple[str, str]] = (
        (lambda u: (u.modified_at.isoformat(), u.id))
        if field == "modified_at"
        else (lambda u: ((u.name or "").lower(), u.id))
    )
    matched.sort(key=keyfn, reverse=desc or ctx.query.get("sort_dir") == "desc")
    items = page(matched, size, number)
    body: Json = {"data": [render.user(u, ctx.org) for u in items]}
    extra = dedupe(_roles_with_permissions(ctx.org, [r for u in items for r in u.role_ids]))
    if extra:
        body["included"] = extra
    body["meta"] = {
        "page": {"total_count": len(ctx.org.users), "total_filtered_count": len(matched),
                 "max_page_size": largest}
    }
    return 200, body


def list_roles(ctx: Ctx) -> Answer:
    """GET /api/v2/roles: permissions inline, `user_count`, meta.page totals."""
    size, number = page_params(ctx.query)
    matched = sorted(
        (r for r in ctx.org.roles if contains(ctx.query.get("filter"), r.name)),
        key=lambda r: (r.name.lower(), r.id),
    )
    ids = {i.strip() for i in ctx.query.get("filter[id]", "").split(",") if i.strip()}
    if ids:
        matched = [r for r in matched if r.id in ids]
    counts = {r.id: sum(r.id in u.role_ids for u in ctx.org.users) for r in matched}
    return 200, {
        "meta": {"page": {"total_filtered_count": len(matched), "total_count": len(ctx.org.roles)}},
        "data": [render.role(r, counts[r.id]) for r in page(matched, size, number)],
    }


def list_permissions(ctx: Ctx) -> Answer:
    """GET /api/v2/permissions: the whole catalogue, not paginated, no meta."""
    return 200, {"data": [render.permission(p) for p in perms.CATALOGUE]}


def list_mappings(ctx: Ctx) -> Answer:
    """GET /api/v2/authn_mappings (`resource_type` role by default, or team).

    The 2022 cassette (7 role mappings, no team mapping) reports 7 for both totals, which
    fits this reading; the roles and users cassettes show the same split with a filter.
    """
    kind = ctx.query.get("resource_type", "role")
    if kind not in ("role", "team"):
        raise BadRequest(f"Invalid resource_type: {kind}")
    size, number = page_params(ctx.query)
    of_kind = [m for m in ctx.org.mappings if m.resource_type == kind]
    matched = sorted(
        (
            m
            for m in of_kind
            if contains(ctx.query.get("filter"), m.attribute_key, m.attribute_value)
        ),
        key=lambda m: (m.created_at, m.id),
    )
    items = page(matched, size, number)
    included: list[Json] = []
    for m in items:
        role = ctx.org.role(m.role_id) if m.role_id else None
        team = next((t for t in ctx.org.teams if t.id == m.team_id), None)
        if role is not None:
            included.append(render.role(role))
        if team is not None:
            included.append(render.team(team, full=False))
    body: Json = {"data": [render.mapping(m) for m in items]}
    if included:
        body["included"] = dedupe(included)
    # As for users and roles: total_count counts the org's mappings (every kind), while
    # total_filtered_count counts those this query selects (its resource_type and filter).
    body["meta"] = {
        "page": {"total_filtered_count": len(matched), "total_count": len(ctx.org.mappings)}
    }
    return 200, body


def list_teams(ctx: Ctx) -> Answer:
    """GET /api/v2/team: meta.pagination and links (offset/limit style numbers)."""
    size, number = page_params(ctx.query)
    teams = sorted(
        (t for t in ctx.org.teams if contains(ctx.query.get("filter[keyword]"), t.name, t.handle)),
        key=lambda t: (t.name.lower(), t.id),
    )
    total, offset = len(teams), size * number
    last = max(0, (total - 1) // size) * size
    base = "/api/v2/team?page[size]={}&page[number]={}"
    return 200, {
        "data": [render.team(t) for t in page(teams, size, number)],
        "links": {
            "self": base.format(size, number),
            "first": base.format(size, 0),
            "last": base.format(size, last // size),
            "next": base.format(size, number + 1),
            "prev": base.format(size, number - 1) if number > 0 else None,
        },
        "meta": {
            "pagination": {
                "first_offset": 0,
                "last_offset": last,
                "limit": size,
                "next_offset": offset + size,
                "offset": offset,
                "prev_offset": max(0, offset - size),
                "total": total,
                "type": "offset_limit",
            }
        },
    }


def list_connections(ctx: Ctx) -> Answer:
    """GET /api/v2/org_connections: limit/offset paging, connections in or out of the org."""
    limit, offset = limit_offset(ctx.query)
    src, sink = ctx.query.get("source_org_id"), ctx.query.get("sink_org_id")
    conns = [
        c
        for c in ctx.org.connections
        if (src is None or c.source.uuid == src) and (sink is None or c.sink.uuid == sink)
    ]
    conns.sort(key=lambda c: (c.created_at, c.id))
    return 200, {
        "data": [render.connection(c) for c in conns[offset : offset + limit]],
        "meta": {
            "page": {"total_count": len(ctx.org.connections), "total_filtered_count": len(conns)}
        },
    }


def list_okta(ctx: Ctx) -> Answer:
    """GET /api/v2/integrations/okta/accounts: no meta, no pagination."""
    return 200, {
        "data": [render.okta(a, ctx.estate.canary_fields.get(a.id)) for a in ctx.org.okta_accounts]
    }


__all__ = ["Answer", "BadRequest", "Ctx"]
