"""The Datadog permission each read endpoint needs (`x-permission` in the official spec)."""

from __future__ import annotations

import re

# Request path (ids replaced by {…}) -> the permission(s), any one of which is enough.
REQUIRED: dict[str, tuple[str, ...]] = {
    "/api/v1/org/{public_id}": (),
    "/api/v2/org": ("org_management", "org_connections_write"),
    "/api/v2/current_user": (),
    "/api/v2/users": ("user_access_read",),
    "/api/v2/roles": ("user_access_read",),
    "/api/v2/permissions": ("user_access_read",),
    "/api/v2/application_keys": ("org_app_keys_read",),
    "/api/v2/service_accounts/{id}/application_keys": ("service_account_write",),
    "/api/v2/api_keys": ("api_keys_read",),
    "/api/v2/authn_mappings": ("user_access_read",),
    "/api/v2/team": ("teams_read",),
    "/api/v2/org_connections": ("org_connections_read",),
    "/api/v2/integrations/okta/accounts": ("integrations_read",),
    "/api/v2/personal_access_tokens": ("user_app_keys", "org_app_keys_read"),
    "/api/v2/org_authorized_clients": ("org_authorized_apps_read", "manage_integrations"),
}
_SERVICE_ACCOUNT_KEYS = re.compile(r"^/api/v2/service_accounts/[^/]+/application_keys$")
_ORG_SETTINGS = re.compile(r"^/api/v1/org/[^/]+$")


def required_for(path: str) -> tuple[str, ...]:
    """The permissions (any one) Datadog checks for GET `path`; () when none or unknown."""
    if _SERVICE_ACCOUNT_KEYS.match(path):
        return REQUIRED["/api/v2/service_accounts/{id}/application_keys"]
    if _ORG_SETTINGS.match(path):
        return REQUIRED["/api/v1/org/{public_id}"]
    return REQUIRED.get(path, ())


def needs_text(path: str) -> str:
    """' (needs a or b)' for an error about `path`, or '' when no permission is known."""
    names = required_for(path)
    return f" (needs {' or '.join(names)})" if names else ""
