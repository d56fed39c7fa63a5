"""Suppressions (suppressions.yaml): loading, validation, applying to findings, usage report."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import yaml

from rules.model import Finding
from scanner.errors import ConfigError

_REQUIRED = ("rule", "resource", "reason", "owner", "expires")
_OPTIONAL = ("ticket", "site", "org")


@dataclass(frozen=True)
class Suppression:
    """One entry of suppressions.yaml (index is its 1-based position in the file)."""

    index: int
    rule: str
    resource: str
    reason: str
    owner: str
    expires: date
    ticket: str | None = None
    site: str | None = None
    org: str | None = None

    def active(self, now: datetime) -> bool:
        """True until the end of the `expires` day (UTC)."""
        return now.date() <= self.expires

    def matches(self, f: Finding) -> bool:
        """Whether this entry covers the finding (globs on rule, resource, site, org)."""
        resource = (f.resource_id, f.resource_name or "")
        org = (f.org_public_id or "", f.org_name or "")
        return (
            fnmatchcase(f.rule_id, self.rule)
            and any(fnmatchcase(v, self.resource) for v in resource)
            and (self.site is None or fnmatchcase(f.site, self.site))
            and (self.org is None or any(fnmatchcase(v, self.org) for v in org))
        )

    def as_dict(self) -> dict[str, Any]:
        """The entry as stored in Finding.suppression and the reports."""
        out: dict[str, Any] = {
            "rule": self.rule,
            "resource": self.resource,
            "reason": self.reason,
            "owner": self.owner,
            "expires": self.expires.isoformat(),
            "ticket": self.ticket,
        }
        if self.site is not None:
            out["site"] = self.site
        if self.org is not None:
            out["org"] = self.org
        return out


@dataclass(frozen=True)
class SuppressionUsage:
    """Entries past their expiry date, and active entries that matched no finding."""

    expired: tuple[Suppression, ...]
    unused: tuple[Suppression, ...]


@dataclass(frozen=True)
class Suppressions:
    """All entries of one suppressions file."""

    entries: tuple[Suppression, ...] = ()
    path: Path | None = None

    def apply(self, found: Sequence[Finding], now: datetime) -> list[Finding]:
        """Mark open findings matched by an active entry as suppressed (first entry wins)."""
        active = [e for e in self.entries if e.active(now)]
        out: list[Finding] = []
        for f in found:
            hit = next((e for e in active if e.matches(f)), None) if f.status == "open" else None
            if hit is not None:
                f = replace(f, status="suppressed", suppression=hit.as_dict())
            out.append(f)
        return out

    def usage(self, found: Sequence[Finding], now: datetime) -> SuppressionUsage:
        """Expired entries, and active ones that cover none of the given findings."""
        expired = tuple(e for e in self.entries if not e.active(now))
        unused = tuple(
            e
            for e in self.entries
            if e.active(now) and not any(f.status != "not_assessed" and e.matches(f) for f in found)
        )
        return SuppressionUsage(expired=expired, unused=unused)


def load_suppressions(path: Path) -> Suppressions:
    """Read and validate a suppressions file; ConfigError naming the file and the entry."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read suppressions ({exc.__class__.__name__})") from exc
    if data is None:
        return Suppressions((), path)
    if not isinstance(data, list):
        raise ConfigError(f"{path}: must be a list of entries (- rule: ..., resource: ...)")
    return Suppressions(tuple(_entry(path, i, e) for i, e in enumerate(data, 1)), path)


def _entry(path: Path, index: int, raw: object) -> Suppression:
    where = f"{path}: entry {index}"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a mapping with {', '.join(_REQUIRED)}")
    unknown = sorted(str(k) for k in raw if k not in _REQUIRED + _OPTIONAL)
    if unknown:
        raise ConfigError(f"{where}: unknown key '{unknown[0]}'")
    for key in _REQUIRED:
        if raw.get(key) in (None, ""):
            raise ConfigError(f"{where}: '{key}' is required")
    values: dict[str, str | None] = {}
    for key in ("rule", "resource", "reason", "owner", *_OPTIONAL):
        value = raw.get(key)
        if value is not None and not isinstance(value, str | int):
            raise ConfigError(f"{where}: '{key}' must be a string")
        values[key] = None if value is None else str(value)
    expires = raw["expires"]
    if isinstance(expires, datetime):
        expires = expires.date()
    elif isinstance(expires, str):
        try:
            expires = date.fromisoformat(expires)
        except ValueError as exc:
            raise ConfigError(f"{where}: 'expires' must be a date like 2027-03-31") from exc
    if not isinstance(expires, date):
        raise ConfigError(f"{where}: 'expires' must be a date like 2027-03-31")
    return Suppression(
        index=index,
        rule=str(values["rule"]),
        resource=str(values["resource"]),
        reason=str(values["reason"]),
        owner=str(values["owner"]),
        expires=expires,
        ticket=values["ticket"],
        site=values["site"],
        org=values["org"],
    )
