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
    from scanner.collect.base import Tally, guarded

    async def family(ctx: Any, tally: Tally) -> None:
        for ident in ("a", None, "a", "b", None):
            tally.admit(ident)

    coverage = await guarded("users", family, None)  # type: ignore[arg-type]
    assert (coverage.status, coverage.collected) == ("partial", 2)
    assert coverage.error == "2 item(s) without a usable id were skipped"
