"""docs/ARCHITECTURE.md's walk-throughs, followed step by step: add a collector, add a rule."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, MetaData, String, Table, Text, select

from rules import RuleSettings, evaluate_scan, load_rulepack
from rules.catalog import rules_markdown
from scanner import collect
from scanner.client import Page, RetryPolicy
from scanner.collect.base import (
    Family,
    Inputs,
    PageRows,
    Tally,
    TargetContext,
    consume,
    item_id,
    raw_json,
)
from scanner.demo import simulator_config
from scanner.pipeline import collect_all, record_collection, start_scan
from scanner.simulator import EstateSpec, SimulatedDatadog, generate_estate
from scanner.simulator import handlers as h
from scanner.simulator import server as sim_server
from scanner.simulator.query import page, page_params
from scanner.store import schema
from scanner.store.database import open_store
from scanner.timeutil import utcnow
from tests.rules.conftest import NOW, Snap

POLICY = RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.05, timeout=5)
WIDGETS = [{"id": f"w-{i}", "type": "widgets", "attributes": {"name": f"widget {i}"}}
           for i in range(150)]


# ---- add a collector --------------------------------------------------------------------

async def collect_widgets(ctx: TargetContext, tally: Tally, inputs: Inputs) -> None:
    """Step 2: the family's collect function pages through the API."""
    pages = ctx.client.pages_by_number("/api/v2/widgets", total_of="total_count")
    await consume(ctx, tally, pages, _widget_rows, total_of="total_count")


def _widget_rows(ctx: TargetContext, tally: Tally, page: Page) -> PageRows:
    return {"widgets": [ctx.tag({"id": item["id"], "name": item["attributes"]["name"],
                                 "raw": raw_json(item)})
                        for item in page.data if tally.admit(item_id(item))]}


def _list_widgets(ctx: h.Ctx) -> h.Answer:
    """Step 4: the simulator's handler for the new endpoint."""
    size, number = page_params(ctx.query)
    return 200, {"data": page(WIDGETS, size, number),
                 "meta": {"page": {"total_count": len(WIDGETS)}}}


def test_add_a_collector(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    database = f"sqlite:///{tmp_path / 'walk.db'}"
    engine = open_store(database)
    # Step 1: the table (scan, target, site, org and raw columns), made by "its migration".
    widgets = Table("widgets", MetaData(), Column("scan_id", String(64)),
                    Column("target", String(200)), Column("site", String(64)),
                    Column("org_public_id", String(64)), Column("id", String(64)),
                    Column("name", Text), Column("raw", Text))
    widgets.metadata.create_all(engine)
    monkeypatch.setitem(schema.POPULATION_TABLES, "widgets", widgets)
    # Steps 2 and 3: the family's one declaration, and its registry line.
    family = Family("widgets", ("widgets",), collect_widgets, needs=("orgs",))
    monkeypatch.setitem(collect.FAMILIES, "widgets", family)
    # Step 4: the simulator serves it.
    monkeypatch.setattr(sim_server, "ROUTES",
                        (*sim_server.ROUTES, sim_server.Route("/api/v2/widgets", _list_widgets)))
    estate = generate_estate(EstateSpec(sites=("datadoghq.com",), orgs_per_site=1,
                                        deliberate=False, key_gaps=()), now=utcnow())

    async def scan() -> tuple[str, list[Any]]:
        async with SimulatedDatadog(estate) as sim:
            config = simulator_config(estate, sim.urls, tmp_path / "out", database)
            scan_id, _ = start_scan(engine, config, None)
            return scan_id, await collect_all(engine, config, scan_id, policy=POLICY)

    scan_id, results = asyncio.run(scan())
    record_collection(engine, scan_id, results)
    (ctx, coverage), = results
    by_endpoint = {c.endpoint: c for c in coverage}
    assert (by_endpoint["widgets"].status, by_endpoint["widgets"].collected) == ("complete", 150)
    assert {c.status for c in coverage} == {"complete"}  # the others as before
    with engine.connect() as conn:
        rows = conn.execute(select(widgets.c.id, widgets.c.org_public_id)).all()
    # Tagged with the org that the orgs family (which it needs) identified first.
    assert len(rows) == 150 and {org for _, org in rows} == {estate.targets[0].org_public_id}


# ---- add a rule -------------------------------------------------------------------------

RULE = """\
id: ACME-SA-901
title: Service account named like a temporary one
severity: low
resource_type: service_account
description: A service account whose name starts with tmp-.
rationale: Temporary automation outlives its purpose.
remediation: Disable it (https://docs.datadoghq.com/account_management/org_settings/service_accounts/).
references: [https://docs.datadoghq.com/account_management/org_settings/service_accounts/]
controls:
  SOC2: [CC6.2]
inputs: [users]
detail: Service account {resource_name} looks temporary.
condition: |
  SELECT u.site, u.target, u.org_public_id, 'service_account' AS resource_type,
         u.id AS resource_id, u.name AS resource_name
  FROM users u
  WHERE u.scan_id = :scan_id AND u.service_account AND u.name LIKE 'tmp-%'
    AND NOT {{user_disabled}}
"""


def test_add_a_rule(tmp_path: Path) -> None:
    # Step 1: the rule file, here in a custom folder.
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "ACME-SA-901.yaml").write_text(RULE)
    pack = load_rulepack([folder])
    # Step 2: the rule reference shows it.
    assert "### ACME-SA-901: Service account named like a temporary one" in rules_markdown(pack)
    # Step 3: it fires on its trigger, not on its near misses, and is not_assessed where
    # its input is missing.
    engine = open_store(f"sqlite:///{tmp_path / 'rule.db'}")
    snap = Snap(engine, pack, "scan-1", NOW)
    a, b = snap.target("a", org="pub-a", uuid="u-a"), snap.target("b", org="pub-b", uuid="u-b")
    snap.user(a, "tmp-loader", sa=True)  # trigger
    snap.user(a, "tmp-person")  # near miss: a person
    snap.user(a, "tmp-retired", sa=True, disabled=True)  # near miss: disabled
    snap.user(a, "loader-tmp", sa=True)  # near miss: not a tmp- name
    snap.coverage(b, "users", "forbidden", error="403")
    found = [f for f in evaluate_scan(engine, "scan-1", pack, RuleSettings(), None)
             if f.rule_id == "ACME-SA-901"]
    assert {(f.status, f.target, f.resource_id) for f in found} == {
        ("open", "a", "tmp-loader"), ("not_assessed", "b", "pub-b")}
    assert [f.detail for f in found if f.status == "open"] == [
        "Service account tmp-loader looks temporary."]
