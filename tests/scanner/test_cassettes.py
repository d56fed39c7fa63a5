"""The collectors' parsers read every recorded real API response in tests/reference/cassettes."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from scanner.collect.base import index_included
from scanner.collect.connections import parse_okta_account, parse_org_connection
from scanner.collect.keys import parse_api_key, parse_application_key
from scanner.collect.mappings import parse_authn_mapping
from scanner.collect.roles import parse_permission, parse_role
from scanner.collect.users import parse_user
from scanner.timeutil import parse_timestamp

Parser = Callable[[dict[str, Any], Any], dict[str, Any]]

# List endpoints the collectors read, by path shape, with the parser for their items.
PARSERS: list[tuple[Callable[[list[str]], bool], Parser]] = [
    (lambda p: p == ["api", "v2", "users"], lambda i, inc: parse_user(i)),
    (lambda p: p == ["api", "v2", "roles"], lambda i, inc: parse_role(i)),
    (lambda p: p == ["api", "v2", "permissions"], lambda i, inc: parse_permission(i)),
    (lambda p: p == ["api", "v2", "application_keys"],
     lambda i, inc: parse_application_key(i, inc, listing="org", owner=None)),
    (lambda p: len(p) == 5 and p[2] == "service_accounts" and p[4] == "application_keys",
     lambda i, inc: parse_application_key(i, inc, listing="service_account", owner="sa")),
    (lambda p: p == ["api", "v2", "api_keys"], parse_api_key),
    (lambda p: p == ["api", "v2", "authn_mappings"], lambda i, inc: parse_authn_mapping(i, "role")),
    (lambda p: p == ["api", "v2", "org_connections"], lambda i, inc: parse_org_connection(i)),
    (lambda p: p == ["api", "v2", "integrations", "okta", "accounts"],
     lambda i, inc: parse_okta_account(i)),
]


def _interactions(root: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    for path in sorted(root.glob("*/*.yaml")):
        doc = yaml.safe_load(path.read_text())
        for inter in doc["interactions"]:
            yield path.name, inter


def _list_gets(root: Path) -> list[tuple[str, list[str], dict[str, Any]]]:
    found = []
    for name, inter in _interactions(root):
        req, resp = inter["request"], inter["response"]
        if req["method"] != "GET" or resp["status"]["code"] != 200:
            continue
        parts = [p for p in urlsplit(req["uri"]).path.split("/") if p]
        if any(match(parts) for match, _ in PARSERS):
            found.append((name, parts, json.loads(resp["body"]["string"])))
    return found


def test_every_list_cassette_parses(reference_dir: Path) -> None:
    cassettes = _list_gets(reference_dir / "cassettes")
    endpoints = {"/".join(p) for _, p, _ in cassettes}
    assert len(endpoints) >= 8, endpoints  # the families we collect are all recorded
    items = 0
    for name, parts, body in cassettes:
        parser = next(parse for match, parse in PARSERS if match(parts))
        included = index_included(body.get("included") or [])
        for item in body["data"]:
            row = parser(item, included)
            items += 1
            assert row["id"] == item["id"], name
            raw = json.loads(row["raw"])
            assert "key" not in raw.get("attributes", {}), name
            created = item["attributes"].get("created_at") or item["attributes"].get("created")
            if created is not None:
                assert parse_timestamp(created) is not None, (name, created)
    assert items > 300


def _first_get(reference: Path, name: str) -> dict[str, Any]:
    """The body of the first GET of cassette `name`."""
    return next(
        json.loads(i["response"]["body"]["string"])
        for n, i in _interactions(reference / "cassettes")
        if n == name and i["request"]["method"] == "GET"
    )


def test_recorded_application_keys_scopes_and_leaks(reference_dir: Path) -> None:
    body = _first_get(reference_dir, "test_get_all_application_keys_returns_ok_response.yaml")
    rows = [parse_application_key(i, {}, listing="org", owner=None) for i in body["data"]]
    assert len(rows) == 100
    # 97 keys carry scopes: null and 3 a list (the cassette's README says so).
    assert sum(r["unscoped"] for r in rows) == 97
    assert sum(r["last_used_at"] is None for r in rows) == 39
    assert not any(r["leaked"] for r in rows)  # every key has leak_information.data null
    assert all(r["owner_id"] for r in rows)


def test_recorded_api_key_reads_both_last_use_fields(reference_dir: Path) -> None:
    body = _first_get(reference_dir, "test_get_all_api_keys_returns_ok_response.yaml")
    (item,) = body["data"]
    row = parse_api_key(item, {})
    assert row["date_last_used"] is None and row["created_by_id"] and not row["leaked"]
    assert row["last_used_date"] is None and row["used_in_last_24_hours"] is False
    # The same recorded item with a use only in the 90-day window object.
    item["attributes"]["last_used_date"]["timestamp"] = "2025-09-01T10:00:00.123456+00:00"
    assert parse_api_key(item, {})["last_used_date"] == datetime(2025, 9, 1, 10, 0, 0, 123456)
    assert parse_api_key(item, {})["date_last_used"] is None


def test_recorded_okta_domain_is_normalised(reference_dir: Path) -> None:
    body = _first_get(reference_dir, "test_list_okta_accounts_returns_ok_response.yaml")
    rows = [parse_okta_account(i) for i in body["data"]]
    assert rows and all(r["domain"] and not r["domain"].endswith("/") for r in rows)
    assert {r["auth_method"] for r in rows} == {"oauth"}


@pytest.mark.parametrize("value", [
    "2023-02-06T15:50:10.995740+00:00",
    "2026-03-13T15:14:35.12345Z",
    "2026-05-28T14:36:47.296135174Z",
    "2026-05-28T14:36:47Z",
])
def test_timestamps_of_every_recorded_shape_parse(value: str) -> None:
    parsed = parse_timestamp(value)
    assert parsed is not None and parsed.tzinfo is None
    assert parsed.strftime("%Y-%m-%dT%H:%M:%S").startswith(value[:19])
