"""The built-in pack against its reference docs/rules.md, and rule file validation at load time."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from rules import load_rulepack
from rules.catalog import rules_markdown
from rules.loader import PACK_DIR
from scanner.cli import cli
from scanner.errors import RuleError
from tests.conftest import ROOT

RULES_DOC = ROOT / "docs" / "rules.md"


def test_rules_doc_is_generated_from_the_pack(pack):
    assert RULES_DOC.read_text(encoding="utf-8") == rules_markdown(pack), (
        "docs/rules.md is out of date with rules/pack/*.yaml: run `make docs`")


def test_rules_list_markdown_prints_the_doc():
    result = CliRunner().invoke(cli, ["rules", "list", "--format", "markdown"])
    assert result.exit_code == 0, result.output
    assert result.output == RULES_DOC.read_text(encoding="utf-8")


def _table(text: str) -> dict[str, list[str]]:
    """The summary table of docs/rules.md: rule id -> its cells."""
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        if cells and re.fullmatch(r"DDA-[A-Z]+-\d{3}", cells[0]):
            assert cells[0] not in rows, f"{cells[0]} is listed twice"
            rows[cells[0]] = cells
    return rows


def _defaults(cell: str) -> dict[str, str]:
    """`name` default; ... of the parameters cell (pack and [estate] ones left out)."""
    out = {}
    for part in filter(None, (p.strip() for p in cell.split(";"))):
        name, _, value = part.partition(" ")
        if not value.startswith("("):
            out[name.strip("`")] = value
    return out


def test_pack_matches_rules_doc(pack):
    table = _table(RULES_DOC.read_text(encoding="utf-8"))
    assert [r.id for r in pack.rules] == sorted(table)
    for rule in pack.rules:
        _, severity, rtypes, params, controls, title = table[rule.id]
        assert rule.severity == severity, rule.id
        assert rule.title == title, rule.id
        assert rule.resource_types == tuple(t.strip() for t in rtypes.split(",")), rule.id
        expected = [
            f"{part.split()[0]}:{ctl.strip()}"
            for part in controls.split(";")
            for ctl in part.split(None, 1)[1].split(",")
        ]
        assert list(rule.control_ids) == expected, rule.id
        defaults = _defaults(params)
        assert set(defaults) == set(rule.parameters), rule.id
        for name, default in defaults.items():
            value = rule.parameters[name]
            if isinstance(value, list):
                assert [v.strip() for v in default.split(",")] == value, (rule.id, name)
            else:
                assert default == str(value), (rule.id, name)
        assert "https://docs.datadoghq.com/" in rule.remediation, rule.id
        assert rule.references and rule.inputs or rule.id == "DDA-SCAN-001"


def test_pack_parameters(pack):
    assert "admin" in pack.pack_parameters["privileged_permissions"]
    assert len(pack.pack_parameters["privileged_permissions"]) == 13
    assert pack.get("DDA-ORG-004").parameters["public_domains"][0] == "gmail.com"
    assert pack.parameters_of(pack.get("DDA-KEY-005")) == {
        "privileged_permissions": pack.pack_parameters["privileged_permissions"]}


def test_pack_hash_is_stable_and_covers_custom_rules(pack, tmp_path):
    assert load_rulepack().sha256 == pack.sha256
    custom = tmp_path / "custom"
    custom.mkdir()
    text = (PACK_DIR / "DDA-ORG-005.yaml").read_text().replace("DDA-ORG-005", "ACME-ORG-001")
    (custom / "ACME-ORG-001.yaml").write_text(text)
    extended = load_rulepack([custom])
    assert extended.sha256 != pack.sha256
    assert "ACME-ORG-001" in [r.id for r in extended.rules]
    assert [r.id for r in extended.rules] == sorted(r.id for r in extended.rules)


def _broken(tmp_path: Path, rule_id: str, old: str, new: str) -> Path:
    folder = tmp_path / "custom"
    folder.mkdir(exist_ok=True)
    text = (PACK_DIR / f"{rule_id}.yaml").read_text()
    assert old in text
    new_id = "ACME-" + rule_id[4:]
    path = folder / f"{new_id}.yaml"
    path.write_text(text.replace(rule_id, new_id).replace(old, new, 1))
    return folder


@pytest.mark.parametrize(
    ("rule_id", "old", "new", "message"),
    [
        ("DDA-KEY-001", "severity: medium", "severity: urgent",
         "field 'severity' must be one of critical, high, medium, low, info"),
        ("DDA-KEY-001", "resource_type: application_key", "resource_type: widget",
         "field 'resource_type' must be among"),
        ("DDA-KEY-001", "title: Stale application key\n", "",
         "field 'title' is required"),
        ("DDA-KEY-001", ":stale_before", ":stale_limit",
         "field 'condition' uses undeclared parameter :stale_limit"),
        ("DDA-KEY-001", "stale_days: 90", "stale_days: 90\n  unused_days: 3",
         "field 'parameters.unused_days' is not used by the condition"),
        ("DDA-KEY-004", 'ISO27001: ["5.15", "8.2"]', "ISO27001: [5.15, 8.2]",
         "field 'controls.ISO27001' must be a list of strings"),
        ("DDA-KEY-001", "inputs: [application_keys]", "inputs: [app_keys]",
         "field 'inputs' must name coverage endpoints"),
        ("DDA-KEY-001", "FROM application_keys k\n", "FROM application_keyz k\n",
         "field 'condition' does not run: no such table: application_keyz"),
        ("DDA-KEY-001", "k.name AS resource_name", "k.name AS label",
         "field 'condition' must return column resource_name"),
        ("DDA-KEY-001", "{last_used_at:never}", "{last_use}",
         "field 'detail' names {last_use}, not a column"),
        ("DDA-KEY-001", "rationale:", "rationale_typo:", "field 'rationale'"),
        ("DDA-KEY-001", "severity: medium", "severity: [medium",
         "not readable YAML: expected ',' or ']', but got ':' at line 4, column 14 (while "
         "parsing a flow sequence started at line 3, column 11); fix the YAML syntax between "
         "line 3, column 11 and line 4, column 14"),
    ],
)
def test_bad_rule_file_names_file_and_field(tmp_path, rule_id, old, new, message):
    folder = _broken(tmp_path, rule_id, old, new)
    with pytest.raises(RuleError) as err:
        load_rulepack([folder])
    assert f"ACME-{rule_id[4:]}.yaml: " in str(err.value)
    assert message in str(err.value)


def test_duplicate_rule_id_is_refused(tmp_path):
    folder = tmp_path / "custom"
    folder.mkdir()
    shutil.copy(PACK_DIR / "DDA-ORG-005.yaml", folder / "DDA-ORG-005.yaml")
    with pytest.raises(RuleError, match="field 'id' DDA-ORG-005 is already defined in"):
        load_rulepack([folder])


def test_missing_custom_dir(tmp_path):
    with pytest.raises(RuleError, match="does not exist"):
        load_rulepack([tmp_path / "nope"])
