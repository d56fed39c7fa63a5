"""The credential inventory: its rows, owner statuses, offboarding, CSV and report sections."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from report_seed import (
    ALICE,
    CREDENTIAL_FINDINGS,
    FINDINGS,
    FORMULA_NAME,
    SCAN_ID,
    SECOPS,
    MakeStore,
    Seed,
    insert_credentials,
)
from sqlalchemy import Engine

from reports import write_reports
from reports.credentials import COLUMNS, load_credentials, offboarding


def _engine(make_store: MakeStore) -> Engine:
    engine = make_store(Seed(findings=FINDINGS + CREDENTIAL_FINDINGS))
    insert_credentials(engine)
    return engine


def test_one_row_per_credential_sorted_with_owner_status(make_store: MakeStore) -> None:
    rows = load_credentials(_engine(make_store), SCAN_ID)
    got = [(c.target, c.kind, c.id, c.owner_status, c.scopes, c.privileged, c.open_findings)
           for c in rows]
    assert got == [
        ("prod-eu1", "api_key", "leaky", "unknown", "", False, ("fp-key007",)),
        ("prod-us1", "api_key", "api-1", "active", "", False, ()),
        ("prod-us1", "application_key", "key-open", "active", "unscoped", False, ()),
        ("prod-us1", "application_key", "key-b", "disabled", "2", True, ("fp-key001-us",)),
        ("prod-us1", "application_key", "key-ghost", "unknown", "1", False, ()),
        ("prod-us1", "personal_access_token", "pat-1", "disabled", "1", False, ("fp-tok001",)),
        ("prod-us1", "service_access_token", "sat-1", "service account disabled", "2", True,
         ()),
        ("prod-us1", "service_access_token", "sat-2", "active", "0", False, ()),
        ("prod-us1", "oauth_client", "oc-1", "none", "", False, ("fp-oauth001",)),
    ]
    by_id = {c.id: c for c in rows}
    assert by_id["leaky"].last_used is not None and by_id["leaky"].last_used.day == 1
    assert by_id["api-1"].last_used is not None and by_id["api-1"].last_used.day == 2
    assert by_id["pat-1"].expires is not None and by_id["sat-1"].expires is None
    assert by_id["oc-1"].name == "client-abc" and by_id["oc-1"].owner_id is None
    assert by_id["key-b"].owner_name == "Bob Departed" and by_id["key-b"].org_name


def test_owner_is_who_answers_as_for_findings(make_store: MakeStore) -> None:
    # An active person by e-mail; a departed, unknown or service-account holder and an
    # OAuth client: the target's configured owner (prod-us1's); prod-eu1 configures none.
    owners = {c.id: c.owner for c in load_credentials(_engine(make_store), SCAN_ID)}
    assert owners == {
        "key-open": ALICE, "api-1": ALICE,
        "key-b": SECOPS, "key-ghost": SECOPS, "pat-1": SECOPS, "sat-1": SECOPS,
        "sat-2": SECOPS, "oc-1": SECOPS,
        "leaky": None,
    }



def test_privileged_follows_the_given_permissions(make_store: MakeStore) -> None:
    engine = _engine(make_store)
    assert not any(c.privileged for c in load_credentials(engine, SCAN_ID, privileged=()))
    rows = load_credentials(engine, SCAN_ID, privileged=["dashboards_read"])
    assert {c.id for c in rows if c.privileged} == {"key-b", "key-ghost", "pat-1", "sat-1"}


def test_suppressed_findings_are_not_listed(make_store: MakeStore) -> None:
    engine = make_store()
    insert_credentials(engine)
    rows = load_credentials(engine, SCAN_ID)
    assert all("fp-key003" not in c.open_findings for c in rows)


def test_offboarding_lists_departed_owners_and_what_they_hold(make_store: MakeStore) -> None:
    held = offboarding(load_credentials(_engine(make_store), SCAN_ID))
    assert [(h.target, h.owner_id, h.owner_status, h.kind, h.count, h.names) for h in held] == [
        ("prod-eu1", "u-eu-gone", "unknown", "api_key", 1, (FORMULA_NAME,)),
        ("prod-us1", "u-bob", "disabled", "application_key", 1, ("bob-admin-key",)),
        ("prod-us1", "u-bob", "disabled", "personal_access_token", 1, ("bob-pat",)),
        ("prod-us1", "u-ghost", "unknown", "application_key", 1, ("ghost-key",)),
        ("prod-us1", "u-sa", "service account disabled", "service_access_token", 1,
         ("ci-sat",)),
    ]


def test_csv_listing_is_safe_and_deterministic(make_store: MakeStore, tmp_path: Path) -> None:
    engine = _engine(make_store)
    write_reports(engine, SCAN_ID, tmp_path / "a")
    write_reports(engine, SCAN_ID, tmp_path / "b")
    text = (tmp_path / "a/listings/credentials.csv").read_bytes()
    assert text == (tmp_path / "b/listings/credentials.csv").read_bytes()
    assert (tmp_path / "a/report.html").read_bytes() == (tmp_path / "b/report.html").read_bytes()
    rows = list(csv.reader(io.StringIO(text.decode("utf-8"), newline="")))
    assert tuple(rows[0]) == COLUMNS and len(rows) == 10
    leaky = dict(zip(COLUMNS, rows[1], strict=True))
    assert leaky["name"] == "'" + FORMULA_NAME  # a spreadsheet shows it, never runs it
    assert leaky["last_used"] == "2026-11-01T00:00:00Z" and leaky["open_findings"] == "fp-key007"
    assert text.endswith(b"\r\n")
    manifest = (tmp_path / "a/manifest.json").read_text()
    assert "listings/credentials.csv" in manifest


def test_report_has_credentials_and_offboarding(make_store: MakeStore, tmp_path: Path) -> None:
    html = write_reports(_engine(make_store), SCAN_ID, tmp_path / "out").read_text()
    assert '<section id="credentials">' in html and '<section id="offboarding">' in html
    assert html.count('<tr data-kind="') == 9
    assert "Bob Departed" in html and 'data-owner="service account disabled"' in html
    assert FORMULA_NAME.replace('"', "&#34;") in html


def test_no_credentials_gives_a_header_only_csv(store: Engine, tmp_path: Path) -> None:
    out = tmp_path / "out"
    html = write_reports(store, SCAN_ID, out).read_text()
    assert (out / "listings/credentials.csv").read_text().splitlines() == [",".join(COLUMNS)]
    assert "No credentials collected." in html and "No departed owner" in html
