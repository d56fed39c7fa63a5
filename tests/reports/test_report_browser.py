"""report.html in a real browser: no console error, no request, working filters, CSP."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from browser import browser, unavailable_reason
from report_seed import (
    CREDENTIAL_FINDINGS,
    FINDINGS,
    HOSTILE,
    SCAN_ID,
    Seed,
    insert_credentials,
    insert_seed,
)

from reports import write_reports
from scanner.demo import run_demo
from scanner.store.database import open_store

pytestmark = pytest.mark.slow

_REASON = unavailable_reason()
if _REASON is not None:
    pytest.skip(f"BROWSER TESTS SKIPPED: {_REASON}", allow_module_level=True)


@dataclass
class Visit:
    """One page load with everything it logged and asked the network for."""

    page: Any
    console_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


@pytest.fixture(scope="module")
def chromium(demo_report: Path) -> Iterator[Any]:
    # After the demo: playwright's sync API keeps an event loop running in this thread,
    # and the demo's scan needs asyncio.run().
    with browser() as instance:
        yield instance


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report of `ddaudit demo`, scanned twice so it has a previous scan to compare."""
    out = tmp_path_factory.mktemp("demo")
    run_demo(out)
    outcome = run_demo(out)
    assert outcome.report is not None
    return outcome.report


@pytest.fixture
def visit(chromium: Any) -> Iterator[Any]:
    contexts: list[Any] = []

    def open_page(path: Path, *, javascript: bool = True) -> Visit:
        context = chromium.new_context(java_script_enabled=javascript)
        contexts.append(context)
        page = context.new_page()
        seen = Visit(page)
        page.on("console", lambda m: seen.console_errors.append(m.text)
                if m.type == "error" else None)
        page.on("pageerror", lambda e: seen.console_errors.append(str(e)))
        page.on("request", lambda r: seen.requests.append(r.url))
        page.on("dialog", lambda d: (seen.dialogs.append(d.message), d.dismiss()))
        page.on("requestfailed", lambda r: seen.failed.__setitem__(r.url, r.failure or ""))
        page.goto(path.resolve().as_uri(), wait_until="load")
        return seen

    yield open_page
    for context in contexts:
        context.close()


def _until(page: Any, condition: str, timeout: float = 5.0) -> None:
    """Poll a JS condition from outside the page (the page's CSP forbids eval)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(condition):
        assert time.monotonic() < deadline, f"timed out waiting for {condition}"
        page.wait_for_timeout(20)


def _rows(page: Any) -> int:
    return int(page.locator("#explorer-rows tr").count())


def _matching(page: Any) -> int:
    return int(page.evaluate("window.ddauditExplorer.matched()"))


def test_demo_report_loads_clean_and_offline(visit: Any, demo_report: Path) -> None:
    seen = visit(demo_report)
    page = seen.page
    assert seen.console_errors == []
    assert seen.requests == [demo_report.resolve().as_uri()]  # the file itself, nothing else
    assert page.locator("#explorer-ui").is_visible()
    total = _matching(page)
    assert total > 0 and _rows(page) == min(total, 100)
    assert "matching findings" in page.locator("#explorer-count").inner_text()
    assert page.locator("#summary").is_visible() and page.locator("#rules section").count() >= 28


def test_filters_search_and_sort_change_the_rows(visit: Any, demo_report: Path) -> None:
    page = visit(demo_report).page
    total = _matching(page)
    page.select_option("#f-severity", label=_label(page, "#f-severity", "critical"))
    critical = _matching(page)
    assert 0 < critical < total
    badges = page.locator("#explorer-rows tr td:first-child .badge").all_inner_texts()
    assert badges and set(badges) == {"critical"}
    page.click("#f-reset")
    assert _matching(page) == total
    # Free-text search on a resource name taken from the page itself.
    name = page.locator("#explorer-rows tr").nth(3).locator("td").nth(6).locator(
        "code").inner_text()
    page.fill("#f-search", name)
    _until(page, f"window.ddauditExplorer.matched() < {total}")
    rows = page.locator("#explorer-rows tr").all_inner_texts()
    assert rows and all(name.lower() in r.lower() for r in rows)
    page.fill("#f-search", "no-such-thing-anywhere-\u2603")
    _until(page, "window.ddauditExplorer.matched() === 0")
    assert "No finding matches" in page.locator("#explorer-count").inner_text()
    page.click("#f-reset")
    page.select_option("#f-sort", "rule")
    rules = page.locator("#explorer-rows tr td:nth-child(3) code").all_inner_texts()
    assert rules == sorted(rules) and _matching(page) == total
    if total > 100:
        page.click("#p-next")
        assert "Showing 101" in page.locator("#explorer-count").inner_text()
    else:
        assert page.locator("#p-next").is_disabled()


def _label(page: Any, select: str, prefix: str) -> str:
    labels = page.locator(f"{select} option").all_inner_texts()
    return str(next(label for label in labels if label.startswith(prefix)))


def test_csp_blocks_an_injected_inline_script(
    visit: Any, demo_report: Path, tmp_path: Path
) -> None:
    html = demo_report.read_text(encoding="utf-8")
    injected = html.replace(
        "</footer>",
        "</footer><script>window.__pwned = 1; document.title = 'pwned';</script>"
        "<img src=x onerror=\"window.__pwned = 2\">", 1,
    )
    path = tmp_path / "report.html"
    path.write_text(injected, encoding="utf-8")
    seen = visit(path)
    page = seen.page
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.title() != "pwned"
    assert any("Content Security Policy" in e for e in seen.console_errors)
    # img-src 'none': the planted image is refused before it reaches any network.
    others = [u for u in seen.requests if u != path.resolve().as_uri()]
    assert all("csp" in seen.failed.get(u, "").lower() for u in others), seen.failed
    assert _matching(page) > 0  # our own hashed script still runs


def test_hostile_names_stay_text_in_the_browser(visit: Any, tmp_path: Path) -> None:
    engine = open_store(f"sqlite:///{tmp_path / 'hostile.db'}")
    insert_seed(engine, Seed(org_names=(HOSTILE, HOSTILE), resource_name=HOSTILE,
                             detail=f"Key {HOSTILE} detail."))
    report = write_reports(engine, SCAN_ID, tmp_path / "out")
    engine.dispose()
    seen = visit(report)
    page = seen.page
    assert seen.dialogs == [] and seen.console_errors == []
    assert page.locator("img").count() == 0
    assert page.locator("script").count() == 2
    assert HOSTILE in page.locator("#explorer-rows").inner_text()
    page.fill("#f-search", "<script>")
    _until(page, "window.ddauditExplorer.matched() === 10")


def test_report_reads_with_javascript_off(visit: Any, demo_report: Path) -> None:
    page = visit(demo_report, javascript=False).page
    assert page.locator("#summary").is_visible() and page.locator("#coverage").is_visible()
    assert page.locator("#rules section").first.is_visible()
    assert not page.locator("#explorer-ui").is_visible()
    assert "needs JavaScript" in page.locator("#explorer").inner_text()


def test_credentials_filter_and_offboarding(visit: Any, tmp_path: Path) -> None:
    engine = open_store(f"sqlite:///{tmp_path / 'creds.db'}")
    insert_seed(engine, Seed(findings=FINDINGS + CREDENTIAL_FINDINGS))
    insert_credentials(engine)
    report = write_reports(engine, SCAN_ID, tmp_path / "out")
    engine.dispose()
    seen = visit(report)
    page = seen.page
    assert seen.console_errors == [] and seen.requests == [report.resolve().as_uri()]
    assert page.locator("#credentials").is_visible() and page.locator("#cred-ui").is_visible()
    visible = page.locator("#cred-rows tr:visible")
    assert visible.count() == 9
    assert "9 of 9 credentials" in page.locator("#cred-count").inner_text()
    page.select_option("#c-kind", "service_access_token")
    assert visible.count() == 2
    assert set(page.locator("#cred-rows tr:visible td:nth-child(4)").all_inner_texts()) \
        == {"service access token"}
    page.select_option("#c-priv", "yes")
    assert visible.count() == 1 and "ci-sat" in visible.first.inner_text()
    page.click("#c-reset")
    page.select_option("#c-owner", "unknown")
    assert visible.count() == 2
    page.click("#c-reset")
    assert visible.count() == 9
    offboarding = page.locator("#offboarding-table tbody").inner_text()
    assert "Bob Departed" in offboarding and "u-ghost" in offboarding
    assert seen.console_errors == []


def test_owner_filter_and_the_by_owner_links(visit: Any, demo_report: Path) -> None:
    seen = visit(demo_report)
    page = seen.page
    total = _matching(page)
    label = _label(page, "#f-owner", "secops-")  # a target's configured owner, "(n)" after
    owner, count = label.rsplit(" (", 1)
    page.select_option("#f-owner", label=label)
    assert _matching(page) == int(count.rstrip(")")) < total
    owners = page.locator("#explorer-rows tr td:nth-child(8)").all_inner_texts()
    assert owners and set(owners) == {owner}
    page.click("#f-reset")
    page.select_option("#f-owner", label=_label(page, "#f-owner", "no owner"))
    assert set(page.locator("#explorer-rows tr td:nth-child(8)").all_inner_texts()) == {
        "no owner"}
    # A "By owner" row opens that owner's findings: at least its open ones.
    first = page.locator("#owner-table tbody tr").first
    name, opened = first.locator("td").first.inner_text(), int(
        first.locator("td").last.inner_text())
    first.locator("a.explore-owner").click()
    assert _matching(page) >= opened > 0
    assert set(page.locator("#explorer-rows tr td:nth-child(8)").all_inner_texts()) == {name}
    assert seen.console_errors == []


def _data(page: Any) -> dict[str, Any]:
    data: dict[str, Any] = page.evaluate(
        "JSON.parse(document.getElementById('findings-data').textContent)")
    return data


# What each sort orders by (report.html's explorer); ties keep the report order.
SORT_KEYS: dict[str, Any] = {
    "rule": lambda d, r: d["rule"][r[2]],
    "site": lambda d, r: d["site"][r[3]] + "\x01" + d["org"][r[4]],
    "resource": lambda d, r: (r[8] or r[7]).lower(),
    "owner": lambda d, r: ("no owner" if d["owner"][r[12]] is None else d["owner"][r[12]]).lower(),
    "oldest": lambda d, r: r[10],
    "newest": lambda d, r: r[10],
}


@pytest.mark.parametrize("sort", ["severity", *SORT_KEYS])
def test_each_sort_orders_every_finding(visit: Any, demo_report: Path, sort: str) -> None:
    page = visit(demo_report).page
    data = _data(page)
    rows = data["rows"]
    order = list(range(len(rows)))
    if sort in SORT_KEYS:
        key = SORT_KEYS[sort]
        order = sorted(order, key=lambda i: key(data, rows[i]), reverse=sort == "newest")
    page.select_option("#f-sort", sort)
    shown: list[str] = []
    while True:  # every page: the whole order, not only its start
        shown += page.locator("#explorer-rows tr td:nth-child(7) code").all_inner_texts()
        if page.locator("#p-next").is_disabled():
            break
        page.click("#p-next")
    assert shown == [rows[i][7] for i in order]


def test_filters_combine_over_the_sorted_rows(visit: Any, demo_report: Path) -> None:
    page = visit(demo_report).page
    data = _data(page)
    rows = data["rows"]
    page.check("#f-new")
    assert _matching(page) == sum(1 for r in rows if r[11])
    page.click("#f-reset")
    status = data["status"].index("open")
    page.select_option("#f-status", str(status))
    page.select_option("#f-sort", "owner")
    page.fill("#f-search", "KEY")

    def text(r: list[Any]) -> str:  # what the search looks through, as the page joins it
        owner = "no owner" if data["owner"][r[12]] is None else data["owner"][r[12]]
        return "\x01".join([data["rule"][r[2]], data["title"][r[2]], data["site"][r[3]],
                            data["org"][r[4]], data["target"][r[5]], data["rtype"][r[6]],
                            r[7], r[8], r[9], owner]).lower()

    expected = sum(1 for r in rows if r[1] == status and "key" in text(r))
    _until(page, f"window.ddauditExplorer.matched() === {expected}")
    assert 0 < expected < sum(1 for r in rows if r[1] == status)
    owners = page.locator("#explorer-rows tr td:nth-child(8)").all_inner_texts()
    assert [o.lower() for o in owners] == sorted(o.lower() for o in owners)
    assert _rows(page) == min(expected, 100)


def test_long_sections_render_when_reached(visit: Any, demo_report: Path) -> None:
    """The long sections are laid out lazily (content-visibility), yet in the accessibility
    tree from the start, and shown when reached."""
    page = visit(demo_report).page
    tree = page.locator("#coverage").aria_snapshot()  # far below the fold, not laid out yet
    assert "Collection per target and endpoint" in tree and tree.count("- row") > 10
    for section in ("#rules", "#coverage", "#scope"):
        page.locator(section).scroll_into_view_if_needed()
        _until(page, f"document.querySelector('{section}').innerText.trim() !== ''")
    assert "Collection per target and endpoint" in page.locator("#coverage").inner_text()
    assert page.locator("#coverage tbody tr").first.is_visible()
