"""report.html: counts, partial banner, coverage highlighting, escaping and a strict CSP."""

from __future__ import annotations

import base64
import hashlib
import re
from html.parser import HTMLParser
from pathlib import Path

from report_seed import COVERAGE, HOSTILE, SCAN_ID, XSS_ATTR, XSS_SCRIPT, MakeStore, Seed
from sqlalchemy import Engine

from reports import write_reports

ALLOWED_TAGS = {
    "html", "head", "meta", "title", "style", "body", "header", "main", "footer", "section",
    "h1", "h2", "dl", "dt", "dd", "div", "ul", "li", "strong", "span", "code", "br", "time",
    "table", "caption", "thead", "tbody", "tfoot", "tr", "th", "td",
}


class _Tags(HTMLParser):
    """Collect the start tags, their attributes, and the text of every <caption>."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.captions: list[str] = []
        self._in_caption = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_caption = tag == "caption"

    def handle_endtag(self, tag: str) -> None:
        if tag == "caption":
            self._in_caption = False

    def handle_data(self, data: str) -> None:
        if self._in_caption:
            self.captions.append(data)


def _html(engine: Engine, out: Path) -> str:
    return write_reports(engine, SCAN_ID, out).read_text(encoding="utf-8")


def _parse(html: str) -> _Tags:
    parser = _Tags()
    parser.feed(html)
    parser.close()
    return parser


def _count(html: str, name: str) -> int:
    match = re.search(rf'id="count-{name}">(\d+)<', html)
    assert match is not None, name
    return int(match.group(1))


def test_counts_by_severity_and_status(store: Engine, tmp_path: Path) -> None:
    html = _html(store, tmp_path / "out")
    expected = {"critical": 1, "high": 2, "medium": 2, "low": 2, "info": 1}
    assert {name: _count(html, name) for name in expected} == expected
    assert _count(html, "open") == 8
    assert _count(html, "suppressed") == 1
    assert _count(html, "not-assessed") == 1


def test_partial_scan_shows_banner_and_highlights_coverage(store: Engine, tmp_path: Path) -> None:
    html = _html(store, tmp_path / "out")
    assert "PARTIAL SCAN" in html
    assert "(PARTIAL)</title>" in html
    assert "2 of 6 (target, endpoint) collections incomplete" in html
    assert "prod-eu1 / application_keys: forbidden" in html
    bad_rows = [a for t, a in _parse(html).tags if t == "tr" and a.get("class") == "cov-bad"]
    assert len(bad_rows) == 2
    assert "403 Forbidden: the key pair lacks org_app_keys_read" in html
    assert "Collection complete" not in html


def test_complete_scan_has_no_partial_banner(make_store: MakeStore, tmp_path: Path) -> None:
    complete = [{**c, "status": "complete", "error": None} for c in COVERAGE]
    html = _html(make_store(Seed(status="complete", coverage=complete)), tmp_path / "out")
    assert "PARTIAL" not in html
    assert "Collection complete: all 6 (target, endpoint) collections are complete." in html
    assert 'class="cov-bad"' not in html


def test_incomplete_coverage_never_looks_clean(make_store: MakeStore, tmp_path: Path) -> None:
    # The scan row says complete, but one endpoint was forbidden: still a partial banner.
    html = _html(make_store(Seed(status="complete")), tmp_path / "a")
    assert "PARTIAL SCAN" in html and "Collection complete" not in html
    # No coverage at all is no evidence of collection.
    html = _html(
        make_store(Seed(status="complete", coverage=[], findings=[]), name="empty"),
        tmp_path / "b",
    )
    assert "PARTIAL SCAN" in html and "no coverage was recorded" in html
    assert "No findings in the data that was collected" in html


def test_failed_scan_banner(make_store: MakeStore, tmp_path: Path) -> None:
    html = _html(make_store(Seed(status="failed")), tmp_path / "out")
    assert "FAILED SCAN" in html


def test_findings_table_content(store: Engine, tmp_path: Path) -> None:
    html = _html(store, tmp_path / "out")
    for text in (
        "DDA-KEY-007", "Title of DDA-KEY-007", "Acme Zürich Prod", "ci-deploy-key",
        "application_key", "2026-10-03T03:04:05Z", "reason: rotated by the CI vault job",
        "SOC2:CC6.3, NIST800-53:AC-6",
    ):
        assert text in html
    assert html.index("DDA-KEY-007") < html.index("DDA-ORG-001") < html.index("DDA-CUSTOM-001")


def test_structure_captions_and_no_external_content(store: Engine, tmp_path: Path) -> None:
    html = _html(store, tmp_path / "out")
    parsed = _parse(html)
    tags = [t for t, _ in parsed.tags]
    assert set(tags) <= ALLOWED_TAGS, set(tags) - ALLOWED_TAGS
    assert tags.count("table") == 4 and tags.count("caption") == 4
    assert any("Findings (10)" in c for c in parsed.captions)
    assert all(not a.get("src") and not a.get("href") for _, a in parsed.tags)
    assert "http://" not in html and "https://" not in html
    assert "url(" not in html and "@import" not in html


def test_strict_csp_matches_inline_style(store: Engine, tmp_path: Path) -> None:
    html = _html(store, tmp_path / "out")
    csp = [
        a["content"]
        for t, a in _parse(html).tags
        if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"
    ]
    assert len(csp) == 1 and csp[0] is not None
    policy = csp[0]
    assert policy.startswith("default-src 'none'; ")
    assert "unsafe" not in policy
    match = re.search(r"<style>(.*?)</style>", html, re.S)
    assert match is not None
    digest = base64.b64encode(hashlib.sha256(match.group(1).encode("utf-8")).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in policy
    assert ' style="' not in html  # inline style attributes would be blocked by the CSP


def test_hostile_names_are_escaped(hostile_store: Engine, tmp_path: Path) -> None:
    html = _html(hostile_store, tmp_path / "out")
    assert "<script" not in html.lower()
    assert "<img" not in html.lower()
    assert XSS_SCRIPT not in html and XSS_ATTR not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in html
    parsed = _parse(html)
    assert {t for t, _ in parsed.tags} <= ALLOWED_TAGS
    assert all(not any(k.startswith("on") for k in a) for _, a in parsed.tags)
    # The hostile names still reach the reader, as text.
    text_parser = _Text()
    text_parser.feed(html)
    assert HOSTILE in text_parser.text
    assert f"Key {HOSTILE} was last used never." in text_parser.text


class _Text(HTMLParser):
    """Concatenate the text of the document, entities decoded."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text = ""

    def handle_data(self, data: str) -> None:
        self.text += data
