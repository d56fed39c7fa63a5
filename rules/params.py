"""Rule parameters: checking settings, resolving values, binding them into portable SQL."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import BindParameter, DateTime, String, TextClause, bindparam, text

from rules.model import PACK_PARAMS_KEY, Rule, RulePack, RuleSettings
from scanner.errors import ConfigError

_DAYS = re.compile(r"^(?P<stem>\w+)_days$")
# A timestamp as SQLite hands it back from text() queries (shown as its date).
ISO_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}")


def bind_names(condition: str) -> frozenset[str]:
    """The named bind parameters (`:name`) a condition uses."""
    return frozenset(text(condition).compile().params)


def derived_names(parameters: Mapping[str, Any]) -> dict[str, str]:
    """Map each derived bind to its source: `stale_days` (an int) gives `stale_before`."""
    derived: dict[str, str] = {}
    for name, value in parameters.items():
        m = _DAYS.match(name)
        if m and isinstance(value, int) and not isinstance(value, bool):
            derived[f"{m.group('stem')}_before"] = name
    return derived


def bind_values(
    parameters: Mapping[str, Any],
    *,
    scan_id: str,
    now: datetime,
    trusted_orgs: Iterable[str],
) -> dict[str, Any]:
    """All bind values available to a condition: builtins, parameters, derived thresholds."""
    values: dict[str, Any] = {
        "scan_id": scan_id,
        "now": now,
        "trusted_orgs": sorted({org.lower() for org in trusted_orgs}),
    }
    values.update(parameters)
    for derived, source in derived_names(parameters).items():
        values[derived] = now - timedelta(days=int(parameters[source]))
    return values


def statement(condition: str, values: Mapping[str, Any]) -> tuple[TextClause, dict[str, Any]]:
    """A text() statement with typed binds (lists expanding, datetimes as DateTime)."""
    used = bind_names(condition)
    clause = text(condition)
    params: dict[str, Any] = {}
    binds: list[BindParameter[Any]] = []
    for name in sorted(used):
        value = values[name]
        if isinstance(value, list | tuple | frozenset | set):
            value = sorted(value) if isinstance(value, frozenset | set) else list(value)
            kind = String() if all(isinstance(v, str) for v in value) else None
            binds.append(bindparam(name, expanding=True, type_=kind))
        elif isinstance(value, datetime):
            binds.append(bindparam(name, type_=DateTime()))
        else:
            binds.append(bindparam(name))
        params[name] = value
    return clause.bindparams(*binds), params


class Shown:
    """A value for a detail template; `{col:text}` shows `text` when the value is NULL."""

    def __init__(self, value: object) -> None:
        self.value = value

    def __format__(self, spec: str) -> str:
        if self.value is None:
            return spec or "unknown"
        return render_value(self.value)


def render_value(value: object) -> str:
    """Render one value for a detail sentence (dates as YYYY-MM-DD, lists comma-joined)."""
    if value is None:
        return "unknown"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, str) and ISO_TIMESTAMP.match(value):
        return value[:10]  # SQLite hands raw DateTime strings back from text() queries
    return str(value)


def check_settings(pack: RulePack, settings: RuleSettings) -> None:
    """Raise ConfigError naming any unknown rule id, parameter, or wrongly typed value."""
    known = {rule.id for rule in pack.rules}
    for rule_id in sorted(settings.disabled):
        if rule_id not in known:
            raise ConfigError(f"[rules] disabled names unknown rule {rule_id}; see `rules list`")
    for key, overrides in settings.params.items():
        if key == PACK_PARAMS_KEY:
            defaults: dict[str, Any] = dict(pack.pack_parameters)
        elif key in known:
            defaults = pack.parameters_of(pack.get(key))
        else:
            raise ConfigError(f'[rules.params."{key}"] names unknown rule {key}')
        for name, value in overrides.items():
            if name not in defaults:
                choices = ", ".join(sorted(defaults)) or "none"
                raise ConfigError(
                    f'[rules.params."{key}"] unknown parameter {name} (known: {choices})'
                )
            _check_type(key, name, defaults[name], value)


def _check_type(key: str, name: str, default: object, value: object) -> None:
    where = f'[rules.params."{key}"] {name}'
    if isinstance(default, bool) or isinstance(value, bool):
        ok = isinstance(default, bool) and isinstance(value, bool)
    elif isinstance(default, int):
        ok = isinstance(value, int) and value >= 0
        if not ok:
            raise ConfigError(f"{where} must be a whole number of at least 0")
    elif isinstance(default, float):
        ok = isinstance(value, int | float)
    elif isinstance(default, list):
        ok = isinstance(value, list | tuple) and all(isinstance(v, str) for v in value)
        if not ok:
            raise ConfigError(f"{where} must be a list of strings")
    else:
        ok = isinstance(value, type(default))
    if not ok:
        raise ConfigError(f"{where} must be a {type(default).__name__}")


def rule_parameters(pack: RulePack, rule: Rule, settings: RuleSettings) -> dict[str, Any]:
    """Effective parameters of a rule: defaults, then pack overrides, then rule overrides."""
    params = pack.parameters_of(rule)
    for name, value in settings.params.get(PACK_PARAMS_KEY, {}).items():
        if name in params and name not in rule.parameters:
            params[name] = value
    params.update(settings.params.get(rule.id, {}))
    return {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()}
