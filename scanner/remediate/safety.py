"""The refusals `ddaudit apply` makes before anything is sent, each one line and exit 2.

A plan is refused when it is older than --max-age (or dated in the future), holds more
actions than --max-actions, names an action whose call is not the one its kind makes, or
would revoke a key ddaudit itself uses (the scan's or the write pair's: a key whose last
four characters, or a token whose public part, match a configured key; conservative, a
chance match refuses too). Hash mismatches are refused when the plan is read (model.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from scanner.config import Config, Secret, Target
from scanner.errors import APIError, ConfigError
from scanner.remediate.actions import KINDS, call_for
from scanner.remediate.model import Plan, PlannedAction

CLOCK_SKEW = timedelta(minutes=5)  # a plan dated this far ahead is a clock problem, not fresh
_AGE = re.compile(r"^(\d+)\s*([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
_TOKEN_PREFIX = re.compile(r"^[a-z]{4,5}_")


def parse_age(text: str) -> timedelta:
    """`24h`, `90m`, `2d`, `3600s` as a timedelta; ConfigError otherwise."""
    match = _AGE.match(text.strip())
    if match is None or int(match.group(1)) < 1:
        raise ConfigError(f"--max-age {text!r}: give a positive number with s, m, h or d, "
                          "e.g. 24h")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def check_plan(plan: Plan, *, now: datetime, max_age: timedelta, max_actions: int) -> None:
    """Refuse a stale, future-dated, too large or inconsistent plan (ConfigError)."""
    age = now - plan.created_at
    if age > max_age:
        raise ConfigError(f"plan {plan.plan_id} was made {_span(age)} ago, more than --max-age "
                          f"{_span(max_age)}; re-scan and make a new plan")
    if -age > CLOCK_SKEW:
        raise ConfigError(f"plan {plan.plan_id} is dated {_span(-age)} in the future; check "
                          "this machine's clock and the plan's")
    if len(plan.actions) > max_actions:
        raise ConfigError(f"plan {plan.plan_id} holds {len(plan.actions)} actions, more than "
                          f"--max-actions {max_actions}; make a smaller plan (--max, --rules, "
                          "--target) or raise --max-actions")
    for action in plan.actions:
        if action.kind not in KINDS:
            raise ConfigError(f"plan action {action.number}: unknown kind {action.kind!r}")
        try:
            expected = call_for(action.kind, action.resource_id, action.observed).as_dict()
        except APIError as exc:
            raise ConfigError(f"plan action {action.number}: {exc}") from None
        if dict(action.request) != expected:
            raise ConfigError(f"plan action {action.number}: its call {action.request.get('path')}"
                              f" is not the one a {action.kind} makes; make a new plan")


def _span(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds >= 2 * 86400:
        return f"{seconds // 86400}d"
    if seconds >= 2 * 3600:
        return f"{seconds // 3600}h"
    return f"{seconds // 60}m" if seconds >= 120 else f"{seconds}s"


def own_secrets(config: Config, acting: Iterable[str]) -> list[str]:
    """The values of every key ddaudit is configured with (scan and write pairs).

    The targets named in `acting` (those the plan acts on) must have every key set: their
    scan pair re-reads, their write pair writes, and an unreadable key could not be
    checked. Other targets' keys count when set.
    """
    names = set(acting)
    values: list[str] = []
    for target in config.targets:
        for secret in _pairs(target):
            if secret.missing is None:
                values.append(secret.reveal())
            elif target.name in names:
                raise ConfigError(secret.missing)
    return values


def _pairs(target: Target) -> list[Secret]:
    pairs = [target.api_key, target.app_key]
    if target.write_api_key is not None and target.write_app_key is not None:
        pairs += [target.write_api_key, target.write_app_key]
    return pairs


def uses_own_key(secrets: Sequence[str], *, last4: str | None = None,
                 public_portion: str | None = None) -> bool:
    """True when a key showing `last4`, or a token with `public_portion`, may be one of
    `secrets`: same last four characters, or the token's public part inside the value."""
    if last4 and any(s[-4:] == last4 for s in secrets):
        return True
    if public_portion:
        part = _TOKEN_PREFIX.sub("", public_portion)
        return len(part) >= 8 and any(part in s for s in secrets)
    return False


def check_own_keys(plan: Plan, secrets: Sequence[str]) -> None:
    """Refuse a plan that would revoke a key ddaudit itself uses, as the scan saw it."""
    for action in plan.actions:
        if _own(action, secrets):
            raise ConfigError(f"plan action {action.number} would {action.kind.split('_')[0]} "
                              f"{action.resource_type} {action.resource_id}, which looks like a "
                              "key ddaudit itself uses (scan or write pair); remove it from the "
                              "plan (make a new one with --rules/--target) or rotate that key")


def _own(action: PlannedAction, secrets: Sequence[str]) -> bool:
    last4 = action.observed.get("last4")
    portion = action.observed.get("public_portion")
    return uses_own_key(secrets, last4=last4 if isinstance(last4, str) else None,
                        public_portion=portion if isinstance(portion, str) else None)
