"""Suppressions: loading and validation, applying to findings, expired and unused entries."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from reports.context import build_context
from reports.diff import diff_reports
from reports.load import load_scan, load_suppression_usage
from rules import RuleSettings, evaluate_scan
from rules.suppressions import (
    SuppressionTracker,
    SuppressionUsage,
    describe_usage,
    load_suppressions,
)
from scanner.errors import ConfigError

GOOD = """
- rule: DDA-KEY-00[37]
  resource: "ci-*"
  reason: rotated by the CI vault job
  owner: secops@example.com
  ticket: SEC-1234
  expires: 2027-03-31
- rule: DDA-ORG-*
  resource: "Org prod"
  org: pub-*
  site: datadoghq.com
  reason: accepted risk
  owner: grc@example.com
  expires: "2026-12-01"
- rule: DDA-KEY-001
  resource: "*"
  reason: old decision
  owner: someone@example.com
  expires: 2026-01-01
- rule: DDA-MAP-*
  resource: "*"
  reason: nothing to match
  owner: someone@example.com
  expires: 2030-01-01
"""


def _write(tmp_path, text):
    path = tmp_path / "suppressions.yaml"
    path.write_text(text)
    return path


def test_apply_expired_and_unused(snap, tmp_path):
    sup = load_suppressions(_write(tmp_path, GOOD))
    assert [e.expires for e in sup.entries][:2] == [date(2027, 3, 31), date(2026, 12, 1)]
    t = snap.target(saml_enabled=False)
    snap.app_key(t, "ci-deploy", leaked=True, created=snap.ago(400), last_used=snap.ago(100))
    snap.app_key(t, "human-key", leaked=True)
    result = evaluate_scan(snap.engine, snap.scan_id, snap.pack, RuleSettings(), sup)
    found = list(result)
    status = {(f.rule_id, f.resource_id): f.status for f in found}
    assert status[("DDA-KEY-007", "ci-deploy")] == "suppressed"
    assert status[("DDA-KEY-003", "ci-deploy")] == "suppressed"
    assert status[("DDA-KEY-001", "ci-deploy")] == "open"  # its entry has expired
    assert status[("DDA-KEY-007", "human-key")] == "open"
    assert status[("DDA-ORG-001", "pub-prod")] == "suppressed"  # matched by org name
    f = next(f for f in found if f.rule_id == "DDA-KEY-007" and f.status == "suppressed")
    assert f.suppression == {"rule": "DDA-KEY-00[37]", "resource": "ci-*",
                             "reason": "rotated by the CI vault job",
                             "owner": "secops@example.com", "expires": "2027-03-31",
                             "ticket": "SEC-1234"}
    usage = result.suppression_usage
    assert [e.index for e in usage.expired] == [3]
    assert [e.index for e in usage.unused] == [4]
    assert [e.index for e in usage.active] == [1, 2] and usage.matches == {1: 2, 2: 1}
    again = snap.evaluate(suppressions=sup)
    assert again == found


def test_site_glob_must_match(snap, tmp_path):
    sup = load_suppressions(_write(tmp_path, """
- {rule: DDA-ORG-001, resource: "*", site: datadoghq.eu, reason: r, owner: o,
   expires: 2030-01-01}
"""))
    snap.target(saml_enabled=False)
    result = evaluate_scan(snap.engine, snap.scan_id, snap.pack, RuleSettings(), sup)
    assert snap.hits(list(result), "DDA-ORG-001") == {"pub-prod"}
    assert [e.index for e in result.suppression_usage.unused] == [1]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- {rule: X, resource: y, reason: r, owner: o}", "entry 1: 'expires' is required"),
        ("- {rule: X, resource: y, reason: r, owner: o, expires: soon}",
         "entry 1: 'expires' must be a date"),
        ("- {rule: X, resource: y, reason: r, owner: o, expires: 2030-01-01, tiket: T}",
         "entry 1: unknown key 'tiket'"),
        ("rule: X", "must be a list of entries"),
        ("- {rule: X, resource: y, reason: r, owner: o, expires: 2030-01-01}\n- just text",
         "entry 2 must be a mapping"),
        ("- [unclosed", "cannot read suppressions: expected ',' or ']', but got "
         "'<stream end>' at line 1, column 12 (while parsing a flow sequence started at "
         "line 1, column 3); fix the YAML syntax between line 1, column 3 and line 1, "
         "column 12"),
        ("- rule: X\n  resource: a: b", "cannot read suppressions: mapping values are not "
         "allowed here at line 2, column 14; fix the YAML syntax at line 2, column 14"),
    ],
)
def test_malformed_file_names_file_and_entry(tmp_path, text, message):
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_suppressions(path)
    assert str(err.value).startswith(str(path))
    assert message in str(err.value)


def test_empty_file(tmp_path):
    assert load_suppressions(_write(tmp_path, "")).entries == ()


def test_shadowed_entry_counts_as_used_and_not_assessed_never_matches(snap, tmp_path):
    sup = load_suppressions(_write(tmp_path, """
- {rule: "DDA-KEY-*", resource: "*", reason: broad, owner: o, expires: 2030-01-01}
- {rule: DDA-KEY-007, resource: leak, reason: narrow, owner: o, expires: 2030-01-01}
- {rule: DDA-KEY-004, resource: "*", reason: only not assessed, owner: o,
   expires: 2030-01-01}
"""))
    t = snap.target()
    snap.app_key(t, "leak", leaked=True)
    snap.coverage(t, "users", "forbidden")  # DDA-KEY-004 is not assessed
    result = evaluate_scan(snap.engine, snap.scan_id, snap.pack, RuleSettings(), sup)
    found = list(result)
    leak = next(f for f in found if f.rule_id == "DDA-KEY-007")
    assert leak.status == "suppressed" and leak.suppression["reason"] == "broad"
    key4 = [f for f in found if f.rule_id == "DDA-KEY-004"]
    assert [(f.status, f.suppression) for f in key4] == [("not_assessed", None)]
    usage = result.suppression_usage
    assert [e.index for e in usage.active] == [1, 2]  # entry 2 matched too, behind entry 1
    assert [e.index for e in usage.unused] == [3] and usage.path == sup.path
    # A report of a scan evaluated before its usage was stored matches the file against
    # the stored findings: the same entries, states and counts as the evaluation's own.
    report = load_scan(snap.engine, snap.scan_id)
    diff = diff_reports(None, report)
    recorded = build_context(report, diff, pack=snap.pack, suppressions=None,
                             recorded=load_suppression_usage(snap.engine, snap.scan_id))
    fallback = build_context(report, diff, pack=snap.pack, suppressions=sup, recorded=None)
    assert fallback.suppressions == recorded.suppressions
    assert [(e.state, e.matched) for e in fallback.suppressions] == [
        ("active", 1), ("active", 1), ("unused", 0)]
    assert fallback.suppression_usage_known and recorded.suppression_usage_known


def test_describe_usage_lines(tmp_path):
    sup = load_suppressions(_write(tmp_path, GOOD))
    usage = SuppressionTracker(sup, datetime(2026, 11, 21)).usage()
    path = tmp_path / "suppressions.yaml"
    assert describe_usage(usage) == [
        f"{path}: entry 3 (rule DDA-KEY-001, resource *) expired on 2026-01-01 and no longer "
        "applies; renew or remove it (owner someone@example.com)",
        *(f"{path}: entry {i} (rule {r}, resource {res}) matched no finding; remove it or "
          f"correct its patterns (owner {o})"
          for i, r, res, o in [(1, "DDA-KEY-00[37]", "ci-*", "secops@example.com"),
                               (2, "DDA-ORG-*", "Org prod", "grc@example.com"),
                               (4, "DDA-MAP-*", "*", "someone@example.com")]),
    ]
    assert describe_usage(SuppressionUsage()) == []
    assert describe_usage(SuppressionTracker(None, datetime(2026, 11, 21)).usage()) == []
