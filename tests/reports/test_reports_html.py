"""report.html: summary, changes, rules, controls, suppressions, escaping and a strict CSP."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from report_seed import COVERAGE, HOSTILE, SCAN_ID, XSS_ATTR, XSS_SCRIPT, MakeStore, Seed
from sqlalchemy import Engine

import rules
from reports import write_reports
from rules.suppressions import load_suppressions

ALLOWED_TAGS = {
    "html", "head", "meta", "title", "style", "body", "header", "main", "footer", "section",
    "h1", "h2", "dl", "dt", "dd", "div", "ul", "li", "strong", "span", "code", "br", "time",
    "table", "caption", "thead", "tbody", "tfoot", "tr", "th", "td",
    "nav", "a", "p", "h3", "noscript", "label", "select", "option", "input", "button", "script",
    # the Trends section: figures of server-drawn SVG, their data tables behind <details>
    "figure", "figcaption", "details", "summary", "svg", "desc", "g", "line", "polyline",
    "circle", "rect", "text",
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
    assert len(bad_rows) == 2 + 2  # two coverage rows, and both orgs in the summary
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


def test_rule_sections_carry_pack_metadata_and_findings(store: Engine, tmp_path: Path) -> None:
    html = _html(store, tmp_path / "out")
    text = _text(html)
    pack = rules.load_rulepack()
    for rule in pack.rules:  # every rule of the pack has its section, even without findings
        assert f'id="rule-{rule.id}"' in html
    key001 = pack.get("DDA-KEY-001")
    section = html[html.index('id="rule-DDA-KEY-001"'):html.index('id="rule-DDA-KEY-002"')]
    section_text = _text(section)
    assert " ".join(key001.rationale.split()) in " ".join(section_text.split())
    assert " ".join(key001.remediation.split()) in " ".join(section_text.split())
    assert "NIST800-53:AC-2(3)" in section_text and "2 open, 0 suppressed" in section_text
    # A rule only known from its findings (custom) still gets a section with its title.
    assert 'id="rule-DDA-CUSTOM-001"' in html and "Title of DDA-CUSTOM-001" in text
    for needle in ("Acme Zürich Prod", "ci-deploy-key", "2026-10-03T03:04:05Z",
                   "reason: rotated by the CI vault job"):
        assert needle in text
    # Most severe rules first.
    assert html.index('id="rule-DDA-KEY-007"') < html.index('id="rule-DDA-ORG-001"')
    assert html.index('id="rule-DDA-ORG-001"') < html.index('id="rule-DDA-CUSTOM-001"')


def test_controls_view_takes_the_worst_rule_status(store: Engine, tmp_path: Path) -> None:
    html = _html(store, tmp_path / "out")
    controls = html[html.index('<section id="controls">'):html.index('<section id="suppressions">')]
    rows = {m.group(1): m.group(2) for m in re.finditer(
        r'<th scope="row">([^<]+)</th><td><span class="badge rs-([a-z-]+)">', controls)}
    assert rows["IA-5"] == "fail"  # DDA-KEY-001 and -007 are open
    assert rows["AC-6(5)"] == "not-assessed"  # DDA-KEY-004 not assessed, nothing open
    assert rows["IA-2(1)"] == "pass"  # DDA-ORG-002: evaluated, no finding
    for framework in ("SOC2", "ISO27001", "NIST800-53", "CIS8"):
        assert f"<caption>{framework}</caption>" in controls


def test_summary_counts_changes_since_previous_scan(
    make_store: MakeStore, tmp_path: Path
) -> None:
    html = _html(make_store(), tmp_path / "out")
    # The older scan holds one finding that is gone now: resolved (its rule was assessed).
    assert re.search(r'id="diff-new">10<', html) and re.search(r'id="diff-resolved">1<', html)
    assert "Compared with" in html and "20261120T020000Z-000000" in html


def test_suppressions_without_the_file_show_what_findings_carry(
    store: Engine, tmp_path: Path
) -> None:
    html = _html(store, tmp_path / "out")
    section = html[html.index('<section id="suppressions">'):html.index('<section id="coverage">')]
    assert "badge sp-active" in section and "rotated by the CI vault job" in section
    assert "expired and unused entries are not known" in section


def test_suppression_usage_from_the_file(store: Engine, tmp_path: Path) -> None:
    path = tmp_path / "suppressions.yaml"
    path.write_text(
        "- {rule: DDA-KEY-003, resource: 'ci-*', reason: vault, owner: a@b.c, "
        "expires: 2027-03-31}\n"
        "- {rule: DDA-KEY-002, resource: 'gone-*', reason: old, owner: a@b.c, "
        "expires: 2020-01-01}\n"
        "- {rule: DDA-MAP-001, resource: 'nothing-*', reason: spare, owner: a@b.c, "
        "expires: 2030-01-01}\n"
    )
    out = tmp_path / "out"
    write_reports(store, SCAN_ID, out, suppressions=load_suppressions(path))
    html = (out / "report.html").read_text(encoding="utf-8")
    section = html[html.index('<section id="suppressions">'):html.index('<section id="coverage">')]
    states = re.findall(r'badge sp-([a-z]+)">', section)
    assert states == ["active", "expired", "unused"]
    assert "not known" not in section


def test_structure_captions_and_no_external_content(store: Engine, tmp_path: Path) -> None:
    html = _html(store, tmp_path / "out")
    parsed = _parse(html)
    tags = [t for t, _ in parsed.tags]
    assert set(tags) <= ALLOWED_TAGS, set(tags) - ALLOWED_TAGS
    assert any("Findings (10) matching" in c for c in parsed.captions)
    assert all(not a.get("src") for _, a in parsed.tags)
    assert all(a.get("href", "#").startswith("#") for t, a in parsed.tags if t == "a")
    assert "url(" not in html and "@import" not in html
    assert re.search(r"\bfetch\(|XMLHttpRequest|WebSocket|import\(", html) is None


def _csp(html: str) -> str:
    csp = [
        a["content"]
        for t, a in _parse(html).tags
        if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"
    ]
    assert len(csp) == 1 and csp[0] is not None
    return csp[0]


def _sha(text: str) -> str:
    return base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode()


def test_strict_csp_matches_inline_style_and_script(store: Engine, tmp_path: Path) -> None:
    html = _html(store, tmp_path / "out")
    policy = _csp(html)
    assert policy.startswith("default-src 'none'; ")
    assert "unsafe" not in policy and "require-trusted-types-for 'script'" in policy
    match = re.search(r"<style>(.*?)</style>", html, re.S)
    assert match is not None
    assert f"style-src 'sha256-{_sha(match.group(1))}'" in policy
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
    assert [attrs for attrs, _ in scripts] == [' type="application/json" id="findings-data"', ""]
    assert f"script-src 'sha256-{_sha(scripts[1][1])}'" in policy
    assert ' style="' not in html  # inline style attributes would be blocked by the CSP
    assert not re.search(r"\son[a-z]+=", html)  # no inline event handlers either


def _explorer(html: str) -> dict[str, Any]:
    match = re.search(r'<script type="application/json" id="findings-data">(.*?)</script>',
                      html, re.S)
    assert match is not None
    data: dict[str, Any] = json.loads(match.group(1))
    return data


def test_explorer_data_holds_every_finding(store: Engine, tmp_path: Path) -> None:
    data = _explorer(_html(store, tmp_path / "out"))
    assert len(data["rows"]) == 10 and data["hasPrevious"] is True
    first = data["rows"][0]
    assert data["rule"][first[2]] == "DDA-KEY-007" and data["sev"][first[0]] == "critical"
    assert data["title"][data["rule"].index("DDA-KEY-007")] == "Leaked key"


def test_hostile_names_are_escaped(hostile_store: Engine, tmp_path: Path) -> None:
    html = _html(hostile_store, tmp_path / "out")
    assert html.lower().count("<script") == 2  # the data block and our hashed script
    assert "<img" not in html.lower()
    assert XSS_SCRIPT not in html and XSS_ATTR not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in html
    parsed = _parse(html)
    assert {t for t, _ in parsed.tags} <= ALLOWED_TAGS
    assert all(not any(k.startswith("on") for k in a) for _, a in parsed.tags)
    # The data block cannot be closed from inside: no "<" at all, and it still parses.
    data = _explorer(html)
    block = html[html.index('id="findings-data">'):html.index("</script>")]
    assert "<" not in block.split(">", 1)[1]
    assert HOSTILE in data["org"][0] and data["rows"][0][8] == HOSTILE
    assert data["owner"] == [HOSTILE] and data["rows"][0][12] == 0
    links = [a for t, a in parsed.tags if t == "a" and a.get("class") == "explore-owner"]
    assert [a["data-owner"] for a in links] == [HOSTILE]  # an attribute value, intact
    # The hostile names still reach the reader, as text.
    text = _text(html)
    assert HOSTILE in text
    assert f"Key {HOSTILE} was last used never." in text


def test_by_owner_counts_open_findings_per_owner_and_severity(
    store: Engine, tmp_path: Path
) -> None:
    html = _html(store, tmp_path / "out")
    table = html[html.index('<table id="owner-table">'):]
    table = table[:table.index("</table>")]
    rows = [[_text(cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row)]
            for row in re.findall(r"<tr>(.*?)</tr>", table.split("<tbody>")[1])]
    # Open only (the suppressed and the not assessed do not count), worst lists first,
    # nobody named last among equals; severities critical, high, medium, low, info, total.
    assert rows == [
        ["team-eu@example.com", "1", "1", "1", "0", "0", "3"],
        ["secops@example.com", "0", "1", "0", "1", "0", "2"],
        ["alice@example.com", "0", "0", "1", "0", "0", "1"],
        ["no owner", "0", "0", "0", "1", "1", "2"],
    ]
    data = _explorer(html)
    assert data["owner"] == ["alice@example.com", "secops@example.com", "team-eu@example.com",
                             None]
    assert [data["owner"][r[12]] for r in data["rows"]][:3] == [
        "team-eu@example.com", None, "secops@example.com"]  # key007, key004-na, org001


def _text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return parser.text


class _Text(HTMLParser):
    """Concatenate the text of the document, entities decoded."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text = ""

    def handle_data(self, data: str) -> None:
        self.text += data
