"""What a plan may change beyond its own resources: findings it may open or resolve.

Removing one resource can change the verdict on another: a service account whose last
key or token is revoked may raise DDA-SA-002 (and its DDA-SA-003 may resolve); deleting a
mapping may resolve its siblings' DDA-MAP-003, and deleting an org's last role mapping
may raise DDA-MAP-004 and resolve its DDA-ROLE-001 findings. The plan lists these so the
reviewer sees them and the next scan's changes can be checked against them. Whether a
"may" happens depends on rule parameters and on what else changes meanwhile.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, func, select

from rules.model import Finding, fingerprint
from scanner.remediate.actions import (
    DELETE_AUTHN_MAPPING,
    REVOKE_ACCESS_TOKEN,
    REVOKE_APPLICATION_KEY,
)
from scanner.store import schema


def side_effects(conn: Connection, scan_id: str, actions: Sequence[Mapping[str, Any]],
                 findings: Sequence[Finding]) -> list[dict[str, Any]]:
    """The findings the plan's actions may open or resolve besides their own."""
    open_ = [f for f in findings if f.status == "open"]
    acted = {f for a in actions for f in _ids(a)}
    effects: list[dict[str, Any]] = []
    effects += _service_accounts(conn, scan_id, actions, open_)
    effects += _mappings(conn, scan_id, actions, open_)
    unique = {(e["finding_id"], e["effect"]): e for e in effects if e["finding_id"] not in acted}
    return sorted(unique.values(), key=lambda e: (e["effect"], e["rule_id"], e["finding_id"]))


def _ids(action: Mapping[str, Any]) -> Iterable[str]:
    for group in ("answers", "also_resolves"):
        for answered in action[group]:
            yield str(answered["finding_id"])


def _effect(effect: str, rule_id: str, site: str, org: str | None, resource_type: str,
            resource_id: str, because: str) -> dict[str, Any]:
    return {"effect": effect, "rule_id": rule_id, "site": site, "org_public_id": org,
            "resource_type": resource_type, "resource_id": resource_id,
            "finding_id": fingerprint(rule_id, site, org, resource_type, resource_id),
            "because": because}


def _service_accounts(conn: Connection, scan_id: str, actions: Sequence[Mapping[str, Any]],
                      open_: Sequence[Finding]) -> list[dict[str, Any]]:
    revoked: dict[tuple[str, str, str | None, str], int] = {}
    for a in actions:
        if a["kind"] in (REVOKE_APPLICATION_KEY, REVOKE_ACCESS_TOKEN):
            owner = a["observed"].get("owner") or {}
            if owner.get("service_account") and owner.get("state") == "enabled":
                key = (a["target"], a["site"], a["org_public_id"], str(owner["id"]))
                revoked[key] = revoked.get(key, 0) + 1
    out = []
    for (target, site, org, account), count in revoked.items():
        held = _credentials(conn, scan_id, target, account)
        because = f"the plan revokes {count} of the {held} keys and tokens of service account " \
                  f"{account}"
        if held <= count:
            out.append(_effect("may open", "DDA-SA-002", site, org, "service_account",
                               account, because))
        out += [_effect("may resolve", f.rule_id, site, org, f.resource_type, f.resource_id,
                        because)
                for f in open_ if f.rule_id == "DDA-SA-003" and f.target == target
                and f.resource_id == account]
    return out


def _credentials(conn: Connection, scan_id: str, target: str, owner: str) -> int:
    total = 0
    for table in (schema.application_keys, schema.access_tokens):
        total += int(conn.execute(select(func.count()).select_from(table).where(
            table.c.scan_id == scan_id, table.c.target == target,
            table.c.owner_id == owner)).scalar_one())
    return total


def _mappings(conn: Connection, scan_id: str, actions: Sequence[Mapping[str, Any]],
              open_: Sequence[Finding]) -> list[dict[str, Any]]:
    deleted: dict[tuple[str, str, str | None], set[str]] = {}
    attributes: dict[str, set[tuple[str | None, str | None]]] = {}
    for a in actions:
        if a["kind"] == DELETE_AUTHN_MAPPING:
            deleted.setdefault((a["target"], a["site"], a["org_public_id"]), set()).add(
                a["resource"]["id"])
            attributes.setdefault(a["target"], set()).add(
                (a["observed"].get("attribute_key"), a["observed"].get("attribute_value")))
    out = []
    maps = schema.authn_mappings
    for (target, site, org), ids in deleted.items():
        because = f"the plan deletes {len(ids)} AuthN mappings of target {target}"
        siblings = {str(row.id) for row in conn.execute(
            select(maps.c.id, maps.c.attribute_key, maps.c.attribute_value).where(
                maps.c.scan_id == scan_id, maps.c.target == target))
            if (row.attribute_key, row.attribute_value) in attributes[target]}
        out += [_effect("may resolve", f.rule_id, site, org, f.resource_type, f.resource_id,
                        because + " mapping the same IdP attribute")
                for f in open_ if f.rule_id == "DDA-MAP-003" and f.target == target
                and f.resource_id in siblings]
        roles_left = conn.execute(select(func.count()).select_from(maps).where(
            maps.c.scan_id == scan_id, maps.c.target == target, maps.c.resource_type == "role",
            maps.c.id.not_in(sorted(ids)))).scalar_one()
        if roles_left == 0:
            out.append(_effect("may open", "DDA-MAP-004", site, org, "org", org or target,
                               because + ", leaving no role mapping"))
            out += [_effect("may resolve", f.rule_id, site, org, f.resource_type,
                            f.resource_id, because + ", leaving no role mapping")
                    for f in open_ if f.rule_id == "DDA-ROLE-001" and f.target == target]
    return out
