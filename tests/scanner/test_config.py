"""Configuration loading: the documented format, the zero-config path, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from scanner.config import load_config
from scanner.errors import ConfigError

ENV = {"K1": "a" * 32, "A1": "b" * 40, "K2": "c" * 32, "A2": "d" * 40}

GOOD = """
[scan]
database = "sqlite:///x.db"
fail_on = "medium"

[[targets]]
name = "prod-us1"
site = "datadoghq.com"
api_key_env = "K1"
app_key_env = "A1"

[[targets]]
name = "prod-eu"
site = "datadoghq.eu"
api_key_env = "K2"
app_key_env = "A2"

[rules]
disabled = ["DDA-ORG-005"]
[rules.params."DDA-KEY-001"]
stale_days = 60

[estate]
trusted_orgs = ["ABC-uuid"]
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ddaudit.toml"
    path.write_text(text)
    return path


def test_documented_config_loads(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, GOOD), ENV)
    assert [t.name for t in config.targets] == ["prod-us1", "prod-eu"]
    assert config.targets[1].site == "datadoghq.eu"
    assert config.targets[0].api_key.reveal() == "a" * 32
    assert config.fail_on == "medium" and config.database == "sqlite:///x.db"
    assert config.rules_params == {"DDA-KEY-001": {"stale_days": 60}}
    assert config.rules_disabled == {"DDA-ORG-005"}
    assert config.trusted_orgs == {"abc-uuid"}


def test_secrets_never_show_in_repr_or_hash(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, GOOD), ENV)
    assert "a" * 32 not in repr(config) and "b" * 40 not in repr(config)
    other = load_config(_write(tmp_path, GOOD), {**ENV, "K1": "z" * 32})
    assert config.sha256() == other.sha256()  # the hash does not depend on secrets


def test_zero_config_from_environment() -> None:
    env = {"DD_API_KEY": "k", "DD_APP_KEY": "a", "DD_SITE": "us5.datadoghq.com"}
    config = load_config(None, env)
    (target,) = config.targets
    assert target.site == "us5.datadoghq.com" and target.name == "default"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace('fail_on = "medium"', 'fail_on = "medium"\ncolour = 1'),
         "unknown key [scan] 'colour'"),
        (lambda t: t.replace('site = "datadoghq.eu"', 'site = "datadoghq.example"'),
         "unknown Datadog site 'datadoghq.example'"),
        (lambda t: t.replace('name = "prod-eu"', 'name = "prod-us1"'),
         "duplicate target name 'prod-us1'"),
        (lambda t: t.replace('api_key_env = "K2"', 'api_key_env = "MISSING"'),
         "environment variable MISSING is not set; export MISSING"),
        (lambda t: t.replace('fail_on = "medium"', 'fail_on = "severe"'),
         "fail_on 'severe' is not a severity"),
        (lambda t: t.replace('app_key_env = "A2"', 'app_key_env = "A2"\napi_url = "http://127.0.0.1:1"'),
         "custom endpoints are not allowed"),
        (lambda t: t + "\n[scan\n", "not valid TOML"),
        (lambda t: t.replace('disabled = ["DDA-ORG-005"]', 'disabled = "DDA-ORG-005"'),
         "[rules] disabled must be a list of rule ids"),
    ],
)
def test_bad_config_is_one_clear_line(tmp_path: Path, edit: object, message: str) -> None:
    path = _write(tmp_path, edit(GOOD))  # type: ignore[operator]
    with pytest.raises(ConfigError) as err:
        load_config(path, ENV)
    text = str(err.value)
    assert message in text and "\n" not in text and str(path) in text


def test_plain_http_off_loopback_is_refused(tmp_path: Path) -> None:
    text = GOOD.replace('fail_on = "medium"', 'fail_on = "medium"\nallow_custom_endpoints = true')
    text = text.replace('app_key_env = "A2"', 'app_key_env = "A2"\napi_url = "http://proxy.corp:8080"')
    with pytest.raises(ConfigError, match="plain http is allowed only to loopback"):
        load_config(_write(tmp_path, text), ENV)


def test_missing_file_and_missing_environment() -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_config(Path("/nonexistent/ddaudit.toml"), {})
    with pytest.raises(ConfigError, match="DD_API_KEY and DD_APP_KEY not set"):
        load_config(None, {})


def test_evidence_signing_key_is_relative_to_the_config(tmp_path: Path) -> None:
    text = GOOD + '\n[evidence]\nsigning_key = "keys/ddaudit.pem"\n'
    config = load_config(_write(tmp_path, text), ENV)
    assert config.signing_key == tmp_path / "keys" / "ddaudit.pem"
    assert load_config(_write(tmp_path, GOOD), ENV).signing_key is None
    with pytest.raises(ConfigError, match=r"unknown key \[evidence\] 'key'"):
        load_config(_write(tmp_path, GOOD + '\n[evidence]\nkey = "x"\n'), ENV)
