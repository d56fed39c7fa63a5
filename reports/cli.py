"""The evidence commands of the `ddaudit` CLI: `verify DIR` and `diff [--from ID] [--to ID]`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from reports.diff import ScanDiff, diff_scans, render_diff_text
from reports.manifest import verify_bundle
from rules.model import Finding
from scanner.options import resolve_config, store_options
from scanner.remediate.evidence import check_remediation, is_remediation

VERIFY_OK = 0
VERIFY_FAILED = 1  # a file tampered, missing or unlisted; a broken chain link or signature


@click.command()
@click.argument("folder", type=click.Path(path_type=Path, file_okay=False))
@click.option("--public-key", type=click.Path(path_type=Path, dir_okay=False),
              help="PEM Ed25519 public (or private) key the bundle must be signed with.")
def verify(folder: Path, public_key: Path | None) -> None:
    """Check an evidence bundle (or a remediation folder): hashes, chain link, signature.

    Exit 0 when everything matches, 1 when any file is tampered, missing or unlisted,
    the previous bundle changed, or the signature does not verify.
    """
    if not folder.is_dir():
        raise click.BadParameter(f"{folder} is not a folder", param_hint="FOLDER")
    result = verify_bundle(folder, public_key)
    if is_remediation(folder):  # a remediation evidence folder: its plan and actions too
        check_remediation(folder, result)
    click.echo(result.render(), nl=False)
    sys.exit(VERIFY_OK if result.ok else VERIFY_FAILED)


@click.command()
@store_options
@click.option("--from", "from_id", help="Older scan id (default: the scan before --to).")
@click.option("--to", "to_id", help="Newer scan id (default: the latest finished scan).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="Lines for people, or JSON for scripts.")
def diff(config_path: Path | None, database: str | None, from_id: str | None,
         to_id: str | None, fmt: str) -> None:
    """New, resolved and changed findings between two scans (default: the last two)."""
    from scanner.store.database import open_store

    engine = open_store(resolve_config(config_path, database).database)
    result = diff_scans(engine, from_id, to_id)
    if fmt == "json":
        click.echo(json.dumps(diff_document(result), indent=2, ensure_ascii=False))
    else:
        click.echo(render_diff_text(result), nl=False)


def diff_document(result: ScanDiff) -> dict[str, object]:
    """The JSON form of a diff (ddaudit.diff/1)."""
    def brief(f: Finding) -> dict[str, object]:
        return {"id": f.id, "rule_id": f.rule_id, "severity": f.severity, "status": f.status,
                "site": f.site, "org_public_id": f.org_public_id, "target": f.target,
                "resource_type": f.resource_type, "resource_id": f.resource_id,
                "resource_name": f.resource_name}

    return {
        "schema": "ddaudit.diff/1",
        "from": None if result.from_scan is None else result.from_scan.id,
        "to": result.to_scan.id,
        "new": [brief(f) for f in result.new],
        "resolved": [{**brief(f), "remediated_by": result.remediated.get(f.id)}
                     for f in result.resolved],
        "changed": [{**brief(c.after), "before": {"severity": c.before.severity,
                                                  "status": c.before.status}}
                    for c in result.changed],
        "no_longer_assessed": [brief(f) for f in result.unassessed],
    }


COMMANDS: tuple[click.Command, ...] = (verify, diff)
