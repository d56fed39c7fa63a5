"""Operations benchmark: a 12-org simulated scan on SQLite vs PostgreSQL, and prune of 90 scans.

Run `python -m bench.ops` from the project root. It serves a simulated estate of 12
scanned orgs (6 sites x 2) on loopback, runs the whole nightly scan (collect, evaluate,
report) into SQLite and into a throwaway PostgreSQL started like the test suite's
(tests/pgserver.py; or `--postgres URL` of an existing maintenance database), and prints
the wall time and database size of each. Then it clones that scan into 90 nightly scans
(one a day, rows and output folders) and times `prune --keep-days 30`.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine, func, literal, select, text, update

from scanner.config import Config
from scanner.demo import simulator_config
from scanner.ops.history import prune
from scanner.pipeline import run_scan
from scanner.simulator import EstateSpec, SimulatedDatadog, generate_estate
from scanner.sites import DEMO_SITES
from scanner.store import schema
from scanner.store.database import open_store
from scanner.timeutil import utcnow
from tests.pgserver import PgServer, start_server


def db_bytes(engine: Engine, path: Path | None) -> int:
    """The database's size on disk: SQLite file (+WAL), or pg_database_size."""
    if path is not None:
        return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one())


def scan_once(config: Config, url: str, sqlite_file: Path | None) -> tuple[str, float, int, int]:
    """Run a whole scan into `url`; return scan id, seconds, size, size of the empty schema."""
    engine = open_store(url)
    empty = db_bytes(engine, sqlite_file)
    began = time.perf_counter()
    outcome = run_scan(replace(config, database=url), engine)
    seconds = time.perf_counter() - began
    engine.dispose()
    engine = open_store(url)
    size = db_bytes(engine, sqlite_file)
    engine.dispose()
    return outcome.scan_id, seconds, size, empty


def clone_nightlies(engine: Engine, output: Path, source: str, nights: int) -> int:
    """Copy scan `source` (rows and folder) into `nights` scans one day apart; count rows."""
    with engine.connect() as conn:
        started = conn.execute(select(schema.scans.c.started_at)
                               .where(schema.scans.c.id == source)).scalar_one()
    for night in range(1, nights):
        new_id = f"{source}-n{night:03d}"
        with engine.begin() as conn:
            for table in (*schema.SCAN_TABLES,):
                cols = [c.name for c in table.columns if c.name != "scan_id"]
                picked = select(literal(new_id), *(table.c[c] for c in cols)).where(
                    table.c.scan_id == source)
                conn.execute(table.insert().from_select(["scan_id", *cols], picked))
            row = conn.execute(select(schema.scans).where(schema.scans.c.id == source)
                               ).mappings().one()
            conn.execute(schema.scans.insert().values(
                {**row, "id": new_id, "started_at": started - timedelta(days=night)}))
        shutil.copytree(output / source, output / new_id)
    with engine.begin() as conn:  # the source scan becomes the newest night
        conn.execute(update(schema.scans).where(schema.scans.c.id == source)
                     .values(started_at=started))
        return sum(conn.execute(select(func.count()).select_from(t)).scalar_one()
                   for t in schema.SCAN_TABLES)


def prune_bench(url: str, output: Path, source: str, nights: int, keep: int) -> str:
    """Clone `nights` scans, prune to `keep` days; the figures as one line."""
    engine = open_store(url)
    rows = clone_nightlies(engine, output, source, nights)
    began = time.perf_counter()
    result = prune(engine, output, keep, now=utcnow() + timedelta(hours=1))
    seconds = time.perf_counter() - began
    engine.dispose()
    return (f"{nights} scans, {rows:,} rows -> pruned {len(result.scans)} scans "
            f"({result.rows:,} rows, {result.folders} folders) in {seconds:.2f}s")


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", help="URL of an existing server's maintenance database")
    parser.add_argument("--nights", type=int, default=90)
    parser.add_argument("--keep-days", type=int, default=30)
    args = parser.parse_args()
    spec = EstateSpec(sites=DEMO_SITES[:6], orgs_per_site=2)
    estate = generate_estate(spec, now=utcnow())
    server: PgServer = (PgServer(base_url=args.postgres) if args.postgres else start_server())
    work = Path(tempfile.mkdtemp(prefix="ddaudit-bench-ops-"))
    sim = SimulatedDatadog.start_in_thread(estate)
    try:
        print(f"estate: {len(estate.targets)} scanned orgs on {len(spec.sites)} sites")
        results: dict[str, tuple[str, str, Path | None]] = {}
        for backend in ("sqlite", "postgresql"):
            sqlite_file = work / "bench.db" if backend == "sqlite" else None
            url = (f"sqlite:///{sqlite_file}" if sqlite_file
                   else server.create_database("ddaudit_bench_ops"))
            output = work / f"out-{backend}"
            config = simulator_config(estate, dict(sim.urls), output, url)
            scan_id, seconds, size, empty = scan_once(config, url, sqlite_file)
            print(f"{backend:>10}: scan {seconds:6.2f}s wall, database {size / 1e6:6.1f} MB "
                  f"({(size - empty) / 1e6:.1f} MB over the empty schema)")
            results[backend] = (url, scan_id, sqlite_file)
        for backend, (url, scan_id, _file) in results.items():
            line = prune_bench(url, work / f"out-{backend}", scan_id, args.nights,
                               args.keep_days)
            print(f"{backend:>10}: prune --keep-days {args.keep_days}: {line}")
    finally:
        sim.stop()
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
