"""Data types of the rule engine: rules, the rule pack, settings and findings."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

SEVERITIES: tuple[str, ...] = ("critical", "high", "medium", "low", "info")
"""The severity scale, most severe first (the report order); the one definition."""
SEVERITY_RANK: dict[str, int] = {name: rank for rank, name in enumerate(SEVERITIES)}

RESOURCE_TYPES: frozenset[str] = frozenset(
    {
        "org",
        "service_account",
        "application_key",
        "api_key",
        "role",
        "authn_mapping",
        "org_connection",
        "access_token",
        "oauth_client",
        "okta_account",
        "collection",
    }
)

STATUSES: tuple[str, ...] = ("open", "suppressed", "not_assessed")
"""Statuses of a finding."""

# Bind parameters every condition may use without declaring them.
BUILTIN_BINDS: frozenset[str] = frozenset({"scan_id", "now", "trusted_orgs"})

# Key of RuleSettings.params that overrides pack-level parameters for every rule.
PACK_PARAMS_KEY = "pack"

# Columns every condition must return.
REQUIRED_COLUMNS: tuple[str, ...] = (
    "site",
    "target",
    "org_public_id",
    "resource_type",
    "resource_id",
    "resource_name",
)


@dataclass(frozen=True)
class Rule:
    """One loaded, validated rule file."""

    id: str
    title: str
    severity: str
    resource_types: tuple[str, ...]
    description: str
    rationale: str
    remediation: str
    references: tuple[str, ...]
    controls: tuple[tuple[str, tuple[str, ...]], ...]
    parameters: Mapping[str, Any]
    inputs: tuple[str, ...]
    detail: str
    condition: str
    path: Path
    binds: frozenset[str] = frozenset()
    fragments: tuple[str, ...] = ()  # the _pack.yaml fragments its condition uses

    @property
    def control_ids(self) -> tuple[str, ...]:
        """Controls as `FRAMEWORK:ID` strings, in the rule file's order."""
        return tuple(f"{fw}:{ctl}" for fw, ctls in self.controls for ctl in ctls)


@dataclass(frozen=True)
class RulePack:
    """The rules in force (sorted by id), pack-level parameters, SQL fragments, pack hash."""

    rules: tuple[Rule, ...]
    pack_parameters: Mapping[str, Any]
    sha256: str
    files: tuple[Path, ...] = ()
    fragments: Mapping[str, str] = field(default_factory=dict)  # name: SQL, expanded
    definitions: Mapping[str, str] = field(default_factory=dict)  # term: its definition

    def get(self, rule_id: str) -> Rule:
        """Return the rule with this id; KeyError when there is none."""
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)

    def parameters_of(self, rule: Rule) -> dict[str, Any]:
        """Default parameters of a rule: the pack-level ones it uses, then its own."""
        merged = {k: v for k, v in self.pack_parameters.items() if k in rule.binds}
        merged.update(rule.parameters)
        return merged


@dataclass(frozen=True)
class RuleSettings:
    """Operator choices: parameter overrides per rule id, disabled rules, trusted org UUIDs.

    `params` is keyed by rule id; the key "pack" overrides pack-level parameters
    (e.g. `privileged_permissions`) for every rule that uses them.
    """

    params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    disabled: frozenset[str] = frozenset()
    trusted_orgs: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Finding:
    """One finding of one scan, as written to the `findings` table and the reports."""

    id: str
    rule_id: str
    severity: str
    status: str
    title: str
    detail: str
    site: str
    org_public_id: str | None
    org_name: str | None
    target: str
    resource_type: str
    resource_id: str
    resource_name: str | None
    first_seen: datetime
    controls: tuple[str, ...]
    suppression: Mapping[str, Any] | None = None
    owner: str | None = None  # who answers for the resource (rules/owners.py)

    @property
    def sort_key(self) -> tuple[int, str, str, str, str, str, str]:
        """The report order (docs/outputs.md), then tie-breakers so that no two findings tie.

        Severity (most severe first), rule id, site, org, resource id; then resource type
        and finding id. rules.results.report_order is the same order in SQL.
        """
        return (
            SEVERITY_RANK.get(self.severity, len(SEVERITIES)),
            self.rule_id,
            self.site,
            self.org_public_id or "",
            self.resource_id,
            self.resource_type,
            self.id,
        )


def fingerprint(
    rule_id: str, site: str, org_public_id: str | None, resource_type: str, resource_id: str
) -> str:
    """Stable finding id: sha256 of `rule|site|org|resource_type|resource_id`, 32 hex."""
    text = "|".join((rule_id, site, org_public_id or "", resource_type, resource_id))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]
