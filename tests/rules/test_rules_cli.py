"""`ddaudit rules list` and `ddaudit rules show ID`: effective parameters, every field, errors."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from rules import load_rulepack
from rules.loader import PACK_DIR
from scanner.cli import cli, main

CONFIG = """
[scan]
database = "sqlite:///never-opened.db"

[[targets]]
name = "prod"
site = "datadoghq.com"
api_key_env = "DDAUDIT_TEST_UNSET_API_KEY"
app_key_env = "DDAUDIT_TEST_UNSET_APP_KEY"

[rules]
disabled = ["DDA-ORG-005"]
custom_dirs = ["custom"]

[rules.params."DDA-KEY-001"]
stale_days = 60

[rules.params."pack"]
privileged_permissions = ["admin", "org_management"]

[rules.params."DDA-MAP-002"]
admin_role_names = ["Root"]

[estate]
trusted_orgs = ["UUID-PARTNER"]
"""


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def _main(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
          *args: str) -> tuple[int, str, str]:
    """Run the console entry point (its error handling included) with these arguments."""
    monkeypatch.setattr(sys, "argv", ["ddaudit", *args])
    with pytest.raises(SystemExit) as stop:
        main()
    out, err = capsys.readouterr()
    return int(stop.value.code or 0), out, err


@pytest.fixture()
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config with overrides, a disabled rule and a custom rule; its key variables unset."""
    monkeypatch.delenv("DDAUDIT_TEST_UNSET_API_KEY", raising=False)
    monkeypatch.delenv("DDAUDIT_TEST_UNSET_APP_KEY", raising=False)
    custom = tmp_path / "custom"
    custom.mkdir()
    text = (PACK_DIR / "DDA-ORG-006.yaml").read_text().replace("DDA-ORG-006", "ACME-ORG-001")
    (custom / "ACME-ORG-001.yaml").write_text(text)
    path = tmp_path / "ddaudit.toml"
    path.write_text(CONFIG)
    return path


def test_list_shows_every_rule_with_default_parameters() -> None:
    code, out = _invoke("rules", "list")
    assert code == 0
    lines = out.splitlines()
    pack = load_rulepack()
    for rule in pack.rules:
        assert any(line.split() == [rule.id, rule.severity, *rule.title.split()]
                   for line in lines), rule.id
    indent = " " * (max(len(r.id) for r in pack.rules) + 2)  # under the titles
    assert f"{indent}stale_days = 90" in lines
    assert f"{indent}rotation_days = 365" in lines
    assert any(line.strip().startswith("privileged_permissions = user_access_manage, ")
               and line.endswith("admin  (pack default)") for line in lines)
    assert f"{indent}trusted_orgs = (none)  (from [estate] trusted_orgs)" in lines
    assert lines[-1].startswith(f"{len(pack.rules)} rules (0 disabled)")


def test_list_with_config_shows_effective_values(config: Path) -> None:
    code, out = _invoke("rules", "list", "--config", str(config))
    assert code == 0, out
    lines = [line.strip() for line in out.splitlines()]
    assert ('stale_days = 60  (default 90; set by [rules.params."DDA-KEY-001"])'
            in lines)
    assert "stale_days = 90" in lines  # DDA-KEY-002 keeps its default
    assert ("privileged_permissions = admin, org_management  (default user_access_manage, "
            "user_access_invite, org_management, api_keys_write, api_keys_delete, "
            "org_app_keys_write, service_account_write, org_connections_write, "
            "audit_logs_write, logs_delete_data, data_scanner_unmask, "
            'governance_console_write, admin; set by [rules.params."pack"])') in lines
    assert ('admin_role_names = Root  (default Datadog Admin Role; set by '
            '[rules.params."DDA-MAP-002"])') in lines
    assert "admin_role_names = Datadog Admin Role  (pack default)" in lines  # DDA-SA-001
    assert "trusted_orgs = uuid-partner  (from [estate] trusted_orgs)" in lines
    assert "DDA-ORG-005 low Widgets can be shared outside Datadog [disabled]" in {
        " ".join(line.split()) for line in lines}
    assert any(line.split()[:2] == ["ACME-ORG-001", "low"] for line in lines if line)
    assert lines[-1].startswith(f"{len(load_rulepack().rules) + 1} rules (1 disabled)")


def test_show_gives_everything(config: Path) -> None:
    code, out = _invoke("rules", "show", "DDA-KEY-005")
    assert code == 0
    rule = load_rulepack().get("DDA-KEY-005")
    assert out.startswith("DDA-KEY-005  Application key scoped to a privileged permission\n")
    for label in ("severity:       high", "resource type:  application_key",
                  "status:         enabled", "inputs:         application_keys",
                  f"file:           {rule.path}", "description:", "rationale:",
                  "remediation:", "references:", "controls:", "parameters:", "detail:",
                  "condition:"):
        assert label in out.splitlines(), label
    flat = " ".join(out.split())
    for text in (rule.description, rule.rationale, rule.remediation, rule.detail):
        assert " ".join(text.split()) in flat
    for ref in rule.references:
        assert f"  {ref}" in out.splitlines()
    assert "  SOC2: CC6.3" in out.splitlines()
    assert "  NIST800-53: AC-6(5), AC-2(7)" in out.splitlines()
    assert "  privileged_permissions = user_access_manage" in out
    sql = [line.strip() for line in rule.condition.splitlines() if line.strip()]
    shown = [line.strip() for line in out.split("condition:\n", 1)[1].splitlines()]
    assert shown == sql


def test_show_prints_the_condition_with_its_fragments_expanded() -> None:
    code, out = _invoke("rules", "show", "DDA-CONN-003")
    assert code == 0
    lines = out.splitlines()
    assert ("fragments:      judged_connections, scanned_orgs, user_disabled "
            "(from _pack.yaml)") in lines
    condition = out.split("condition:\n", 1)[1]
    assert "{{" not in condition
    for text in ("  scanned AS (", "  here AS (", "  judged AS (",
                 "  WHERE j.side = 'source' AND j.created_by_id IS NOT NULL",
                 "AND NOT (COALESCE(u.disabled, FALSE) OR COALESCE(u.status, '') = 'Disabled'))"):
        assert any(line.startswith(text) or line.endswith(text) for line in lines), text
    code, out = _invoke("rules", "show", "DDA-KEY-001")
    assert "fragments:" not in out


def test_show_with_config_marks_overrides_and_disabled(config: Path) -> None:
    code, out = _invoke("rules", "show", "dda-key-001", "--config", str(config))
    assert code == 0
    assert '  stale_days = 60  (default 90; set by [rules.params."DDA-KEY-001"])' in out
    code, out = _invoke("rules", "show", "DDA-ORG-005", "--config", str(config))
    assert "status:         disabled by [rules] disabled" in out.splitlines()
    assert "parameters:\n  (none)\n" in out
    code, out = _invoke("rules", "show", "ACME-ORG-001", "--config", str(config))
    assert code == 0 and "custom/ACME-ORG-001.yaml" in out


def test_show_unknown_rule_is_one_line_exit_2(monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _main(monkeypatch, capsys, "rules", "show", "DDA-NOPE-001")
    assert code == 2 and out == ""
    assert err == "ddaudit: error: unknown rule DDA-NOPE-001; `ddaudit rules list` shows the " \
                  f"{len(load_rulepack().rules)} rules\n"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('stale_days = 60', 'stale_dayz = 60'), "unknown parameter stale_dayz"),
        (('disabled = ["DDA-ORG-005"]', 'disabled = ["DDA-NOPE-9"]'), "DDA-NOPE-9"),
        (('custom_dirs = ["custom"]', 'custom_dirs = ["missing"]'), "does not exist"),
    ],
)
def test_bad_config_is_one_line_exit_2(config: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str],
                                       change: tuple[str, str], message: str) -> None:
    config.write_text(config.read_text().replace(*change))
    code, out, err = _main(monkeypatch, capsys, "rules", "list", "--config", str(config))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message in err and err.startswith("ddaudit: error: ")
