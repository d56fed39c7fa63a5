"""Named SQL fragments of the pack: one home per shared definition, expansion, validation."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

import rules.loader
from rules import RulePack, load_rulepack
from rules.fragments import FragmentError, expand, resolve
from rules.loader import PACK_DIR, PACK_FILE
from scanner.errors import RuleError

# Text that only the fragment of each shared definition may hold (docs/rules.md "Shared
# definitions"): no rule file spells one out again.
DEFINITIONS = {
    "user_disabled": "COALESCE(u.disabled, FALSE)",
    "admin_roles": "admin_roles AS",
    "scanned_orgs": "scanned AS",
    "judged_connections": "judged AS",
}


def test_each_shared_definition_has_one_home(pack: RulePack) -> None:
    assert set(pack.fragments) == set(DEFINITIONS)
    for path in sorted(PACK_DIR.glob("DDA-*.yaml")):
        text = path.read_text()
        for name, marker in DEFINITIONS.items():
            assert marker not in text, f"{path.name} spells out fragment {name}"
    used = {name for rule in pack.rules for name in rule.fragments}
    assert used == set(DEFINITIONS)  # every fragment serves some rule
    for rule in pack.rules:
        assert "{{" not in rule.condition and "}}" not in rule.condition, rule.id
    assert pack.get("DDA-CONN-003").fragments == (
        "judged_connections", "scanned_orgs", "user_disabled")
    assert pack.get("DDA-MAP-002").fragments == ("admin_roles",)
    assert pack.get("DDA-KEY-001").fragments == ()


def test_rules_use_the_fragment_text_verbatim(pack: RulePack) -> None:
    for rule in pack.rules:
        for name in rule.fragments:
            if name != "scanned_orgs":  # it reaches rules through judged_connections
                lines = pack.fragments[name].splitlines()
                assert all(line.strip() in rule.condition for line in lines), (rule.id, name)
    sa = pack.get("DDA-SA-001")
    assert "AND NOT (COALESCE(u.disabled, FALSE) OR COALESCE(u.status, '') = 'Disabled')" in (
        sa.condition)
    assert {"admin_role_names", "admin_permissions"} <= sa.binds  # binds of the fragment


def test_expansion_keeps_indentation_and_records_nested_use() -> None:
    fragments = resolve({"inner": "inner AS (\n  SELECT 1\n)",
                         "outer": "{{inner}},\nouter AS (\n  SELECT 2\n)",
                         "flag": "(x.a OR x.b)"})
    text, used = expand("WITH\n    {{outer}}\nSELECT * FROM outer WHERE NOT {{ flag }}",
                        fragments)
    assert text == ("WITH\n    inner AS (\n      SELECT 1\n    ),\n    outer AS (\n"
                    "      SELECT 2\n    )\nSELECT * FROM outer WHERE NOT (x.a OR x.b)")
    assert used == ("outer", "inner", "flag")
    assert fragments.uses == {"inner": (), "outer": ("inner",), "flag": ()}


@pytest.mark.parametrize(
    ("raw", "text", "message"),
    [
        ({}, "SELECT {{nope}}", "uses unknown fragment {{nope}}; _pack.yaml defines: none"),
        ({"a": "1"}, "SELECT {{a}} }}", "has a stray '}}' on line 1"),
        ({"a": "1"}, "SELECT\n{{ Bad }}", "has a stray '{{' on line 2"),
    ],
)
def test_expand_refuses_unknown_and_malformed_references(
    raw: dict[str, str], text: str, message: str
) -> None:
    with pytest.raises(FragmentError, match=message.replace("{", r"\{").replace("}", r"\}")):
        expand(text, resolve(raw))


def test_resolve_refuses_loops_and_unknown_names() -> None:
    with pytest.raises(FragmentError, match=r"'fragments.a' refers to itself \(a -> b -> a\)"):
        resolve({"a": "{{b}}", "b": "{{a}}"})
    with pytest.raises(FragmentError, match=r"'fragments.a' uses unknown fragment \{\{c\}\}"):
        resolve({"a": "{{c}}"})


@pytest.fixture()
def pack_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the built-in pack folder, loaded instead of the real one."""
    folder = tmp_path / "rules" / "pack"
    shutil.copytree(PACK_DIR, folder)
    monkeypatch.setattr(rules.loader, "PACK_DIR", folder)
    return folder


def _edit_pack_file(folder: Path, old: str, new: str) -> None:
    path = folder / PACK_FILE
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_fragments_are_part_of_the_pack_hash(pack: RulePack, pack_copy: Path) -> None:
    assert load_rulepack().sha256 == pack.sha256
    _edit_pack_file(pack_copy, "COALESCE(u.status, '') = 'Disabled'",
                    "COALESCE(u.status, '') IN ('Disabled', 'Deactivated')")
    changed = load_rulepack()
    assert changed.sha256 != pack.sha256
    assert "IN ('Disabled', 'Deactivated')" in changed.get("DDA-ROLE-001").condition


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("fragments:\n", "fragmentz:\n",
         "_pack.yaml: field 'fragmentz' is not a pack field (parameters, fragments, "
         "definitions)"),
        ("  Disabled user: >-\n", "  Disabled user: [a, list]\n  Unused: >-\n",
         "_pack.yaml: field 'definitions' must be a mapping of term to its definition text"),
        ("  user_disabled: >-", "  User-Disabled: >-",
         "_pack.yaml: field 'fragments' has a bad name 'User-Disabled'"),
        ("  scanned_orgs: |\n", "  scanned_orgs: |\n    {{judged_connections}}\n",
         "_pack.yaml: field 'fragments.scanned_orgs' refers to itself "
         "(scanned_orgs -> judged_connections -> scanned_orgs)"),
        ("      FROM roles r\n", "      FROM rolez r\n",
         "DDA-MAP-002.yaml: field 'condition' does not run: no such table: rolez (with the "
         "_pack.yaml fragments admin_roles expanded"),
    ],
)
def test_bad_fragments_name_file_and_field(pack_copy: Path, old: str, new: str,
                                           message: str) -> None:
    _edit_pack_file(pack_copy, old, new)
    with pytest.raises(RuleError) as err:
        load_rulepack()
    assert message in str(err.value)


def test_custom_rules_use_pack_fragments(pack: RulePack, tmp_path: Path) -> None:
    custom = tmp_path / "custom"
    custom.mkdir()
    text = (PACK_DIR / "DDA-CONN-002.yaml").read_text().replace("DDA-CONN-002", "ACME-CONN-002")
    (custom / "ACME-CONN-002.yaml").write_text(text)
    broken = yaml.safe_load(text)
    broken["id"] = "ACME-CONN-009"
    broken["condition"] = broken["condition"].replace("{{judged_connections}}",
                                                      "{{judged_connection}}")
    extended = load_rulepack([custom])
    assert extended.get("ACME-CONN-002").condition == pack.get("DDA-CONN-002").condition
    (custom / "ACME-CONN-009.yaml").write_text(yaml.safe_dump(broken))
    with pytest.raises(RuleError) as err:
        load_rulepack([custom])
    assert "ACME-CONN-009.yaml: field 'condition' uses unknown fragment " \
           "{{judged_connection}}; _pack.yaml defines: admin_roles, judged_connections, " \
           "scanned_orgs, user_disabled" in str(err.value)
