"""The dedup rule on stored history, both backends: told once, again only after it resolved."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select

from reports.notify import Delivery, plan
from reports.notify.digest import Digest
from reports.notify.service import record
from scanner.config import Config
from scanner.config_notify import NotifySink
from scanner.errors import NothingToDoError
from scanner.store import schema
from scanner.store.database import open_store

T0 = datetime(2026, 11, 20, 2, 0, 0)
# (finding id, rule, target) of the findings the timeline moves around.
F, G, H = ("f", "DDA-KEY-001", "a"), ("g", "DDA-KEY-002", "a"), ("h", "DDA-KEY-003", "b")


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An empty store on SQLite, then PostgreSQL."""
    eng = open_store(db_url)
    yield eng
    eng.dispose()


class Timeline:
    """Scans stored one by one: each holds the findings given, with their first_seen."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.first_seen: dict[str, datetime] = {}
        self.day = 0

    def scan(self, status: str = "complete", *, open_: tuple[tuple[str, str, str], ...] = (),
             suppressed: tuple[tuple[str, str, str], ...] = (),
             unassessed: tuple[tuple[str, str], ...] = (), evaluated: bool = True) -> str:
        self.day += 1
        started = T0 + timedelta(days=self.day)
        scan_id = f"s{self.day}"
        rows = []
        for state, group in (("open", open_), ("suppressed", suppressed)):
            for fid, rule, target in group:
                first = self.first_seen.setdefault(fid, started)
                rows.append(self._row(scan_id, fid, rule, target, state, first))
        rows += [self._row(scan_id, f"na-{rule}-{target}", rule, target, "not_assessed", started)
                 for rule, target in unassessed]
        with self.engine.begin() as conn:
            conn.execute(schema.scans.insert().values(
                id=scan_id, started_at=started, finished_at=started + timedelta(minutes=5),
                status=status, tool_version="t",
                evaluated_at=started + timedelta(minutes=4) if evaluated else None))
            if rows:
                conn.execute(schema.findings.insert(), rows)
        return scan_id

    @staticmethod
    def _row(scan_id: str, fid: str, rule: str, target: str, status: str,
             first: datetime) -> dict[str, object]:
        return {"scan_id": scan_id, "id": fid, "rule_id": rule, "severity": "high",
                "status": status, "title": "t", "detail": "d", "site": "datadoghq.com",
                "org_public_id": f"org-{target}", "target": target,
                "resource_type": "api_key", "resource_id": fid, "first_seen": first,
                "controls": "[]"}


def _config(*sinks: NotifySink) -> Config:
    return Config(targets=(), notify=sinks or (NotifySink("webhook", "hook"),))


def _send(engine: Engine, config: Config, scan_id: str) -> list[Digest]:
    """Plan, then record every due digest as delivered (what a successful send writes)."""
    digests = plan(engine, config, scan_id)
    record(engine, digests, [
        Delivery(d.sink.name, d.sink.kind, "sent" if d.due else "skipped", 1, d.events,
                 len(d.new), len(d.regressed)) for d in digests])
    return digests


def _told(digest: Digest) -> tuple[tuple[str, ...], set[str], set[str]]:
    return digest.events, {i.id for i in digest.new}, {i.id for i in digest.regressed}


def test_announced_once_a_partial_night_resolves_nothing_a_return_is_regressed(
        engine: Engine) -> None:
    t, config = Timeline(engine), _config()
    s1 = t.scan(open_=(F, G))
    assert _told(_send(engine, config, s1)[0]) == (("new",), {"f", "g"}, set())
    s2 = t.scan("partial", open_=(G,), unassessed=(("DDA-KEY-001", "a"),))
    assert _told(_send(engine, config, s2)[0]) == (("partial",), set(), set())
    s3 = t.scan(open_=(F,), suppressed=(H,))  # g resolved; f was only not assessed
    assert _told(_send(engine, config, s3)[0]) == ((), set(), set())
    s4 = t.scan(open_=(F, G, H))  # g came back; h's suppression expired: new to the sink
    assert _told(_send(engine, config, s4)[0]) == (("new", "regressed"), {"h"}, {"g"})
    s5 = t.scan(open_=(F, G, H))
    assert _told(_send(engine, config, s5)[0]) == ((), set(), set())
    # Re-sending an older scan: the ledger is ahead of it, nothing is announced again.
    assert _told(plan(engine, config, s4)[0]) == ((), set(), set())
    assert _told(plan(engine, config, s2)[0]) == ((), set(), set())  # partial: once


def test_a_suppressed_night_is_no_resolution_and_a_failed_scan_is_told_once(
        engine: Engine) -> None:
    t, config = Timeline(engine), _config()
    _send(engine, config, t.scan(open_=(F,)))
    _send(engine, config, t.scan(suppressed=(F,)))
    assert _told(_send(engine, config, t.scan(open_=(F,)))[0]) == ((), set(), set())
    failed = t.scan("failed", open_=(G,))  # what a failed scan stored is not announced
    assert _told(_send(engine, config, failed)[0]) == (("failed",), set(), set())
    assert _told(plan(engine, config, failed)[0]) == ((), set(), set())


def test_each_sink_keeps_its_own_ledger_and_events(engine: Engine) -> None:
    t = Timeline(engine)
    everything = NotifySink("webhook", "all")
    regressions = NotifySink("slack", "back", on=frozenset({"regressed"}))
    news = NotifySink("email", "news", on=frozenset({"new"}))
    config = _config(everything, regressions, news)
    first = _send(engine, config, t.scan(open_=(F,)))
    assert [_told(d) for d in first] == [(("new",), {"f"}, set()), ((), set(), set()),
                                         (("new",), {"f"}, set())]
    _send(engine, config, t.scan())  # f resolved
    back = _send(engine, config, t.scan(open_=(F,)))
    assert [_told(d) for d in back] == [(("regressed",), set(), {"f"}),
                                        (("regressed",), set(), {"f"}), ((), set(), set())]
    later = _send(engine, config, t.scan(open_=(F,)))
    assert [d.due for d in later] == [False, False, False]


def test_a_dry_run_plan_writes_nothing(engine: Engine) -> None:
    t, config = Timeline(engine), _config()
    scan_id = t.scan(open_=(F, G))
    assert _told(plan(engine, config, scan_id)[0])[1] == {"f", "g"}
    with engine.connect() as conn:
        counts = [conn.execute(select(func.count()).select_from(table)).scalar_one()
                  for table in (schema.notify_ledger, schema.notify_deliveries)]
    assert counts == [0, 0]
    assert _told(_send(engine, config, scan_id)[0])[1] == {"f", "g"}  # still all to tell


def test_a_scan_collected_but_not_evaluated_is_refused_and_judges_nothing(
        engine: Engine) -> None:
    t, config = Timeline(engine), _config()
    _send(engine, config, t.scan(open_=(F,)))
    bare = t.scan(evaluated=False)  # collected only: no findings, which is no "resolved"
    with pytest.raises(NothingToDoError, match=f"run 'ddaudit evaluate --scan {bare}'"):
        plan(engine, config, bare)
    assert _told(_send(engine, config, t.scan(open_=(F,)))[0]) == ((), set(), set())
