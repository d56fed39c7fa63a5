"""Text views of the rule pack: `ddaudit rules list` and `rules show`, and docs/rules.md.

Parameters are shown with their effective values: the rule's default, then the
`[rules.params."pack"]` and `[rules.params."<id>"]` overrides of a config, each value
saying where it came from.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from rules.loader import PACK_DIR, PACK_FILE, load_rulepack
from rules.model import PACK_PARAMS_KEY, Rule, RulePack, RuleSettings
from rules.params import check_settings, rule_parameters
from scanner.config import load_config
from scanner.errors import ConfigError

_WIDTH = 92
_INDENT = "  "


@dataclass(frozen=True)
class ParameterView:
    """One parameter of a rule: its effective value and where that value comes from."""

    name: str
    value: object
    default: object
    source: str  # "default", "pack default", or the config table that set it

    @property
    def overridden(self) -> bool:
        """Whether a config override replaced the default."""
        return self.source.startswith("[")

    def line(self) -> str:
        """`name = value`, with the default and the override's table when overridden."""
        text = f"{self.name} = {show_value(self.value)}"
        if self.overridden:
            text += f"  (default {show_value(self.default)}; set by {self.source})"
        elif self.source != "default":
            text += f"  ({self.source})"
        return text


class _AnyVariable(Mapping[str, str]):
    """An environment where every variable is set: showing rules never needs a key."""

    def __getitem__(self, key: str) -> str:
        return "(not read)"

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def load_for_display(config_path: Path | None) -> tuple[RulePack, RuleSettings]:
    """The pack (with the config's custom rules) and the config's rule settings, checked.

    Without a config: the built-in pack and no overrides. The targets' key variables
    need not be set.
    """
    if config_path is None:
        return load_rulepack(), RuleSettings()
    config = load_config(config_path, env=_AnyVariable())
    pack = load_rulepack(config.rules_custom_dirs)
    settings = RuleSettings(
        params=config.rules_params,
        disabled=config.rules_disabled,
        trusted_orgs=config.trusted_orgs,
    )
    check_settings(pack, settings)
    return pack, settings


def show_value(value: object) -> str:
    """A parameter value for people: lists comma-joined, an empty list as (none)."""
    if isinstance(value, list | tuple | frozenset | set):
        items = sorted(value) if isinstance(value, frozenset | set) else list(value)
        return ", ".join(str(v) for v in items) if items else "(none)"
    return str(value)


def parameters(pack: RulePack, rule: Rule, settings: RuleSettings) -> list[ParameterView]:
    """The rule's parameters with effective values, in name order, then trusted_orgs if used."""
    effective = rule_parameters(pack, rule, settings)
    defaults = pack.parameters_of(rule)
    own = settings.params.get(rule.id, {})
    shared = settings.params.get(PACK_PARAMS_KEY, {})
    views = []
    for name in sorted(effective):
        if name in own:
            source = f'[rules.params."{rule.id}"]'
        elif name in shared and name not in rule.parameters:
            source = f'[rules.params."{PACK_PARAMS_KEY}"]'
        else:
            source = "default" if name in rule.parameters else "pack default"
        views.append(ParameterView(name, effective[name], defaults[name], source))
    if "trusted_orgs" in rule.binds:
        views.append(ParameterView("trusted_orgs", sorted(settings.trusted_orgs), [],
                                   "from [estate] trusted_orgs"))
    return views


def find_rule(pack: RulePack, rule_id: str) -> Rule:
    """The rule with this id (any case); ConfigError naming the id otherwise."""
    for candidate in (rule_id, rule_id.upper()):
        try:
            return pack.get(candidate)
        except KeyError:
            continue
    raise ConfigError(f"unknown rule {rule_id}; `ddaudit rules list` shows the "
                      f"{len(pack.rules)} rules")


def list_lines(pack: RulePack, settings: RuleSettings) -> list[str]:
    """One line per rule (id, severity, title), its parameters indented beneath it."""
    width = max((len(r.id) for r in pack.rules), default=2)
    pad = " " * (width + 2)
    lines = [f"{'ID':<{width}}  {'SEVERITY':<8}  TITLE"]
    for rule in pack.rules:
        flag = "  [disabled]" if rule.id in settings.disabled else ""
        lines.append(f"{rule.id:<{width}}  {rule.severity:<8}  {rule.title}{flag}")
        lines.extend(pad + p.line() for p in parameters(pack, rule, settings))
    disabled = sum(1 for r in pack.rules if r.id in settings.disabled)
    lines.append(f"{len(pack.rules)} rules ({disabled} disabled); "
                 "`ddaudit rules show ID` gives one in full")
    return lines


def _wrap(text: str) -> list[str]:
    """Indented lines of at most _WIDTH characters; URLs and ids are never broken."""
    return textwrap.wrap(text, _WIDTH, initial_indent=_INDENT, subsequent_indent=_INDENT,
                         break_long_words=False, break_on_hyphens=False)


def _block(title: str, text: str) -> list[str]:
    return [f"{title}:", *_wrap(text), ""]


def show_lines(pack: RulePack, settings: RuleSettings, rule_id: str) -> list[str]:
    """Everything about one rule: texts, references, controls, parameters, inputs, SQL.

    The condition is shown as it runs: the pack's fragments it names are expanded.
    """
    rule = find_rule(pack, rule_id)
    status = ("disabled by [rules] disabled" if rule.id in settings.disabled else "enabled")
    lines = [
        f"{rule.id}  {rule.title}",
        "",
        f"severity:       {rule.severity}",
        f"resource type:  {', '.join(rule.resource_types)}",
        f"status:         {status}",
        f"inputs:         {', '.join(rule.inputs) or '(none)'}",
        f"file:           {rule.path}",
    ]
    if rule.fragments:  # the condition below shows them expanded
        lines.append(f"fragments:      {', '.join(rule.fragments)} (from {PACK_FILE})")
    lines.append("")
    lines += _block("description", rule.description)
    lines += _block("rationale", rule.rationale)
    lines += _block("remediation", rule.remediation)
    lines += ["references:", *(f"{_INDENT}{ref}" for ref in rule.references or ("(none)",)), ""]
    lines += ["controls:",
              *(f"{_INDENT}{fw}: {', '.join(ids)}" for fw, ids in rule.controls), ""]
    views = parameters(pack, rule, settings)
    lines += ["parameters:", *(_INDENT + p.line() for p in views or ())]
    if not views:
        lines.append(f"{_INDENT}(none)")
    lines += ["", "detail:", *_wrap(rule.detail), ""]
    lines += ["condition:", *(_INDENT + line if line else "" for line in
                              textwrap.dedent(rule.condition).rstrip().splitlines())]
    return lines


# --- docs/rules.md: the rule reference, generated from the pack ----------------------------

MARKDOWN_COMMAND = "ddaudit rules list --format markdown"


def _cell(text: str) -> str:
    """Text for one Markdown table cell: one line, pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|")


def _para(text: str) -> str:
    """A rule text as one Markdown paragraph (the YAML folds it; line breaks carry nothing)."""
    return " ".join(text.split())


def _controls_text(rule: Rule) -> str:
    """`SOC2 CC6.1, CC6.2; ISO27001 5.17`: frameworks in the rule file's order."""
    return "; ".join(f"{fw} {', '.join(ids)}" for fw, ids in rule.controls)


def _pack_params_of(pack: RulePack, rule: Rule) -> list[str]:
    """The pack-level parameters a rule's condition uses (its own ones excluded), sorted."""
    return sorted(n for n in pack.pack_parameters if n in rule.binds and n not in rule.parameters)


def _params_cell(pack: RulePack, rule: Rule) -> str:
    """The summary table's parameters: `name` default; ... then pack ones and trusted_orgs."""
    parts = [f"`{n}` {show_value(v)}" for n, v in sorted(rule.parameters.items())]
    parts += [f"`{n}` (pack)" for n in _pack_params_of(pack, rule)]
    if "trusted_orgs" in rule.binds:
        parts.append("`trusted_orgs` ([estate])")
    return _cell("; ".join(parts))


def _rule_file(rule: Rule) -> str:
    """The rule file as a repository path for the built-in pack, else its file name."""
    return f"rules/pack/{rule.path.name}" if rule.path.parent == PACK_DIR else rule.path.name


def _rule_section(pack: RulePack, rule: Rule) -> list[str]:
    """One rule in full: every field a user needs, the condition left to `rules show`."""
    lines = [f"### {rule.id}: {rule.title}", ""]
    lines.append(f"- **Severity:** {rule.severity}")
    lines.append(f"- **Resource types:** {', '.join(f'`{t}`' for t in rule.resource_types)}")
    inputs = ", ".join(f"`{i}`" for i in rule.inputs) or "none (it reads the coverage itself)"
    lines.append(f"- **Inputs (coverage endpoints):** {inputs}")
    params = [f"`{n}` = {show_value(v)}" for n, v in sorted(rule.parameters.items())]
    params += [f"`{n}` (pack-level)" for n in _pack_params_of(pack, rule)]
    if "trusted_orgs" in rule.binds:
        params.append("`trusted_orgs` (from `[estate] trusted_orgs`)")
    lines.append(f"- **Parameters:** {'; '.join(params) or 'none'}")
    lines.append("- **Controls:** " + "; ".join(
        f"{fw} {', '.join(ids)}" for fw, ids in rule.controls))
    lines.append(f"- **Rule file:** `{_rule_file(rule)}`")
    lines += ["", _para(rule.description), "",
              f"**Why it matters.** {_para(rule.rationale)}", "",
              f"**Remediation.** {_para(rule.remediation)}", "",
              f"**Finding detail.** `{_para(rule.detail)}`", ""]
    if rule.references:
        lines += ["**References.**", "", *(f"- <{ref}>" for ref in rule.references), ""]
    return lines


def _definitions(pack: RulePack) -> list[str]:
    """The pack's shared definitions as a Markdown section (none: no section)."""
    if not pack.definitions:
        return []
    return ["## Shared definitions", "",
            *(f"- **{term}**: {text.strip()}" for term, text in pack.definitions.items()), ""]


def rules_markdown(pack: RulePack) -> str:
    """docs/rules.md: the rule reference of `pack` in Markdown, the same bytes for one pack.

    A summary table (id, severity, resource types, parameters with defaults, controls,
    title), the pack-level parameters, then one section per rule.
    """
    lines = [
        "# Rule reference",
        "",
        f"<!-- Generated from rules/pack/*.yaml by `{MARKDOWN_COMMAND}` (`make docs`). "
        "Do not edit by hand: change the rule files and regenerate. -->",
        "",
        f"The rule pack has {len(pack.rules)} rules. Each is one YAML file under `rules/pack/`; "
        "`ddaudit rules show ID` prints one in full, including the SQL condition that runs "
        "over the snapshot. A rule judges only what was collected: when one of its inputs "
        "(coverage endpoints) is not complete for an org, it reports `not_assessed` for that "
        "org instead of passing (see [outputs.md](outputs.md)).",
        "",
        "Parameters are overridden in `ddaudit.toml`: `[rules.params.\"ID\"]` for one rule, "
        "`[rules.params.\"pack\"]` for the pack-level parameters of every rule that uses "
        "them; `[rules] disabled` turns rules off (see [configuration.md](configuration.md)). "
        "`ddaudit rules list --config ddaudit.toml` shows the effective values.",
        "",
        *_definitions(pack),
        "## Summary",
        "",
        "| id | severity | resource types | parameters (default) | controls | title |",
        "|---|---|---|---|---|---|",
    ]
    for rule in pack.rules:
        cells = [rule.id, rule.severity, ", ".join(rule.resource_types),
                 _params_cell(pack, rule), _cell(_controls_text(rule)), _cell(rule.title)]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "## Pack-level parameters",
        "",
        "Shared by every rule whose condition names them (defined in "
        "`rules/pack/_pack.yaml`); override them for all rules with "
        "`[rules.params.\"pack\"]`, or for one rule in its own `[rules.params.\"ID\"]`.",
        "",
        "| parameter | default | used by |",
        "|---|---|---|",
    ]
    for name, value in pack.pack_parameters.items():
        users = ", ".join(r.id for r in pack.rules if name in _pack_params_of(pack, r))
        lines.append(f"| `{name}` | {_cell(show_value(value))} | {users or '(none)'} |")
    lines += ["", "## Rules", ""]
    for rule in pack.rules:
        lines += _rule_section(pack, rule)
    return "\n".join(lines).rstrip("\n") + "\n"
