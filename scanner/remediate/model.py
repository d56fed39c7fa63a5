"""The plan document (`ddaudit.plan/1`): its actions, its own SHA-256, reading it back.

The SHA-256 covers the canonical JSON of the whole document but the `sha256` member
itself (keys sorted, no spaces, UTF-8), so any edit after `ddaudit plan` wrote it, even
of whitespace-insensitive content, is detected by `ddaudit apply` and `ddaudit verify`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from scanner.errors import ConfigError
from scanner.timeutil import parse_timestamp

SCHEMA = "ddaudit.plan/1"


def canonical_sha256(document: Mapping[str, Any]) -> str:
    """SHA-256 of `document` without its `sha256` member, as canonical JSON."""
    body = {k: v for k, v in document.items() if k != "sha256"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def seal(document: dict[str, Any]) -> tuple[bytes, str]:
    """(plan.json bytes, the plan's SHA-256): the document with `sha256` set, indented."""
    digest = canonical_sha256(document)
    sealed = {"schema": document["schema"], "sha256": digest, **document}
    return (json.dumps(sealed, indent=2, ensure_ascii=False) + "\n").encode("utf-8"), digest


@dataclass(frozen=True)
class Answered:
    """One finding an action answers or resolves along the way."""

    finding_id: str
    rule_id: str


@dataclass(frozen=True)
class PlannedAction:
    """One action of a plan, as `ddaudit plan` wrote it."""

    number: int
    kind: str
    finding_id: str  # the first (most severe) finding it answers
    rule_id: str
    severity: str
    answers: tuple[Answered, ...]  # every finding whose rule calls for this action
    also_resolves: tuple[Answered, ...]  # other open findings on the same resource
    target: str
    site: str
    org_public_id: str | None
    org_uuid: str | None
    org_name: str | None
    resource_type: str
    resource_id: str
    resource_name: str | None
    observed: Mapping[str, Any]
    request: Mapping[str, str]  # method, path, permission: for review; apply re-derives it

    @property
    def finding_ids(self) -> tuple[str, ...]:
        """Every finding id the action should resolve (answers, then also_resolves)."""
        return tuple(a.finding_id for a in (*self.answers, *self.also_resolves))


@dataclass(frozen=True)
class Plan:
    """A plan read back from plan.json, its hash checked."""

    plan_id: str
    created_at: datetime
    scan_id: str
    scan_manifest_sha256: str
    actions: tuple[PlannedAction, ...]
    sha256: str
    raw: bytes  # the exact file, copied into the evidence folder


def load_plan(path: Path) -> Plan:
    """Read and check plan.json; ConfigError (exit 2, one line) when it is not a sound plan.

    Refused: unreadable, not JSON, another schema, or a SHA-256 that does not match the
    content (the plan was edited after it was written, or the file was cut short).
    """
    where = f"plan {path}"
    try:
        raw = path.read_bytes()
        document = json.loads(raw)
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read it ({exc.strerror or exc})") from None
    except (ValueError, UnicodeDecodeError):
        raise ConfigError(f"{where}: not JSON; give the plan.json `ddaudit plan` wrote") from None
    if not isinstance(document, dict) or document.get("schema") != SCHEMA:
        raise ConfigError(f"{where}: not a {SCHEMA} document; give the plan.json "
                          "`ddaudit plan` wrote")
    recorded = document.get("sha256")
    if recorded != canonical_sha256(document):
        raise ConfigError(f"{where}: its SHA-256 does not match its content (edited or "
                          "damaged since it was written); make a new plan with `ddaudit plan`")
    try:
        return Plan(
            plan_id=_text(document["plan_id"]),
            created_at=_time(document["created_at"]),
            scan_id=_text(document["scan"]["id"]),
            scan_manifest_sha256=_text(document["scan"]["manifest_sha256"]),
            actions=tuple(_action(a) for a in document["actions"]),
            sha256=str(recorded),
            raw=raw,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: malformed ({exc.__class__.__name__}: {exc}); make a new "
                          "plan with `ddaudit plan`") from None


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"expected a non-empty string, got {type(value).__name__}")
    return value


def _optional(value: Any) -> str | None:
    return None if value is None else _text(value)


def _time(value: Any) -> datetime:
    parsed = parse_timestamp(value)
    if parsed is None:
        raise ValueError(f"not a timestamp: {value!r}")
    return parsed


def _answered(items: Any) -> tuple[Answered, ...]:
    return tuple(Answered(_text(i["finding_id"]), _text(i["rule_id"])) for i in items)


def _action(a: Mapping[str, Any]) -> PlannedAction:
    resource = a["resource"]
    observed = a["observed"]
    request = a["request"]
    if not isinstance(observed, dict) or not isinstance(request, dict):
        raise ValueError("observed and request must be objects")
    return PlannedAction(
        number=int(a["number"]), kind=_text(a["kind"]), finding_id=_text(a["finding_id"]),
        rule_id=_text(a["rule_id"]), severity=_text(a["severity"]),
        answers=_answered(a["answers"]), also_resolves=_answered(a["also_resolves"]),
        target=_text(a["target"]), site=_text(a["site"]),
        org_public_id=_optional(a.get("org_public_id")), org_uuid=_optional(a.get("org_uuid")),
        org_name=_optional(a.get("org_name")), resource_type=_text(resource["type"]),
        resource_id=_text(resource["id"]), resource_name=_optional(resource.get("name")),
        observed=observed, request={k: str(v) for k, v in request.items()},
    )


def action_document(action: PlannedAction) -> dict[str, Any]:
    """The JSON object of one action (the inverse of reading it)."""
    def answered(items: tuple[Answered, ...]) -> list[dict[str, str]]:
        return [{"finding_id": i.finding_id, "rule_id": i.rule_id} for i in items]

    return {
        "number": action.number, "kind": action.kind, "finding_id": action.finding_id,
        "rule_id": action.rule_id, "severity": action.severity,
        "answers": answered(action.answers), "also_resolves": answered(action.also_resolves),
        "target": action.target, "site": action.site, "org_public_id": action.org_public_id,
        "org_uuid": action.org_uuid, "org_name": action.org_name,
        "resource": {"type": action.resource_type, "id": action.resource_id,
                     "name": action.resource_name},
        "observed": dict(action.observed), "request": dict(action.request),
    }
