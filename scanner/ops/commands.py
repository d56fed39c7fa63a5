"""CLI commands of operations: `db upgrade|status`, `scans list`, `prune`, `collect`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from scanner.errors import ConfigError
from scanner.ops.history import ScanListing, list_scans
from scanner.ops.jobs import collect_job, prune_job
from scanner.ops.shard import parse_shard, shard_targets
from scanner.options import resolve_config, scan_options, store_options
from scanner.preflight import preflight
from scanner.store import migrate
from scanner.store.database import create_store_engine, open_store
from scanner.store.lifecycle import ScanStatus


@click.group("db")
def db() -> None:
    """Schema migrations of the snapshot database."""


@db.command("upgrade")
@store_options
def db_upgrade(config_path: Path | None, database: str | None) -> None:
    """Bring the database to this ddaudit's schema (back it up first)."""
    url = resolve_config(config_path, database).database
    engine = create_store_engine(url)
    try:
        before, after = migrate.upgrade(engine)
    finally:
        engine.dispose()
    click.echo(f"database upgraded from {before} to {after}" if before != after
               else f"database already at revision {after}")


@db.command("status")
@store_options
def db_status(config_path: Path | None, database: str | None) -> None:
    """Show the database's schema revision and the one this ddaudit needs."""
    url = resolve_config(config_path, database).database
    engine = create_store_engine(url)
    try:
        with engine.connect() as conn:
            state = migrate.schema_state(conn)
    finally:
        engine.dispose()
    verdict = "up to date" if state.up_to_date else "needs 'ddaudit db upgrade'"
    click.echo(f"revision {state.label}; this ddaudit needs {state.head}: {verdict}")


@click.group("scans")
def scans() -> None:
    """The history of scans in the database."""


def _line(s: ScanListing) -> str:
    def t(v: object) -> str:
        return "-" if v is None else f"{v:%Y-%m-%d %H:%M:%S}"
    shards = f"{s.shards} shards" if s.shards else ""
    return (f"{s.id:<24} {t(s.started_at):<19}  {t(s.finished_at):<19}  {s.label:<8} "
            f"{s.targets:>7} {s.incomplete:>10} {s.open_findings:>6} {s.findings:>8}  {shards}")


@scans.command("list")
@store_options
@click.option("--limit", type=click.IntRange(min=1), help="Only the N most recent scans.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def scans_list(config_path: Path | None, database: str | None, limit: int | None,
               as_json: bool) -> None:
    """List scans, newest first: id, times, status, counts.

    A status of 'complete, unreported' (or 'partial, unreported') is a scan evaluated but
    whose report was never written, e.g. its run was killed while writing it: `ddaudit
    report --scan ID` writes it ('unevaluated': run `ddaudit evaluate --scan ID` first).
    """
    url = resolve_config(config_path, database).database
    engine = open_store(url)
    try:
        rows = list_scans(engine, limit)
    finally:
        engine.dispose()
    if as_json:
        for row in rows:
            click.echo(json.dumps(row.as_dict()))
        return
    click.echo(f"{'id':<24} {'started (UTC)':<19}  {'finished (UTC)':<19}  {'status':<8} "
               f"{'targets':>7} {'incomplete':>10} {'open':>6} {'findings':>8}")
    for row in rows:
        click.echo(_line(row))


@click.command("prune")
@scan_options
@click.option("--keep-days", type=click.IntRange(min=1),
              help="Delete scans started more than N days ago (default: [scan] keep_days).")
@click.option("--dry-run", is_flag=True, help="Only list what would be deleted.")
def prune(config_path: Path | None, database: str | None, output: Path | None,
          keep_days: int | None, dry_run: bool) -> None:
    """Delete old scans' rows and output folders; the latest complete scan always stays."""
    config = resolve_config(config_path, database, output)
    keep_days = keep_days or config.keep_days
    if keep_days is None:
        raise ConfigError("give --keep-days N or set [scan] keep_days in the config")
    result = prune_job(config.database, config.output, keep_days, dry_run=dry_run)
    verb = "would delete" if dry_run else "deleted"
    click.echo(f"{verb} {len(result.scans)} scans older than {keep_days} days"
               + ("" if dry_run else f" ({result.rows} rows, {result.folders} folders)")
               + (f"; kept the latest complete scan {result.kept_latest}"
                  if result.kept_latest else ""))
    for scan_id in result.scans if dry_run else ():
        click.echo(f"  {scan_id}")


@click.command("collect")
@store_options
@click.option("--shard", help="Collect only shard i of n (e.g. 1/3) into a shared scan.")
@click.option("--scan", "scan_id", help="Scan id the shards share (default: one per UTC day "
              "and config).")
@click.option("--migrate", is_flag=True, help="Upgrade an out-of-date database schema first.")
def collect(config_path: Path | None, database: str | None, shard: str | None,
            scan_id: str | None, migrate: bool) -> None:
    """Collect into the snapshot without evaluating (one shard of it with --shard)."""
    config = resolve_config(config_path, database)
    if scan_id and not shard:
        raise ConfigError("--scan is only for --shard: a plain collect starts a new scan")
    part = parse_shard(shard) if shard else None
    # Only the keys of the targets this run collects must be set (each shard's host
    # may hold only its own); collect writes no report, so no output folder is checked.
    preflight(config, targets=shard_targets(config.targets, *part) if part else None,
              output=False)
    outcome = collect_job(config, shard=part, scan_id=scan_id, migrate=migrate)
    where = f" shard {outcome.shard}" if outcome.shard else ""
    state = f" (scan {outcome.scan_status})" if outcome.shard else ""
    click.echo(f"scan {outcome.scan_id}{where} {outcome.status}: {outcome.targets} targets"
               f"{state}")
    sys.exit(3 if outcome.status != ScanStatus.COMPLETE else 0)


COMMANDS = (db, scans, prune, collect)
