"""Load and validate `ddaudit.toml` (or the DD_* environment) into typed, secret-safe settings."""

from __future__ import annotations

import hashlib
import json
import os
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from rules.model import SEVERITIES as SEVERITIES  # re-exported: scanner.cli --fail-on
from scanner.errors import ConfigError
from scanner.sites import SITES

_KNOWN: dict[str, frozenset[str]] = {
    "": frozenset({"scan", "targets", "rules", "estate", "suppressions", "evidence"}),
    "scan": frozenset({"database", "output", "fail_on", "allow_custom_endpoints",
                        "keep_days"}),
    "targets": frozenset({"name", "site", "api_key_env", "app_key_env", "api_url"}),
    "rules": frozenset({"disabled", "custom_dirs", "params"}),
    "estate": frozenset({"trusted_orgs"}),
    "suppressions": frozenset({"file"}),
    "evidence": frozenset({"signing_key"}),
}


DEFAULT_DATABASE = "sqlite:///ddaudit.db"  # without [scan] database or --database
DEFAULT_OUTPUT = Path("ddaudit-out")  # without [scan] output or --output


class Secret:
    """A credential that never shows itself in repr, str, logs or tracebacks.

    Either a value held in memory (`Secret("...")`, the demo and tests), or the name of an
    environment variable read only when the key is used (`Secret.from_env`): loading a
    config never reads a key, so commands that send no request need none set.
    """

    __slots__ = ("_value", "_variable", "_env", "_missing")

    def __init__(self, value: str) -> None:
        self._value: str | None = value
        self._variable: str | None = None
        self._env: Mapping[str, str] | None = None
        self._missing: str | Callable[[], str] = ""

    @classmethod
    def from_env(cls, variable: str, missing: str | Callable[[], str],
                 env: Mapping[str, str] | None = None) -> Secret:
        """The key held by `variable` in `env` (default: os.environ, read at use).

        `missing` is the one-line ConfigError message (or makes it) when the variable is
        unset or empty; it names the variable and the fix, never a value.
        """
        secret = cls.__new__(cls)
        secret._value = None
        secret._variable = variable
        secret._env = env
        secret._missing = missing
        return secret

    @property
    def variable(self) -> str | None:
        """The environment variable the key is read from (None for a value in memory)."""
        return self._variable

    @property
    def missing(self) -> str | None:
        """The one-line error when the key cannot be read now, else None."""
        if self._variable is None:
            return None
        env = os.environ if self._env is None else self._env
        if env.get(self._variable):
            return None
        return self._missing if isinstance(self._missing, str) else self._missing()

    def check(self) -> None:
        """Raise ConfigError (exit 2) naming the variable and the fix when it is unset."""
        message = self.missing
        if message is not None:
            raise ConfigError(message)

    def reveal(self) -> str:
        """Return the secret; call only where it goes into a request header."""
        if self._value is not None:
            return self._value
        assert self._variable is not None
        env = os.environ if self._env is None else self._env
        value = env.get(self._variable)
        if not value:
            self.check()
            raise ConfigError(f"environment variable {self._variable} is not set")
        return value

    def __repr__(self) -> str:
        if self._variable is not None:
            return f"Secret(env={self._variable!r})"
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return False
        if self._variable is not None or other._variable is not None:
            return self._variable == other._variable and self._env is other._env
        return other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value if self._variable is None else ("env", self._variable))


@dataclass(frozen=True)
class Target:
    """One org credential pair on one Datadog site (its keys read only when it is collected)."""

    name: str
    site: str
    api_key: Secret
    app_key: Secret
    api_url: str | None = None


@dataclass(frozen=True)
class Config:
    """Everything a scan needs, validated; secrets only inside `Target`s."""

    targets: tuple[Target, ...]
    database: str = DEFAULT_DATABASE
    output: Path = DEFAULT_OUTPUT
    fail_on: str = "high"
    allow_custom_endpoints: bool = False
    rules_disabled: frozenset[str] = frozenset()
    rules_custom_dirs: tuple[Path, ...] = ()
    rules_params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    trusted_orgs: frozenset[str] = frozenset()
    suppressions_file: Path | None = None
    signing_key: Path | None = None  # Ed25519 PEM private key that signs manifest.json
    source: str = "environment"
    keep_days: int | None = None  # retention: scans older than this are pruned after a scan

    def check_credentials(self, targets: Sequence[Target] | None = None) -> None:
        """Before any request: every key of `targets` (default: all) can be read, or one line.

        The ConfigError names the file, the target's key and the variable, and the fix; any
        further unset variables are listed on the same line.
        """
        problems: list[tuple[str, str | None]] = []
        for target in self.targets if targets is None else targets:
            for secret in (target.api_key, target.app_key):
                message = secret.missing
                if message is not None:
                    problems.append((message, secret.variable))
        if not problems:
            return
        first = problems[0][0]
        others = sorted({v for _, v in problems
                         if v and not re.search(rf"\b{re.escape(v)}\b", first)})
        raise ConfigError(first + (f" (also not set: {', '.join(others)})" if others else ""))

    def sha256(self) -> str:
        """Hash of the configuration with credentials left out (for run.json and scans)."""
        public = {
            "targets": [[t.name, t.site, t.api_url] for t in self.targets],
            "database": _hide_password(self.database),
            "fail_on": self.fail_on,
            "allow_custom_endpoints": self.allow_custom_endpoints,
            "rules_disabled": sorted(self.rules_disabled),
            "rules_custom_dirs": [str(p) for p in self.rules_custom_dirs],
            "rules_params": {k: dict(v) for k, v in sorted(self.rules_params.items())},
            "trusted_orgs": sorted(self.trusted_orgs),
        }
        blob = json.dumps(public, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()


def _hide_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url


def load_config(path: Path | None, env: Mapping[str, str] | None = None) -> Config:
    """Read `path` (or, when None, DD_API_KEY / DD_APP_KEY / DD_SITE) into a Config.

    No key is read here: each target holds the names of its variables, read from `env`
    (default: os.environ at that moment) only when the target is collected, and checked
    before any request by `Config.check_credentials` (the pre-scan check).
    """
    if path is None:
        return _from_environment(env)
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{where}: file not found; run 'ddaudit init' to write one") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{where}: cannot read it ({exc.__class__.__name__}); fix its "
                          "permissions or encoding") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: not valid TOML ({exc}); fix the syntax") from None
    return _from_mapping(data, where, env)


def _from_environment(env: Mapping[str, str] | None) -> Config:
    """The no-config target: DD_API_KEY and DD_APP_KEY are read only when it is collected."""
    view = os.environ if env is None else env
    site = view.get("DD_SITE") or "datadoghq.com"
    _check_site(site, "DD_SITE")

    def missing() -> str:
        unset = [v for v in ("DD_API_KEY", "DD_APP_KEY") if not view.get(v)]
        return (f"no config file and {' and '.join(unset)} not set; pass --config FILE "
                "or export DD_API_KEY, DD_APP_KEY (and DD_SITE)")

    target = Target("default", site, Secret.from_env("DD_API_KEY", missing, env),
                    Secret.from_env("DD_APP_KEY", missing, env))
    return Config(targets=(target,))


def _check_keys(table: Mapping[str, Any], section: str, where: str) -> None:
    known = _KNOWN[section]
    for key in table:
        if key not in known:
            label = f"[{section}] " if section else ""
            raise ConfigError(
                f"{where}: unknown key {label}'{key}'; remove it "
                f"(known: {', '.join(sorted(known))})"
            )


def _expect(value: Any, kind: type | tuple[type, ...], key: str, where: str, what: str) -> Any:
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise ConfigError(f"{where}: {key} must be {what}, got {type(value).__name__}")
    return value


def _check_site(site: str, where_key: str) -> None:
    if site not in SITES:
        raise ConfigError(
            f"{where_key}: unknown Datadog site '{site}'; use one of {', '.join(SITES)}"
        )


def _from_mapping(data: Mapping[str, Any], where: str,
                  env: Mapping[str, str] | None) -> Config:
    _check_keys(data, "", where)
    scan = _expect(data.get("scan", {}), dict, "[scan]", where, "a table")
    _check_keys(scan, "scan", where)
    rules = _expect(data.get("rules", {}), dict, "[rules]", where, "a table")
    _check_keys(rules, "rules", where)
    estate = _expect(data.get("estate", {}), dict, "[estate]", where, "a table")
    _check_keys(estate, "estate", where)
    supp = _expect(data.get("suppressions", {}), dict, "[suppressions]", where, "a table")
    _check_keys(supp, "suppressions", where)

    fail_on = _expect(scan.get("fail_on", "high"), str, "[scan] fail_on", where, "a string")
    if fail_on not in SEVERITIES:
        raise ConfigError(f"{where}: [scan] fail_on '{fail_on}' is not a severity; use one of "
                          f"{', '.join(SEVERITIES)}")
    allow_custom = _expect(scan.get("allow_custom_endpoints", False), bool,
                           "[scan] allow_custom_endpoints", where, "true or false")
    keep_days = scan.get("keep_days")
    if keep_days is not None and (_expect(keep_days, int, "[scan] keep_days", where,
                                          "a whole number of days") < 1):
        raise ConfigError(f"{where}: [scan] keep_days must be at least 1, got {keep_days}")
    raw_targets = _expect(data.get("targets", []), list, "[[targets]]", where, "an array of tables")
    if not raw_targets:
        raise ConfigError(f"{where}: no [[targets]]; add one per org credential pair")
    targets: list[Target] = []
    for index, raw in enumerate(raw_targets):
        targets.append(_target(raw, index, where, env, allow_custom))
    names = [t.name for t in targets]
    for name in names:
        if names.count(name) > 1:
            raise ConfigError(f"{where}: duplicate target name '{name}'; target names must "
                              "be unique")

    params = _expect(rules.get("params", {}), dict, "[rules.params]", where, "a table")
    for rule_id, values in params.items():
        _expect(values, dict, f"[rules.params.\"{rule_id}\"]", where, "a table")
    trusted = _expect(estate.get("trusted_orgs", []), list, "[estate] trusted_orgs", where,
                      "a list of org UUIDs")
    disabled = _expect(rules.get("disabled", []), list, "[rules] disabled", where,
                       "a list of rule ids")
    custom = _expect(rules.get("custom_dirs", []), list, "[rules] custom_dirs", where,
                     "a list of folders")
    base = Path(where).parent
    supp_file = supp.get("file")
    if supp_file is not None:
        _expect(supp_file, str, "[suppressions] file", where, "a path string")
    evidence = _expect(data.get("evidence", {}), dict, "[evidence]", where, "a table")
    _check_keys(evidence, "evidence", where)
    signing_key = evidence.get("signing_key")
    if signing_key is not None:
        _expect(signing_key, str, "[evidence] signing_key", where, "a path string")
    return Config(
        targets=tuple(targets),
        database=_expect(scan.get("database", DEFAULT_DATABASE), str,
                         "[scan] database", where, "a SQLAlchemy URL string"),
        output=Path(_expect(scan.get("output", str(DEFAULT_OUTPUT)), str, "[scan] output",
                            where, "a folder path string")),
        fail_on=fail_on,
        allow_custom_endpoints=allow_custom,
        rules_disabled=frozenset(str(r) for r in disabled),
        rules_custom_dirs=tuple(base / str(p) for p in custom),
        rules_params={str(k): dict(v) for k, v in params.items()},
        trusted_orgs=frozenset(str(o).lower() for o in trusted),
        suppressions_file=(base / supp_file) if supp_file else None,
        signing_key=(base / signing_key) if signing_key else None,
        source=where,
        keep_days=keep_days,
    )


def _target(raw: Any, index: int, where: str, env: Mapping[str, str] | None,
            allow_custom: bool) -> Target:
    label = f"[[targets]] #{index + 1}"
    _expect(raw, dict, label, where, "a table")
    _check_keys(raw, "targets", where)
    for key in ("name", "site", "api_key_env", "app_key_env"):
        if key not in raw:
            raise ConfigError(f"{where}: {label} is missing '{key}'; add it")
        _expect(raw[key], str, f"{label} {key}", where, "a string")
    name, site = raw["name"], raw["site"]
    label = f"target '{name}'"
    _check_site(site, f"{where}: {label} site")
    secrets: list[Secret] = []
    for key in ("api_key_env", "app_key_env"):
        var = raw[key]
        if not var.strip():
            raise ConfigError(f"{where}: {label} {key} is empty; give the name of the "
                              "environment variable holding the key")
        secrets.append(Secret.from_env(var, f"{where}: {label} {key}: environment variable "
                                            f"{var} is not set; export {var}", env))
    api_url = raw.get("api_url")
    if api_url is not None:
        _expect(api_url, str, f"{label} api_url", where, "a URL string")
        if not allow_custom:
            raise ConfigError(f"{where}: {label} api_url is set but custom endpoints are not "
                              "allowed; set [scan] allow_custom_endpoints = true or remove it")
        check_custom_url(api_url, f"{where}: {label} api_url")
    return Target(name, site, secrets[0], secrets[1], api_url)


def check_custom_url(url: str, label: str) -> None:
    """Refuse a custom endpoint that would send keys in clear text off this machine."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{label}: '{url}' is not an http(s) URL; give e.g. "
                          "https://proxy.example:8443")
    if parts.scheme == "http" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise ConfigError(f"{label}: plain http is allowed only to loopback; use https")
