"""Collect AuthN mappings (IdP attribute -> role, and -> team) and the org's teams."""

from __future__ import annotations

from typing import Any

from scanner.client import Page
from scanner.collect.base import (
    Family,
    Inputs,
    PageRows,
    Tally,
    TargetContext,
    as_int,
    as_str,
    attrs,
    consume,
    item_id,
    raw_json,
    rel_id,
)
from scanner.timeutil import parse_timestamp

MAPPING_KINDS = ("role", "team")


async def collect_authn_mappings(ctx: TargetContext, tally: Tally, inputs: Inputs) -> None:
    """List mappings twice: the API defaults to resource_type=role, so ask for team too.

    Each listing is filtered by its resource_type, so its own size is
    `total_filtered_count`; `total_count` counts every mapping of the org (the other
    kind too) and is only the fallback when the filtered total is absent.
    """
    for kind in MAPPING_KINDS:
        pages = ctx.client.pages_by_number(
            "/api/v2/authn_mappings", {"resource_type": kind}, total_of="total_filtered_count"
        )

        def rows(ctx: TargetContext, tally: Tally, page: Page, kind: str = kind) -> PageRows:
            return {"authn_mappings": _mapping_rows(ctx, tally, page, kind)}

        await consume(ctx, tally, pages, rows, total_of="total_filtered_count")


def _mapping_rows(ctx: TargetContext, tally: Tally, page: Page, kind: str) -> list[dict[str, Any]]:
    out = []
    for item in page.data:
        ident = item_id(item)
        if not tally.admit(ident):
            continue
        out.append(ctx.tag(parse_authn_mapping(item, kind)))
    return out


def parse_authn_mapping(item: dict[str, Any], kind: str) -> dict[str, Any]:
    """Map one `authn_mappings` object to a row; `kind` is the resource_type asked for."""
    a = attrs(item)
    role_id = rel_id(item, "role")
    team_id = rel_id(item, "team")
    return {
        "id": item_id(item),
        "resource_type": "team" if team_id and not role_id else kind,
        "attribute_key": as_str(a.get("attribute_key")),
        "attribute_value": as_str(a.get("attribute_value")),
        "role_id": role_id,
        "team_id": team_id,
        "created_at": parse_timestamp(a.get("created_at")),
        "raw": raw_json(item),
    }


async def collect_teams(ctx: TargetContext, tally: Tally, inputs: Inputs) -> None:
    """Page through /api/v2/team; its total lives in meta.pagination (page_total reads it)."""
    pages = ctx.client.pages_by_number("/api/v2/team", total_of="total_count")
    await consume(ctx, tally, pages, _team_rows, total_of="total_count")


def _team_rows(ctx: TargetContext, tally: Tally, page: Page) -> PageRows:
    rows = []
    for item in page.data:
        ident = item_id(item)
        if not tally.admit(ident):
            continue
        rows.append(ctx.tag(parse_team(item)))
    return {"teams": rows}


def parse_team(item: dict[str, Any]) -> dict[str, Any]:
    """Map one `team` object to a teams row."""
    a = attrs(item)
    return {
        "id": item_id(item),
        "name": as_str(a.get("name")),
        "handle": as_str(a.get("handle")),
        "user_count": as_int(a.get("user_count")),
        "raw": raw_json(item),
    }


AUTHN_MAPPINGS = Family("authn_mappings", ("authn_mappings",), collect_authn_mappings,
                        needs=("orgs",))
TEAMS = Family("teams", ("teams",), collect_teams, needs=("orgs",))
