"""The remediation actions: which rules each answers, its exact API call and permission.

Five kinds, each undoing one resource: revoke an application key, an API key or an access
token, delete an AuthN mapping, disable a service account. A finding is answered only by
the kind its rule maps to here (`RULE_ACTIONS`); every other rule is left to a human (see
docs/remediation.md for why each is). The call is always derived from the kind and the
resource's ids, never read back from a plan's text, so an edited plan cannot aim a write
anywhere else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scanner.client import path_segment

REVOKE_APPLICATION_KEY = "revoke_application_key"
REVOKE_API_KEY = "revoke_api_key"
REVOKE_ACCESS_TOKEN = "revoke_access_token"
DELETE_AUTHN_MAPPING = "delete_authn_mapping"
DISABLE_SERVICE_ACCOUNT = "disable_service_account"
KINDS: tuple[str, ...] = (REVOKE_APPLICATION_KEY, REVOKE_API_KEY, REVOKE_ACCESS_TOKEN,
                          DELETE_AUTHN_MAPPING, DISABLE_SERVICE_ACCOUNT)

# (rule id, resource type) -> the action that answers the finding. What each rule means:
# stale (KEY-001, KEY-002, TOK-003), owner or creator gone (KEY-006, TOK-004), leaked
# (KEY-007), mapping to nothing (MAP-001), an idle service account (SA-002).
RULE_ACTIONS: dict[tuple[str, str], str] = {
    ("DDA-KEY-001", "application_key"): REVOKE_APPLICATION_KEY,
    ("DDA-KEY-007", "application_key"): REVOKE_APPLICATION_KEY,
    ("DDA-KEY-002", "api_key"): REVOKE_API_KEY,
    ("DDA-KEY-006", "api_key"): REVOKE_API_KEY,
    ("DDA-KEY-007", "api_key"): REVOKE_API_KEY,
    ("DDA-TOK-003", "access_token"): REVOKE_ACCESS_TOKEN,
    ("DDA-TOK-004", "access_token"): REVOKE_ACCESS_TOKEN,
    ("DDA-MAP-001", "authn_mapping"): DELETE_AUTHN_MAPPING,
    ("DDA-SA-002", "service_account"): DISABLE_SERVICE_ACCOUNT,
}
REMEDIABLE_RULES: frozenset[str] = frozenset(rule for rule, _ in RULE_ACTIONS)

# Where each kind re-reads its resource before acting: listings only, never the
# single-key GETs (they return the secret).
LISTINGS: dict[str, str] = {
    REVOKE_APPLICATION_KEY: "/api/v2/application_keys",
    REVOKE_API_KEY: "/api/v2/api_keys",
    REVOKE_ACCESS_TOKEN: "/api/v2/personal_access_tokens",
    DELETE_AUTHN_MAPPING: "/api/v2/authn_mappings",
    DISABLE_SERVICE_ACCOUNT: "/api/v2/users",
}
VERBS: dict[str, str] = {
    REVOKE_APPLICATION_KEY: "revoke application key",
    REVOKE_API_KEY: "revoke API key",
    REVOKE_ACCESS_TOKEN: "revoke access token",
    DELETE_AUTHN_MAPPING: "delete AuthN mapping",
    DISABLE_SERVICE_ACCOUNT: "disable service account",
}


@dataclass(frozen=True)
class Call:
    """The one write an action sends: method, path, and the permission it needs."""

    method: str
    path: str
    permission: str  # the write key pair's role needs this (`x-permission`)
    like: str  # the listing whose rate-limit bucket the write is paced as

    def as_dict(self) -> dict[str, str]:
        """The plan's and actions.jsonl's `request` object."""
        return {"method": self.method, "path": self.path, "permission": self.permission}


def call_for(kind: str, resource_id: str, observed: Mapping[str, Any]) -> Call:
    """The exact API call of an action; APIError when an id is not a plain path segment.

    Application keys found only through a service account's listing, and service access
    tokens, are revoked through the service account's endpoint (its permission is
    `service_account_write`); the others through the org-wide one.
    """
    rid = path_segment(resource_id, "the resource id")
    like = LISTINGS[kind]
    if kind == REVOKE_APPLICATION_KEY:
        if observed.get("listing") == "service_account":
            owner = path_segment(observed.get("owner_id"), "the owner id")
            return Call("DELETE", f"/api/v2/service_accounts/{owner}/application_keys/{rid}",
                        "service_account_write", like)
        return Call("DELETE", f"/api/v2/application_keys/{rid}", "org_app_keys_write", like)
    if kind == REVOKE_API_KEY:
        return Call("DELETE", f"/api/v2/api_keys/{rid}", "api_keys_delete", like)
    if kind == REVOKE_ACCESS_TOKEN:
        if observed.get("token_kind") == "service":
            owner = path_segment(observed.get("owner_id"), "the owner id")
            return Call("DELETE", f"/api/v2/service_accounts/{owner}/access_tokens/{rid}",
                        "service_account_write", like)
        return Call("DELETE", f"/api/v2/personal_access_tokens/{rid}", "org_app_keys_write",
                    like)
    if kind == DELETE_AUTHN_MAPPING:
        return Call("DELETE", f"/api/v2/authn_mappings/{rid}", "user_access_manage", like)
    if kind == DISABLE_SERVICE_ACCOUNT:
        return Call("DELETE", f"/api/v2/users/{rid}", "user_access_manage", like)
    raise ValueError(f"unknown action kind {kind!r}")


def kind_for(rule_id: str, resource_type: str) -> str | None:
    """The action answering a finding of `rule_id` on `resource_type`, or None."""
    return RULE_ACTIONS.get((rule_id, resource_type))
