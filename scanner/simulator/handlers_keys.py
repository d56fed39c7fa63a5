"""Endpoints listing application and API keys (org-wide and per service account)."""

from __future__ import annotations

from scanner.simulator import render
from scanner.simulator.handlers import Answer, Ctx, Json, dedupe, leaks
from scanner.simulator.query import contains, page, page_params


def list_app_keys(ctx: Ctx) -> Answer:
    """GET /api/v2/application_keys: every key of the org, with owners on `include=owned_by`."""
    size, number = page_params(ctx.query, default_size=100)
    owner = ctx.query.get("filter[owned_by]")
    keys = [
        k
        for k in ctx.org.app_keys
        if (owner is None or k.owner_id == owner) and contains(ctx.query.get("filter"), k.name)
    ]
    keys.sort(key=lambda k: (k.name.lower(), k.id))
    items = page(keys, size, number)
    included = leaks([k.leak for k in items])
    if "owned_by" in ctx.query.get("include", "").split(","):
        owners = [ctx.org.user(k.owner_id) for k in items]
        included += [render.user(u, ctx.org) for u in owners if u is not None]
    body: Json = {
        "data": [
            render.app_key(k, owned_by=True, extra=ctx.estate.canary_fields.get(k.id))
            for k in items
        ]
    }
    if included:
        body["included"] = dedupe(included)
    body["meta"] = {"page": {"total_filtered_count": len(keys)}, "max_allowed_per_user": 1000}
    return 200, body


def list_sa_app_keys(ctx: Ctx) -> Answer:
    """GET /api/v2/service_accounts/{id}/application_keys (no `owned_by` on items)."""
    sa_id = ctx.path_params["service_account_id"]
    sa = ctx.org.user(sa_id)
    if sa is None or not sa.service_account:
        return 404, {"errors": [f"Service account {sa_id} not found"]}
    size, number = page_params(ctx.query)
    keys = sorted(
        (k for k in ctx.org.app_keys if k.owner_id == sa_id), key=lambda k: (k.name.lower(), k.id)
    )
    items = page(keys, size, number)
    body: Json = {"data": [render.app_key(k, owned_by=False) for k in items]}
    leaked = leaks([k.leak for k in items])
    if leaked:
        body["included"] = leaked
    body["meta"] = {"page": {"total_filtered_count": len(keys)}, "max_allowed_per_user": 1000}
    return 200, body


def list_api_keys(ctx: Ctx) -> Answer:
    """GET /api/v2/api_keys: `date_last_used` and the 2025 last-use trio."""
    size, number = page_params(ctx.query)
    keys = sorted(
        (k for k in ctx.org.api_keys if contains(ctx.query.get("filter"), k.name)),
        key=lambda k: (k.name.lower(), k.id),
    )
    items = page(keys, size, number)
    included = leaks([k.leak for k in items])
    wanted = set(ctx.query.get("include", "").split(","))
    for k in items:
        for rel, uid in (("created_by", k.created_by_id), ("modified_by", k.modified_by_id)):
            u = ctx.org.user(uid) if rel in wanted else None
            if u is not None:
                included.append(render.user(u, ctx.org))
    body: Json = {"data": [render.api_key(k, ctx.now) for k in items]}
    if included:
        body["included"] = dedupe(included)
    body["meta"] = {"page": {"total_filtered_count": len(keys)}, "max_allowed": 200}
    return 200, body
