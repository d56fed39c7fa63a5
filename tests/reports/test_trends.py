"""reports.trends: the window of scans, their counts per severity, coverage and org, the links."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine
from trend_seed import HISTORY, TARGETS, Night, insert_night

from reports.trends import load_trends, report_links
from rules.model import SEVERITIES
from scanner.errors import ConfigError
from scanner.store import lifecycle
from scanner.store.database import open_store
from scanner.store.schema import ENDPOINTS

N1, N2, N3, N4, N5, N6 = HISTORY


@pytest.fixture
def history(db_url: str) -> Iterator[Engine]:
    """HISTORY stored on each backend (no bundles written)."""
    engine = open_store(db_url)
    for night in HISTORY:
        insert_night(engine, night)
    yield engine
    engine.dispose()


def expected_open(night: Night, target: int | None = None) -> tuple[int, ...]:
    """Open findings per severity the night was seeded with (of one target, or all)."""
    return tuple(sum(n for (t, sev), n in night.open.items()
                     if sev == severity and target in (None, t)) for severity in SEVERITIES)


def test_the_window_is_the_finished_scans_up_to_the_scan(history: Engine) -> None:
    trends = load_trends(history, N5.id)
    finished = [N1, N2, N4, N5]  # N3 failed and N6 is still running: never drawn
    assert [p.id for p in trends.scans] == [n.id for n in finished]
    assert trends.current.id == N5.id
    for point, night in zip(trends.scans, finished, strict=True):
        assert point.open_by_severity == expected_open(night)  # suppressed, n/a not counted
        assert point.status == night.status and point.started_at == night.started_at
        total = len(ENDPOINTS) * len(night.targets)
        assert (point.coverage_complete, point.coverage_total) == (total - night.gaps, total)
    assert trends.scans[1].coverage_share == pytest.approx((12 - 2) / 12)
    # Nothing after the scan: N4's report draws N1, N2 and N4 only.
    assert [p.id for p in load_trends(history, N4.id).scans] == [N1.id, N2.id, N4.id]


def test_the_window_is_bounded(history: Engine) -> None:
    assert [p.id for p in load_trends(history, N5.id, limit=2).scans] == [N4.id, N5.id]
    later = [f"{datetime(2026, 12, 1) + timedelta(days=k):%Y%m%dT%H%M%SZ}-later"
             for k in range(33)]
    for scan_id in later:  # 33 more nights: the window holds the newest 30
        insert_night(history, Night(scan_id, open={(0, "low"): 1}))
    assert [p.id for p in load_trends(history, later[-1]).scans] == later[3:]


def test_the_scan_itself_is_drawn_even_before_it_finished(history: Engine) -> None:
    trends = load_trends(history, N6.id)
    assert [p.id for p in trends.scans] == [N1.id, N2.id, N4.id, N5.id, N6.id]
    assert trends.current.open_by_severity == expected_open(N6)


def test_one_line_per_org_of_the_scan_with_gaps_where_it_was_not_scanned(
    history: Engine,
) -> None:
    trends = load_trends(history, N5.id)
    assert [o.target for o in trends.orgs] == ["prod-us1", "prod-eu1"]  # by site, then org
    us, eu = trends.orgs
    assert (eu.site, eu.org_public_id, eu.org_name) == TARGETS[1][1:]
    assert us.open == tuple(sum(expected_open(n, 0)) for n in (N1, N2, N4, N5))
    assert eu.open == (sum(expected_open(N1, 1)), None, sum(expected_open(N4, 1)),
                       sum(expected_open(N5, 1)))
    assert (eu.earliest, eu.latest) == (eu.open[0], eu.open[-1])
    # An org the scan did not cover has no line, whatever the scans before it held.
    assert [o.target for o in load_trends(history, N2.id).orgs] == ["prod-us1"]


def test_links_reach_reported_scans_only(history: Engine) -> None:
    lifecycle.reported(history, N1.id)
    lifecycle.reported(history, N4.id)
    link = report_links(load_trends(history, N5.id))
    assert link(N5.id, "changes") == "#changes"  # the report's own section
    assert link(N4.id, "changes") == f"../{N4.id}/report.html#changes"
    assert link(N1.id, "coverage") == f"../{N1.id}/report.html#coverage"
    assert link(N2.id, "changes") is None  # no bundle was written for it


def test_an_unknown_scan_is_a_one_line_error(history: Engine) -> None:
    with pytest.raises(ConfigError, match="no scan 'nope' in the database"):
        load_trends(history, "nope")
