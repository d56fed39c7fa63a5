"""The Trends charts of report.html and index.html in Chromium: drawn, described, linked, offline.

The history is trend_seed.HISTORY written night by night as the pipeline does: four
bundles (one partial), a failed and a running scan without one, index.html after each.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from browser import browser, unavailable_reason
from trend_seed import HISTORY, TARGETS, run_history

from rules.model import SEVERITIES
from scanner.store.database import open_store

pytestmark = pytest.mark.slow

_REASON = unavailable_reason()
if _REASON is not None:
    pytest.skip(f"BROWSER TESTS SKIPPED: {_REASON}", allow_module_level=True)

N1, N2, N3, N4, N5, N6 = HISTORY
DRAWN = (N1, N2, N4, N5)  # the finished scans: N3 failed, N6 is running


@dataclass
class Visit:
    """One page load, what it logged and what it asked the network for."""

    page: Any
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def output(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("trends") / "out"
    engine = open_store(f"sqlite:///{out.parent / 'history.db'}")
    run_history(engine, out)
    engine.dispose()
    return out


@pytest.fixture(scope="module")
def chromium(output: Path) -> Iterator[Any]:
    with browser() as instance:
        yield instance


@pytest.fixture
def visit(chromium: Any) -> Iterator[Any]:
    contexts: list[Any] = []

    def open_page(path: Path, *, scheme: str = "light") -> Visit:
        context = chromium.new_context(color_scheme=scheme)
        contexts.append(context)
        seen = Visit(context.new_page())
        seen.page.on("console", lambda m: seen.errors.append(m.text)
                     if m.type in ("error", "warning") else None)
        seen.page.on("pageerror", lambda e: seen.errors.append(str(e)))
        seen.page.on("request", lambda r: seen.requests.append(r.url))
        seen.page.goto(path.resolve().as_uri(), wait_until="load")
        return seen

    yield open_page
    for context in contexts:
        context.close()


def _pages(output: Path) -> list[Path]:
    return [output / N5.id / "report.html", output / "index.html"]


def test_charts_render_with_a_series_per_severity_and_a_point_per_scan(
    visit: Any, output: Path,
) -> None:
    for path in _pages(output):
        seen = visit(path)
        page = seen.page
        assert seen.errors == [] and seen.requests == [path.resolve().as_uri()], path
        chart = page.locator("#trend-severity")
        box = chart.bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 100
        series = page.locator("#trend-severity g.tr-series")
        assert series.count() == len(SEVERITIES)
        for i in range(len(SEVERITIES)):
            assert series.nth(i).locator("circle").count() == len(DRAWN)
        assert page.locator("#trend-severity circle.tr-partial").count() == len(SEVERITIES)
        assert page.locator("#trend-coverage rect.tr-bar").count() == len(DRAWN)
        assert page.locator("#trend-orgs svg.sparkline").count() == len(TARGETS)
        # The data table (behind <details>) holds one row per point.
        assert page.locator("#trend-data tbody tr").count() == len(DRAWN)


def test_every_chart_has_a_text_alternative(visit: Any, output: Path) -> None:
    for path in _pages(output):
        page = visit(path).page
        charts = page.locator("#trends svg")
        assert charts.count() == 2 + len(TARGETS)
        for i in range(charts.count()):
            svg = charts.nth(i)
            assert svg.get_attribute("role") == "img"
            names = page.evaluate(
                "(el) => el.getAttribute('aria-labelledby').split(' ')"
                ".map(id => { const t = document.getElementById(id);"
                " return t && el.contains(t) ? t.textContent : null; })",
                svg.element_handle())
            assert len(names) == 2 and all(names), names  # its own <title> and <desc>
        page.click("#trend-data summary")
        assert page.locator("#trend-data table").is_visible()


def test_links_point_at_files_and_anchors_that_exist(visit: Any, output: Path) -> None:
    for path in _pages(output):
        page = visit(path).page
        hrefs = page.evaluate("() => [...document.querySelectorAll('a')].map(a => a.href"
                              " || a.href.baseVal)")
        svg_hrefs = page.evaluate("() => [...document.querySelectorAll('svg a')].map("
                                  "a => new URL(a.getAttribute('href'), document.baseURI)"
                                  ".href)")
        assert len(svg_hrefs) == 2 * (len(DRAWN)), path  # every drawn scan has a bundle
        for href in [h for h in hrefs if isinstance(h, str)] + svg_hrefs:
            url = urlsplit(href)
            assert url.scheme == "file", href
            target = Path(unquote(url.path))
            assert target.is_file(), href
            if url.fragment:
                assert f'id="{url.fragment}"' in target.read_text(encoding="utf-8"), href


def test_a_point_opens_that_scans_changes(visit: Any, output: Path) -> None:
    page = visit(output / N5.id / "report.html").page
    page.click(f'#trend-severity a.tr-link[data-scan="{N4.id}"]')
    page.wait_for_url(re.compile(re.escape(N4.id) + r"/report\.html#changes$"))
    assert page.locator("#changes h2").inner_text() == "Changes since the previous scan"
    page.click(f'#trend-coverage a.tr-link[data-scan="{N4.id}"]')  # its own coverage
    page.wait_for_url(re.compile(re.escape(N4.id) + r"/report\.html#coverage$"))


def _rgb(text: str) -> tuple[float, float, float]:
    r, g, b = (int(v) for v in re.findall(r"\d+", text)[:3])
    return r / 255, g / 255, b / 255


def _contrast(a: str, b: str) -> float:
    def luminance(rgb: tuple[float, float, float]) -> float:
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
    hi, lo = sorted((luminance(_rgb(a)), luminance(_rgb(b))), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_charts_are_readable_in_light_and_dark(visit: Any, output: Path, scheme: str) -> None:
    for path in _pages(output):
        page = visit(path, scheme=scheme).page
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        dark_page = _contrast(background, "rgb(0, 0, 0)") < 3
        # index.html follows the reader's scheme; report.html stays light.
        assert dark_page == (scheme == "dark" and path.name == "index.html"), path
        style = "(el, p) => getComputedStyle(el)[p]"
        for severity in SEVERITIES:
            line = page.locator(f"#trend-severity polyline.tr-sev-{severity}")
            assert _contrast(line.evaluate(style, "stroke"), background) >= 3, severity
        for bar in ("tr-bar-ok", "tr-bar-gap"):
            rect = page.locator(f"#trend-coverage rect.{bar}").first
            assert _contrast(rect.evaluate(style, "fill"), background) >= 3, bar
        label = page.locator("#trend-severity text.tr-ylabel").first
        assert _contrast(label.evaluate(style, "fill"), background) >= 4.5
        spark = page.locator("#trend-orgs polyline.tr-spark").first
        assert _contrast(spark.evaluate(style, "stroke"), background) >= 3
