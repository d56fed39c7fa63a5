"""The credential inventory: one row per API key, application key, token and OAuth client."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, Engine, select
from sqlalchemy.exc import SQLAlchemyError

from reports.findings_csv import safe_cell
from rules.owners import resource_owners
from scanner.errors import RuleError, StoreError
from scanner.store.schema import (
    access_token_scopes,
    access_tokens,
    api_keys,
    application_key_scopes,
    application_keys,
    findings,
    oauth_clients,
    targets,
    users,
)
from scanner.timeutil import isoformat_z

KINDS: tuple[str, ...] = (
    "api_key", "application_key", "personal_access_token", "service_access_token", "oauth_client",
)
OWNER_STATUSES: tuple[str, ...] = (
    "active", "disabled", "service account disabled", "unknown", "none",
)
DEPARTED: frozenset[str] = frozenset({"disabled", "service account disabled", "unknown"})
# The finding resource_type of each kind (the rules' `resource_type`).
RESOURCE_TYPE: dict[str, str] = {
    "api_key": "api_key", "application_key": "application_key",
    "personal_access_token": "access_token", "service_access_token": "access_token",
    "oauth_client": "oauth_client",
}
COLUMNS: tuple[str, ...] = (
    "target", "site", "org_public_id", "org_name", "kind", "id", "name", "owner_id",
    "owner_name", "owner_status", "created", "last_used", "expires", "scopes", "privileged",
    "open_findings", "owner",
)


@dataclass(frozen=True, slots=True)
class Credential:
    """One credential of one org as the inventory shows it."""

    target: str
    site: str
    org_public_id: str | None
    org_name: str | None
    kind: str
    id: str
    name: str
    owner_id: str | None
    owner_name: str | None
    owner_status: str
    created: datetime | None
    last_used: datetime | None
    expires: datetime | None
    scopes: str  # a count, "unscoped", or "" (the kind has no scopes)
    privileged: bool
    open_findings: tuple[str, ...]
    owner: str | None = None  # who answers for it: what its findings carry (rules/owners.py)

    def cells(self) -> list[object]:
        """The CSV row (COLUMNS order); timestamps ISO 8601 UTC, findings joined by `;`."""
        return [
            self.target, self.site, self.org_public_id, self.org_name, self.kind, self.id,
            self.name, self.owner_id, self.owner_name, self.owner_status,
            isoformat_z(self.created), isoformat_z(self.last_used), isoformat_z(self.expires),
            self.scopes, self.privileged, ";".join(self.open_findings), self.owner,
        ]


@dataclass(frozen=True, slots=True)
class Holding:
    """A departed owner (disabled or not among the org's users) and what they still hold."""

    target: str
    owner_id: str
    owner_name: str | None
    owner_status: str
    kind: str
    count: int
    names: tuple[str, ...]


@cache
def builtin_privileged() -> frozenset[str]:
    """The built-in rule pack's `privileged_permissions` (empty when the pack cannot load)."""
    from rules.loader import load_rulepack

    try:
        value = load_rulepack().pack_parameters.get("privileged_permissions") or ()
    except RuleError:  # pragma: no cover - the built-in pack is tested to load
        return frozenset()
    return frozenset(str(v) for v in value)


def load_credentials(
    engine: Engine, scan_id: str, privileged: Iterable[str] | None = None
) -> list[Credential]:
    """Every credential of scan `scan_id`, sorted by target, kind, name, id.

    `privileged` defaults to the built-in pack's `privileged_permissions`.
    """
    priv = builtin_privileged() if privileged is None else frozenset(privileged)
    try:
        with engine.connect() as conn:
            return _load(conn, scan_id, priv)
    except SQLAlchemyError as exc:
        raise StoreError(
            f"cannot read the credentials of scan {scan_id!r}: {exc.__class__.__name__}; "
            "check that the database is reachable and migrated"
        ) from exc


def _load(conn: Connection, scan_id: str, priv: frozenset[str]) -> list[Credential]:
    def rows(*cols: Any) -> Sequence[Any]:
        table = cols[0].table
        return conn.execute(select(*cols).where(table.c.scan_id == scan_id)).all()

    scanned = rows(targets.c.target, targets.c.site, targets.c.org_public_id,
                   targets.c.org_name, targets.c.owner)
    orgs = {r.target: (r.site, r.org_public_id, r.org_name) for r in scanned}
    # Who answers: resolved as for findings; an OAuth client names nobody (the target's).
    answers = {(r.resource_type, r.target, r.resource_id): r.owner for r in conn.execute(
        resource_owners(set(RESOURCE_TYPE.values())), {"scan_id": scan_id})}
    fallback = {r.target: r.owner for r in scanned}
    people = {(r.target, r.id): r for r in rows(
        users.c.target, users.c.id, users.c.name, users.c.email, users.c.handle,
        users.c.status, users.c.disabled, users.c.service_account)}
    scopes: dict[tuple[str, str, str], set[str]] = {}
    for r in rows(application_key_scopes.c.target, application_key_scopes.c.key_id,
                  application_key_scopes.c.scope):
        scopes.setdefault(("application_key", r.target, r.key_id), set()).add(r.scope)
    for r in rows(access_token_scopes.c.target, access_token_scopes.c.token_id,
                  access_token_scopes.c.scope):
        scopes.setdefault(("access_token", r.target, r.token_id), set()).add(r.scope)
    open_ids: dict[tuple[str, str, str], list[str]] = {}
    held = (api_keys, application_keys, access_tokens, oauth_clients)
    if any(conn.execute(select(t.c.id).where(t.c.scan_id == scan_id).limit(1)).first()
           for t in held):  # only then the open findings on credentials are worth reading
        for r in conn.execute(select(
                findings.c.target, findings.c.resource_type, findings.c.resource_id,
                findings.c.id).where(findings.c.scan_id == scan_id, findings.c.status == "open",
                                     findings.c.resource_type.in_(sorted(set(RESOURCE_TYPE.values()))))):
            open_ids.setdefault((r.target, r.resource_type, r.resource_id), []).append(r.id)

    def owner(target: str, owner_id: str | None) -> tuple[str | None, str]:
        person = None if owner_id is None else people.get((target, owner_id))
        if person is None:
            return None, "unknown"
        name = person.name or person.email or person.handle
        if person.disabled or (person.status or "").lower() == "disabled":
            return name, "service account disabled" if person.service_account else "disabled"
        return name, "active"

    out: dict[tuple[str, str, str], Credential] = {}

    def add(r: Any, kind: str, name: str | None, owner_id: str | None, *, created: Any,
            last_used: Any, expires: Any = None, scope_set: set[str] | None = None,
            unscoped: bool = False, has_scopes: bool = False) -> None:
        site, org_public_id, org_name = orgs.get(r.target, (r.site, r.org_public_id, None))
        if kind == "oauth_client":
            owner_name, status = None, "none"
        else:
            owner_name, status = owner(r.target, owner_id)
        granted = scope_set or set()
        count = "unscoped" if unscoped else str(len(granted)) if has_scopes else ""
        key = (r.target, kind, r.id)
        out.setdefault(key, Credential(
            target=r.target, site=r.site or site, org_public_id=r.org_public_id or org_public_id,
            org_name=org_name, kind=kind, id=r.id, name=name or "", owner_id=owner_id,
            owner_name=owner_name, owner_status=status, created=created, last_used=last_used,
            expires=expires, scopes=count, privileged=bool(granted & priv),
            open_findings=tuple(sorted(open_ids.get((r.target, RESOURCE_TYPE[kind], r.id), []))),
            owner=answers.get((RESOURCE_TYPE[kind], r.target, r.id)) or fallback.get(r.target),
        ))

    base = ("target", "site", "org_public_id")
    for r in rows(*(api_keys.c[c] for c in (*base, "id", "name", "created_by_id",
                                              "created_at", "date_last_used",
                                              "last_used_date"))):
        add(r, "api_key", r.name, r.created_by_id, created=r.created_at,
            last_used=r.date_last_used or r.last_used_date)
    for r in rows(*(application_keys.c[c] for c in (*base, "id", "name", "owner_id",
                                                      "created_at", "last_used_at",
                                                      "unscoped"))):
        add(r, "application_key", r.name, r.owner_id, created=r.created_at,
            last_used=r.last_used_at, scope_set=scopes.get(("application_key", r.target, r.id)),
            unscoped=bool(r.unscoped), has_scopes=True)
    for r in rows(*(access_tokens.c[c] for c in (*base, "id", "kind", "name", "owner_id",
                                                   "owner_type", "created_at", "expires_at",
                                                   "last_used_at"))):
        service = r.kind == "service" or (r.kind is None and r.owner_type == "service_account")
        add(r, "service_access_token" if service else "personal_access_token", r.name,
            r.owner_id, created=r.created_at, last_used=r.last_used_at, expires=r.expires_at,
            scope_set=scopes.get(("access_token", r.target, r.id)), has_scopes=True)
    for r in rows(*(oauth_clients.c[c] for c in (*base, "id", "client_id",
                                                   "last_exercised"))):
        add(r, "oauth_client", r.client_id or r.id, None, created=None,
            last_used=r.last_exercised)
    order = {k: i for i, k in enumerate(KINDS)}
    return sorted(out.values(), key=lambda c: (c.target, order[c.kind], c.name, c.id))


def offboarding(rows: Iterable[Credential]) -> list[Holding]:
    """Per departed owner and kind, what they hold; sorted by target, owner, kind."""
    groups: dict[tuple[str, str, str], list[Credential]] = {}
    for c in rows:
        if c.owner_id is not None and c.owner_status in DEPARTED:
            groups.setdefault((c.target, c.owner_id, c.kind), []).append(c)
    order = {k: i for i, k in enumerate(KINDS)}
    out = []
    for (target, owner_id, kind), held in sorted(
            groups.items(), key=lambda kv: (kv[0][0], kv[0][1], order[kv[0][2]])):
        first = held[0]
        out.append(Holding(target, owner_id, first.owner_name, first.owner_status, kind,
                           len(held), tuple(sorted(c.name for c in held))))
    return out


def csv_chunks(rows: Iterable[Credential], batch: int = 500) -> Iterator[str]:
    """listings/credentials.csv in chunks: the header, then `batch` rows at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    n = 0
    for c in rows:
        writer.writerow([safe_cell(v) for v in c.cells()])
        n += 1
        if n % batch == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
