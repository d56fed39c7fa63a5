"""The remediation commands of the `ddaudit` CLI: `plan` and `apply`."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import click

from scanner.errors import ConfigError
from scanner.options import resolve_config, scan_options, store_options
from scanner.remediate.actions import REMEDIABLE_RULES, VERBS
from scanner.remediate.apply import Outcome, failed
from scanner.remediate.model import Plan
from scanner.remediate.plan import Selection, build_plan, write_plan
from scanner.remediate.planmd import clean
from scanner.remediate.safety import parse_age
from scanner.remediate.workflow import ApplyOptions, apply_file
from scanner.timeutil import utcnow

APPLY_OK = 0
APPLY_FAILED = 1  # some action failed or was forbidden; the others ran


def _names(text: str | None) -> frozenset[str]:
    return frozenset(n.strip() for n in (text or "").split(",") if n.strip())


@click.command()
@store_options
@click.option("--scan", "scan_id", help="Scan id (default: the latest finished scan).")
@click.option("--rules", "rule_ids", help="Comma-separated rule ids (default: all of "
              f"{', '.join(sorted(REMEDIABLE_RULES))}).")
@click.option("--target", "target_names", help="Comma-separated target names (default: all).")
@click.option("--max", "max_actions", type=int, help="Keep the N most severe actions.")
@click.option("--output", "out_dir", required=True, type=click.Path(path_type=Path),
              help="Folder to write plan.json and plan.md into.")
def plan(config_path: Path | None, database: str | None, scan_id: str | None,
         rule_ids: str | None, target_names: str | None, max_actions: int | None,
         out_dir: Path) -> None:
    """Write a remediation plan from a stored scan's open findings (reads no key)."""
    from scanner.store.database import open_store

    config = resolve_config(config_path, database)
    engine = open_store(config.database)
    selection = Selection(_names(rule_ids), _names(target_names), max_actions)
    document = build_plan(engine, config.output, scan_id, selection, utcnow())
    written = write_plan(document, out_dir)
    more = f" ({written.left_out} more left out by --max)" if written.left_out else ""
    click.echo(f"plan {written.plan_id}: {written.actions} actions{more}, SHA-256 "
               f"{written.sha256}")
    click.echo(f"review {written.md_path}, then: ddaudit apply {written.json_path} "
               "--approved-by NAME [--dry-run]")


@click.command()
@click.argument("plan_path", metavar="PLAN", type=click.Path(path_type=Path, dir_okay=False))
@scan_options
@click.option("--approved-by", required=True, help="Name of the person who approved the plan.")
@click.option("--dry-run", is_flag=True, help="Re-read and report what would happen; no write.")
@click.option("--yes", is_flag=True, help="Apply without asking (required off a terminal).")
@click.option("--max-age", default="24h", show_default=True,
              help="Refuse a plan older than this (s, m, h or d).")
@click.option("--max-actions", default=25, show_default=True, type=int,
              help="Refuse a plan with more actions than this.")
def apply(plan_path: Path, config_path: Path | None, database: str | None,
          output: Path | None, approved_by: str, dry_run: bool, yes: bool, max_age: str,
          max_actions: int) -> None:
    """Carry out a reviewed plan with the targets' write key pairs; record every action.

    Exit 0 when every action reached its outcome, 1 when any failed, was forbidden or
    refused (a key ddaudit uses),
    2 when the plan is refused (nothing is sent then).
    """
    config = resolve_config(config_path, database, output)
    options = ApplyOptions(approved_by, dry_run, parse_age(max_age), max_actions)
    applied = apply_file(plan_path, config, options, confirm=lambda plan: _confirm(plan, yes))
    for line in _report(applied.outcomes):
        click.echo(line)
    click.echo(f"evidence: {applied.evidence}")
    sys.exit(APPLY_FAILED if failed(applied.outcomes) else APPLY_OK)


def _confirm(loaded: Plan, yes: bool) -> None:
    """Show the summary and ask on a terminal; off a terminal, --yes is required."""
    if yes:
        return
    if not on_terminal():
        raise ConfigError("not a terminal: pass --yes to apply without a prompt (after "
                          "reviewing plan.md), or --dry-run to only re-read")
    click.echo(summary(loaded))
    if not click.confirm(f"Apply these {len(loaded.actions)} actions?", default=False):
        raise ConfigError("not confirmed: nothing was sent")


def on_terminal() -> bool:
    """Whether a person can answer the prompt (stdin is a terminal)."""
    return sys.stdin.isatty()


def summary(loaded: Plan) -> str:
    """What the prompt shows: the plan, its hash, and its actions by kind and target."""
    kinds = Counter(VERBS[a.kind] for a in loaded.actions)
    lines = [f"plan {loaded.plan_id} (SHA-256 {loaded.sha256}) from scan {loaded.scan_id}"]
    lines += [f"  {n} x {kind}" for kind, n in sorted(kinds.items())]
    lines += [f"  {a.number}. {VERBS[a.kind]} {clean(a.resource_name or a.resource_id)} "
              f"({clean(a.target)}, {a.rule_id})" for a in loaded.actions]
    return "\n".join(lines)


def _report(outcomes: list[Outcome]) -> list[str]:
    lines = [f"{o.action.number}. {VERBS[o.action.kind]} "
             f"{clean(o.action.resource_name or o.action.resource_id)} ({clean(o.action.target)})"
             f": {o.outcome}: {clean(o.detail)}" for o in outcomes]
    counts = Counter(o.outcome for o in outcomes)
    lines.append(", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items()))
                 or "no actions")
    return lines


COMMANDS: tuple[click.Command, ...] = (plan, apply)
