"""Findings written by SQLite itself (INSERT ... SELECT) equal the streamed ones, row for row."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

import rules.evaluate
from rules import RulePack, RuleSettings, evaluate_scan, load_rulepack
from rules.loader import PACK_DIR
from rules.suppressions import Suppression, Suppressions
from scanner.errors import RuleError
from scanner.store.schema import findings
from tests.rules.conftest import NOW, Snap
from tests.rules.test_pack_matrix import _estate

# A custom rule whose condition returns values of every kind SQLite has, in the key columns
# and in the detail: what Python's str() and render_value() make of them is the reference.
ODD_RULE = """\
id: ACME-ODD-001
title: Odd values
severity: low
resource_type: [org, api_key]
description: Values of every kind.
rationale: The SQLite path must render them as Python does.
remediation: None.
controls:
  SOC2: [CC6.1]
inputs: [orgs]
detail: >
  {value:none} / {resource_name} / {resource_id} / {limit_days} days
parameters:
  limit_days: 7
condition: |
  WITH v (n, value) AS (VALUES
    (1, NULL), (2, 1.5), (3, 42), (4, X'00ff'), (5, '2026-11-20 01:02:03.000000'),
    (6, '2026-11-20T01:02:03'), (7, '٢٠٢٦-١١-٢٠ ٠١:٠٢:٠٣'), (8, 'abcd-efgh'), (9, 'ab'),
    (10, ''), (11, 'ključ 🔑'), (12, :now), (13, 2.0), (14, 1e300), (15, 0.1))
  SELECT t.site, t.target, CASE WHEN v.n = 3 THEN 77 ELSE t.org_public_id END AS org_public_id,
         CASE WHEN v.n = 4 THEN 'api_key' ELSE 'org' END AS resource_type,
         CASE WHEN v.n = 2 THEN 2.5 WHEN v.n = 3 THEN v.n ELSE 'r' || v.n END AS resource_id,
         CASE WHEN v.n = 1 THEN NULL ELSE v.value END AS resource_name, v.value
  FROM targets t CROSS JOIN v
  WHERE t.scan_id = :scan_id AND :limit_days > 0
"""


def _rows(engine: Engine, scan_id: str) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        query = select(findings).where(findings.c.scan_id == scan_id).order_by(findings.c.id)
        return [tuple(row) for row in conn.execute(query)]


def _streamed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The ids of the rules the engine streams from now on, as it streams them."""
    streamed: list[str] = []
    stream = rules.evaluate._stream

    def spy(conn: Any, rule: Any, *args: Any) -> None:
        streamed.append(rule.id)
        stream(conn, rule, *args)

    monkeypatch.setattr(rules.evaluate, "_stream", spy)
    return streamed


def _both_ways(engine: Engine, monkeypatch: pytest.MonkeyPatch,
               evaluate: Callable[[], object], scan_id: str) -> list[tuple[Any, ...]]:
    """Evaluate in SQLite, then streamed: the rows must be the same; return them."""
    with monkeypatch.context() as patch:
        streamed = _streamed(patch)
        evaluate()
        assert streamed == []
    in_sqlite = _rows(engine, scan_id)
    with monkeypatch.context() as patch:
        patch.setattr(rules.evaluate, "IN_SQLITE", False)
        evaluate()
    assert _rows(engine, scan_id) == in_sqlite
    return in_sqlite


def test_every_rule_writes_the_same_rows_either_way(sqlite_engine: Engine, pack: RulePack,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole pack over the matrix estate, then a day later with history to carry."""
    first = Snap(sqlite_engine, pack, "scan-1", NOW - timedelta(days=1))
    _estate(first)
    rows = _both_ways(sqlite_engine, monkeypatch, first.evaluate, "scan-1")
    assert len({row[2] for row in rows}) == len(pack.rules) - 1  # all but DDA-SCAN-001
    second = Snap(sqlite_engine, pack, "scan-2", NOW)
    a, _, _ = _estate(second)
    second.target("a-again", org="pub-a", uuid="u-a")  # a duplicate target of org a
    second.coverage(a, "okta_accounts", "forbidden")
    later = _both_ways(sqlite_engine, monkeypatch, second.evaluate, "scan-2")
    carried = [row for row in later if row[4] == "open"]
    assert carried and {row[14] for row in carried} <= {NOW - timedelta(days=1), NOW}
    assert any(row[14] == NOW - timedelta(days=1) for row in carried)


def _custom(tmp_path: Path, text: str) -> RulePack:
    folder = tmp_path / "custom"
    folder.mkdir(exist_ok=True)
    rule_id = text.split("\n", 1)[0].removeprefix("id: ")
    (folder / f"{rule_id}.yaml").write_text(text, encoding="utf-8")
    return load_rulepack([folder])


def test_odd_values_render_as_python_renders_them(sqlite_engine: Engine, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    pack = _custom(tmp_path, ODD_RULE)
    snap = Snap(sqlite_engine, pack, "scan-1", NOW)
    snap.target("a", org="pub-a")
    only = RuleSettings(disabled=frozenset(r.id for r in pack.rules if r.id != "ACME-ODD-001"))
    rows = _both_ways(sqlite_engine, monkeypatch,
                      lambda: evaluate_scan(sqlite_engine, "scan-1", pack, only), "scan-1")
    detail = {row[12]: row[6] for row in rows}
    assert detail["r1"] == "none / None / r1 / 7 days".replace(" None ", " unknown ")
    assert detail["2.5"] == "1.5 / 1.5 / 2.5 / 7 days"
    assert detail["3"] == "42 / 42 / 3 / 7 days"
    assert detail["r4"] == r"b'\x00\xff' / b'\x00\xff' / r4 / 7 days"
    assert detail["r5"].startswith("2026-11-20 / 2026-11-20 /")
    assert detail["r6"].startswith("2026-11-20 / 2026-11-20 /")
    assert detail["r7"].startswith("٢٠٢٦-١١-٢٠ / ")  # Python's \d takes any digit
    assert detail["r8"].startswith("abcd-efgh / abcd-efgh /")
    assert detail["r10"].startswith(" /  / r10")
    assert detail["r11"].startswith("ključ 🔑 / ")
    assert detail["r12"].startswith(f"{NOW:%Y-%m-%d} / ")
    assert detail["r13"].startswith("2.0 / 2.0 /") and detail["r14"].startswith("1e+300 /")
    assert detail["r15"].startswith("0.1 / 0.1 /")
    by_id = {row[12]: row for row in rows}
    assert by_id["3"][8] == "77" and by_id["r4"][11] == "api_key"  # org and type as text


def test_a_resource_type_the_rule_does_not_declare_stops_either_way(
        sqlite_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pack = _custom(tmp_path, ODD_RULE.replace("[org, api_key]", "org"))
    snap = Snap(sqlite_engine, pack, "scan-1", NOW)
    snap.target("a", org="pub-a")
    for in_sqlite in (True, False):
        monkeypatch.setattr(rules.evaluate, "IN_SQLITE", in_sqlite)
        with pytest.raises(RuleError, match="returned resource_type 'api_key', not one of org"):
            snap.evaluate()


def test_a_condition_that_is_no_subquery_is_streamed(sqlite_engine: Engine, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A trailing ';' (fine on its own, not inside parentheses) falls back to streaming."""
    text = (PACK_DIR / "DDA-KEY-007.yaml").read_text(encoding="utf-8")
    pack = _custom(tmp_path, text.replace("DDA-KEY-007", "ACME-KEY-007").rstrip() + ";\n")
    snap = Snap(sqlite_engine, pack, "scan-1", NOW)
    t = snap.target("a", org="pub-a")
    snap.app_key(t, "k-leak", leaked=True)
    streamed = _streamed(monkeypatch)
    found = snap.evaluate()
    assert streamed == ["ACME-KEY-007"]
    assert snap.hits(found, "ACME-KEY-007") == snap.hits(found, "DDA-KEY-007") == {"k-leak"}


def test_a_rule_a_suppression_may_touch_is_streamed_and_suppressed(
        sqlite_engine: Engine, pack: RulePack, monkeypatch: pytest.MonkeyPatch) -> None:
    snap = Snap(sqlite_engine, pack, "scan-1", NOW)
    t = snap.target("a", org="pub-a")
    snap.app_key(t, "k-leak", leaked=True)
    snap.app_key(t, "k-leak2", leaked=True)
    entry = Suppression(index=1, rule="DDA-KEY-007", resource="k-leak", site=None, org=None,
                        reason="rotated", owner="sec", ticket=None,
                        expires=(NOW + timedelta(days=30)).date())
    streamed = _streamed(monkeypatch)
    found = snap.evaluate(suppressions=Suppressions(entries=(entry,)))
    assert streamed == ["DDA-KEY-007"]
    status = {f.resource_id: f.status for f in found if f.rule_id == "DDA-KEY-007"}
    assert status == {"k-leak": "suppressed", "k-leak2": "open"}
