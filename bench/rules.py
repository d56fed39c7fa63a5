"""Benchmark of the rule pack on a large synthetic snapshot; prints figures, asserts nothing.

It writes one scan straight into a database (bench/rules_estate.py: by default 1,000,000
application keys across 500 orgs), evaluates the whole built-in pack with
rules.evaluate_scan and prints the evaluation time, findings per second, peak RSS and the
time of each rule. Without --database it does so on SQLite (a temporary file) and then on
PostgreSQL (a throwaway server started as the test suite starts its own,
tests/pgserver.py; skipped, saying why, when that cannot start) and prints both side by
side.

    .venv/bin/python -m bench.rules                 # the full size, SQLite and PostgreSQL
    .venv/bin/python -m bench.rules --scale 0.1     # a tenth of every population
    .venv/bin/python -m bench.rules --database postgresql+psycopg://localhost/bench
    .venv/bin/python -m bench.rules --index "application_keys(scan_id, target, owner_id)"
    .venv/bin/python -m bench.rules --json figures.json   # headline figures (bench/figures.py)

--index creates extra indexes in the bench database only, to measure one before it is
proposed for the schema. The data are generated and evaluated in child processes, so each
peak RSS printed is the evaluation's own (the database server's memory is not counted).
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: bench/ must not shadow the rules package
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from sqlalchemy import delete, make_url, text  # noqa: E402

from bench.figures import Figure, write_figures  # noqa: E402
from bench.rules_estate import (  # noqa: E402
    NEXT_SCAN_ID,
    NOW,
    SCAN_ID,
    Sizes,
    bench_engine,
    copy_scan,
    create_indexes,
    generate,
)
from rules import RuleSettings, evaluate_scan, load_rulepack  # noqa: E402
from rules.results import RuleRun  # noqa: E402
from scanner.store.schema import metadata, scans  # noqa: E402

TARGET_SECONDS = 10.0  # the whole pack over the full snapshot (issue 13)
TARGET_MB = 300.0  # peak RSS of the evaluation


@dataclass
class Evaluation:
    """One evaluation of the pack: wall seconds (of which the owner pass), findings, peak
    RSS (MiB), each rule's run."""

    label: str
    seconds: float
    owners_seconds: float
    findings: int
    peak_mb: float
    runs: list[RuleRun] = field(default_factory=list)


@dataclass
class Backend:
    """The evaluations on one database, or why there are none."""

    name: str  # "SQLite", "PostgreSQL"
    evaluations: list[Evaluation] = field(default_factory=list)
    skipped: str | None = None


def _in_child(work: Callable[..., Any], *args: Any) -> Any:
    """Run `work(*args)` in a forked process and return its result, with its peak RSS."""
    context = multiprocessing.get_context("fork")
    queue: Any = context.Queue()

    def child() -> None:
        result = work(*args)
        queue.put((result, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))

    process = context.Process(target=child)
    process.start()
    outcome = queue.get()  # before join: a large result would fill the pipe otherwise
    process.join()
    if process.exitcode != 0:
        raise SystemExit(f"{work.__name__} failed (exit code {process.exitcode})")
    return outcome


def _generate(url: str, sizes: Sizes, seed: int) -> None:
    print(f"generating {sizes} into {make_url(url).render_as_string()}", flush=True)
    started = time.perf_counter()
    counts, peak = _in_child(generate, url, sizes, seed)
    print(f"generated in {time.perf_counter() - started:.1f} s "
          f"(generator peak RSS {peak:.0f} MB):")
    for table in sorted(counts, key=lambda t: -counts[t]):
        print(f"  {table:<24} {counts[table]:>10,}")


def _evaluate_child(url: str, scan_id: str) -> tuple[float, float, int, list[RuleRun]]:
    engine = bench_engine(url)
    pack = load_rulepack()
    started = time.perf_counter()
    result = evaluate_scan(engine, scan_id, pack, RuleSettings())
    elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed, result.owners_seconds, len(result), list(result.rule_runs)


def _evaluate(url: str, scan_id: str, label: str) -> Evaluation:
    (seconds, owners, findings, runs), peak = _in_child(_evaluate_child, url, scan_id)
    print(f"\n{label}: {len(runs)} rules in {seconds:.2f} s (the owner pass, rules/owners.py: "
          f"{owners:.2f} s), {findings:,} findings, {findings / seconds:,.0f} findings/s, "
          f"peak RSS {peak:.0f} MB", flush=True)
    return Evaluation(label, seconds, owners, findings, peak, runs)


def _next_day(url: str) -> None:
    """Copy the population into a scan a day later (replacing any earlier copy)."""
    engine = bench_engine(url)
    with engine.begin() as conn:
        conn.execute(delete(scans).where(scans.c.id == NEXT_SCAN_ID))
        for table in metadata.sorted_tables:
            if "scan_id" in table.c:
                conn.execute(delete(table).where(table.c.scan_id == NEXT_SCAN_ID))
    started = time.perf_counter()
    copy_scan(engine, SCAN_ID, NEXT_SCAN_ID, NOW + timedelta(days=1))
    if engine.dialect.name == "postgresql":  # as autovacuum would have by next night
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    engine.dispose()
    print(f"\ncopied the population into {NEXT_SCAN_ID} in "
          f"{time.perf_counter() - started:.1f} s")


def run(name: str, url: str, args: argparse.Namespace) -> Backend:
    """Generate (unless --reuse), add --index indexes, evaluate (and the next day's scan)."""
    print(f"\n== {name}", flush=True)
    if not args.reuse:
        _generate(url, Sizes().scaled(args.scale), args.seed)
    if args.index:
        engine = bench_engine(url)
        create_indexes(engine, args.index)
        engine.dispose()
        print(f"extra indexes: {', '.join(args.index)}")
    backend = Backend(name, [_evaluate(url, SCAN_ID, "first scan")])
    if args.history:
        _next_day(url)
        backend.evaluations.append(_evaluate(url, NEXT_SCAN_ID, "next day's scan (history)"))
    return backend


@dataclass
class _Postgres:
    """A throwaway PostgreSQL server for the bench (tests/pgserver.py), or why there is none."""

    url: str | None = None
    reason: str | None = None
    stop: Callable[[], None] = lambda: None


def _postgres() -> _Postgres:
    try:
        from tests.pgserver import PgUnavailable, start_server
    except ImportError as exc:  # run outside a checkout
        return _Postgres(reason=f"tests/pgserver.py cannot be imported: {exc}")
    try:
        server = start_server()
    except PgUnavailable as exc:
        return _Postgres(reason=str(exc))
    return _Postgres(url=server.create_database("ddaudit_bench"), stop=server.stop)


def _keys(sizes: Sizes) -> str:
    n = sizes.app_keys
    return f"{n / 1e6:g}M" if n >= 1_000_000 else f"{n / 1e3:g}k" if n >= 1000 else str(n)


def _summary(backends: Sequence[Backend]) -> Iterator[str]:
    """The first scan's figures of every backend side by side, then each rule's seconds."""
    ran = [b for b in backends if b.evaluations]
    for b in backends:
        if b.skipped:
            yield f"{b.name}: skipped ({b.skipped})"
    if not ran:
        return
    first = [b.evaluations[0] for b in ran]
    yield "\n" + f"{'':<22}" + "".join(f"{b.name:>14}" for b in ran)
    yield f"{'pack, seconds':<22}" + "".join(f"{e.seconds:>14.2f}" for e in first)
    yield f"{'  of it owner pass':<22}" + "".join(f"{e.owners_seconds:>14.2f}" for e in first)
    yield f"{'findings':<22}" + "".join(f"{e.findings:>14,}" for e in first)
    yield f"{'findings/s':<22}" + "".join(f"{e.findings / e.seconds:>14,.0f}" for e in first)
    yield f"{'peak RSS, MB':<22}" + "".join(f"{e.peak_mb:>14.0f}" for e in first)
    for b in ran:
        for e in b.evaluations[1:]:
            yield f"{b.name}, {e.label}: {e.seconds:.2f} s, peak RSS {e.peak_mb:.0f} MB"
    seconds = [{r.rule_id: r for r in e.runs} for e in first]
    order = sorted(seconds[0].values(), key=lambda r: -r.seconds)
    yield "\n  rule            findings" + "".join(f"{b.name + ' s':>14}" for b in ran)
    for r in order:
        yield f"  {r.rule_id:<14} {r.findings:>9,}" + "".join(
            f"{s[r.rule_id].seconds if r.rule_id in s else float('nan'):>14.2f}"
            for s in seconds)


def figures(backends: Sequence[Backend], sizes: Sizes) -> list[Figure]:
    """The headline figures: each backend's first scan, time and peak RSS."""
    out = []
    for b in backends:
        if not b.evaluations:
            continue
        e = b.evaluations[0]
        out.append(Figure(bench="rules", name=f"{b.name}: pack over {_keys(sizes)} keys",
                          target=f"< {TARGET_SECONDS:g} s", measured=round(e.seconds, 2),
                          unit="s", ratio=round(e.seconds / TARGET_SECONDS, 3)))
        out.append(Figure(bench="rules", name=f"{b.name}: of it the owner pass",
                          target="(part of the pack's time)",
                          measured=round(e.owners_seconds, 2), unit="s"))
        out.append(Figure(bench="rules", name=f"{b.name}: peak RSS",
                          target=f"< {TARGET_MB:g} MB", measured=round(e.peak_mb, 1),
                          unit="MB", ratio=round(e.peak_mb / TARGET_MB, 3)))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Generate, evaluate, print the figures (and write them with --json)."""
    parser = argparse.ArgumentParser(prog="python -m bench.rules", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", help="SQLAlchemy URL of one database to use instead "
                        "of a temporary SQLite file and a throwaway PostgreSQL server")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every population")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--index", action="append", default=[], metavar="TABLE(COLS)",
                        help="extra index to create in the bench database (repeatable)")
    parser.add_argument("--reuse", action="store_true",
                        help="evaluate what --database already holds, generate nothing")
    parser.add_argument("--history", action="store_true",
                        help="then copy the population into a scan a day later and evaluate "
                             "that too, carrying first_seen from the first one's findings")
    parser.add_argument("--json", type=Path, metavar="PATH",
                        help="also write the headline figures there (bench/figures.py)")
    args = parser.parse_args(argv)
    if args.reuse and not args.database:
        parser.error("--reuse needs --database: the database whose scan to evaluate")
    backends: list[Backend] = []
    if args.database:
        name = "PostgreSQL" if make_url(args.database).get_backend_name() == "postgresql" \
            else "SQLite"
        backends.append(run(name, args.database, args))
    else:
        with tempfile.TemporaryDirectory(prefix="ddaudit-bench-") as tmp:
            backends.append(run("SQLite", f"sqlite:///{Path(tmp) / 'bench.db'}", args))
        postgres = _postgres()
        try:
            backends.append(run("PostgreSQL", postgres.url, args) if postgres.url
                            else Backend("PostgreSQL", skipped=postgres.reason))
        finally:
            postgres.stop()
    print("\n".join(_summary(backends)))
    if args.json:
        write_figures(args.json, figures(backends, Sizes().scaled(args.scale)))
        print(f"\nfigures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
