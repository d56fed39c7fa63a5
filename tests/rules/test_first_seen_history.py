"""first_seen from finding_history: carried by primary key, reproducible, survives prune."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, select

from rules import Finding, RulePack
from scanner.ops.history import prune
from scanner.store.schema import finding_history, findings
from tests.rules.conftest import NOW, Snap

DAY = timedelta(days=1)


def _scan(engine: Engine, pack: RulePack, scan_id: str, started: datetime,
          *leaks: str) -> Snap:
    """A scan of one org without SAML (DDA-ORG-001) and the given leaked app keys."""
    snap = Snap(engine, pack, scan_id, started)
    t = snap.target(saml_enabled=False)
    for kid in leaks:
        snap.app_key(t, kid, leaked=True)
    return snap


def _seen(found: list[Finding]) -> dict[str, datetime]:
    """first_seen of the leaked-key and no-SAML findings, by resource id."""
    return {f.resource_id: f.first_seen for f in found
            if f.rule_id in ("DDA-KEY-007", "DDA-ORG-001")}


def _history(engine: Engine) -> dict[str, datetime]:
    with engine.connect() as conn:
        rows = conn.execute(select(finding_history.c.id, finding_history.c.first_seen))
        return {str(fid): first for fid, first in rows}


def test_re_evaluating_an_earlier_scan_gives_the_same_findings(engine: Engine,
                                                               pack: RulePack) -> None:
    s1 = _scan(engine, pack, "scan-1", NOW - DAY, "leak")
    s2 = _scan(engine, pack, "scan-2", NOW, "leak", "leak-new")
    first1 = list(s1.evaluate())
    first2 = list(s2.evaluate())
    assert _seen(first2) == {"pub-prod": NOW - DAY, "leak": NOW - DAY, "leak-new": NOW}
    assert list(s1.evaluate()) == first1  # the later scan's history does not leak back
    assert list(s2.evaluate()) == first2
    assert list(s1.evaluate()) == first1
    ids = {f.id: f.first_seen for f in first2 if f.status in ("open", "suppressed")}
    assert _history(engine) == ids  # one row per id, its earliest first_seen


def test_a_finding_that_disappears_and_comes_back_keeps_its_first_first_seen(
    engine: Engine, pack: RulePack,
) -> None:
    _scan(engine, pack, "scan-1", NOW - 2 * DAY, "leak").evaluate()
    gone = _scan(engine, pack, "scan-2", NOW - DAY).evaluate()
    assert "leak" not in _seen(list(gone))
    back = _scan(engine, pack, "scan-3", NOW, "leak").evaluate()
    assert _seen(list(back)) == {"pub-prod": NOW - 2 * DAY, "leak": NOW - 2 * DAY}


def test_an_older_scan_evaluated_late_lowers_the_history(engine: Engine,
                                                          pack: RulePack) -> None:
    s2 = _scan(engine, pack, "scan-2", NOW - DAY, "leak")
    assert _seen(list(s2.evaluate()))["leak"] == NOW - DAY
    s1 = _scan(engine, pack, "scan-1", NOW - 2 * DAY, "leak")
    assert _seen(list(s1.evaluate()))["leak"] == NOW - 2 * DAY  # the later one is no history
    s3 = _scan(engine, pack, "scan-3", NOW, "leak")
    assert _seen(list(s3.evaluate()))["leak"] == NOW - 2 * DAY
    assert list(s1.evaluate()) == list(s1.evaluate())


def test_history_outlives_pruned_scans(engine: Engine, pack: RulePack,
                                       tmp_path: Path) -> None:
    _scan(engine, pack, "scan-old", NOW - 30 * DAY, "leak").evaluate()
    _scan(engine, pack, "scan-mid", NOW - DAY).evaluate()  # the leak is gone for a day
    result = prune(engine, tmp_path, keep_days=7, now=NOW)
    assert result.scans == ["scan-old"]
    with engine.connect() as conn:
        assert conn.execute(select(findings.c.scan_id).distinct()).scalars().all() == [
            "scan-mid"]
    latest = _scan(engine, pack, "scan-new", NOW, "leak").evaluate()
    assert _seen(list(latest)) == {"pub-prod": NOW - 30 * DAY, "leak": NOW - 30 * DAY}


def test_not_assessed_findings_stay_out_of_the_history(
    engine: Engine, pack: RulePack,
) -> None:
    s1 = Snap(engine, pack, "scan-1", NOW - DAY)
    t1 = s1.target()
    s1.coverage(t1, "orgs", "forbidden")
    found = list(s1.evaluate())
    failing = {f.id: f.first_seen for f in found if f.status == "open"}
    assert failing and any(f.status == "not_assessed" for f in found)
    assert _history(engine) == failing  # DDA-SCAN-001 only: nothing not assessed
    s2 = _scan(engine, pack, "scan-2", NOW)
    org = [f for f in s2.evaluate() if f.rule_id == "DDA-ORG-001"]
    assert [(f.status, f.first_seen) for f in org] == [("open", NOW)]
    assert _history(engine)[org[0].id] == NOW
