"""reports.svg: the charts' shapes, scales, links, text alternatives and escaping."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime, timedelta

import pytest
from report_seed import HOSTILE

from reports.svg import ScanRow, coverage_chart, severity_chart, sparkline, trend_section
from reports.trends import OrgTrend, ScanPoint, Trends
from rules.model import SEVERITIES

NS = {"s": "http://www.w3.org/2000/svg"}


def point(day: int, counts: tuple[int, ...], *, status: str = "complete",
          coverage: tuple[int, int] = (24, 24)) -> ScanPoint:
    return ScanPoint(f"scan-{day}", datetime(2026, 11, 1) + timedelta(days=day), status,
                     True, counts, *coverage)


SCANS = (point(1, (1, 2, 0, 0, 0)), point(2, (0, 3, 1, 0, 0), status="partial",
                                          coverage=(10, 12)),
         point(3, (2, 2, 2, 0, 5)), point(4, (0, 0, 0, 0, 0), coverage=(0, 0)))
ORG = OrgTrend("prod-us1", "datadoghq.com", "abc123", "Acme", (3, None, 6, 0))


def link(scan_id: str, anchor: str) -> str | None:
    return None if scan_id == "scan-2" else f"{scan_id}/report.html#{anchor}"


def parse(markup: str) -> ET.Element:
    return ET.fromstring(markup)  # well-formed XML, or this raises


def labelled(svg: ET.Element) -> list[str]:
    """The texts of the elements the svg's aria-labelledby names (each must exist)."""
    ids = svg.attrib["aria-labelledby"].split()
    found = {e.attrib["id"]: "".join(e.itertext()) for e in svg.iter() if "id" in e.attrib}
    return [found[i] for i in ids]


def rows() -> list[ScanRow]:
    return [ScanRow(p, link(p.id, "changes"), link(p.id, "coverage")) for p in SCANS]


def test_severity_chart_has_a_series_per_severity_and_a_point_per_scan() -> None:
    svg = parse(severity_chart(rows()))
    assert svg.attrib["role"] == "img"
    series = svg.findall(".//s:g[@class]", NS)
    series = [g for g in series if "tr-series" in g.attrib["class"]]
    assert [g.attrib["data-severity"] for g in series] == list(SEVERITIES)
    for s, g in enumerate(series):
        dots = g.findall("s:circle", NS)
        assert len(dots) == len(SCANS)
        polyline = g.find("s:polyline", NS)
        assert polyline is not None and len(polyline.attrib["points"].split()) == len(SCANS)
        # Higher counts sit higher (smaller y); equal counts at the same height.
        ys = [float(d.attrib["cy"]) for d in dots]
        counts = [p.open_by_severity[s] for p in SCANS]
        assert sorted(range(4), key=lambda i: (ys[i], i)) == sorted(
            range(4), key=lambda i: (-counts[i], i))
        assert ["tr-partial" in d.attrib["class"] for d in dots] == [False, True, False, False]
    # The y axis runs from 0 to the largest count (5): 0..6 in steps of 2.
    assert [t.text for t in svg.iter() if t.attrib.get("class") == "tr-ylabel"] == [
        "0", "2", "4", "6"]


def test_points_link_to_each_scans_changes_and_say_their_counts() -> None:
    svg = parse(severity_chart(rows()))
    links = svg.findall(".//s:a", NS)
    assert [a.attrib["href"] for a in links] == [f"scan-{d}/report.html#changes"
                                                 for d in (1, 3, 4)]
    assert all(a.attrib["tabindex"] == "-1" for a in links)  # the data table is the keyboard's
    unlinked = [g for g in svg.iter() if g.attrib.get("class") == "tr-nolink"]
    assert [g.attrib["data-scan"] for g in unlinked] == ["scan-2"]
    tips = ["".join(t.itertext()) for t in svg.findall(".//s:rect/s:title", NS)]
    assert tips[2] == ("2026-11-04 scan scan-3 (complete): 11 open (2 critical, 2 high, "
                       "2 medium, 0 low, 5 info)")
    title, desc = labelled(svg)
    assert title == "Open findings per severity, per scan"
    assert "last 4 finished scans" in desc and tips[-1] in desc and tips[0] in desc


def test_coverage_chart_has_a_bar_per_scan_with_coverage() -> None:
    svg = parse(coverage_chart(rows()))
    bars = [r for r in svg.iter() if "tr-bar" in r.attrib.get("class", "")]
    assert [b.attrib["data-scan"] for b in bars] == ["scan-1", "scan-2", "scan-3"]
    assert [b.attrib["class"].split()[1] for b in bars] == ["tr-bar-ok", "tr-bar-gap",
                                                            "tr-bar-ok"]
    full, gap = float(bars[0].attrib["height"]), float(bars[1].attrib["height"])
    assert gap / full == pytest.approx(10 / 12, abs=0.01)
    assert [a.attrib["href"] for a in svg.findall(".//s:a", NS)][0] == \
        "scan-1/report.html#coverage"
    title, desc = labelled(svg)
    assert "1 with collection gaps" in desc and "no coverage recorded" in desc


def test_a_single_scan_and_no_findings_still_draw() -> None:
    one = [ScanRow(point(1, (0, 0, 0, 0, 0)), None, None)]
    svg = parse(severity_chart(one))
    dots = svg.findall(".//s:circle", NS)
    assert len(dots) == 5 and {d.attrib["cx"] for d in dots} == {str((48 + 720 - 16) // 2)}
    assert [t.text for t in svg.iter() if t.attrib.get("class") == "tr-ylabel"] == ["0", "1"]


def test_large_counts_get_round_ticks() -> None:
    big = [ScanRow(point(1, (1234, 0, 0, 0, 0)), None, None)]
    labels = [t.text for t in parse(severity_chart(big)).iter()
              if t.attrib.get("class") == "tr-ylabel"]
    assert labels == ["0", "500", "1000", "1500"]


def test_sparkline_breaks_where_the_org_was_not_scanned() -> None:
    org = OrgTrend("t", "datadoghq.com", None, None, (1, None, 2, 3, None, 4))
    trends = Trends(tuple(point(d, (0,) * 5) for d in range(6)), (org,))
    svg = parse(sparkline(org, trends, "o"))
    assert len(svg.findall("s:polyline", NS)) == 1  # 2, 3
    classes = [c.attrib["class"] for c in svg.findall("s:circle", NS)]
    assert classes == ["tr-spark-dot", "tr-spark-dot", "tr-spark-end"]  # 1 and 4 alone
    title, desc = labelled(svg)
    assert "unknown org" in title and desc.endswith("1, not scanned, 2, 3, not scanned, 4.")


def test_names_from_the_api_are_escaped() -> None:
    org = OrgTrend(HOSTILE, "datadoghq.com", HOSTILE, HOSTILE, (1, 2))
    trends = Trends((point(1, (1, 0, 0, 0, 0)), point(2, (2, 0, 0, 0, 0))), (org,))
    section = trend_section(trends, link)
    markup = str(section.orgs[0][1])
    assert "<script" not in markup and "<img" not in markup
    svg = parse(markup)
    assert HOSTILE in labelled(svg)[0]  # the reader still gets the name, as text
    assert [e.tag.split("}")[1] for e in svg.iter()] == [
        "svg", "title", "desc", "polyline", "circle"]


def test_the_section_links_each_scan_and_names_each_org() -> None:
    trends = Trends(SCANS, (ORG,))
    section = trend_section(trends, link)
    assert section.current.id == "scan-4"
    assert [r.changes for r in section.rows] == [link(p.id, "changes") for p in SCANS]
    assert [r.coverage_text for r in section.rows] == [
        "100% (24 of 24)", "83.3% (10 of 12)", "100% (24 of 24)", "n/a"]
    assert parse(section.orgs[0][1]).attrib["id"] == "trend-org-0"
