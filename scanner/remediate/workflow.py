"""The steps of `ddaudit apply` in their order: read, refuse, confirm, then act and record.

Everything that can refuse a plan runs before the confirmation and before any request:
the plan's hash (reading it), its age, size and calls, the approver's name, and whether
it touches a key ddaudit uses. Only then is the evidence folder opened and the first
request sent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from reports.manifest import load_signing_key
from scanner.client import RetryPolicy
from scanner.config import Config
from scanner.errors import ConfigError
from scanner.remediate.apply import Outcome, Run, apply_plan
from scanner.remediate.evidence import PLAN_MD, EvidenceFolder
from scanner.remediate.model import Plan, load_plan
from scanner.remediate.safety import check_own_keys, check_plan, own_secrets
from scanner.store.database import open_store
from scanner.timeutil import utcnow

DEFAULT_MAX_AGE = timedelta(hours=24)
DEFAULT_MAX_ACTIONS = 25


@dataclass(frozen=True)
class ApplyOptions:
    """What the operator asked of `ddaudit apply`."""

    approved_by: str
    dry_run: bool = False
    max_age: timedelta = DEFAULT_MAX_AGE
    max_actions: int = DEFAULT_MAX_ACTIONS


@dataclass(frozen=True)
class Applied:
    """What an apply did: every action's outcome, and where the evidence is."""

    plan: Plan
    outcomes: list[Outcome]
    evidence: Path


def apply_file(plan_path: Path, config: Config, options: ApplyOptions, *,
               confirm: Callable[[Plan], None] = lambda plan: None,
               policy: RetryPolicy | None = None) -> Applied:
    """Refuse (ConfigError, nothing sent) or carry out the plan at `plan_path`.

    `confirm` is called once every refusal has passed, unless it is a dry run; it raises
    to stop (the CLI asks on a terminal and requires --yes elsewhere).
    """
    approver = options.approved_by.strip()
    if not approver:
        raise ConfigError("--approved-by is empty; give the name of the person who approved "
                          "the plan")
    plan = load_plan(plan_path)
    check_plan(plan, now=utcnow(), max_age=options.max_age, max_actions=options.max_actions)
    acting = {t.name for t in config.targets if t.can_write} & {a.target for a in plan.actions}
    secrets = own_secrets(config, acting)
    check_own_keys(plan, secrets)
    if not options.dry_run:
        confirm(plan)
    engine = None if options.dry_run else open_store(config.database)
    key = None if config.signing_key is None else load_signing_key(config.signing_key)
    evidence = EvidenceFolder(config.output, plan.plan_id, plan.scan_id,
                              plan.scan_manifest_sha256, key)
    md = plan_path.with_name(PLAN_MD)
    evidence.start(plan.raw, md.read_bytes() if md.is_file() else None)
    outcomes = apply_plan(Run(plan, config, approver, options.dry_run, evidence, engine,
                              secrets, policy))
    return Applied(plan, outcomes, evidence.path)
