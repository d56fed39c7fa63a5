"""`ddaudit apply`: carry out a reviewed plan, one re-read and at most one write per action.

Per target, the scan pair re-reads and the write pair writes; both must belong to the org
the plan was made for. Per action, in plan order: gone -> "already gone"; the finding no
longer holds -> "skipped: changed"; a key ddaudit uses -> "refused: own key"; a dry run ->
"would act"; otherwise the write, whose answer gives "done", "already gone" (404),
"forbidden" (naming the permission) or "failed". Whatever happens to one action, the next
one runs. Each outcome is appended to the evidence folder (and, unless a dry run, to the
database) before the next action starts.
"""

from __future__ import annotations

import asyncio
import getpass
import logging
import socket
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import aiohttp
from sqlalchemy import Engine

from scanner import __version__
from scanner.client import DatadogClient, RetryPolicy, scrub_secrets
from scanner.collect.base import rel_id
from scanner.collect.identity import identify_org
from scanner.config import Config, Target
from scanner.errors import APIError, DDAuditError, ForbiddenError
from scanner.remediate.actions import VERBS, call_for
from scanner.remediate.evidence import EvidenceFolder
from scanner.remediate.model import Plan, PlannedAction
from scanner.remediate.planmd import clean
from scanner.remediate.record import record_outcome
from scanner.remediate.reread import Reading, reread
from scanner.remediate.safety import uses_own_key
from scanner.throttle import OrgThrottle
from scanner.timeutil import isoformat_z, utcnow

log = logging.getLogger(__name__)
# Outcomes that make apply exit 1: the action was meant to run and did not, for a reason
# someone must look at.
FAILURES = frozenset({"forbidden", "failed", "refused: own key"})


@dataclass(frozen=True)
class Outcome:
    """What happened to one action."""

    action: PlannedAction
    outcome: str
    detail: str
    request: dict[str, str] | None = None  # the write sent, if any
    status: int | None = None  # its answer's HTTP status


@dataclass(frozen=True)
class Run:
    """One apply: who approved it, whether it writes, where it records."""

    plan: Plan
    config: Config
    approved_by: str
    dry_run: bool
    evidence: EvidenceFolder
    engine: Engine | None  # None: nothing recorded in the database (a dry run)
    secrets: Sequence[str]  # every configured key value: scrubbed from text, never revoked
    policy: RetryPolicy | None = None


def apply_plan(run: Run) -> list[Outcome]:
    """Carry the plan out (see the module docstring); return every action's outcome."""
    run.evidence.append(_record(run, "apply", actions=len(run.plan.actions),
                                plan_sha256=run.plan.sha256, host=socket.gethostname(),
                                os_user=_os_user(), tool_version=__version__))
    outcomes = asyncio.run(_all(run))
    counts = Counter(o.outcome for o in outcomes)
    run.evidence.append(_record(run, "finished", outcomes=dict(sorted(counts.items()))))
    return outcomes


async def _all(run: Run) -> list[Outcome]:
    by_target: dict[str, list[PlannedAction]] = {}
    for action in run.plan.actions:
        by_target.setdefault(action.target, []).append(action)
    targets = {t.name: t for t in run.config.targets}
    outcomes: list[Outcome] = []
    connector = aiohttp.TCPConnector(limit=16)
    async with aiohttp.ClientSession(connector=connector, trust_env=False) as session:
        for name, actions in by_target.items():
            target = targets.get(name)
            if target is None:
                why = f"target {name} is not in the config"
                outcomes += [_note(run, a, "skipped: no target", why) for a in actions]
            elif not target.can_write:
                why = (f"target {name} has no write key pair (set write_api_key_env and "
                       "write_app_key_env)")
                outcomes += [_note(run, a, "skipped: no write key pair", why) for a in actions]
            else:
                outcomes += await _target(run, session, target, actions)
    return outcomes


async def _target(run: Run, session: aiohttp.ClientSession, target: Target,
                  actions: list[PlannedAction]) -> list[Outcome]:
    # Both pairs pace as one org: Datadog's limits are the org's, whichever key sends.
    throttle = OrgThrottle(headroom=run.config.rate_headroom)
    assert target.write_api_key is not None and target.write_app_key is not None

    def client(pair: Target) -> DatadogClient:
        return DatadogClient(session, pair, policy=run.policy, throttle=throttle,
                             allow_custom_endpoints=run.config.allow_custom_endpoints)

    reader = client(target)
    writer = client(replace(target, api_key=target.write_api_key,
                            app_key=target.write_app_key))
    wrong = await _wrong_org(reader, writer, actions[0])
    if wrong is not None:
        return [_note(run, a, "skipped: wrong org", wrong) for a in actions]
    return [await _one(run, reader, writer, a) for a in actions]


async def _wrong_org(reader: DatadogClient, writer: DatadogClient,
                     action: PlannedAction) -> str | None:
    """Why the key pairs may not act on the plan's org, or None when both belong to it."""
    if action.org_uuid is None:
        return "the scan did not identify this target's org, so it cannot be confirmed"
    try:
        read_org = str((await identify_org(reader)).org.get("id"))
        me = await writer.get("/api/v2/current_user")
    except APIError as exc:
        return f"could not confirm the key pairs' org: {exc}"
    data = me.get("data") if isinstance(me, Mapping) else None
    write_org = rel_id(data, "org") if isinstance(data, Mapping) else None
    if read_org != action.org_uuid:
        return f"the scan key pair now belongs to org {read_org}, not the plan's {action.org_uuid}"
    if write_org != action.org_uuid:
        return f"the write key pair belongs to org {write_org}, not the plan's {action.org_uuid}"
    return None


async def _one(run: Run, reader: DatadogClient, writer: DatadogClient,
               action: PlannedAction) -> Outcome:
    """One action; an unexpected error costs this action only (fatal errors still stop)."""
    try:
        return await _act(run, reader, writer, action)
    except DDAuditError as exc:
        if not isinstance(exc, APIError):
            raise  # the evidence or the database cannot be written: stop
        return _note(run, action, "failed", str(exc))
    except Exception as exc:
        log.debug("action %d failed unexpectedly", action.number, exc_info=True)
        return _note(run, action, "failed", f"unexpected {exc.__class__.__name__}: {exc}")


async def _act(run: Run, reader: DatadogClient, writer: DatadogClient,
               action: PlannedAction) -> Outcome:
    """Re-read, judge, and act on one action; an API problem is an outcome, not an error."""
    try:
        reading = await reread(reader, action)
    except APIError as exc:
        kind = "forbidden" if isinstance(exc, ForbiddenError) else "failed"
        return _note(run, action, kind, f"could not re-read it: {exc}")
    verdict = _verdict(run, reading)
    if verdict is not None:
        return _note(run, action, *verdict)
    call = call_for(action.kind, action.resource_id, action.observed)
    if run.dry_run:
        return _note(run, action, "would act", f"would send {call.method} {call.path}")
    try:
        status = await writer.delete(call.path, like=call.like)
    except ForbiddenError as exc:
        return _note(run, action, "forbidden", f"the write key pair needs {call.permission}: "
                     f"{exc}", call.as_dict(), exc.status)
    except APIError as exc:
        if exc.status == 404:
            return _note(run, action, "already gone", "the write answered 404",
                         call.as_dict(), 404)
        return _note(run, action, "failed", str(exc), call.as_dict(), exc.status)
    return _note(run, action, "done", f"{VERBS[action.kind]}: HTTP {status}", call.as_dict(),
                 status)


def _verdict(run: Run, reading: Reading) -> tuple[str, str] | None:
    if reading.gone is not None:
        return "already gone", reading.gone
    if uses_own_key(run.secrets, last4=reading.last4, public_portion=reading.public_portion):
        return "refused: own key", "the listing shows a key ddaudit itself uses"
    if reading.changed is not None:
        return "skipped: changed", reading.changed
    return None


def _note(run: Run, action: PlannedAction, outcome: str, detail: str,
          request: dict[str, str] | None = None, status: int | None = None) -> Outcome:
    """Record one outcome (evidence, database, log) and return it."""
    detail = scrub_secrets(detail, run.secrets)
    at = utcnow()
    run.evidence.append(_record(
        run, "action", at=at, number=action.number, kind=action.kind,
        finding_id=action.finding_id, rule_id=action.rule_id,
        finding_ids=list(action.finding_ids), target=action.target, site=action.site,
        org_public_id=action.org_public_id,
        resource={"type": action.resource_type, "id": action.resource_id,
                  "name": action.resource_name},
        request=request, response_status=status, outcome=outcome, detail=detail))
    if run.engine is not None:  # None on a dry run: nothing was done
        record_outcome(run.engine, run.plan, action, outcome, run.approved_by, at)
    log.info("action %d %s %s (%s): %s", action.number, VERBS[action.kind],
             clean(action.resource_name or action.resource_id), action.target, outcome)
    return Outcome(action, outcome, detail, request, status)


def _record(run: Run, event: str, at: Any = None, **fields: Any) -> dict[str, Any]:
    return {"event": event, "plan_id": run.plan.plan_id, "approved_by": run.approved_by,
            "dry_run": run.dry_run, "at": isoformat_z(at or utcnow()), **fields}


def _os_user() -> str | None:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return None


def failed(outcomes: Sequence[Outcome]) -> bool:
    """True when any action failed, was forbidden or refused (apply then exits 1)."""
    return any(o.outcome in FAILURES for o in outcomes)


