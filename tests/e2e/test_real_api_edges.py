"""Whole scans against the real API's edges: identity fallbacks, key listings, paging, bad keys."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from aiohttp import web

import rules
from scanner.config import Config, Secret
from scanner.demo import simulator_config
from scanner.simulator import SimulatedDatadog, SimulatorThread
from scanner.simulator.estate import APP_KEYS_AT, EstateSpec, generate_estate
from scanner.simulator.model import Estate, SimTarget
from scanner.store.schema import ENDPOINTS
from scanner.timeutil import utcnow
from tests.e2e.conftest import ScanRun
from tests.oracle import expected_findings, expected_not_assessed, findings_for

pytestmark = pytest.mark.slow
ORG_SETTINGS_RULES = {f"DDA-ORG-00{i}" for i in range(1, 7)} | {"DDA-MAP-004"}


def _rule_inputs() -> dict[str, set[str]]:
    return {r.id: set(r.inputs) for r in rules.load_rulepack().rules}


def _row(run: ScanRun, target: str, endpoint: str) -> dict[str, object]:
    (row,) = [c for c in run.document["coverage"]
              if c["target"] == target and c["endpoint"] == endpoint]
    return row


def _matches_oracle(run: ScanRun, estate: Estate) -> None:
    """The scan's open and not_assessed findings are exactly the oracle's."""
    assert estate.now is not None
    assert run.keys("open") == expected_findings(estate, now=estate.now)
    assert run.keys("not_assessed") == expected_not_assessed(estate, rule_inputs=_rule_inputs())


def _not_assessed_rules(run: ScanRun, target: SimTarget) -> set[str]:
    return {k[0] for k in run.keys("not_assessed") if k[2] == target.org_public_id}


def _parent(estate: Estate) -> SimTarget:
    """The target of a scanned org that manages child orgs (DDA-ORG-007 fires there)."""
    parents = {o.parent_public_id for o in estate.orgs if o.parent_public_id}
    return next(t for t in estate.targets if t.org_public_id in parents)


@pytest.fixture
def requests(server: SimulatorThread) -> list[tuple[str, str, str]]:
    """(org public id, path, query string) of every authenticated request, in order."""
    seen: list[tuple[str, str, str]] = []

    async def record(target: SimTarget, request: web.Request) -> None:
        seen.append((target.org_public_id, request.path, request.query_string))

    server.sim.hooks.append(record)
    return seen


# ---- B. identity and org settings survive any error ----------------------------------

def test_org_endpoint_404_identifies_the_org_by_current_user(
    estate: Estate, config: Config, scan: Callable[..., ScanRun]
) -> None:
    parent = _parent(estate)
    org = estate.org(parent.org_public_id)
    org.missing_endpoints = frozenset({"/api/v2/org"})
    org.settings = replace(org.settings, saml_strict_mode=False)  # DDA-ORG-002 fires
    run = scan(config)
    row = _row(run, parent.name, "orgs")
    assert row["status"] == "partial"
    assert "org identified by /api/v2/current_user (GET /api/v2/org: HTTP 404" in str(
        row["error"])
    assert "managed child orgs not listed" in str(row["error"])
    # The settings were read: the ORG rules are assessed; only DDA-ORG-007 is not.
    assert _not_assessed_rules(run, parent) == {"DDA-ORG-007"}
    assert ("DDA-ORG-002", parent.site, parent.org_public_id, "org",
            parent.org_public_id) in run.keys("open")
    _matches_oracle(run, estate)


def test_org_identity_falls_back_to_the_users_listing(
    estate: Estate, config: Config, scan: Callable[..., ScanRun]
) -> None:
    victim = estate.targets[APP_KEYS_AT]  # the org of the application-key scenarios
    org = estate.org(victim.org_public_id)
    org.missing_endpoints = frozenset({"/api/v2/org", "/api/v2/current_user"})
    run = scan(config)
    row = _row(run, victim.name, "orgs")
    assert row["status"] == "partial"
    assert "org identified by /api/v2/users" in str(row["error"])
    assert "settings were not collected" in str(row["error"])
    # Only the org's UUID is known: its rows carry no public id, its settings were not
    # read, and every rule that needs them is not assessed; the rest is judged as usual.
    ours = [f for f in run.document["findings"] if f["target"] == victim.name]
    assert {f["rule_id"] for f in ours if f["status"] == "not_assessed"} == (
        ORG_SETTINGS_RULES | {"DDA-ORG-007"})
    assert estate.now is not None
    expected = {(k[0], k[3], k[4]) for k in expected_findings(estate, now=estate.now)
                if k[2] == victim.org_public_id and not k[0].startswith("DDA-ORG")
                and k[0] not in ("DDA-MAP-004", "DDA-SCAN-001")}
    got = {(f["rule_id"], f["resource_type"], f["resource_id"]) for f in ours
           if f["status"] == "open" and f["rule_id"] != "DDA-SCAN-001"}
    assert got == expected and got


def test_org_settings_error_keeps_the_org_and_its_children(
    estate: Estate, config: Config, scan: Callable[..., ScanRun]
) -> None:
    parent = _parent(estate)
    estate.org(parent.org_public_id).missing_endpoints = frozenset({"/api/v1/org/{public_id}"})
    run = scan(config)
    row = _row(run, parent.name, "orgs")
    assert row["status"] == "partial" and "HTTP 404" in str(row["error"])
    children = [o for o in estate.orgs if o.parent_public_id == parent.org_public_id]
    assert row["collected"] == 1 + len(children)
    assert _not_assessed_rules(run, parent) == ORG_SETTINGS_RULES
    unscanned = {c.public_id for c in children} - {t.org_public_id for t in estate.targets}
    assert unscanned and {("DDA-ORG-007", parent.site, parent.org_public_id, "org", c)
                          for c in unscanned} <= run.keys("open")
    _matches_oracle(run, estate)


def test_without_org_management_the_settings_are_still_judged(
    estate: Estate, config: Config, scan: Callable[..., ScanRun]
) -> None:
    parent = _parent(estate)
    estate.revoke(parent.name, "org_management", "org_connections_write")
    run = scan(config)
    row = _row(run, parent.name, "orgs")
    assert "needs org_management or org_connections_write" in str(row["error"])
    assert _not_assessed_rules(run, parent) == {"DDA-ORG-007"}
    _matches_oracle(run, estate)


# ---- C. key listings as the real API serves them --------------------------------------

def test_without_service_account_write_the_fallback_costs_one_request(
    estate: Estate, config: Config, scan: Callable[..., ScanRun],
    requests: list[tuple[str, str, str]],
) -> None:
    victim = estate.targets[4]
    estate.revoke(victim.name, "org_app_keys_read", "service_account_write")
    run = scan(config)
    per_account = [p for org, p, _ in requests if org == victim.org_public_id
                   and p.startswith("/api/v2/service_accounts/")]
    assert len(per_account) == 1
    row = _row(run, victim.name, "application_keys")
    assert row["status"] == "forbidden"
    assert "needs org_app_keys_read" in str(row["error"])
    assert "fallback is forbidden too" in str(row["error"])
    assert "needs service_account_write" in str(row["error"])
    assert {"DDA-KEY-004", "DDA-SA-002", "DDA-SA-003"} <= _not_assessed_rules(run, victim)
    _matches_oracle(run, estate)


def test_service_account_keys_are_judged_without_the_org_wide_listing(
    estate: Estate, config: Config, scan: Callable[..., ScanRun]
) -> None:
    (gap,) = [t for t in estate.targets if "org_app_keys_read" not in t.permissions]
    assert "service_account_write" in gap.permissions
    org = estate.org(gap.org_public_id)
    account = next(u for u in org.users if u.service_account and not u.is_disabled)
    model = next(k for k in org.app_keys if k.owner_id == account.id)
    org.app_keys.append(replace(model, id="0e5c7a1d-unscoped-gap-key", name="gap-unscoped",
                                scopes=None))
    run = scan(config)
    assert _row(run, gap.name, "application_keys")["status"] == "partial"
    not_assessed = _not_assessed_rules(run, gap)
    # The rules on every key are not assessed, nor those counting tokens (the token
    # listing, without org_app_keys_read, shows only the key pair's own user's tokens).
    assert not_assessed == {"DDA-KEY-001", "DDA-KEY-003", "DDA-KEY-005", "DDA-KEY-007",
                            "DDA-SA-002", "DDA-SA-003",
                            *(f"DDA-TOK-00{i}" for i in range(1, 6))}
    # The service accounts' keys are whole there, so the rule on them gives findings.
    assert estate.now is not None
    expected = expected_findings(estate, now=estate.now)
    judged = {k for k in expected if k[2] == gap.org_public_id and k[0] == "DDA-KEY-004"}
    assert ("DDA-KEY-004", gap.site, gap.org_public_id, "application_key",
            "0e5c7a1d-unscoped-gap-key") in judged
    assert judged <= run.keys("open")
    _matches_oracle(run, estate)


def test_api_key_last_use_is_read_from_the_window_too(
    estate: Estate, config: Config, scan: Callable[..., ScanRun],
    requests: list[tuple[str, str, str]],
) -> None:
    run = scan(config)
    by_name = {f["resource_name"]: f for f in run.document["findings"]
               if f["rule_id"] == "DDA-KEY-002" and f["status"] == "open"}
    assert "window-only-agent" not in by_name  # its use shows only in last_used_date
    assert "no use seen in the retained window" in by_name["window-expired-agent"]["detail"]
    assert "stale-agent" in by_name and "never" not in by_name["window-expired-agent"]["detail"]
    _matches_oracle(run, estate)
    keys = [q for _, p, q in requests if p == "/api/v2/application_keys"]
    assert keys and not [q for q in keys if "include" in q]


# ---- D. paging that cannot truncate silently ------------------------------------------

@pytest.fixture
def big_org() -> Iterator[tuple[Estate, SimulatorThread]]:
    """One org of 2,500 users on its own simulator."""
    spec = EstateSpec(sites=("datadoghq.com",), orgs_per_site=1, users_per_org=2500,
                      service_accounts_per_org=5, deliberate=False, key_gaps=())
    estate = generate_estate(spec, now=utcnow())
    thread = SimulatedDatadog.start_in_thread(estate)
    try:
        yield estate, thread
    finally:
        thread.stop()


def _big_scan(big_org: tuple[Estate, SimulatorThread], tmp_path: Path,
              scan: Callable[..., ScanRun]) -> tuple[ScanRun, list[str]]:
    estate, thread = big_org
    queries: list[str] = []

    async def record(target: SimTarget, request: web.Request) -> None:
        if request.path == "/api/v2/users":
            queries.append(request.query_string)

    thread.sim.hooks.append(record)
    config = simulator_config(estate, dict(thread.urls), tmp_path / "out",
                              f"sqlite:///{tmp_path / 'big.db'}")
    return scan(config), queries


def test_users_are_read_a_thousand_a_page(
    big_org: tuple[Estate, SimulatorThread], tmp_path: Path, scan: Callable[..., ScanRun]
) -> None:
    run, queries = _big_scan(big_org, tmp_path, scan)
    users = len(big_org[0].orgs[0].users)
    assert users > 2000
    # Three pages of 1000 (100 a page would take 25), plus the identity fallback's none.
    assert len(queries) == 3 and all("page[size]=1000" in q for q in queries)
    row = _row(run, big_org[0].targets[0].name, "users")
    assert row["status"] == "complete" and row["collected"] == users


def test_a_listing_refusing_large_pages_falls_back_to_100(
    big_org: tuple[Estate, SimulatorThread], tmp_path: Path, scan: Callable[..., ScanRun]
) -> None:
    big_org[0].orgs[0].users_page_limit = 100
    run, queries = _big_scan(big_org, tmp_path, scan)
    users = len(big_org[0].orgs[0].users)
    # The refused page, then pages of 100 up to a short one (an empty one after 25 full).
    assert len(queries) == 1 + users // 100 + 1
    row = _row(run, big_org[0].targets[0].name, "users")
    assert row["status"] == "complete" and row["collected"] == users


def test_a_total_that_under_reports_is_read_past(
    big_org: tuple[Estate, SimulatorThread], tmp_path: Path, scan: Callable[..., ScanRun]
) -> None:
    org = big_org[0].orgs[0]
    users = len(org.users)
    org.total_shortfall = users - 2000  # every page says 2000: two full pages "planned"
    run, queries = _big_scan(big_org, tmp_path, scan)
    row = _row(run, big_org[0].targets[0].name, "users")
    assert row["collected"] == users and row["expected"] == 2000
    assert row["status"] == "complete"
    assert f"it said 2000, {users} were listed" in str(row["error"])
    assert len(queries) == 3
    assert run.outcome.status == "complete"


# ---- E. a wrong key or site is named as such ------------------------------------------

def _only(config: Config, target: SimTarget, **changes: object) -> Config:
    (ours,) = [t for t in config.targets if t.name == target.name]
    return replace(config, targets=(replace(ours, **changes),))


def test_a_key_pair_for_another_site_is_named_and_nothing_else_asked(
    estate: Estate, config: Config, scan: Callable[..., ScanRun], server: SimulatorThread,
    caplog: pytest.LogCaptureFixture,
) -> None:
    target = estate.targets[0]
    other = next(s for s in estate.sites if s != target.site)
    wrong = _only(config, target, site=other, api_url=server.urls[other])
    before = server.sim.request_count
    with caplog.at_level(logging.WARNING):
        run = scan(wrong)
    assert server.sim.request_count - before == 1  # GET /api/v1/validate, nothing more
    errors = {str(c["error"]) for c in run.document["coverage"]}
    (error,) = errors
    assert error.startswith(f"API key not valid for site {other}")
    assert {c["status"] for c in run.document["coverage"]} == {"forbidden"}
    assert {f["resource_id"] for f in run.document["findings"]
            if f["rule_id"] == "DDA-SCAN-001"} == set(ENDPOINTS)
    lines = [r.getMessage() for r in caplog.records if "API key not valid" in r.getMessage()]
    assert len(lines) == 1 and target.name in lines[0]
    assert run.outcome.exit_code == 3


def test_a_rejected_application_key_is_named(
    estate: Estate, config: Config, scan: Callable[..., ScanRun], server: SimulatorThread
) -> None:
    target = estate.targets[1]
    before = server.sim.request_count
    run = scan(_only(config, target, app_key=Secret("e" * 40)))
    assert server.sim.request_count - before == 2  # validate, then current_user
    (error,) = {str(c["error"]) for c in run.document["coverage"]}
    assert error.startswith(f"application key rejected on site {target.site}")
    assert "e" * 40 not in str(run.document)


# ---- issue 12: a site that does not offer access tokens or OAuth clients ---------------

def test_a_site_without_tokens_is_unavailable_not_partial(tmp_path: Path,
                                                          scan: Callable[..., ScanRun]) -> None:
    # The demo estate without its key gap: only ap2's orgs lack the two listings (404).
    estate = generate_estate(EstateSpec(key_gaps=()), now=utcnow())
    with SimulatedDatadog.start_in_thread(estate) as thread:
        config = simulator_config(estate, dict(thread.urls), tmp_path / "out",
                                  f"sqlite:///{tmp_path / 'ddaudit.db'}")
        run = scan(config)
    token_less = {t.name for t in estate.targets if t.site == "ap2.datadoghq.com"}
    unavailable = {(c["target"], c["endpoint"]) for c in run.document["coverage"]
                   if c["status"] == "unavailable"}
    assert token_less and unavailable == {(t, e) for t in token_less
                                          for e in ("access_tokens", "oauth_clients")}
    assert all(c["status"] in ("complete", "unavailable") for c in run.document["coverage"])
    assert run.outcome.status == "complete" and run.outcome.exit_code in (0, 1)
    assert not findings_for(run.keys(), "DDA-SCAN-001")
    _matches_oracle(run, estate)
    # The token rules fire elsewhere, and judge nothing (not even not_assessed) on ap2.
    assert findings_for(run.keys("open"), "DDA-TOK-001", "DDA-OAUTH-001")
    assert not [f for f in run.document["findings"] if f["target"] in token_less
                and f["rule_id"].startswith(("DDA-TOK", "DDA-OAUTH"))]
    population = json.loads((run.outcome.report.parent / "population.json").read_text()) \
        if run.outcome.report else {}
    statuses = {(t["target"], e["endpoint"]): e["status"] for t in population["targets"]
                for e in t["endpoints"]}
    assert {k for k, v in statuses.items() if v == "unavailable"} == unavailable
