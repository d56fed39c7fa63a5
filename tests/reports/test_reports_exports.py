"""The exports: findings.csv, OCSF 1.5 events, OSCAL 1.2.1 (schema-valid), populations, run.json."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import regex
from report_seed import (
    ALICE,
    CREDENTIAL_FINDINGS,
    EXPECTED_FINDING_ORDER,
    FINDINGS,
    SCAN_ID,
    TEAM_EU,
    MakeStore,
    Seed,
    finding_id,
)
from sqlalchemy import Engine, insert

from reports import write_reports
from reports.ocsf import owner_user
from reports.oscal import nist_control_id
from scanner.store.schema import application_keys, users

FORMULA = "=HYPERLINK(\"http://evil\",\"x\")"


def _bundle(engine: Engine, out: Path) -> Path:
    write_reports(engine, SCAN_ID, out)
    return out


# --- findings.csv ---------------------------------------------------------------------------

def test_csv_has_one_row_per_finding_in_report_order(store: Engine, tmp_path: Path) -> None:
    raw = (_bundle(store, tmp_path / "out") / "findings.csv").read_bytes()
    assert raw.count(b"\r\n") == 11  # header + 10 rows, RFC 4180 line ends
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8"), newline="")))
    assert [r["id"] for r in rows] == [finding_id(k) for k in EXPECTED_FINDING_ORDER]
    key003 = next(r for r in rows if r["rule_id"] == "DDA-KEY-003")
    assert key003["suppression_owner"] == "secops@example.com"
    assert key003["controls"] == "SOC2:CC6.3;NIST800-53:AC-6"
    assert list(rows[0])[-1] == "owner" and key003["owner"] == ALICE  # the last column
    assert next(r for r in rows if r["id"] == finding_id("custom-info"))["owner"] == ""
    assert next(r for r in rows if r["id"] == finding_id("org005-none"))["org_public_id"] == ""


def test_csv_defuses_spreadsheet_formulas(make_store: MakeStore, tmp_path: Path) -> None:
    engine = make_store(Seed(resource_name=FORMULA, detail="@SUM(1+1)"))
    rows = list(csv.DictReader(io.StringIO(
        (_bundle(engine, tmp_path / "out") / "findings.csv").read_text(encoding="utf-8"),
        newline="")))
    assert all(r["resource_name"] == "'" + FORMULA for r in rows)
    assert all(r["detail"] == "'@SUM(1+1)" for r in rows)


# --- findings.ocsf.jsonl --------------------------------------------------------------------

def _ocsf(out: Path) -> list[dict[str, Any]]:
    lines = (out / "findings.ocsf.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def _ms(value: datetime) -> int:
    return round(value.timestamp() * 1000)


def test_ocsf_events_are_compliance_findings(store: Engine, tmp_path: Path) -> None:
    events = _ocsf(_bundle(store, tmp_path / "out"))
    assert len(events) == 10
    started_ms = _ms(datetime(2026, 11, 21, 2, 0, 0, 123000, tzinfo=UTC))
    for e in events:
        assert (e["class_uid"], e["category_uid"], e["metadata"]["version"]) == (2003, 2, "1.5.0")
        assert e["type_uid"] == 2003 * 100 + e["activity_id"]
        assert e["time"] == started_ms and isinstance(e["finding_info"]["first_seen_time"], int)
    by_id = {e["finding_info"]["uid"]: e for e in events}
    leaked = by_id[finding_id("key007")]
    assert (leaked["severity_id"], leaked["status_id"]) == (5, 1)  # critical, New
    assert (leaked["compliance"]["status_id"], leaked["compliance"]["status"]) == (3, "Fail")
    assert leaked["remediation"]["desc"]
    assert leaked["finding_info"]["title"] == "Title of DDA-KEY-007"
    suppressed = by_id[finding_id("key003")]
    assert (suppressed["status_id"], suppressed["compliance"]["status_id"]) == (3, 3)
    assert "rotated by the CI vault job" in suppressed["status_detail"]
    not_assessed = by_id[finding_id("key004-na")]
    assert not_assessed["compliance"]["status_id"] == 0 and not_assessed["status_id"] == 99
    first_seen = datetime(2026, 10, 3, 3, 4, 5, 678000, tzinfo=UTC)  # the seed's 3rd finding
    assert leaked["finding_info"]["first_seen_time"] == _ms(first_seen)
    assert leaked["compliance"]["standards"] == ["NIST800-53", "SOC2"]
    # The owner: resources[].owner, an OCSF User; left out where nobody is named.
    assert leaked["resources"][0]["owner"] == {"name": TEAM_EU, "email_addr": TEAM_EU}
    assert "owner" not in by_id[finding_id("custom-info")]["resources"][0]


def test_ocsf_owner_is_a_user_with_an_email_only_where_it_is_one() -> None:
    assert owner_user("groups=platform-eng") == {"name": "groups=platform-eng"}
    assert owner_user("Partner Admin") == {"name": "Partner Admin"}
    assert owner_user("a.b@corp.example") == {"name": "a.b@corp.example",
                                              "email_addr": "a.b@corp.example"}


# --- assessment-results.json (OSCAL) --------------------------------------------------------

def _regex_pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[Any]:
    if isinstance(instance, str) and not regex.search(pattern, instance):
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


@pytest.fixture(scope="module")
def oscal_validator(reference_dir: Path) -> Any:
    schema = json.loads(
        (reference_dir / "oscal/oscal_assessment-results_schema.json").read_text()
    )
    cls = jsonschema.validators.extend(jsonschema.Draft7Validator, {"pattern": _regex_pattern})
    return cls(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)


def _walk(node: Any) -> Iterator[Any]:
    yield node
    children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
    for child in children:
        yield from _walk(child)


def _oscal(out: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((out / "assessment-results.json").read_text())
    return data


@pytest.mark.parametrize("hostile", [False, True])
def test_oscal_validates_against_the_nist_schema(
    make_store: MakeStore, hostile_store: Engine, tmp_path: Path, oscal_validator: Any,
    hostile: bool,
) -> None:
    engine = hostile_store if hostile else make_store()
    doc = _oscal(_bundle(engine, tmp_path / "out"))
    errors = sorted(oscal_validator.iter_errors(doc), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]
    assert all(node != [] for node in _walk(doc))  # leave keys out rather than emit []


def test_token_and_oauth_findings_export_to_ocsf_and_valid_oscal(
    make_store: MakeStore, tmp_path: Path, oscal_validator: Any
) -> None:
    engine = make_store(Seed(findings=FINDINGS + CREDENTIAL_FINDINGS))
    out = _bundle(engine, tmp_path / "out")
    doc = _oscal(out)
    errors = sorted(oscal_validator.iter_errors(doc), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]
    types = {e["finding_info"]["uid"]: e["resources"][0]["type"] for e in _ocsf(out)}
    assert types[finding_id("tok001")] == "access_token"
    assert types[finding_id("oauth001")] == "oauth_client"
    text = json.dumps(doc)
    assert '"value": "access_token"' in text and '"value": "oauth_client"' in text


def test_oscal_findings_per_nist_control_and_not_assessed_as_observations(
    store: Engine, tmp_path: Path
) -> None:
    doc = _oscal(_bundle(store, tmp_path / "out"))["assessment-results"]
    (result,) = doc["results"]
    states = {f["target"]["target-id"]: f["target"]["status"]["state"] for f in result["findings"]}
    assert states["ia-5_obj"] == "not-satisfied"  # DDA-KEY-001 / -007 open
    assert states["ia-2.1_obj"] == "satisfied"  # DDA-ORG-002 evaluated, nothing found
    assert "ac-6.5_obj" not in states  # DDA-KEY-004 not assessed: observation only
    assert all(t == t.lower() for t in states)
    observations = {o["uuid"]: o for o in result["observations"]}
    na = [o for o in observations.values()
          if {"name": "finding-status", "ns": "urn:ddaudit:oscal", "value": "not-assessed"}
          in o["props"]]
    assert len(na) == 1 and "types" not in na[0]
    related = {r["observation-uuid"] for f in result["findings"]
               for r in f["related-observations"]}
    assert related <= set(observations)
    selected = {c["control-id"] for c in
                result["reviewed-controls"]["control-selections"][0]["include-controls"]}
    assert {"ac-6.5", "ia-5", "ac-2.3"} <= selected


def test_oscal_ids_are_uuid5_and_stable(store: Engine, tmp_path: Path) -> None:
    a = _oscal(_bundle(store, tmp_path / "a"))
    b = _oscal(_bundle(store, tmp_path / "b"))
    assert a == b
    ids = [n["uuid"] for n in _walk(a) if isinstance(n, dict) and "uuid" in n]
    assert len(ids) == len(set(ids)) > 20
    assert all(uuid.UUID(i).version == 5 for i in ids)


def test_oscal_back_matter_hashes_the_evidence(store: Engine, tmp_path: Path) -> None:
    out = _bundle(store, tmp_path / "out")
    resources = _oscal(out)["assessment-results"]["back-matter"]["resources"]
    hashed = {r["rlinks"][0]["href"]: r["rlinks"][0]["hashes"][0]["value"]
              for r in resources if "rlinks" in r}
    assert {"findings.json", "report.html", "run.json", "listings/users.csv"} <= set(hashed)
    for name, digest in hashed.items():
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == digest


def test_nist_control_ids() -> None:
    assert nist_control_id("AC-6(5)") == "ac-6.5"
    assert nist_control_id("IA-5") == "ia-5"
    assert nist_control_id("CC6.1") is None


# --- population.json, listings, run.json ----------------------------------------------------

def _add_population(engine: Engine) -> None:
    base = {"scan_id": SCAN_ID, "target": "prod-us1", "site": "datadoghq.com",
            "org_public_id": "abc123"}
    with engine.begin() as conn:
        conn.execute(insert(users), [
            {**base, "id": "u2", "name": "robot", "service_account": True, "created_at": None},
            {**base, "id": "u1", "name": "alice", "service_account": False,
             "created_at": datetime(2025, 1, 2, 3, 4, 5)},
            {**base, "scan_id": "other", "id": "u9", "name": "other scan",
             "service_account": False, "created_at": None},
        ])
        conn.execute(insert(application_keys), [
            {**base, "id": "k1", "name": FORMULA, "owner_id": "u2", "unscoped": True,
             "leaked": False, "listing": "org", "raw": '{"secret-ish": "never listed"}'},
        ])


def test_listings_hold_every_population_sorted_and_safe(store: Engine, tmp_path: Path) -> None:
    _add_population(store)
    out = _bundle(store, tmp_path / "out")
    users_csv = list(csv.reader(io.StringIO((out / "listings/users.csv").read_text(), newline="")))
    assert users_csv[0][:5] == ["target", "site", "org_public_id", "id", "uuid"]
    assert [r[3] for r in users_csv[1:]] == ["u1", "u2"]  # sorted; other scans left out
    assert "2025-01-02T03:04:05Z" in users_csv[1]
    sa = (out / "listings/service_accounts.csv").read_text().splitlines()
    assert len(sa) == 2 and ",u2," in sa[1]
    keys = (out / "listings/application_keys.csv").read_text()
    assert "'=HYPERLINK" in keys and "never listed" not in keys and ",true," in keys
    population = json.loads((out / "population.json").read_text())
    listed = {x["type"]: x for x in population["listings"]}
    assert listed["users"] == {"type": "users", "file": "listings/users.csv", "rows": 2}
    assert all((out / x["file"]).is_file() for x in population["listings"])
    us1 = next(t for t in population["targets"] if t["target"] == "prod-us1")
    assert us1["complete"] is False
    assert {e["endpoint"]: e["status"] for e in us1["endpoints"]}["application_keys"] == "partial"


def test_run_json_records_provenance_without_secrets(store: Engine, tmp_path: Path) -> None:
    run = json.loads((_bundle(store, tmp_path / "out") / "run.json").read_text())
    assert run["schema"] == "ddaudit.run/1"
    assert run["scan"]["started_at"] == "2026-11-21T02:00:00Z"
    assert run["scan"]["duration_seconds"] == 450.877
    assert run["rulepack"]["sha256"] == "f" * 64 and run["config"]["sha256"] == "c" * 64
    assert run["rulepack"]["metadata_matches_scan"] is False  # the seed's pack hash is fake
    assert [t["target"] for t in run["scope"]["targets"]] == ["prod-eu1", "prod-us1"]
    assert run["previous_scan"] == "20261120T020000Z-000000"
    assert run["results"]["open"] == 8 and run["tool"]["version"] == "0.1.0"
