"""Serialise estate objects exactly as the real Datadog API does (envelopes are in server.py)."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from scanner.simulator.model import (
    AccessToken,
    ApiKey,
    ApplicationKey,
    AuthnMapping,
    Leak,
    OAuthClient,
    OktaAccount,
    Org,
    OrgConnection,
    Role,
    Team,
    User,
    window_use,
)
from scanner.simulator.permissions import Permission

Json = dict[str, Any]
LAST_USED_DESCRIPTION = (
    "Timestamp of when this key was last used in the past ninety (90) days, null if no recent usage"
)


def ts(value: datetime | None) -> str | None:
    """`2025-09-08T09:24:43.558793+00:00`, the API's usual form (None stays None)."""
    if value is None:
        return None
    return value.isoformat(timespec="microseconds") + "+00:00"


def ts_z(value: datetime) -> str:
    """`2019-09-26T17:28:28Z` (no fraction), as in the v1 and v2 org examples."""
    return value.replace(microsecond=0).isoformat() + "Z"


def ts_us_z(value: datetime | None) -> str | None:
    """`2026-04-08T08:58:54.688182Z` (6 fractional digits and `Z`), as the token GETs."""
    if value is None:
        return None
    return value.isoformat(timespec="microseconds") + "Z"


def _ref(kind: str, rid: str) -> Json:
    return {"data": {"type": kind, "id": rid}}


def _leak_rel(leak: Leak | None) -> Json:
    return {"data": None if leak is None else {"type": "leaked_keys", "id": leak.id}}


def leak(item: Leak) -> Json:
    """A `leaked_keys` item for `included`."""
    return {
        "type": "leaked_keys",
        "id": item.id,
        "attributes": {"date": ts(item.date), "leak_source": item.source},
    }


def org_v1(org: Org) -> Json:
    """A v1 `Organization` with full settings."""
    s = org.settings
    return {
        "billing": {"type": "parent_billing" if org.parent_public_id is None else "child"},
        "created": ts_z(org.created),
        "description": org.description,
        "name": org.name,
        "public_id": org.public_id,
        "settings": {
            "private_widget_share": s.private_widget_share,
            "saml": {"enabled": s.saml_enabled},
            "saml_autocreate_access_role": s.saml_autocreate_access_role,
            "saml_autocreate_users_domains": {
                "domains": list(s.autocreate_domains),
                "enabled": s.autocreate_domains_enabled,
            },
            "saml_can_be_enabled": True,
            "saml_idp_endpoint": f"https://idp.example.com/saml/{org.public_id}",
            "saml_idp_initiated_login": {"enabled": s.saml_idp_initiated_login},
            "saml_idp_metadata_uploaded": s.saml_enabled,
            "saml_login_url": f"https://app.{org.site}/account/login/id/{org.public_id}",
            "saml_strict_mode": {"enabled": s.saml_strict_mode},
        },
        "subscription": {"type": "pro"},
        "trial": False,
    }


def org_v2(org: Org) -> Json:
    """A v2 `OrgData` item (type `orgs`)."""
    return {
        "id": org.uuid,
        "type": "orgs",
        "attributes": {
            "created_at": ts_z(org.created),
            "description": org.description,
            "disabled": False,
            "modified_at": ts_z(org.created),
            "name": org.name,
            "public_id": org.public_id,
            "sharing": "none",
            "url": f"https://app.{org.site}/account/{org.public_id}",
        },
    }


def user(u: User, org: Org) -> Json:
    """A v2 `users` object."""
    digest = hashlib.md5(u.email.encode(), usedforsecurity=False).hexdigest()
    return {
        "type": "users",
        "id": u.id,
        "attributes": {
            "uuid": u.id,
            "name": u.name,
            "handle": u.handle,
            "created_at": ts(u.created_at),
            "modified_at": ts(u.modified_at),
            "email": u.email,
            "icon": f"https://secure.gravatar.com/avatar/{digest}?s=48&d=retro",
            "title": u.title,
            "verified": u.status != "Pending",
            "service_account": u.service_account,
            "disabled": u.disabled,
            "allowed_login_methods": [],
            "status": u.status,
            "last_login_time": ts(u.last_login_time),
        },
        "relationships": {
            "roles": {"data": [{"type": "roles", "id": r} for r in u.role_ids]},
            "org": _ref("orgs", org.uuid),
        },
    }


def role(r: Role, user_count: int | None = None) -> Json:
    """A v2 `roles` object; list items carry `user_count`, `included` ones do not."""
    attributes: Json = {
        "name": r.name,
        "created_at": ts(r.created_at),
        "modified_at": ts(r.modified_at),
    }
    if user_count is not None:
        attributes["user_count"] = user_count
    return {
        "type": "roles",
        "id": r.id,
        "attributes": attributes,
        "relationships": {
            "permissions": {"data": [{"type": "permissions", "id": p} for p in r.permission_ids]}
        },
    }


def permission(p: Permission) -> Json:
    """A v2 `permissions` object in the 2026 serialisation (`Z`, `name_aliases`)."""
    return {
        "id": p.id,
        "type": "permissions",
        "attributes": {
            "created": p.created,
            "description": p.description,
            "display_name": p.display_name,
            "display_type": p.display_type,
            "group_name": p.group_name,
            "name": p.name,
            "name_aliases": [],
            "restricted": p.restricted,
        },
    }


def app_key(k: ApplicationKey, *, owned_by: bool, extra: Json | None = None) -> Json:
    """A `PartialApplicationKey`; per-service-account listings carry no `owned_by`."""
    attributes: Json = {
        "name": k.name,
        "created_at": ts(k.created_at),
        "last4": k.last4,
        "scopes": None if k.scopes is None else list(k.scopes),
        "last_used_at": ts(k.last_used_at),
    }
    attributes.update(extra or {})
    relationships: Json = {}
    if owned_by:
        relationships["owned_by"] = _ref("users", k.owner_id)
    relationships["leak_information"] = _leak_rel(k.leak)
    return {
        "type": "application_keys",
        "id": k.id,
        "attributes": attributes,
        "relationships": relationships,
    }


def api_key(k: ApiKey, now: datetime) -> Json:
    """A `PartialAPIKey` with the undocumented last-use trio seen in the 2025 cassette.

    `last_used_date.timestamp` holds the use of the last 90 days only; `date_last_used`
    is null for a key that does not report it (`reports_date_last_used`).
    """
    used = ts(k.date_last_used) if k.reports_date_last_used else None
    window = ts(window_use(k.date_last_used, now))
    return {
        "type": "api_keys",
        "id": k.id,
        "attributes": {
            "created_at": ts(k.created_at),
            "last4": k.last4,
            "modified_at": ts(k.modified_at),
            "remote_config_read_enabled": k.remote_config_read_enabled,
            "category": k.category,
            "name": k.name,
            "date_last_used": used,
            "used_in_last_24_hours": k.date_last_used is not None
            and (now - k.date_last_used).total_seconds() < 86400,
            "last_used_date": {"timestamp": window, "description": LAST_USED_DESCRIPTION},
        },
        "relationships": {
            "created_by": _ref("users", k.created_by_id),
            "modified_by": _ref("users", k.modified_by_id),
            "leak_information": _leak_rel(k.leak),
        },
    }


def mapping(m: AuthnMapping) -> Json:
    """A v2 `authn_mappings` object with only `role` or `team`, as in the 2022 cassette."""
    rel: Json = {}
    if m.role_id is not None:
        rel["role"] = _ref("roles", m.role_id)
    if m.team_id is not None:
        rel["team"] = _ref("team", m.team_id)
    return {
        "type": "authn_mappings",
        "id": m.id,
        "attributes": {
            "attribute_key": m.attribute_key,
            "attribute_value": m.attribute_value,
            "created_at": ts(m.created_at),
            "modified_at": ts(m.created_at),
        },
        "relationships": rel,
    }


def team(t: Team, *, full: bool = True) -> Json:
    """A `team` object (`full`: as in ListTeams; otherwise the AuthNMappingTeam subset)."""
    attributes: Json = {
        "avatar": None,
        "banner": None,
        "handle": t.handle,
        "name": t.name,
        "summary": None,
        "link_count": 0,
        "user_count": t.user_count,
    }
    if full:
        attributes.update(
            {
                "created_at": ts(t.created_at),
                "modified_at": ts(t.created_at),
                "description": None,
                "hidden_modules": None,
                "is_managed": False,
                "visible_modules": None,
            }
        )
    return {"type": "team", "id": t.id, "attributes": attributes}


def connection(c: OrgConnection) -> Json:
    """An `org_connection` whose relationship data carry `name` as in the 2025 cassette."""
    return {
        "type": "org_connection",
        "id": c.id,
        "attributes": {
            "created_at": ts(c.created_at),
            "connection_types": list(c.connection_types),
        },
        "relationships": {
            "source_org": {"data": {"type": "orgs", "id": c.source.uuid, "name": c.source.name}},
            "sink_org": {"data": {"type": "orgs", "id": c.sink.uuid, "name": c.sink.name}},
            "created_by": {
                "data": {"type": "users", "id": c.created_by_id, "name": c.created_by_name}
            },
        },
    }


def okta(a: OktaAccount, extra: Json | None = None) -> Json:
    """An `okta-accounts` item (`id` after `attributes`, as recorded)."""
    attributes: Json = {
        "name": a.name,
        "auth_method": a.auth_method,
        "domain": a.domain,
        "client_id": a.client_id,
    }
    attributes.update(extra or {})
    return {"type": "okta-accounts", "attributes": attributes, "id": a.id}


def access_token(t: AccessToken) -> Json:
    """An `AccessTokenListItem` (PAT or SAT): no secret `key`, `modified_at` once edited."""
    attributes: Json = {
        "created_at": ts_us_z(t.created_at),
        "expires_at": ts_us_z(t.expires_at),
        "last_used_at": ts_us_z(t.last_used_at),
    }
    if t.modified_at is not None:  # left out (not null) until the token is edited
        attributes["modified_at"] = ts_us_z(t.modified_at)
    attributes.update(
        {"name": t.name, "public_portion": t.shown_public_portion, "scopes": list(t.scopes)}
    )
    return {
        "attributes": attributes,
        "id": t.id,
        "relationships": {"owned_by": {"data": {"id": t.owner_id, "type": t.owner_type}}},
        "type": t.item_type,
    }


def oauth_client(c: OAuthClient) -> Json:
    """An `OrgAuthorizedClientData` item (the client's name is not among its attributes)."""
    return {
        "attributes": {
            "disabled": c.disabled,
            "last_exercised": ts(c.last_exercised),
            "user_count": c.user_count,
        },
        "id": c.id,
        "relationships": {
            "oauth2_client": {"data": {"id": c.client_id, "type": "oauth2_clients"}},
            "user_authorized_clients": {
                "data": [{"id": g, "type": "user_authorized_clients"} for g in c.grant_ids()],
                "links": {
                    "related": f"/api/v2/org_authorized_clients/{c.id}/user_authorized_clients"
                },
            },
        },
        "type": "org_authorized_clients",
    }
