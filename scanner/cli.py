"""The `ddaudit` command line: parses options and wires config, pipeline and reports."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click
from rich.console import Console

import reports
import reports.cli
import reports.notify.cli
import rules.cli
from reports.notify import check_sinks
from scanner import __version__, logs, progress
from scanner.config import SEVERITIES
from scanner.errors import ConfigError, DDAuditError
from scanner.ops.commands import COMMANDS
from scanner.ops.jobs import nightly_scan
from scanner.options import resolve_config, scan_options
from scanner.pipeline import RuleStage, latest_scan_id, require_collected
from scanner.preflight import preflight
from scanner.remediate import cli as remediation_cli
from scanner.store.database import open_store

log = logging.getLogger("ddaudit")

STARTER_CONFIG = '''\
# ddaudit configuration. Credentials are read from the environment variables named here,
# never written in this file.
[scan]
database = "sqlite:///ddaudit.db"   # any SQLAlchemy URL, e.g. postgresql+psycopg://host/db
output = "ddaudit-out"              # one sub-folder per scan is written under it
fail_on = "high"                    # exit 1 when an open finding is at or above this
rate_headroom = 0.2                 # share of every rate-limit window left to the org's
                                    # other automation (0 to 0.9)

[[targets]]                         # one per org credential pair
name = "prod-us1"
site = "datadoghq.com"
api_key_env = "DD_API_KEY_PROD_US1"
app_key_env = "DD_APP_KEY_PROD_US1"
# owner = "secops@example.com"        # who answers for findings whose resource names no owner
# write_api_key_env = "DD_W_API_PROD" # a separate key pair used only by `ddaudit apply`
# write_app_key_env = "DD_W_APP_PROD"

# [[notify]]                          # a digest after every scan; any number of these
# kind = "slack"                      # webhook | slack | email | datadog
# url_env = "DDAUDIT_SLACK_URL"       # secrets come from variables named here
# min_severity = "high"
# on = ["new", "regressed", "partial", "failed"]

[rules]
disabled = []
custom_dirs = []

[estate]
trusted_orgs = []                   # org UUIDs outside the estate allowed as connection peers
'''


@click.group()
@click.version_option(__version__, prog_name="ddaudit")
@click.option("-v", "--verbose", is_flag=True, help="Debug logging and full tracebacks.")
@click.option("--log-format", type=click.Choice(["plain", "json"]), default="plain",
              show_default=True, help="Format of the log lines on stderr.")
@click.pass_context
def cli(ctx: click.Context, verbose: bool, log_format: str) -> None:
    """Audit the access surface of a Datadog estate."""
    ctx.obj = {"verbose": verbose}
    console = Console(stderr=True)
    logs.configure(verbose, log_format, console)
    progress.install(progress.for_terminal(console) if log_format == "plain"
                     else progress.Reporter())


@cli.command()
@scan_options
@click.option("--fail-on", type=click.Choice(SEVERITIES), help="Severity that makes exit 1.")
@click.option("--resume", is_flag=True,
              help="Re-collect only what the latest partial scan missed, then report it.")
@click.option("--migrate", is_flag=True, help="Upgrade an out-of-date database schema first.")
def scan(config_path: Path | None, database: str | None, output: Path | None,
         fail_on: str | None, resume: bool = False, migrate: bool = False) -> None:
    """Collect, evaluate and report: the nightly job."""
    config = resolve_config(config_path, database, output, fail_on=fail_on)
    preflight(config)
    check_sinks(config.notify)  # a [[notify]] secret unset: exit 2 before any request
    outcome = nightly_scan(config, resume=resume, migrate=migrate)
    click.echo(f"scan {outcome.scan_id} {outcome.status}: {outcome.report}")
    sys.exit(outcome.exit_code)


@cli.command()
@scan_options
@click.option("--scan", "scan_id", help="Scan id (default: the latest).")
def evaluate(config_path: Path | None, database: str | None, output: Path | None,
             scan_id: str | None) -> None:
    """Re-evaluate the rule pack on a stored scan."""
    config = resolve_config(config_path, database, output)
    engine = open_store(config.database)
    scan_id = scan_id or latest_scan_id(engine)
    require_collected(engine, scan_id)
    findings = RuleStage.from_config(config).run(engine, scan_id)
    click.echo(f"scan {scan_id}: {len(findings)} findings")


@cli.command()
@scan_options
@click.option("--scan", "scan_id", help="Scan id (default: the latest).")
def report(config_path: Path | None, database: str | None, output: Path | None,
           scan_id: str | None) -> None:
    """Write the reports of a stored scan."""
    config = resolve_config(config_path, database, output)
    engine = open_store(config.database)
    scan_id = scan_id or latest_scan_id(engine)
    require_collected(engine, scan_id)
    click.echo(RuleStage.from_config(config).report(config, engine, scan_id))


@cli.command()
@click.option("--output", type=click.Path(path_type=Path), default=Path("ddaudit-demo"),
              show_default=True, help="Folder for the demo's database and reports.")
def demo(output: Path) -> None:
    """Scan the built-in simulated estate end to end and print where the report is."""
    from scanner.demo import run_demo

    outcome = run_demo(output)
    click.echo(f"demo scan {outcome.scan_id} {outcome.status} "
               f"(a real scan would exit {outcome.exit_code})")
    click.echo(f"report: {outcome.report}")


@cli.command()
@click.argument("path", type=click.Path(path_type=Path), default=Path("ddaudit.toml"))
def init(path: Path) -> None:
    """Write a commented starter config."""
    if path.exists():
        raise ConfigError(f"{path} already exists; remove it or give another path")
    path.write_text(STARTER_CONFIG, encoding="utf-8")
    click.echo(f"wrote {path}")


for _command in COMMANDS:  # db, scans, prune, collect (scanner/ops/commands.py)
    cli.add_command(_command)

for _evidence_command in reports.cli.COMMANDS:  # verify, diff (reports/cli.py)
    cli.add_command(_evidence_command)

for _notify_command in reports.notify.cli.COMMANDS:  # notify (reports/notify/cli.py)
    cli.add_command(_notify_command)

for _rules_command in rules.cli.COMMANDS:  # rules list, rules show (rules/cli.py)
    cli.add_command(_rules_command)

for _remediation_command in remediation_cli.COMMANDS:  # plan, apply (scanner/remediate/)
    cli.add_command(_remediation_command)


def main() -> None:
    """Console entry point: one clear line per error, the traceback only with -v."""
    verbose = "-v" in sys.argv[1:] or "--verbose" in sys.argv[1:]
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("ddaudit: interrupted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2)
    except DDAuditError as exc:
        if verbose:
            raise
        click.echo(f"ddaudit: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except Exception as exc:
        if verbose:
            raise
        click.echo(f"ddaudit: unexpected error: {exc.__class__.__name__}: {exc} "
                   "(run with -v for the traceback)", err=True)
        sys.exit(4)


if __name__ == "__main__":
    main()
