"""`ddaudit notify --scan ID [--dry-run]`: send, or print, the notifications of a stored scan."""

from __future__ import annotations

from pathlib import Path

import click

from reports.notify.dispatch import preview
from reports.notify.ledger import FAILED
from reports.notify.service import check_sinks, notify_scan, plan
from scanner.errors import ConfigError, DDAuditError
from scanner.ops.lock import GLOBAL, RunLock
from scanner.options import resolve_config, scan_options
from scanner.store.database import open_store
from scanner.store.lifecycle import latest_scan_id
from scanner.timeutil import utcnow


@click.command("notify")
@scan_options
@click.option("--scan", "scan_id", help="Scan id (default: the latest).")
@click.option("--dry-run", is_flag=True,
              help="Print what each sink would be sent; send and record nothing, need no "
                   "secret.")
def notify(config_path: Path | None, database: str | None, output: Path | None,
           scan_id: str | None, dry_run: bool) -> None:
    """Send the [[notify]] digests of a stored scan (what its sinks were not yet told).

    Exit 0 when every sink got its digest or had nothing to be told; 4 when a sink still
    failed after its retries (it is named on stderr; run the command again later).
    """
    config = resolve_config(config_path, database, output)
    if not config.notify:
        raise ConfigError("no [[notify]] sink is configured; add one to the config "
                          "(docs/notifications.md) and pass --config")
    if not dry_run:
        check_sinks(config.notify)
    engine = open_store(config.database)
    try:
        scan_id = scan_id or latest_scan_id(engine)
        if dry_run:
            now = utcnow()
            for digest in plan(engine, config, scan_id):
                sink = digest.sink
                if not digest.due:
                    click.echo(f"--- '{sink.name}' ({sink.kind}): nothing to send")
                    continue
                click.echo(f"--- '{sink.name}' ({sink.kind}): would send "
                           f"{', '.join(digest.events)}")
                click.echo(preview(digest, now), nl=False)
            return
        with RunLock(engine, GLOBAL, command="notify"):
            deliveries = notify_scan(engine, config, scan_id)
    finally:
        engine.dispose()
    for d in deliveries:
        what = f"{', '.join(d.events)}" if d.events else "nothing to send"
        tail = f" after {d.attempts} attempts: {d.error}" if d.outcome == FAILED else ""
        click.echo(f"scan {scan_id} -> '{d.sink}' ({d.kind}): {d.outcome} ({what}){tail}")
    failed = [d.sink for d in deliveries if d.outcome == FAILED]
    if failed:
        raise DDAuditError(f"{len(failed)} of {len(deliveries)} notification sinks failed "
                           f"({', '.join(failed)}); see above, then run 'ddaudit notify "
                           f"--scan {scan_id}' again")


COMMANDS: tuple[click.Command, ...] = (notify,)
