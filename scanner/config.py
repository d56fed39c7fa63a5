"""Load and validate `ddaudit.toml` (or the DD_* environment) into typed, secret-safe settings."""

from __future__ import annotations

import hashlib
import json
import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from rules.model import SEVERITIES as SEVERITIES  # re-exported: scanner.cli --fail-on
from scanner.config_notify import NotifySink, parse_notify
from scanner.errors import ConfigError
from scanner.secret import Secret as Secret  # re-exported: the type every key has
from scanner.sites import SITES

_KNOWN: dict[str, frozenset[str]] = {
    "": frozenset({"scan", "targets", "rules", "estate", "suppressions", "evidence",
                   "notify"}),
    "scan": frozenset({"database", "output", "fail_on", "allow_custom_endpoints",
                        "keep_days", "rate_headroom"}),
    "targets": frozenset({"name", "site", "api_key_env", "app_key_env", "api_url", "owner",
                          "write_api_key_env", "write_app_key_env"}),
    "rules": frozenset({"disabled", "custom_dirs", "params"}),
    "estate": frozenset({"trusted_orgs"}),
    "suppressions": frozenset({"file"}),
    "evidence": frozenset({"signing_key"}),
}


DEFAULT_DATABASE = "sqlite:///ddaudit.db"  # without [scan] database or --database
DEFAULT_OUTPUT = Path("ddaudit-out")  # without [scan] output or --output
DEFAULT_RATE_HEADROOM = 0.2  # share of every rate-limit window left to other automation
MAX_RATE_HEADROOM = 0.9


@dataclass(frozen=True)
class Target:
    """One org credential pair on one Datadog site (its keys read only when it is collected)."""

    name: str
    site: str
    api_key: Secret
    app_key: Secret
    api_url: str | None = None
    owner: str | None = None  # who answers for findings whose resource names no owner
    # A separate pair used only by `ddaudit apply`; the scan's pair never writes.
    write_api_key: Secret | None = None
    write_app_key: Secret | None = None

    @property
    def can_write(self) -> bool:
        """True when the target has a write key pair configured (for `ddaudit apply`)."""
        return self.write_api_key is not None and self.write_app_key is not None


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
    rate_headroom: float = DEFAULT_RATE_HEADROOM
    notify: tuple[NotifySink, ...] = ()

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
            "targets": [[t.name, t.site, t.api_url] + ([t.owner] if t.owner else [])
                        for t in self.targets],
            "database": _hide_password(self.database),
            "fail_on": self.fail_on,
            "allow_custom_endpoints": self.allow_custom_endpoints,
            "rules_disabled": sorted(self.rules_disabled),
            "rules_custom_dirs": [str(p) for p in self.rules_custom_dirs],
            "rules_params": {k: dict(v) for k, v in sorted(self.rules_params.items())},
            "trusted_orgs": sorted(self.trusted_orgs),
        }
        # Keys added in 2026 count only when set, so older configs keep the hash their
        # scans recorded (resume and shards compare it).
        if self.rate_headroom != DEFAULT_RATE_HEADROOM:
            public["rate_headroom"] = self.rate_headroom
        if self.notify:
            public["notify"] = [sink.public() for sink in self.notify]
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
    headroom = _expect(scan.get("rate_headroom", DEFAULT_RATE_HEADROOM), (int, float),
                       "[scan] rate_headroom", where, "a number between 0 and 0.9")
    if not 0 <= headroom <= MAX_RATE_HEADROOM:
        raise ConfigError(f"{where}: [scan] rate_headroom {headroom} is out of range; use a "
                          f"share between 0 and {MAX_RATE_HEADROOM} (default "
                          f"{DEFAULT_RATE_HEADROOM})")
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
        rate_headroom=float(headroom),
        notify=parse_notify(data.get("notify"), where,
                            lambda var, missing: Secret.from_env(var, missing, env),
                            check_custom_url, allow_custom),
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
    owner = raw.get("owner")
    if owner is not None and not _expect(owner, str, f"{label} owner", where,
                                         "a team e-mail or handle").strip():
        raise ConfigError(f"{where}: {label} owner is empty; give a team e-mail or handle "
                          "or remove it")
    write: list[Secret] = []
    for key in ("write_api_key_env", "write_app_key_env"):
        var = raw.get(key)
        if var is None:
            continue
        if not _expect(var, str, f"{label} {key}", where, "a string").strip():
            raise ConfigError(f"{where}: {label} {key} is empty; give the name of the "
                              "environment variable holding the write key")
        write.append(Secret.from_env(var, f"{where}: {label} {key}: environment variable "
                                          f"{var} is not set; export {var}", env))
    if len(write) == 1:
        raise ConfigError(f"{where}: {label} sets only one of write_api_key_env and "
                          "write_app_key_env; set both (a write key pair) or neither")
    if write and {s.variable for s in write} & {s.variable for s in secrets}:
        raise ConfigError(f"{where}: {label} write keys use the same variables as the scan "
                          "keys; the scan's pair stays read-only, give a separate write pair")
    return Target(name, site, secrets[0], secrets[1], api_url, owner=owner,
                  write_api_key=write[0] if write else None,
                  write_app_key=write[1] if write else None)


def check_custom_url(url: str, label: str) -> None:
    """Refuse a custom endpoint that would send keys in clear text off this machine."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{label}: '{url}' is not an http(s) URL; give e.g. "
                          "https://proxy.example:8443")
    if parts.scheme == "http" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise ConfigError(f"{label}: plain http is allowed only to loopback; use https")
