"""<output>/index.html: which scans it lists, from where, and how it is written."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
import stat
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import pytest
from report_seed import SCAN_ID
from sqlalchemy import Engine, create_engine
from trend_seed import HISTORY, TARGETS, run_history

from reports.diff import diff_scans
from reports.index_page import index_rows, refresh_index, render_index, write_index
from rules.model import SEVERITIES
from scanner.config import Config
from scanner.pipeline import RuleStage
from scanner.store import lifecycle
from scanner.store.database import open_store

N1, N2, N3, N4, N5, N6 = HISTORY


@pytest.fixture
def history(tmp_path: Path) -> Iterator[tuple[Engine, Path]]:
    """HISTORY run night by night into `out/`, bundles and index.html written."""
    engine = open_store(f"sqlite:///{tmp_path / 'history.db'}")
    run_history(engine, tmp_path / "out")
    yield engine, tmp_path / "out"
    engine.dispose()


def test_every_scan_newest_first_with_the_counts_and_changes_of_its_bundle(
    history: tuple[Engine, Path],
) -> None:
    engine, out = history
    rows = index_rows(out, engine)
    assert [r.id for r in rows] == [n.id for n in reversed(HISTORY)]
    by_id = {r.id: r for r in rows}
    for night in (N1, N2, N4, N5):
        row = by_id[night.id]
        run = json.loads((out / night.id / "run.json").read_text())["results"]
        assert row.open_by_severity == tuple(run["open_by_severity"][s] for s in SEVERITIES)
        assert row.open_total == sum(n for (_, _), n in night.open.items())
        assert (row.status, row.report, row.note) == (
            night.status, f"{night.id}/report.html", "")
    # The changes are those `ddaudit diff` finds between each scan and the one before it.
    for before, after in ((N1, N2), (N2, N4), (N4, N5)):
        diff = diff_scans(engine, before.id, after.id)
        assert (by_id[after.id].new, by_id[after.id].resolved) == (
            len(diff.new), len(diff.resolved))
    assert (by_id[N1.id].new, by_id[N1.id].resolved) == (None, None)  # nothing before it
    for night in (N3, N6):  # failed, running: in the database, no bundle
        row = by_id[night.id]
        assert (row.status, row.report, row.open_by_severity) == (night.status, None, None)
        assert row.note == "no bundle in this folder"


def test_a_pruned_scans_bundle_is_listed_from_its_run_json(
    history: tuple[Engine, Path],
) -> None:
    engine, out = history
    with engine.begin() as conn:
        lifecycle.remove(conn, [N1.id])  # its rows only: the folder stays
    row = next(r for r in index_rows(out, engine) if r.id == N1.id)
    assert (row.status, row.started_at, row.report) == (
        "complete", N1.started_at, f"{N1.id}/report.html")
    assert row.open_total == sum(N1.open.values())
    assert row.note.startswith("not in the database")


def test_what_is_not_a_scan_bundle_is_left_out(history: tuple[Engine, Path]) -> None:
    engine, out = history
    (out / "notes").mkdir()  # neither in the database nor holding a bundle
    (out / ".staging").mkdir()
    (out / ".staging" / "run.json").write_text((out / N1.id / "run.json").read_text())
    (out / "linked").symlink_to(out / N1.id, target_is_directory=True)
    (out / "ddaudit.db").write_text("")
    (out / "orphan").mkdir()
    (out / "orphan" / "report.html").write_text("<!DOCTYPE html>")
    (out / N4.id / "run.json").write_text("{not json")
    rows = {r.id: r for r in index_rows(out, engine)}
    assert set(rows) == {n.id for n in HISTORY} | {"orphan"}
    assert rows["orphan"].report == "orphan/report.html" and rows["orphan"].status == "unknown"
    assert rows["orphan"].note == ("not in the database (pruned, or another database's scan); "
                                   "no readable run.json: counts unknown")
    assert rows[N4.id].open_by_severity is None and rows[N4.id].status == "complete"
    assert rows[N4.id].note == "no readable run.json: counts unknown"


def test_the_page_links_each_report_and_draws_the_latest_trend(
    history: tuple[Engine, Path],
) -> None:
    engine, out = history
    html = (out / "index.html").read_text(encoding="utf-8")
    assert html == render_index(out, engine)  # rewritten after the last night
    assert re.findall(r'<tr data-scan="([^"]+)">', html) == [n.id for n in reversed(HISTORY)]
    assert [h for h in re.findall(r'href="([^"#]+)"', html)] == [
        f"{n.id}/report.html" for n in (N5, N4, N2, N1)]
    assert f"up to scan <code>{N5.id}</code>" in html  # N6 is running: not the latest
    assert html.count('class="tr-series ') == len(SEVERITIES)
    assert html.count("<svg ") == 2 + len(TARGETS)  # two charts and one line per org
    assert f'href="{N4.id}/report.html#changes"' in html


def test_a_strict_policy_and_no_script(history: tuple[Engine, Path]) -> None:
    _, out = history
    html = (out / "index.html").read_text(encoding="utf-8")
    policy = [unescape(p) for p in
              re.findall(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html)]
    assert len(policy) == 1 and "unsafe" not in policy[0]
    assert "default-src 'none'" in policy[0] and "script-src 'none'" in policy[0]
    for style in re.findall(r"<style>(.*?)</style>", html, re.S):
        digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in policy[0]
    assert "<script" not in html and ' style="' not in html


def test_written_atomically_owner_only(history: tuple[Engine, Path]) -> None:
    engine, out = history
    assert write_index(out, engine) == out / "index.html"
    assert stat.S_IMODE((out / "index.html").stat().st_mode) == 0o600
    assert not [p.name for p in out.iterdir() if p.name.startswith(".index.html")]


def test_a_failure_warns_and_keeps_the_previous_page(
    history: tuple[Engine, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    _, out = history
    before = (out / "index.html").read_bytes()
    broken = create_engine(f"sqlite:///{tmp_path / 'missing' / 'no.db'}")
    with caplog.at_level(logging.WARNING, logger="reports.index_page"):
        assert refresh_index(out, broken) is None
    assert (out / "index.html").read_bytes() == before
    assert "could not rewrite" in caplog.text and "StoreError" in caplog.text
    assert refresh_index(tmp_path / "nowhere", broken) is None  # no folder: nothing to index
    assert not (tmp_path / "nowhere").exists()


def test_writing_a_scans_report_rewrites_the_index(store: Engine, tmp_path: Path) -> None:
    out = tmp_path / "out"
    config = Config(targets=(), output=out)
    assert RuleStage.from_config(config).report(config, store, SCAN_ID) == \
        out / SCAN_ID / "report.html"
    html = (out / "index.html").read_text(encoding="utf-8")
    assert f'<a href="{SCAN_ID}/report.html"><code>{SCAN_ID}</code></a>' in html
    assert f'href="{SCAN_ID}/report.html#changes"' in html  # its point in the chart


def test_folder_names_stay_text(history: tuple[Engine, Path]) -> None:
    engine, out = history
    hostile = "\"><img src=x onerror=alert(1)> & 'x'"
    (out / hostile).mkdir()
    (out / hostile / "report.html").write_text("<!DOCTYPE html>")
    html = render_index(out, engine)
    assert "<img" not in html and hostile not in html
    assert 'href="%22%3E%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E%20%26%20%27x%27/' \
        'report.html"' in html
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt; &amp; &#39;x&#39;" in html
