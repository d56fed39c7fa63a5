"""Configuration loading: the documented format, the zero-config path, one-line errors, and
keys read only where they are used (never at load)."""

from __future__ import annotations

from pathlib import Path

import pytest

from scanner.config import Secret, load_config
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
    config = load_config(None, {})  # loads: keyless commands need no key
    with pytest.raises(ConfigError, match="DD_API_KEY and DD_APP_KEY not set") as err:
        config.check_credentials()
    assert "pass --config FILE or export DD_API_KEY" in str(err.value)
    with pytest.raises(ConfigError, match="no config file and DD_APP_KEY not set;"):
        load_config(None, {"DD_API_KEY": "k"}).check_credentials()
    with pytest.raises(ConfigError, match="DD_API_KEY and DD_APP_KEY not set"):
        config.targets[0].app_key.reveal()


def test_a_file_naming_unset_variables_loads_and_names_them_only_when_checked(
    tmp_path: Path,
) -> None:
    text = GOOD.replace('api_key_env = "K2"', 'api_key_env = "MISSING"')
    path = _write(tmp_path, text)
    config = load_config(path, ENV)  # no key read at load
    config.check_credentials(config.targets[:1])  # prod-us1's keys are set
    with pytest.raises(ConfigError) as err:
        config.check_credentials()
    line = str(err.value)
    assert line == (f"{path}: target 'prod-eu' api_key_env: environment variable MISSING "
                    "is not set; export MISSING")
    with pytest.raises(ConfigError) as used:
        config.targets[1].api_key.reveal()
    assert str(used.value) == line
    # Every unset variable on the one line, never a value.
    nothing = load_config(path, {})
    with pytest.raises(ConfigError) as err:
        nothing.check_credentials()
    line = str(err.value)
    assert "\n" not in line and "target 'prod-us1' api_key_env" in line
    assert line.endswith("environment variable K1 is not set; export K1 "
                         "(also not set: A1, A2, MISSING)")
    assert "a" * 32 not in line


def test_keys_are_read_when_used_from_the_live_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("K1", raising=False)
    monkeypatch.delenv("A1", raising=False)
    config = load_config(_write(tmp_path, GOOD))  # os.environ, read at use
    key = config.targets[0].api_key
    assert key.variable == "K1" and key.missing is not None
    monkeypatch.setenv("K1", "q" * 32)
    assert key.missing is None and key.reveal() == "q" * 32
    assert "q" * 32 not in repr(config) and "q" * 32 not in str(key)
    assert repr(key) == "Secret(env='K1')" and repr(Secret("x" * 32)) == "Secret('***')"


# Config.sha256() of GOOD and of the no-config target on us5, as computed before keys were
# read lazily: scans and run.json recorded these, and `scan --resume` and shards compare them.
GOOD_SHA256 = "e73186d18c9ffabd71c76a42746a2c9f278e033b1da5568fd5ca20a343f6a9dc"
US5_SHA256 = "388daeacc11d60842c10b3d778cacfadc47de73b801144bfc56b8a61d0b40c83"


def test_config_hash_does_not_depend_on_keys_being_set(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD)
    assert load_config(path, ENV).sha256() == load_config(path, {}).sha256() == GOOD_SHA256
    assert load_config(None, {"DD_SITE": "us5.datadoghq.com"}).sha256() == US5_SHA256
    assert load_config(None, {"DD_SITE": "us5.datadoghq.com", "DD_API_KEY": "k",
                              "DD_APP_KEY": "a"}).sha256() == US5_SHA256
    # The same hash as a config holding the keys in memory (what run.json recorded before).
    from dataclasses import replace

    loaded = load_config(path, ENV)
    in_memory = replace(loaded, targets=tuple(
        replace(t, api_key=Secret(t.api_key.reveal()), app_key=Secret(t.app_key.reveal()))
        for t in loaded.targets))
    assert in_memory.sha256() == loaded.sha256()


def test_evidence_signing_key_is_relative_to_the_config(tmp_path: Path) -> None:
    text = GOOD + '\n[evidence]\nsigning_key = "keys/ddaudit.pem"\n'
    config = load_config(_write(tmp_path, text), ENV)
    assert config.signing_key == tmp_path / "keys" / "ddaudit.pem"
    assert load_config(_write(tmp_path, GOOD), ENV).signing_key is None
    with pytest.raises(ConfigError, match=r"unknown key \[evidence\] 'key'"):
        load_config(_write(tmp_path, GOOD + '\n[evidence]\nkey = "x"\n'), ENV)
