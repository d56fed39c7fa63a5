"""The `[[notify]]` sinks of `ddaudit.toml`: where a scan's digest goes, validated, secret-safe."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from rules.model import SEVERITIES
from scanner.errors import ConfigError
from scanner.secret import Secret
from scanner.sites import SITES

NOTIFY_KINDS = ("webhook", "slack", "email", "datadog")
NOTIFY_EVENTS = ("new", "regressed", "partial", "failed")
DEFAULT_ON = NOTIFY_EVENTS  # new and regressed findings, partial and failed scans
DEFAULT_MIN_SEVERITY = "high"
DEFAULT_MAX_ITEMS = 20
DEFAULT_TIMEOUT = 10.0  # seconds per attempt
DEFAULT_ATTEMPTS = 3  # a failing sink is tried this many times in all
DEFAULT_BACKOFF = 2.0  # seconds before the first retry; doubled before each next one
MAX_ATTEMPTS = 10

_COMMON = frozenset({"kind", "name", "min_severity", "on", "max_items", "timeout", "attempts",
                     "backoff", "report_url"})
_BY_KIND: dict[str, frozenset[str]] = {
    "webhook": frozenset({"url_env", "secret_env"}),
    "slack": frozenset({"url_env"}),
    "email": frozenset({"smtp_host", "smtp_port", "starttls", "from", "to", "username",
                        "password_env"}),
    "datadog": frozenset({"site", "api_key_env", "api_url", "tags"}),
}
_REQUIRED: dict[str, tuple[str, ...]] = {
    "webhook": ("url_env",),
    "slack": ("url_env",),
    "email": ("smtp_host", "from", "to"),
    "datadog": ("site", "api_key_env"),
}

# Makes the Secret of a variable with its one-line "not set" message (bound to the env).
SecretFactory = Callable[[str, str], Secret]


@dataclass(frozen=True)
class NotifySink:
    """One `[[notify]]` entry; its secrets (`url`, `secret`, `password`, `api_key`) are `Secret`s.

    `url` is the webhook or Slack incoming-webhook URL; `secret` the webhook's HMAC key;
    `password` the SMTP password; `api_key` the key pair half that posts the Datadog event.
    """

    kind: str
    name: str
    min_severity: str = DEFAULT_MIN_SEVERITY
    on: frozenset[str] = frozenset(DEFAULT_ON)
    max_items: int = DEFAULT_MAX_ITEMS
    timeout: float = DEFAULT_TIMEOUT
    attempts: int = DEFAULT_ATTEMPTS
    backoff: float = DEFAULT_BACKOFF
    report_url: str | None = None  # public base URL of the output folder (links the report)
    url: Secret | None = None
    secret: Secret | None = None
    smtp_host: str | None = None
    smtp_port: int = 25
    starttls: bool = False
    sender: str | None = None
    recipients: tuple[str, ...] = ()
    username: str | None = None
    password: Secret | None = None
    site: str | None = None
    api_key: Secret | None = None
    api_url: str | None = None
    tags: tuple[str, ...] = ()

    def public(self) -> dict[str, Any]:
        """The entry without secrets or variable values, for the config hash and run.json."""
        return {"kind": self.kind, "name": self.name, "min_severity": self.min_severity,
                "on": sorted(self.on), "max_items": self.max_items}

    @property
    def secrets(self) -> tuple[Secret, ...]:
        """The secrets this sink needs to send (none for a dry run)."""
        return tuple(s for s in (self.url, self.secret, self.password, self.api_key)
                     if s is not None)


def parse_notify(raw: Any, where: str, secret: SecretFactory,
                 check_url: Callable[[str, str], None],
                 allow_custom: bool) -> tuple[NotifySink, ...]:
    """Validate the `[[notify]]` array of tables into sinks; one-line ConfigError on a fault."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ConfigError(f"{where}: [[notify]] must be an array of tables, "
                          f"got {type(raw).__name__}")
    sinks = [_sink(entry, i, where, secret, check_url, allow_custom)
             for i, entry in enumerate(raw)]
    names = [s.name for s in sinks]
    for name in names:
        if names.count(name) > 1:
            raise ConfigError(f"{where}: duplicate [[notify]] name '{name}'; give each a "
                              "unique name")
    return tuple(sinks)


def _sink(raw: Any, index: int, where: str, secret: SecretFactory,
          check_url: Callable[[str, str], None], allow_custom: bool) -> NotifySink:
    label = f"[[notify]] #{index + 1}"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: {label} must be a table, got {type(raw).__name__}")
    kind = raw.get("kind")
    if kind not in NOTIFY_KINDS:
        raise ConfigError(f"{where}: {label} kind {kind!r} is not known; use one of "
                          f"{', '.join(NOTIFY_KINDS)}")
    known = _COMMON | _BY_KIND[kind]
    for key in raw:
        if key not in known:
            raise ConfigError(f"{where}: {label} ({kind}): unknown key '{key}'; remove it "
                              f"(known: {', '.join(sorted(known))})")
    for key in _REQUIRED[kind]:
        if key not in raw:
            raise ConfigError(f"{where}: {label} ({kind}) is missing '{key}'; add it")
    name = _text(raw.get("name", f"{kind}-{index + 1}"), f"{label} name", where)
    label = f"[[notify]] '{name}'"
    min_sev = _text(raw.get("min_severity", DEFAULT_MIN_SEVERITY), f"{label} min_severity",
                    where)
    if min_sev not in SEVERITIES:
        raise ConfigError(f"{where}: {label} min_severity '{min_sev}' is not a severity; use "
                          f"one of {', '.join(SEVERITIES)}")
    on = raw.get("on", list(DEFAULT_ON))
    if not isinstance(on, list) or any(e not in NOTIFY_EVENTS for e in on) or not on:
        raise ConfigError(f"{where}: {label} on must be a non-empty list of "
                          f"{', '.join(NOTIFY_EVENTS)}; got {on!r}")
    max_items = raw.get("max_items", DEFAULT_MAX_ITEMS)
    if isinstance(max_items, bool) or not isinstance(max_items, int) or max_items < 0:
        raise ConfigError(f"{where}: {label} max_items must be a whole number >= 0")
    timeout = raw.get("timeout", DEFAULT_TIMEOUT)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise ConfigError(f"{where}: {label} timeout must be a positive number of seconds")
    attempts = raw.get("attempts", DEFAULT_ATTEMPTS)
    if (isinstance(attempts, bool) or not isinstance(attempts, int)
            or not 1 <= attempts <= MAX_ATTEMPTS):
        raise ConfigError(f"{where}: {label} attempts must be a whole number from 1 to "
                          f"{MAX_ATTEMPTS} (default {DEFAULT_ATTEMPTS})")
    backoff = raw.get("backoff", DEFAULT_BACKOFF)
    if isinstance(backoff, bool) or not isinstance(backoff, (int, float)) or backoff < 0:
        raise ConfigError(f"{where}: {label} backoff must be a number of seconds >= 0 "
                          f"(default {DEFAULT_BACKOFF})")
    report_url = raw.get("report_url")
    if report_url is not None:
        parts = urlsplit(_text(report_url, f"{label} report_url", where))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"{where}: {label} report_url '{report_url}' is not an http(s) "
                              "URL; give the public URL of the output folder, e.g. "
                              "https://audit.example.com/ddaudit-out")

    def env_secret(key: str) -> Secret | None:
        if key not in raw:
            return None
        var = _text(raw[key], f"{label} {key}", where)
        if not var.strip():
            raise ConfigError(f"{where}: {label} {key} is empty; give the name of the "
                              "environment variable holding the secret")
        return secret(var, f"{where}: {label} {key}: environment variable {var} is not set; "
                           f"export {var}")

    fields: dict[str, Any] = {}
    if kind == "email":
        port = raw.get("smtp_port", 25)
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise ConfigError(f"{where}: {label} smtp_port must be a port number")
        to = raw["to"]
        to = [to] if isinstance(to, str) else to
        if not isinstance(to, list) or not to or not all(isinstance(t, str) for t in to):
            raise ConfigError(f"{where}: {label} to must be an address or a list of them")
        starttls = raw.get("starttls", False)
        if not isinstance(starttls, bool):
            raise ConfigError(f"{where}: {label} starttls must be true or false")
        fields.update(smtp_host=_text(raw["smtp_host"], f"{label} smtp_host", where),
                      smtp_port=port, starttls=starttls, recipients=tuple(to),
                      sender=_text(raw["from"], f"{label} from", where),
                      username=(_text(raw["username"], f"{label} username", where)
                                if "username" in raw else None),
                      password=env_secret("password_env"))
    elif kind == "datadog":
        site = _text(raw["site"], f"{label} site", where)
        if site not in SITES:
            raise ConfigError(f"{where}: {label} site: unknown Datadog site '{site}'; use "
                              f"one of {', '.join(SITES)}")
        api_url = raw.get("api_url")
        if api_url is not None:
            _text(api_url, f"{label} api_url", where)
            if not allow_custom:
                raise ConfigError(f"{where}: {label} api_url is set but custom endpoints are "
                                  "not allowed; set [scan] allow_custom_endpoints = true or "
                                  "remove it")
            check_url(api_url, f"{where}: {label} api_url")
        tags = raw.get("tags", [])
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise ConfigError(f"{where}: {label} tags must be a list of strings")
        fields.update(site=site, api_key=env_secret("api_key_env"), api_url=api_url,
                      tags=tuple(tags))
    else:
        fields.update(url=env_secret("url_env"), secret=env_secret("secret_env"))
    return NotifySink(kind=kind, name=name, min_severity=min_sev, on=frozenset(on),
                      max_items=max_items, timeout=float(timeout), attempts=attempts,
                      backoff=float(backoff), report_url=report_url, **fields)


def _text(value: Any, key: str, where: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{where}: {key} must be a string, got {type(value).__name__}")
    return value

