"""Server-drawn SVG of the Trends section: severity lines, coverage bars, per-org sparklines.

Every chart is plain SVG markup built here with each text and attribute escaped (org
names come from the API). Under the pages' Content-Security-Policy an inline SVG may carry
no script, no style attribute and no external reference, so shapes carry classes only and
trends.css colours them (light and dark). Each chart names itself for assistive technology
(role="img", aria-labelledby its <title> and <desc>); inside role="img" links are not
announced, so a chart's links are a pointer's shortcut (tabindex -1) and the data table
beside it carries the same links for keyboards and screen readers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from reports.trends import Link, OrgTrend, ScanPoint, Trends
from rules.model import SEVERITIES

WIDTH, HEIGHT = 720, 250
LEFT, RIGHT, TOP, BOTTOM = 48, 16, 30, 28  # plot margins: y labels, legend, x labels
SPARK_WIDTH, SPARK_HEIGHT, SPARK_PAD = 120, 28, 3


@dataclass(frozen=True, slots=True)
class ScanRow:
    """One scan of the data table, with the links its chart points carry."""

    point: ScanPoint
    changes: str | None  # its report's "Changes since the previous scan"
    coverage: str | None  # its report's coverage table

    @property
    def coverage_text(self) -> str:
        """`98.2% (3528 of 3600)`, or `n/a` when no coverage was recorded."""
        p = self.point
        return f"{_percent(p)} ({p.coverage_complete} of {p.coverage_total})" \
            if p.coverage_total else "n/a"


@dataclass(frozen=True, slots=True)
class TrendSection:
    """What the trends.html partial shows: the charts and their data, oldest scan first."""

    rows: tuple[ScanRow, ...]
    severity: Markup
    coverage: Markup
    orgs: tuple[tuple[OrgTrend, Markup], ...]

    @property
    def current(self) -> ScanPoint:
        """The scan the section was drawn for."""
        return self.rows[-1].point


def trend_section(trends: Trends, link: Link) -> TrendSection:
    """Draw every chart of `trends`; `link` gives each scan's report sections (or None)."""
    rows = tuple(ScanRow(p, link(p.id, "changes"), link(p.id, "coverage")) for p in trends.scans)
    orgs = tuple((o, sparkline(o, trends, f"trend-org-{i}")) for i, o in enumerate(trends.orgs))
    return TrendSection(rows, severity_chart(rows), coverage_chart(rows), orgs)


def element(tag: str, attrs: Mapping[str, object | None], *children: str) -> Markup:
    """`<tag attrs>children</tag>`: attribute values and plain-str children escaped, Markup
    children kept; an attribute whose value is None is left out."""
    text = "".join(f' {k}="{escape(str(v))}"' for k, v in attrs.items() if v is not None)
    inner = "".join(str(escape(c)) for c in children)
    return Markup(f"<{tag}{text}>{inner}</{tag}>")


def _num(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def _scale(top: int) -> list[int]:
    """Y ticks from 0: about four steps of 1, 2 or 5 times a power of ten, covering `top`."""
    rough = max(top, 1) / 4
    power = 10 ** math.floor(math.log10(rough)) if rough >= 1 else 1
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= rough)
    return list(range(0, step * math.ceil(max(top, 1) / step) + 1, step))


def _xs(n: int, width: float, left: float) -> list[float]:
    """X of each of `n` points spread over `width`; a single point sits in the middle."""
    if n == 1:
        return [left + width / 2]
    return [left + width * i / (n - 1) for i in range(n)]


def _label(point: ScanPoint) -> str:
    return f"{point.started_at:%Y-%m-%d} scan {point.id} ({point.status})"


def _frame(ident: str, title: str, desc: str, parts: Sequence[str]) -> Markup:
    return element(
        "svg", {"class": "trend-chart", "id": ident, "viewBox": f"0 0 {WIDTH} {HEIGHT}",
                "role": "img", "aria-labelledby": f"{ident}-title {ident}-desc",
                "xmlns": "http://www.w3.org/2000/svg"},
        element("title", {"id": f"{ident}-title"}, title),
        element("desc", {"id": f"{ident}-desc"}, desc), *parts)


def _axes(rows: Sequence[ScanRow], ticks: Sequence[int], xs: Sequence[float],
          y: float, unit: str = "") -> list[str]:
    """Grid lines with their y labels, and x labels anchored on the last scan."""
    span = HEIGHT - TOP - BOTTOM
    out: list[str] = []
    for tick in ticks:
        ty = TOP + span - span * tick / ticks[-1]
        out.append(element("line", {"class": "tr-grid", "x1": LEFT, "x2": WIDTH - RIGHT,
                                    "y1": _num(ty), "y2": _num(ty)}))
        out.append(element("text", {"class": "tr-ylabel", "x": LEFT - 6, "y": _num(ty + 4)},
                           f"{tick}{unit}"))
    stride = math.ceil(len(rows) / 8)
    for i, row in enumerate(rows):
        if (len(rows) - 1 - i) % stride == 0:
            out.append(element("text", {"class": "tr-xlabel", "x": _num(xs[i]), "y": _num(y)},
                               f"{row.point.started_at:%m-%d}"))
    return out


def _hits(rows: Sequence[ScanRow], xs: Sequence[float], hrefs: Sequence[str | None],
          summary: Sequence[str]) -> list[str]:
    """Per scan, a transparent column over the plot: its tooltip and its link (`hrefs`)."""
    out: list[str] = []
    for i, row in enumerate(rows):
        left = LEFT if i == 0 else (xs[i - 1] + xs[i]) / 2
        right = WIDTH - RIGHT if i == len(rows) - 1 else (xs[i] + xs[i + 1]) / 2
        rect = element("rect", {"class": "tr-hit", "x": _num(left), "y": TOP,
                                "width": _num(right - left), "height": HEIGHT - TOP - BOTTOM},
                       element("title", {}, summary[i]))
        out.append(element("a", {"href": hrefs[i], "tabindex": "-1", "class": "tr-link",
                                 "data-scan": row.point.id}, rect) if hrefs[i]
                   else element("g", {"class": "tr-nolink", "data-scan": row.point.id}, rect))
    return out


def severity_chart(rows: Sequence[ScanRow], ident: str = "trend-severity") -> Markup:
    """One line per severity of the open findings of each scan; hollow points: partial."""
    points = [r.point for r in rows]
    ticks = _scale(max((n for p in points for n in p.open_by_severity), default=0))
    xs = _xs(len(rows), WIDTH - LEFT - RIGHT, LEFT)
    span = HEIGHT - TOP - BOTTOM

    def y(n: int) -> str:
        return _num(TOP + span - span * n / ticks[-1])

    parts = _axes(rows, ticks, xs, HEIGHT - 8)
    placed = list(zip(xs, points, strict=True))
    for s, severity in enumerate(SEVERITIES):
        cls = f"tr-sev-{severity}"
        coords = " ".join(f"{_num(x)},{y(p.open_by_severity[s])}" for x, p in placed)
        dots = [element("circle", {"class": f"tr-pt {cls}" + _hollow(p), "cx": _num(x),
                                   "cy": y(p.open_by_severity[s]), "r": 3.5})
                for x, p in placed]
        parts.append(element("g", {"class": f"tr-series {cls}", "data-severity": severity},
                             element("polyline", {"class": f"tr-line {cls}", "points": coords}),
                             *dots))
        lx = LEFT + s * 96  # the legend: a sample of the line, then its name
        parts.append(element("line", {"class": f"tr-line {cls}", "x1": lx, "x2": lx + 22,
                                      "y1": 12, "y2": 12}))
        parts.append(element("text", {"class": "tr-legend", "x": lx + 27, "y": 16}, severity))
    summary = [f"{_label(p)}: {p.open_total} open (" + ", ".join(
        f"{n} {sev}" for sev, n in zip(SEVERITIES, p.open_by_severity, strict=True)) + ")"
        for p in points]
    parts += _hits(rows, xs, [r.changes for r in rows], summary)
    first, last = points[0], points[-1]
    desc = (f"Open findings per severity in the last {len(points)} finished scans, from "
            f"{first.started_at:%Y-%m-%d} to {last.started_at:%Y-%m-%d}. Latest, "
            f"{summary[-1]}." + ("" if len(points) == 1 else f" First, {summary[0]}.")
            + " The data table below lists every scan.")
    return _frame(ident, "Open findings per severity, per scan", desc, parts)


def _hollow(point: ScanPoint) -> str:
    """The class that draws a partial scan's point hollow: its counts miss uncollected data."""
    return "" if point.status == "complete" else " tr-partial"


def coverage_chart(rows: Sequence[ScanRow], ident: str = "trend-coverage") -> Markup:
    """One bar per scan: the share of (target, endpoint) collections complete or unavailable."""
    points = [r.point for r in rows]
    ticks = [0, 25, 50, 75, 100]
    xs = _xs(len(rows), WIDTH - LEFT - RIGHT - 24, LEFT + 12)
    span = HEIGHT - TOP - BOTTOM
    bar = min(24.0, (WIDTH - LEFT - RIGHT) / len(rows) * 0.6)
    parts = _axes(rows, ticks, xs, HEIGHT - 8, "%")
    for x, p in zip(xs, points, strict=True):
        share = p.coverage_share
        if share is None:
            parts.append(element("text", {"class": "tr-xlabel", "x": _num(x),
                                          "y": _num(TOP + span - 4)}, "n/a"))
            continue
        height = span * share
        parts.append(element("rect", {
            "class": "tr-bar " + ("tr-bar-ok" if p.coverage_complete == p.coverage_total
                                  else "tr-bar-gap"),
            "x": _num(x - bar / 2), "y": _num(TOP + span - height), "width": _num(bar),
            "height": _num(height), "data-scan": p.id}))
    summary = [f"{_label(p)}: " + (f"{p.coverage_complete} of {p.coverage_total} collections "
                                   f"complete ({_percent(p)})" if p.coverage_total
                                   else "no coverage recorded") for p in points]
    parts += _hits(rows, xs, [r.coverage for r in rows], summary)
    gaps = sum(1 for p in points if p.coverage_total and p.coverage_complete < p.coverage_total)
    desc = (f"Coverage completeness of the last {len(points)} finished scans: {gaps} with "
            f"collection gaps. Latest, {summary[-1]}. The data table below lists every scan.")
    return _frame(ident, "Coverage completeness, per scan", desc, parts)


def _percent(p: ScanPoint) -> str:
    share = p.coverage_share
    return "n/a" if share is None else f"{math.floor(share * 1000) / 10:g}%"


def sparkline(org: OrgTrend, trends: Trends, ident: str) -> Markup:
    """A small line of the org's open findings per scan; gaps where it was not scanned."""
    known = [n for n in org.open if n is not None]
    top = max(known, default=0) or 1
    xs = _xs(len(org.open), SPARK_WIDTH - 2 * SPARK_PAD, SPARK_PAD)
    span = SPARK_HEIGHT - 2 * SPARK_PAD

    def y(n: int) -> str:
        return _num(SPARK_PAD + span - span * n / top)

    parts: list[str] = []
    run: list[tuple[str, str]] = []
    for x, n in [*zip(xs, org.open, strict=True), (0.0, None)]:  # a final gap closes the last run
        if n is not None:
            run.append((_num(x), y(n)))
        elif len(run) == 1:  # a scan between two gaps: a dot, as a line needs two points
            parts.append(element("circle", {"class": "tr-spark-dot", "cx": run[0][0],
                                            "cy": run[0][1], "r": 1.5}))
            run = []
        elif run:
            parts.append(element("polyline", {"class": "tr-spark",
                                              "points": " ".join(f"{a},{b}" for a, b in run)}))
            run = []
    if org.open and org.open[-1] is not None:
        parts.append(element("circle", {"class": "tr-spark-end", "cx": _num(xs[-1]),
                                        "cy": y(org.open[-1]), "r": 2.5}))
    name = org.org_name or org.org_public_id or "unknown org"
    values = ", ".join("not scanned" if n is None else str(n) for n in org.open)
    return element(
        "svg", {"class": "sparkline", "id": ident, "viewBox": f"0 0 {SPARK_WIDTH} "
                f"{SPARK_HEIGHT}", "role": "img", "aria-labelledby": f"{ident}-title "
                f"{ident}-desc", "xmlns": "http://www.w3.org/2000/svg"},
        element("title", {"id": f"{ident}-title"},
                f"Open findings of {name} ({org.target}, {org.site}) per scan"),
        element("desc", {"id": f"{ident}-desc"},
                f"Oldest to latest over {len(trends.scans)} scans: {values}."), *parts)
