"""The 2026 config keys: [scan] rate_headroom, a target's owner and write key pair, [[notify]]."""

from __future__ import annotations

from pathlib import Path

import pytest

from scanner.config import load_config
from scanner.errors import ConfigError

ENV = {"K1": "a" * 32, "A1": "b" * 40, "WK": "w" * 32, "WA": "x" * 40,
       "HOOK": "https://hooks.example/abc", "HOOKSEC": "s3cr3t", "SMTPPW": "pw", "EVK": "e" * 32}

BASE = """
[scan]
rate_headroom = 0.1

[[targets]]
name = "prod"
site = "datadoghq.com"
api_key_env = "K1"
app_key_env = "A1"
owner = "secops@example.com"
write_api_key_env = "WK"
write_app_key_env = "WA"

[[notify]]
kind = "webhook"
url_env = "HOOK"
secret_env = "HOOKSEC"

[[notify]]
kind = "email"
name = "mail"
smtp_host = "127.0.0.1"
smtp_port = 2525
from = "ddaudit@example.com"
to = ["sec@example.com"]
password_env = "SMTPPW"
username = "ddaudit"
min_severity = "medium"
on = ["new", "failed"]

[[notify]]
kind = "datadog"
site = "datadoghq.eu"
api_key_env = "EVK"
tags = ["team:sec"]
"""


def _load(tmp_path: Path, text: str) -> object:
    path = tmp_path / "ddaudit.toml"
    path.write_text(text)
    return load_config(path, ENV)


def test_new_keys_load_with_their_defaults(tmp_path: Path) -> None:
    config = _load(tmp_path, BASE)
    (target,) = config.targets  # type: ignore[attr-defined]
    assert config.rate_headroom == 0.1  # type: ignore[attr-defined]
    assert target.owner == "secops@example.com" and target.can_write
    assert target.write_api_key.reveal() == "w" * 32
    hook, mail, events = config.notify  # type: ignore[attr-defined]
    assert (hook.name, hook.min_severity, hook.on) == (
        "webhook-1", "high", {"new", "regressed", "partial", "failed"})
    assert hook.url.reveal() == ENV["HOOK"] and hook.secret.reveal() == "s3cr3t"
    assert mail.recipients == ("sec@example.com",) and mail.smtp_port == 2525
    assert mail.on == {"new", "failed"} and mail.password.variable == "SMTPPW"
    assert events.site == "datadoghq.eu" and events.tags == ("team:sec",)


def test_defaults_without_the_new_keys(tmp_path: Path) -> None:
    text = BASE.replace("rate_headroom = 0.1", "").split("[[notify]]")[0]
    text = text.replace('owner = "secops@example.com"\n', "")
    text = text.replace('write_api_key_env = "WK"\nwrite_app_key_env = "WA"\n', "")
    config = _load(tmp_path, text)
    (target,) = config.targets  # type: ignore[attr-defined]
    assert config.rate_headroom == 0.2 and config.notify == ()  # type: ignore[attr-defined]
    assert target.owner is None and not target.can_write and target.write_api_key is None


def test_secrets_stay_out_of_repr_and_hash(tmp_path: Path) -> None:
    config = _load(tmp_path, BASE)
    shown = repr(config)
    for value in ENV.values():
        assert value not in shown
    assert "HOOK" in shown  # the variable's name is fine to show
    changed = _load(tmp_path, BASE.replace("rate_headroom = 0.1", "rate_headroom = 0"))
    assert changed.sha256() != config.sha256()  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("rate_headroom = 0.1", "rate_headroom = 0.95"), "rate_headroom 0.95 is out of range"),
        (("rate_headroom = 0.1", "rate_headroom = -0.1"), "rate_headroom -0.1 is out of range"),
        (("rate_headroom = 0.1", 'rate_headroom = "lots"'), "rate_headroom must be a number"),
        (('write_app_key_env = "WA"\n', ""), "sets only one of write_api_key_env"),
        (('write_api_key_env = "WK"', 'write_api_key_env = "K1"'),
         "the scan's pair stays read-only"),
        (('owner = "secops@example.com"', 'owner = ""'), "owner is empty"),
        (('kind = "webhook"', 'kind = "pager"'), "kind 'pager' is not known"),
        (('secret_env = "HOOKSEC"', 'secret_env = "HOOKSEC"\nsmtp_host = "x"'),
         "unknown key 'smtp_host'"),
        (('url_env = "HOOK"\n', ""), "is missing 'url_env'"),
        (('min_severity = "medium"', 'min_severity = "urgent"'), "'urgent' is not a severity"),
        (('on = ["new", "failed"]', 'on = ["fixed"]'), "on must be a non-empty list"),
        (('site = "datadoghq.eu"', 'site = "datadoghq.example"'), "unknown Datadog site"),
        (('name = "mail"', 'name = "webhook-1"'), "duplicate [[notify]] name 'webhook-1'"),
    ],
)
def test_bad_new_keys_are_one_clear_line(tmp_path: Path, edit: tuple[str, str],
                                         message: str) -> None:
    assert edit[0] in BASE
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, BASE.replace(*edit, 1))
    assert message in str(err.value) and "\n" not in str(err.value)


def test_an_unset_notify_variable_is_named_only_when_used(tmp_path: Path) -> None:
    path = tmp_path / "ddaudit.toml"
    path.write_text(BASE)
    config = load_config(path, {k: v for k, v in ENV.items() if k != "HOOK"})
    hook = config.notify[0]
    assert hook.url is not None and "HOOK is not set" in (hook.url.missing or "")


def test_init_writes_a_config_that_loads_with_and_without_its_commented_keys(
        tmp_path: Path) -> None:
    from click.testing import CliRunner

    from scanner.cli import cli

    path = tmp_path / "ddaudit.toml"
    result = CliRunner().invoke(cli, ["init", str(path)])
    assert result.exit_code == 0, result.output
    env = {"DD_API_KEY_PROD_US1": "k" * 32, "DD_APP_KEY_PROD_US1": "a" * 40}
    plain = load_config(path, env)
    assert plain.rate_headroom == 0.2 and plain.notify == ()
    # Every commented example key is valid once uncommented.
    text = "\n".join(line[2:] if line.startswith("# ") and "=" in line.split("#")[1]
                     or line.startswith("# [[") else line
                     for line in path.read_text().splitlines())
    path.write_text(text)
    full = load_config(path, env)
    (target,) = full.targets
    assert target.owner == "secops@example.com" and target.can_write
    assert [s.kind for s in full.notify] == ["slack"]
