"""Benchmark of the reports at scale: 100,000 findings by default; prints figures, asserts nothing.

It writes two scans straight into a temporary SQLite snapshot (the newer one with
`--findings` findings across 5 sites and 300 orgs, the older one with most of them, so
the report has "new" and "resolved"), writes the whole evidence bundle with
reports.write_reports and prints each file's size and the render time. Then, unless
`--no-browser`, it opens report.html in Debian's chromium (headless, via playwright) and
prints the time to first paint, to the explorer being ready, and to apply a filter, a
search and a sort (each measured in the page, through the next frame).

    .venv/bin/python -m bench.report                    # 100,000 findings
    .venv/bin/python -m bench.report --findings 20000

Targets (issue #5): report.html <= 30 MB, first paint <= 3 s, filter <= 300 ms.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: bench/ must not shadow the project packages
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from sqlalchemy import Engine, insert  # noqa: E402

from reports import load_context, write_reports  # noqa: E402
from reports.html import render_html  # noqa: E402
from rules import load_rulepack  # noqa: E402
from scanner.store.database import open_store  # noqa: E402
from scanner.store.schema import ENDPOINTS, coverage, findings, scans, targets  # noqa: E402

SCAN_ID = "20261121T020000Z-bench1"
PREVIOUS_ID = "20261120T020000Z-bench0"
NOW = datetime(2026, 11, 21, 2, 0, 0)
SITES = ("datadoghq.com", "datadoghq.eu", "us3.datadoghq.com", "us5.datadoghq.com",
         "ap1.datadoghq.com")
ORGS = 300
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--no-first-run"]

FILTER_JS = """async ([id, value]) => {
  const select = document.getElementById(id);
  const t0 = performance.now();
  select.value = value;
  select.dispatchEvent(new Event("change"));
  await new Promise(r => requestAnimationFrame(() => setTimeout(r, 0)));
  return [performance.now() - t0, window.ddauditExplorer.matched()];
}"""
SEARCH_JS = """async (q) => {
  const input = document.getElementById("f-search");
  const t0 = performance.now();
  input.value = q;
  window.ddauditExplorer.apply();
  await new Promise(r => requestAnimationFrame(() => setTimeout(r, 0)));
  return [performance.now() - t0, window.ddauditExplorer.matched()];
}"""
PAINT_JS = """() => {
  const fcp = performance.getEntriesByName("first-contentful-paint")[0];
  const fp = performance.getEntriesByName("first-paint")[0];
  const nav = performance.getEntriesByType("navigation")[0];
  return {fp: fp ? fp.startTime : null, fcp: fcp ? fcp.startTime : null,
          ready: window.ddauditExplorer.readyAt, load: nav ? nav.loadEventEnd : null};
}"""


def seed(engine: Engine, n: int, rng: random.Random) -> None:
    """Two scans: the newer with `n` findings, the older with 90% of them plus 5% others."""
    pack = load_rulepack()
    rules = pack.rules
    orgs = [(f"org{i:04d}pub", f"Acme {SITES[i % len(SITES)].split('.')[0].upper()} "
             f"Business Unit {i:04d}", f"bu-{i:04d}", SITES[i % len(SITES)])
            for i in range(ORGS)]
    with engine.begin() as conn:
        conn.execute(insert(scans), [
            {"id": PREVIOUS_ID, "started_at": NOW - timedelta(days=1),
             "finished_at": NOW - timedelta(days=1) + timedelta(minutes=40),
             "status": "complete", "tool_version": "0.1.0", "config_sha256": "c" * 64,
             "rulepack_sha256": pack.sha256},
            {"id": SCAN_ID, "started_at": NOW, "finished_at": NOW + timedelta(minutes=41),
             "status": "complete", "tool_version": "0.1.0", "config_sha256": "c" * 64,
             "rulepack_sha256": pack.sha256},
        ])
        for scan_id in (PREVIOUS_ID, SCAN_ID):
            conn.execute(insert(targets), [
                {"scan_id": scan_id, "target": t, "site": s, "org_public_id": p,
                 "org_uuid": f"{i:08d}-0000-4000-8000-000000000000", "org_name": name}
                for i, (p, name, t, s) in enumerate(orgs)])
            conn.execute(insert(coverage), [
                {"scan_id": scan_id, "target": t, "site": s, "org_public_id": p,
                 "endpoint": e, "status": "complete", "collected": 1000, "expected": 1000,
                 "error": None}
                for p, _name, t, s in orgs for e in ENDPOINTS])
        rows = []
        for i in range(n):
            rule = rules[rng.randrange(len(rules))]
            pub, name, target, site = orgs[rng.randrange(ORGS)]
            rid = f"{rng.getrandbits(128):032x}"
            rname = f"svc-{rng.choice(('deploy', 'ci', 'etl', 'backup', 'metrics'))}-{i:06d}"
            rows.append({
                "scan_id": SCAN_ID, "id": f"{i:032x}", "rule_id": rule.id,
                "severity": rule.severity,
                "status": "suppressed" if i % 50 == 0 else "open",
                "title": rule.title,
                "detail": f"Application key {rname} of service account automation-{i % 977} "
                          f"was last used {90 + i % 400} days ago; the limit is 90 days.",
                "site": site, "org_public_id": pub, "org_name": name, "target": target,
                "resource_type": rule.resource_types[0], "resource_id": rid,
                "resource_name": rname,
                "first_seen": NOW - timedelta(days=i % 300),
                "controls": json.dumps(list(rule.control_ids)),
                "suppression": json.dumps({"rule": rule.id, "resource": "svc-*",
                                           "reason": "accepted by the platform team",
                                           "owner": "secops@example.com", "ticket": "SEC-1",
                                           "expires": "2027-03-31"}) if i % 50 == 0 else None,
            })
        conn.execute(insert(findings), rows)
        older = [{**r, "scan_id": PREVIOUS_ID} for j, r in enumerate(rows) if j % 10]
        older += [{**r, "scan_id": PREVIOUS_ID, "id": f"old{j:029x}"}
                  for j, r in enumerate(rows[: n // 20])]
        conn.execute(insert(findings), older)


def browser_figures(report: Path) -> dict[str, Any]:
    """Paint, ready, filter, search and sort times of report.html in headless chromium."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        t0 = time.perf_counter()
        page.goto(report.resolve().as_uri(), wait_until="load", timeout=120_000)
        wall_load = time.perf_counter() - t0
        page.wait_for_function("() => true")  # one more task
        paint = page.evaluate(PAINT_JS)
        critical = page.evaluate("() => document.querySelector('#f-severity option[value]"
                                 ":not([value=\"\"])').value")
        filter_ms, filter_rows = page.evaluate(FILTER_JS, ["f-severity", critical])
        reset_ms, _ = page.evaluate(FILTER_JS, ["f-severity", ""])
        search_ms, search_rows = page.evaluate(SEARCH_JS, "backup")
        page.evaluate(SEARCH_JS, "")
        sort_first_ms, _ = page.evaluate(FILTER_JS, ["f-sort", "resource"])
        sort_again_ms, _ = page.evaluate(FILTER_JS, ["f-sort", "severity"])
        browser.close()
    return {"wall_load_s": wall_load, **paint, "filter_ms": filter_ms,
            "filter_rows": filter_rows, "reset_ms": reset_ms, "search_ms": search_ms,
            "search_rows": search_rows, "sort_first_ms": sort_first_ms,
            "sort_cached_ms": sort_again_ms, "requests": len(requests)}


def main(argv: list[str] | None = None) -> None:
    """Seed, render, measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--findings", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--keep", type=Path, help="Write the bundle here and keep it.")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ddaudit-bench-report-") as tmp:
        root = Path(tmp)
        engine = open_store(f"sqlite:///{root / 'bench.db'}")
        t0 = time.perf_counter()
        seed(engine, args.findings, random.Random(args.seed))
        print(f"seeded {args.findings:,} findings in {time.perf_counter() - t0:.1f} s")
        out = (args.keep or root / "out") / SCAN_ID
        t0 = time.perf_counter()
        report = write_reports(engine, SCAN_ID, out)
        render_s = time.perf_counter() - t0
        print(f"rendered and wrote the whole bundle in {render_s:.2f} s")
        for path in sorted(p for p in out.iterdir() if p.is_file()):
            print(f"  {path.name:<26} {path.stat().st_size / 1e6:8.2f} MB")
        t0 = time.perf_counter()
        ctx = load_context(engine, SCAN_ID)
        loaded_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        render_html(ctx)
        print(f"report.html alone: {loaded_s:.2f} s to load both scans, "
              f"{time.perf_counter() - t0:.2f} s to render")
        size_mb = report.stat().st_size / 1e6
        print(f"report.html: {size_mb:.2f} MB (target <= 30 MB)")
        if args.no_browser:
            return
        fig = browser_figures(report)
        print(f"chromium: load event {fig['load']:.0f} ms (wall {fig['wall_load_s']:.2f} s), "
              f"first paint {fig['fp']:.0f} ms, first contentful paint {fig['fcp']:.0f} ms "
              "(target <= 3000 ms)")
        print(f"chromium: explorer ready at {fig['ready']:.0f} ms; network requests "
              f"{fig['requests']} (the file itself)")
        print(f"chromium: severity filter {fig['filter_ms']:.0f} ms -> {fig['filter_rows']:,} "
              f"rows (target <= 300 ms); reset {fig['reset_ms']:.0f} ms")
        print(f"chromium: search {fig['search_ms']:.0f} ms -> {fig['search_rows']:,} rows; "
              f"sort by resource {fig['sort_first_ms']:.0f} ms first time, "
              f"{fig['sort_cached_ms']:.0f} ms back to severity")
        engine.dispose()


if __name__ == "__main__":
    main()
