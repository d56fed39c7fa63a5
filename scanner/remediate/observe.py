"""What the scan observed about a resource a plan acts on, read from the snapshot.

The facts a reviewer weighs (last use, owner and whether the owner is still active,
scopes, leak date) and the ones `ddaudit apply` compares a fresh read with (the last use
as seen, the owner, the missing role). No secret is in the snapshot; `last4` and a
token's `public_portion` are what Datadog shows of a key in every listing, kept so apply
can refuse to revoke a key ddaudit itself uses.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, Table, or_, select

from scanner.remediate.actions import (
    DELETE_AUTHN_MAPPING,
    DISABLE_SERVICE_ACCOUNT,
    REVOKE_ACCESS_TOKEN,
    REVOKE_API_KEY,
    REVOKE_APPLICATION_KEY,
)
from scanner.store import schema
from scanner.timeutil import isoformat_z


def observe(conn: Connection, scan_id: str, target: str, kind: str,
            resource_id: str) -> dict[str, Any] | None:
    """The observed facts of one resource (None: it is not in the snapshot)."""
    reader = _READERS[kind]
    return reader(conn, scan_id, target, resource_id)


def _row(conn: Connection, table: Table, scan_id: str, target: str,
         resource_id: str) -> RowMapping | None:
    return conn.execute(select(table).where(
        table.c.scan_id == scan_id, table.c.target == target, table.c.id == resource_id,
    )).mappings().first()


def _ts(value: datetime | None) -> str | None:
    return isoformat_z(value)


def _raw(row: RowMapping) -> Mapping[str, Any]:
    try:
        raw = json.loads(row.get("raw") or "{}")
    except ValueError:
        return {}
    attributes = raw.get("attributes") if isinstance(raw, dict) else None
    return attributes if isinstance(attributes, dict) else {}


def _last4(row: RowMapping) -> str | None:
    value = _raw(row).get("last4")
    return value if isinstance(value, str) and len(value) == 4 else None


def person(conn: Connection, scan_id: str, target: str, user_id: str | None) -> dict[str, Any]:
    """Who `user_id` is in the snapshot: name, service account or not, and its state.

    `state` is `enabled`, `disabled` or `not among the org's users` (the rules' terms);
    a user is matched by id, then by uuid, as the rules do.
    """
    if user_id is None:
        return {"id": None, "state": "unknown"}
    users = schema.users
    row = conn.execute(select(users).where(
        users.c.scan_id == scan_id, users.c.target == target,
        or_(users.c.id == user_id, users.c.uuid == user_id),
    )).mappings().first()
    if row is None:
        return {"id": user_id, "state": "not among the org's users"}
    disabled = bool(row["disabled"]) or row["status"] == "Disabled"
    return {"id": user_id, "name": row["name"] or row["handle"] or row["email"],
            "handle": row["handle"], "service_account": bool(row["service_account"]),
            "state": "disabled" if disabled else "enabled"}


def _scopes(conn: Connection, table: Table, column: str, scan_id: str, target: str,
            resource_id: str) -> list[str]:
    rows = conn.execute(select(table.c.scope).where(
        table.c.scan_id == scan_id, table.c.target == target,
        table.c[column] == resource_id,
    ).order_by(table.c.scope)).scalars().all()
    return [str(s) for s in rows]


def _application_key(conn: Connection, scan_id: str, target: str,
                     key_id: str) -> dict[str, Any] | None:
    row = _row(conn, schema.application_keys, scan_id, target, key_id)
    if row is None:
        return None
    scopes = _scopes(conn, schema.application_key_scopes, "key_id", scan_id, target, key_id)
    return {
        "created_at": _ts(row["created_at"]), "last_used_at": _ts(row["last_used_at"]),
        "owner": person(conn, scan_id, target, row["owner_id"]),
        "owner_id": row["owner_id"], "listing": row["listing"],
        "scopes": None if row["unscoped"] else scopes,
        "leaked": bool(row["leaked"]), "leak_date": _ts(row["leak_date"]),
        "leak_source": row["leak_source"], "last4": _last4(row),
    }


def _api_key(conn: Connection, scan_id: str, target: str, key_id: str) -> dict[str, Any] | None:
    row = _row(conn, schema.api_keys, scan_id, target, key_id)
    if row is None:
        return None
    last_used = row["date_last_used"] or row["last_used_date"]
    return {
        "created_at": _ts(row["created_at"]), "last_used_at": _ts(last_used),
        "creator": person(conn, scan_id, target, row["created_by_id"]),
        "created_by_id": row["created_by_id"], "category": row["category"],
        "leaked": bool(row["leaked"]), "leak_date": _ts(row["leak_date"]),
        "leak_source": row["leak_source"], "last4": _last4(row),
    }


def _access_token(conn: Connection, scan_id: str, target: str,
                  token_id: str) -> dict[str, Any] | None:
    row = _row(conn, schema.access_tokens, scan_id, target, token_id)
    if row is None:
        return None
    return {
        "token_kind": row["kind"], "created_at": _ts(row["created_at"]),
        "expires_at": _ts(row["expires_at"]), "last_used_at": _ts(row["last_used_at"]),
        "owner": person(conn, scan_id, target, row["owner_id"]), "owner_id": row["owner_id"],
        "scopes": _scopes(conn, schema.access_token_scopes, "token_id", scan_id, target,
                          token_id),
        "public_portion": row["public_portion"],
    }


def _authn_mapping(conn: Connection, scan_id: str, target: str,
                   mapping_id: str) -> dict[str, Any] | None:
    row = _row(conn, schema.authn_mappings, scan_id, target, mapping_id)
    if row is None:
        return None
    team = row["resource_type"] == "team"
    return {
        "attribute_key": row["attribute_key"], "attribute_value": row["attribute_value"],
        "mapping_kind": row["resource_type"], "created_at": _ts(row["created_at"]),
        "missing_id": row["team_id"] if team else row["role_id"],
    }


def _service_account(conn: Connection, scan_id: str, target: str,
                     user_id: str) -> dict[str, Any] | None:
    row = _row(conn, schema.users, scan_id, target, user_id)
    if row is None:
        return None
    links, roles = schema.user_roles, schema.roles
    names = conn.execute(select(roles.c.name).join_from(
        links, roles, (roles.c.id == links.c.role_id) & (roles.c.scan_id == links.c.scan_id)
        & (roles.c.target == links.c.target),
    ).where(links.c.scan_id == scan_id, links.c.target == target,
            links.c.user_id == user_id).order_by(roles.c.name)).scalars().all()
    return {
        "handle": row["handle"], "email": row["email"], "status": row["status"],
        "created_at": _ts(row["created_at"]), "last_login_time": _ts(row["last_login_time"]),
        "roles": [str(n) for n in names],
    }


_READERS = {
    REVOKE_APPLICATION_KEY: _application_key,
    REVOKE_API_KEY: _api_key,
    REVOKE_ACCESS_TOKEN: _access_token,
    DELETE_AUTHN_MAPPING: _authn_mapping,
    DISABLE_SERVICE_ACCOUNT: _service_account,
}
