"""Hostile API payloads (hypothesis): parsers never crash and never keep a secret-like field."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scanner.collect.base import index_included
from scanner.collect.connections import parse_okta_account, parse_org_connection
from scanner.collect.keys import parse_api_key, parse_application_key
from scanner.collect.mappings import parse_authn_mapping
from scanner.collect.roles import parse_permission, parse_role
from scanner.collect.users import parse_user
from scanner.redact import SECRET_FIELDS
from scanner.timeutil import parse_timestamp

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True),
    st.text(max_size=40), st.text(min_size=2000, max_size=5000),
    st.sampled_from(["2026-01-01T00:00:00Z", "2026-13-45T99:99:99+00:00", "", "null"]),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(
            ["id", "type", "data", "name", "key", "api_key", "client_secret", "scopes",
             "created_at", "last_used_at", "date_last_used", "disabled", "status",
             "service_account", "roles", "owned_by", "leak_information", "domain",
             "connection_types", "source_org", "sink_org", "created_by", "attributes",
             "relationships", "\u202e\u0000", "x"]), inner, max_size=6),
    ),
    max_leaves=30,
)
items = st.fixed_dictionaries(
    {},
    optional={"id": st.one_of(st.text(max_size=40), st.integers(), st.none()),
              "type": json_values, "attributes": json_values, "relationships": json_values,
              "key": st.text(min_size=1, max_size=20)},
)

PARSERS: list[Any] = [
    lambda i, inc: parse_user(i),
    lambda i, inc: parse_role(i),
    lambda i, inc: parse_permission(i),
    lambda i, inc: parse_application_key(i, inc, listing="org", owner=None),
    parse_api_key,
    lambda i, inc: parse_authn_mapping(i, "role"),
    lambda i, inc: parse_org_connection(i),
    lambda i, inc: parse_okta_account(i),
]


def _secret_fields(value: Any) -> list[str]:
    """Every secret-like field name left anywhere in `value`."""
    if isinstance(value, dict):
        found = [k for k in value if k.lower() in SECRET_FIELDS]
        return found + [f for v in value.values() for f in _secret_fields(v)]
    if isinstance(value, list):
        return [f for v in value for f in _secret_fields(v)]
    return []


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(item=items, included=st.lists(json_values, max_size=3))
def test_parsers_survive_any_payload(item: dict[str, Any], included: list[Any]) -> None:
    index = index_included([i for i in included if isinstance(i, dict)])
    for parse in PARSERS:
        row = parse(item, index)
        assert not _secret_fields(json.loads(row["raw"]))
        for value in row.values():
            assert value is None or isinstance(value, str | int | bool | float) \
                or hasattr(value, "isoformat")


@given(st.text(max_size=60))
def test_timestamp_parser_never_raises(text: str) -> None:
    parsed = parse_timestamp(text)
    assert parsed is None or parsed.tzinfo is None


async def test_items_without_an_id_make_the_endpoint_partial() -> None:
    from scanner.collect.base import Family, Inputs, Tally, guarded

    async def collect(ctx: Any, tally: Tally, inputs: Inputs) -> None:
        for ident in ("a", None, "a", "b", None):
            tally.admit(ident)

    family = Family("users", ("users",), collect)

    from types import SimpleNamespace

    from scanner.progress import Reporter

    ctx = SimpleNamespace(target=SimpleNamespace(name="t"), progress=Reporter(),
                          client=SimpleNamespace(scrub=lambda text: text))
    coverage = (await guarded(family, ctx, {})).coverage  # type: ignore[arg-type]
    assert (coverage.status, coverage.collected) == ("partial", 2)
    assert coverage.error == "2 item(s) without a usable id were skipped"


# ---- whole collectors against a local server answering hostile documents ---------------

FAMILY_TABLES = {"users": "users", "roles": "roles", "permissions": "permissions",
                 "application_keys": "application_keys", "api_keys": "api_keys",
                 "authn_mappings": "authn_mappings", "teams": "teams",
                 "org_connections": "org_connections", "okta_accounts": "okta_accounts"}
hostile_items = st.one_of(
    st.fixed_dictionaries(
        {"id": st.one_of(st.sampled_from(["a", "b", "c", "../api_keys/x#", "é" * 300]),
                         st.text(max_size=12), st.integers(), st.none(), st.booleans())},
        optional={"type": json_values, "attributes": json_values,
                  "relationships": json_values, "key": st.text(min_size=1, max_size=20),
                  "client_secret": st.text(max_size=20), "unknown_field": json_values}),
    scalars, st.lists(scalars, max_size=2),
)


class _Rows:
    """A stand-in for the snapshot writer that keeps every row it is handed."""

    def __init__(self) -> None:
        self.rows: dict[str, list[dict[str, Any]]] = {}

    async def put(self, table: str, rows: list[dict[str, Any]]) -> None:
        self.rows.setdefault(table, []).extend(rows)


async def _collect(endpoint: str, document: Any) -> tuple[Any, _Rows]:
    import aiohttp
    from aiohttp import web

    from scanner.client import DatadogClient, RetryPolicy
    from scanner.collect import FAMILIES
    from scanner.collect.base import TargetContext, guarded
    from scanner.config import Secret, Target

    async def answer(_request: web.Request) -> web.Response:
        return web.Response(text=json.dumps(document), content_type="application/json")

    app = web.Application()
    app.router.add_get("/{tail:.*}", answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    writer = _Rows()
    try:
        async with aiohttp.ClientSession() as session:
            target = Target("t", "datadoghq.com", Secret("k"), Secret("a"), url)
            client = DatadogClient(session, target, allow_custom_endpoints=True,
                                   policy=RetryPolicy(max_attempts=1, timeout=5))
            ctx = TargetContext("s", target, client, writer)  # type: ignore[arg-type]
            coverage = (await guarded(FAMILIES[endpoint], ctx, {})).coverage
    finally:
        await runner.cleanup()
    return coverage, writer


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(endpoint=st.sampled_from(sorted(FAMILY_TABLES)),
       data=st.lists(hostile_items, max_size=10), included=st.lists(json_values, max_size=2),
       broken=st.one_of(st.none(), json_values))
def test_collectors_survive_hostile_documents_and_count_what_they_skip(
    endpoint: str, data: list[Any], included: list[Any], broken: Any,
) -> None:
    import asyncio

    document: Any = {"data": data, "included": included,
                     "meta": {"page": {"total_count": len(data),
                                       "total_filtered_count": len(data)},
                              "pagination": {"total": len(data)}}}
    if broken is not None and not isinstance(broken, dict):
        document = broken  # not a JSON:API document at all
    coverage, writer = asyncio.run(_collect(endpoint, document))
    assert coverage.status in ("complete", "partial", "failed")
    if document is broken:
        assert coverage.status == "failed" and coverage.error
        return
    ids = [i.get("id") for i in data if isinstance(i, dict)]
    good = {i for i in ids if isinstance(i, str) and i}
    listings = 2 if endpoint == "authn_mappings" else 1  # asked per resource_type
    skipped = listings * (len(data) - sum(1 for i in ids if isinstance(i, str) and i))
    stored = [r["id"] for r in writer.rows.get(FAMILY_TABLES[endpoint], [])]
    if coverage.status == "failed":  # only an empty permission catalogue fails
        assert endpoint == "permissions" and not good and coverage.error
        return
    assert sorted(stored) == sorted(good)  # every usable item once: no duplicate rows
    assert coverage.collected == len(good)
    if skipped:
        assert coverage.status == "partial"
        assert f"{skipped} item(s) without a usable id were skipped" in (coverage.error or "")
    if len(good) < len(data):
        assert coverage.status == "partial"  # duplicates fall short of the API's total
    for rows in writer.rows.values():
        for row in rows:
            assert not _secret_fields(json.loads(row.get("raw") or "{}"))
