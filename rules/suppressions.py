"""Suppressions (suppressions.yaml): loading, validation, applying to findings, usage report."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import yaml

from rules.loader import yaml_problem
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

    def covers(
        self,
        site: str,
        org_public_id: str | None,
        org_name: str | None,
        resource_id: str,
        resource_name: str | None,
    ) -> bool:
        """Whether this entry covers a finding of a rule it names (globs but the rule's)."""
        return (
            (fnmatchcase(resource_id, self.resource)
             or fnmatchcase(resource_name or "", self.resource))
            and (self.site is None or fnmatchcase(site, self.site))
            and (self.org is None or fnmatchcase(org_public_id or "", self.org)
                 or fnmatchcase(org_name or "", self.org))
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
    """How the entries of a suppressions file fared in one evaluation.

    `expired`: past their expiry date (they no longer apply); `unused`: in force but
    matching no finding; `active`: in force and matching at least one finding. `matches`:
    how many findings each active entry covers, by entry index (counting findings an
    earlier entry suppressed too).
    """

    expired: tuple[Suppression, ...] = ()
    unused: tuple[Suppression, ...] = ()
    active: tuple[Suppression, ...] = ()
    path: Path | None = None
    matches: Mapping[int, int] = field(default_factory=dict)

    def states(self) -> list[tuple[Suppression, str, int]]:
        """Every entry in file order with its state and the findings it covers."""
        out = [(e, "expired", 0) for e in self.expired]
        out += [(e, "unused", 0) for e in self.unused]
        out += [(e, "active", self.matches.get(e.index, 0)) for e in self.active]
        return sorted(out, key=lambda item: item[0].index)


def describe_usage(usage: SuppressionUsage) -> list[str]:
    """One line per expired or unused entry, for the operator's log (nothing when all is well)."""
    where = f"{usage.path}: " if usage.path is not None else "suppressions: "
    lines = []
    for e in usage.expired:
        lines.append(
            f"{where}entry {e.index} (rule {e.rule}, resource {e.resource}) expired on "
            f"{e.expires.isoformat()} and no longer applies; renew or remove it "
            f"(owner {e.owner})"
        )
    for e in usage.unused:
        lines.append(
            f"{where}entry {e.index} (rule {e.rule}, resource {e.resource}) matched no "
            f"finding; remove it or correct its patterns (owner {e.owner})"
        )
    return lines


@dataclass(frozen=True)
class Suppressions:
    """All entries of one suppressions file."""

    entries: tuple[Suppression, ...] = ()
    path: Path | None = None


class SuppressionTracker:
    """Matches findings against the entries in force at `now` and remembers which matched.

    The engine feeds it every open finding as it streams them (`match_fields`); the
    reports feed it the findings of a scan evaluated before its usage was stored (`match`).
    `usage()` then tells which entries were used, unused or expired.
    """

    def __init__(self, suppressions: Suppressions | None, now: datetime) -> None:
        entries = suppressions.entries if suppressions is not None else ()
        self.path = suppressions.path if suppressions is not None else None
        self.entries = entries
        self.in_force = tuple(e for e in entries if e.active(now))
        self.used: set[int] = set()
        self.matches: Counter[int] = Counter()
        self._by_rule: dict[str, tuple[Suppression, ...]] = {}

    def for_rule(self, rule_id: str) -> tuple[Suppression, ...]:
        """The entries in force whose rule glob matches `rule_id`, in file order."""
        found = self._by_rule.get(rule_id)
        if found is None:
            found = tuple(e for e in self.in_force if fnmatchcase(rule_id, e.rule))
            self._by_rule[rule_id] = found
        return found

    def match(self, f: Finding) -> Suppression | None:
        """The first entry covering open finding `f`; every covering entry counts as used."""
        return self.match_fields(
            f.rule_id, f.site, f.org_public_id, f.org_name, f.resource_id, f.resource_name
        )

    def match_fields(
        self,
        rule_id: str,
        site: str,
        org_public_id: str | None,
        org_name: str | None,
        resource_id: str,
        resource_name: str | None,
    ) -> Suppression | None:
        """`match` for a finding given by its fields (the engine's rows)."""
        hit: Suppression | None = None
        for e in self.for_rule(rule_id):
            if e.covers(site, org_public_id, org_name, resource_id, resource_name):
                self.used.add(e.index)
                self.matches[e.index] += 1
                hit = hit or e
        return hit

    def usage(self) -> SuppressionUsage:
        """Entries expired, in force but unused, and in force and used, so far."""
        in_force = {e.index for e in self.in_force}
        return SuppressionUsage(
            expired=tuple(e for e in self.entries if e.index not in in_force),
            unused=tuple(e for e in self.in_force if e.index not in self.used),
            active=tuple(e for e in self.in_force if e.index in self.used),
            path=self.path,
            matches=dict(self.matches),
        )


def load_suppressions(path: Path) -> Suppressions:
    """Read and validate a suppressions file; ConfigError naming the file and the entry."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"{path}: cannot read suppressions ({exc.strerror or exc.__class__.__name__}); "
            "check the path in [suppressions] file and that the file is readable"
        ) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: cannot read suppressions (not UTF-8 text at byte {exc.start}); "
            "save the file as UTF-8"
        ) from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: cannot read suppressions: {yaml_problem(exc)}") from exc
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
