"""The bundle streams: one read of the findings feeds every file; memory does not grow with them."""

from __future__ import annotations

import json
import re
import tracemalloc
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from report_seed import OTHER_SCAN_ID, SCAN_ID, MakeStore, Seed, insert_credentials, insert_seed
from sqlalchemy import Engine, event, insert

from reports import write_reports
from reports.bundle import load_input, write_bundle
from reports.diff import Sample, diff_reports
from reports.formats import FORMATS, RowRenderer
from reports.load import load_scan
from reports.stream import StoredFindings
from reports.verdicts import flagged
from rules.model import SEVERITIES
from scanner.store.database import open_store
from scanner.store.schema import findings

RULES = ("DDA-KEY-001", "DDA-KEY-003", "DDA-ORG-001", "DDA-USR-002")


def _many(engine: Engine, n: int, scan_id: str = SCAN_ID, start: int = 0) -> None:
    """`n` findings over a fixed set of rules, orgs and owners (only their number grows)."""
    rows = [{
        "scan_id": scan_id, "id": f"many-{i:07d}", "rule_id": RULES[i % len(RULES)],
        "severity": SEVERITIES[i % 4], "status": "suppressed" if i % 9 == 0 else "open",
        "title": f"Title of {RULES[i % len(RULES)]}",
        "detail": f"Key key-{i:07d} of service account sa-{i % 13} was last used {i} days ago.",
        "site": "datadoghq.com", "org_public_id": "abc123", "org_name": "Acme",
        "target": "prod-us1", "resource_type": "application_key",
        "resource_id": f"{i * 7919 % 1000003:07d}", "resource_name": f"key-{i:07d}",
        "first_seen": datetime(2026, 1, 1) + timedelta(days=i % 200),
        "controls": json.dumps(["SOC2:CC6.3", "NIST800-53:AC-2"]),
        "suppression": json.dumps({"rule": "*", "resource": "*", "reason": "accepted",
                                   "owner": "secops@example.com", "expires": "2027-01-01"})
        if i % 9 == 0 else None,
        "owner": f"owner-{i % 5}@example.com",
    } for i in range(start, start + n)]
    with engine.begin() as conn:
        conn.execute(insert(findings), rows)


def test_one_read_of_the_findings_feeds_every_file(make_store: MakeStore, tmp_path: Path) -> None:
    engine = make_store()
    _many(engine, 300)
    _many(engine, 200, OTHER_SCAN_ID, start=100)  # an earlier scan: new and resolved ones
    reads: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if re.search(r"FROM findings\s+WHERE findings\.scan_id = \S+\s+ORDER BY", statement):
            reads.append(statement)  # every finding of a scan, in report order

    write_reports(engine, SCAN_ID, tmp_path / "out" / SCAN_ID)
    # Once, with each finding's verdict against the earlier scan (new, changed).
    assert len(reads) == 1 and "ddaudit_new" in reads[0], reads
    out = tmp_path / "out" / SCAN_ID
    document = json.loads((out / "findings.json").read_text())
    assert len(document["findings"]) == 310
    assert len((out / "findings.ocsf.jsonl").read_text().splitlines()) == 310


def _peak(engine: Engine, out: Path) -> int:
    write_reports(engine, SCAN_ID, out / "warm" / SCAN_ID)  # imports, templates, caches
    tracemalloc.start()
    try:
        write_reports(engine, SCAN_ID, out / "measured" / SCAN_ID)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.slow
def test_memory_does_not_grow_with_the_findings(make_store: MakeStore, tmp_path: Path) -> None:
    """4 times the findings, the same peak: nothing holds them (held, 1,800 more findings
    would take some 4 MB: objects, their rendered text in five formats)."""
    small, large = make_store(Seed(findings=[]), name="small"), make_store(
        Seed(findings=[]), name="large")
    _many(small, 600)
    _many(large, 2400)
    grown = _peak(large, tmp_path / "large") - _peak(small, tmp_path / "small")
    assert grown < 1_000_000, f"peak grew by {grown / 1e6:.1f} MB"


def test_stored_findings_are_a_sequence_read_on_demand(store: Engine) -> None:
    stored = load_scan(store, SCAN_ID).findings
    every = list(stored)
    assert len(stored) == len(every) == 10
    assert stored == every and stored[3] == every[3] and stored[-1] == every[-1]
    assert stored[2:5] == every[2:5] and stored[8:100] == every[8:] and stored[5:2] == []
    assert stored[::3] == every[::3]
    with pytest.raises(IndexError):
        stored[10]
    assert [f.sort_key for f in every] == sorted(f.sort_key for f in every)
    open_ones = stored.where(findings.c.status == "open")
    assert list(open_ones) == [f for f in every if f.status == "open"]
    assert len(open_ones) == sum(1 for f in every if f.status == "open")
    summary = stored.summary()
    assert summary.total == 10
    assert summary.count_by("rule_id", "status") == {
        k: sum(1 for f in every if (f.rule_id, f.status) == k)
        for k in {(f.rule_id, f.status) for f in every}}
    assert stored.owners() == {f.owner for f in every}
    assert StoredFindings(store, "no-such-scan") == []


def test_flags_say_what_the_diff_says(make_store: MakeStore) -> None:
    engine = make_store(Seed(findings=[]))
    _many(engine, 40)
    _many(engine, 30, OTHER_SCAN_ID, start=25)  # 25..39 shared, 40..54 gone
    with engine.begin() as conn:  # one shared finding was suppressed before, is open now
        conn.execute(findings.update().where(findings.c.scan_id == OTHER_SCAN_ID,
                                             findings.c.id == "many-0000030")
                     .values(status="suppressed"))
    before, after = load_scan(engine, OTHER_SCAN_ID), load_scan(engine, SCAN_ID)
    diff = diff_reports(before, after)
    rows = list(flagged(after.findings, OTHER_SCAN_ID))
    assert [r.finding for r in rows] == list(after.findings)
    assert [r.finding for r in rows if r.new] == list(diff.new)
    assert [r.finding for r in rows if r.changed] == [c.after for c in diff.changed]
    assert [c.after.id for c in diff.changed] == ["many-0000030"]
    assert len(diff.new) == 25 and len(diff.resolved) == 15 and not diff.unassessed
    assert diff.changed[0].before.status != diff.changed[0].after.status
    assert all(r.new and not r.changed for r in flagged(after.findings, None))


def test_a_sample_has_the_whole_length_and_the_first_items() -> None:
    sample = Sample(["a", "b"], 7)
    assert len(sample) == 7 and bool(sample) and list(sample) == ["a", "b"]
    assert sample[:100] == ("a", "b") and sample[1] == "b"
    assert not Sample([], 0)



def test_the_bundle_is_the_same_bytes_on_both_databases(db_url: str, tmp_path: Path) -> None:
    """Every file streams in the database's order: code points on SQLite and PostgreSQL."""
    def bundle(url: str, out: Path) -> dict[str, bytes]:
        engine = open_store(url)
        try:
            insert_seed(engine, Seed())
            insert_credentials(engine)
            _many(engine, 60)
            with engine.begin() as conn:  # ids and names whose order depends on collation
                for fid, rid, name in [("many-0000001", "BÉ-key", "Zoë"),
                                       ("many-0000005", "bÉ-key", "zoe"),
                                       ("many-0000009", "É-key", "ärger"),
                                       ("many-0000013", "a-key", "Ärger")]:
                    conn.execute(findings.update().where(findings.c.id == fid).values(
                        resource_id=rid, resource_name=name, owner=name))
            write_reports(engine, SCAN_ID, out / SCAN_ID)
        finally:
            engine.dispose()
        return {p.relative_to(out).as_posix(): p.read_bytes()
                for p in sorted(out.rglob("*")) if p.is_file()}

    reference = bundle(f"sqlite:///{tmp_path / 'reference.db'}", tmp_path / "sqlite")
    assert bundle(db_url, tmp_path / "other") == reference


def test_a_row_renderer_alone_writes_what_the_bundle_writes(
    store: Engine, tmp_path: Path
) -> None:
    out = tmp_path / "out" / SCAN_ID
    inp = load_input(store, SCAN_ID, out)
    written = write_bundle(inp, out)
    phase = {path: r.phase for r in FORMATS for path in r.paths(inp)}
    row_renderers = [r for r in FORMATS if isinstance(r, RowRenderer)]
    assert {r.name for r in row_renderers} == {"findings-json", "findings-csv", "ocsf", "html",
                                               "oscal"}
    for renderer in row_renderers:  # each shown what the phases before its own wrote
        before = inp.after({p: w for p, w in written.items() if phase[p] < renderer.phase})
        alone = b"".join(renderer.render(renderer.path, before))
        assert alone == (out / renderer.path).read_bytes(), renderer.name
