"""Benchmark of the reports at scale: 100,000 findings by default; prints figures, asserts nothing.

It writes two scans straight into a temporary SQLite snapshot (the newer one with
`--findings` findings across 5 sites and 300 orgs, most of them with an owner; the older
one with most of them, so the report has "new" and "resolved"), then writes the whole
evidence bundle with reports.write_reports in a fresh child process, so that the peak RSS
printed is the bundle step's own. Then, unless `--no-browser`, it opens report.html in
Debian's chromium (headless, via playwright) and prints the first paint and the time of
every filter, search and sort of the findings explorer, each the median of 5 (measured in
the page, through the next frame).

    .venv/bin/python -m bench.report                    # 100,000 findings
    .venv/bin/python -m bench.report --findings 20000
    .venv/bin/python -m bench.report --json figures.json   # also the headline figures

Targets (issue #13): the bundle in <= 8 s with a peak RSS <= 300 MB; report.html
< 25 MB; in chromium, first paint < 1000 ms and every filter, search and sort < 100 ms.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timedelta
from multiprocessing import get_context
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: bench/ must not shadow the project packages
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from sqlalchemy import Engine, insert  # noqa: E402

from bench.figures import Figure, write_figures  # noqa: E402
from rules import load_rulepack  # noqa: E402
from scanner.store.database import open_store  # noqa: E402
from scanner.store.schema import ENDPOINTS, coverage, findings, scans, targets  # noqa: E402

SCAN_ID = "20261121T020000Z-bench1"
PREVIOUS_ID = "20261120T020000Z-bench0"
NOW = datetime(2026, 11, 21, 2, 0, 0)
SITES = ("datadoghq.com", "datadoghq.eu", "us3.datadoghq.com", "us5.datadoghq.com",
         "ap1.datadoghq.com")
ORGS = 300
RUNS = 5  # each interaction in the browser is measured this many times; the median counts
BUNDLE_S, RSS_MB, HTML_MB, PAINT_MS, INTERACTION_MS = 8.0, 300.0, 25.0, 1000.0, 100.0
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--no-first-run"]

# Set a control of the explorer and wait for the frame that shows the result.
# (The search box is applied directly: its input handler waits for typing to pause.)
CONTROL_JS = """async ([id, value]) => {
  const control = document.getElementById(id);
  const t0 = performance.now();
  if (control.type === "checkbox") { control.checked = value === "on"; }
  else { control.value = value; }
  if (control.type === "search") { window.ddauditExplorer.apply(); }
  else { control.dispatchEvent(new Event("change")); }
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
FIRST_OPTION_JS = """(id) => {
  const options = [...document.getElementById(id).options].filter(o => o.value !== "");
  return options.length ? options[0].value : null;
}"""
FILTERS = ("f-severity", "f-status", "f-rule", "f-site", "f-org", "f-owner")
SORTS = ("rule", "site", "resource", "owner", "newest", "oldest", "severity")
SEARCHES = ("backup", "automation-12", "no such finding anywhere", "acme eu", "svc-ci")


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
                 "org_uuid": f"{i:08d}-0000-4000-8000-000000000000", "org_name": name,
                 "owner": f"platform-{i % 30:02d}@example.com"}
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
                "owner": None if i % 7 == 0 else f"user{i % 2000:04d}@example.com",
            })
        conn.execute(insert(findings), rows)
        older = [{**r, "scan_id": PREVIOUS_ID} for j, r in enumerate(rows) if j % 10]
        older += [{**r, "scan_id": PREVIOUS_ID, "id": f"old{j:029x}"}
                  for j, r in enumerate(rows[: n // 20])]
        conn.execute(insert(findings), older)


def bundle_step(url: str, out: str) -> tuple[float, float, float]:
    """Write the bundle of SCAN_ID (run in a fresh process): wall s, CPU s, peak RSS MB."""
    from reports import write_reports

    engine = open_store(url)
    wall, cpu = time.perf_counter(), time.process_time()
    write_reports(engine, SCAN_ID, Path(out))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    engine.dispose()
    return wall, cpu, peak_rss_mb()


def peak_rss_mb() -> float:
    """This process's peak RSS in MB, since its last exec.

    Linux's ru_maxrss keeps, across exec, the RSS the process had when it was forked: a
    child spawned by this bench after seeding would report the seeding's peak. VmHWM
    (/proc/self/status) is the high-water mark of the running program only.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def browser_figures(report: Path) -> dict[str, Any]:
    """First paint (median of 3 loads) and each explorer interaction (median of RUNS)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        loads: list[dict[str, Any]] = []
        requests: list[str] = []
        for _ in range(3):
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.on("request", lambda r: requests.append(r.url))
            page.goto(report.resolve().as_uri(), wait_until="load", timeout=120_000)
            page.wait_for_function("() => window.ddauditExplorer !== undefined")
            loads.append(page.evaluate(PAINT_JS))
            if len(loads) < 3:
                page.close()
        # Interact as a reader does: with the explorer on screen.
        page.evaluate("document.getElementById('explorer').scrollIntoView()")
        page.wait_for_timeout(500)
        timings: dict[str, tuple[float, int]] = {}

        def measure(label: str, control: str, value: str, back: str) -> None:
            runs = []
            for _ in range(RUNS):
                runs.append(page.evaluate(CONTROL_JS, [control, value]))
                page.evaluate(CONTROL_JS, [control, back])
            timings[label] = (statistics.median(ms for ms, _ in runs), runs[0][1])

        for control in FILTERS:
            value = page.evaluate(FIRST_OPTION_JS, control)
            if value is not None:
                measure(f"filter {control[2:]}", control, value, "")
        measure("filter new only", "f-new", "on", "off")
        runs = []
        for query in SEARCHES:
            runs.append(page.evaluate(CONTROL_JS, ["f-search", query]))
            page.evaluate(CONTROL_JS, ["f-search", ""])
        timings["search"] = (statistics.median(ms for ms, _ in runs), runs[0][1])
        for sort in SORTS:
            measure(f"sort {sort}", "f-sort", sort, "severity" if sort != "severity" else "rule")
        browser.close()
    return {"fp": statistics.median(x["fp"] for x in loads),
            "fcp": statistics.median(x["fcp"] for x in loads),
            "ready": statistics.median(x["ready"] for x in loads),
            "load": statistics.median(x["load"] for x in loads),
            "requests": len(set(requests)), "timings": timings}


def main(argv: list[str] | None = None) -> None:
    """Seed, write the bundle, measure and print (and write the figures with --json)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--findings", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--keep", type=Path, help="Write the bundle here and keep it.")
    parser.add_argument("--json", type=Path, help="Write the headline figures here.")
    args = parser.parse_args(argv)
    n = args.findings
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="ddaudit-bench-report-") as tmp:
        root = Path(tmp)
        url = f"sqlite:///{root / 'bench.db'}"
        engine = open_store(url)
        t0 = time.perf_counter()
        seed(engine, n, random.Random(args.seed))
        engine.dispose()
        print(f"seeded {n:,} findings in {time.perf_counter() - t0:.1f} s")
        out = (args.keep or root / "out") / SCAN_ID
        with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
            wall, cpu, rss = pool.submit(bundle_step, url, str(out)).result()
        print(f"bundle: {wall:.2f} s (CPU {cpu:.2f} s; target <= {BUNDLE_S:.0f} s), "
              f"peak RSS of the bundle step {rss:.0f} MB (target <= {RSS_MB:.0f} MB)")
        for path in sorted(p for p in out.iterdir() if p.is_file()):
            print(f"  {path.name:<26} {path.stat().st_size / 1e6:8.2f} MB")
        report = out / "report.html"
        size_mb = report.stat().st_size / 1e6
        print(f"report.html: {size_mb:.2f} MB (target < {HTML_MB:.0f} MB)")
        at = f"{n:,} findings"
        figures += [
            Figure("report", f"bundle at {at}: wall time", f"<= {BUNDLE_S:.0f} s",
                   round(wall, 2), "s", round(wall / BUNDLE_S, 2)),
            Figure("report", f"bundle at {at}: peak RSS of the step", f"<= {RSS_MB:.0f} MB",
                   round(rss), "MB", round(rss / RSS_MB, 2)),
            Figure("report", f"report.html at {at}: size", f"< {HTML_MB:.0f} MB",
                   round(size_mb, 2), "MB", round(size_mb / HTML_MB, 2)),
        ]
        if not args.no_browser:
            figures += _browser(report, at)
    if args.json:
        write_figures(args.json, figures)
        print(f"figures written to {args.json}")


def _browser(report: Path, at: str) -> list[Figure]:
    fig = browser_figures(report)
    print(f"chromium: first paint {fig['fp']:.0f} ms, first contentful paint {fig['fcp']:.0f} "
          f"ms (target < {PAINT_MS:.0f} ms); explorer ready at {fig['ready']:.0f} ms, load "
          f"event {fig['load']:.0f} ms; {fig['requests']} URL requested (the file itself)")
    out = [Figure("report", f"chromium at {at}: first paint", f"< {PAINT_MS:.0f} ms",
                  round(fig["fp"]), "ms", round(fig["fp"] / PAINT_MS, 2))]
    for label, (ms, rows) in fig["timings"].items():
        print(f"chromium: {label:<20} {ms:6.1f} ms (median of {RUNS}) -> {rows:,} rows "
              f"(target < {INTERACTION_MS:.0f} ms)")
        out.append(Figure("report", f"chromium at {at}: {label} (median of {RUNS})",
                          f"< {INTERACTION_MS:.0f} ms", round(ms, 1), "ms",
                          round(ms / INTERACTION_MS, 2)))
    return out


if __name__ == "__main__":
    main()
