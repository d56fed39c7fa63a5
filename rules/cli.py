"""The rule pack commands of the `ddaudit` CLI: `rules list` and `rules show ID`."""

from __future__ import annotations

from pathlib import Path

import click

from rules.catalog import list_lines, load_for_display, rules_markdown, show_lines

_CONFIG_HELP = "ddaudit.toml whose [rules] and [estate] settings to apply (no key is read)."


@click.group("rules")
def rules_group() -> None:
    """The rule pack: ids, severities, parameters and control mappings."""


@rules_group.command("list")
@click.option("--config", "config_path", type=click.Path(path_type=Path), help=_CONFIG_HELP)
@click.option("--format", "fmt", type=click.Choice(["text", "markdown"]), default="text",
              show_default=True,
              help="text: effective values for people; markdown: the rule reference "
                   "(docs/rules.md) with the pack's defaults.")
def rules_list(config_path: Path | None, fmt: str) -> None:
    """Every rule: id, severity, title, and its parameters' effective values.

    With --format markdown, the rule reference of docs/rules.md: every rule's fields,
    parameters with their defaults (overrides are not applied), controls and inputs;
    with --config, its custom rules are included.
    """
    pack, settings = load_for_display(config_path)
    if fmt == "markdown":
        click.echo(rules_markdown(pack), nl=False)
        return
    click.echo("\n".join(list_lines(pack, settings)))


@rules_group.command("show")
@click.argument("rule_id")
@click.option("--config", "config_path", type=click.Path(path_type=Path), help=_CONFIG_HELP)
def rules_show(rule_id: str, config_path: Path | None) -> None:
    """One rule in full: texts, references, controls, parameters, inputs, condition SQL."""
    pack, settings = load_for_display(config_path)
    click.echo("\n".join(show_lines(pack, settings, rule_id)))


COMMANDS: tuple[click.Command, ...] = (rules_group,)
