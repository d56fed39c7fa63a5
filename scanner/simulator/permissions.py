"""The permission catalogue the simulator serves (real ids and names from the 2026 cassette)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass


@dataclass(frozen=True)
class Permission:
    """One entry of `/api/v2/permissions`; `created` is pre-serialised like the real API."""

    id: str
    name: str
    display_name: str
    group_name: str
    display_type: str
    restricted: bool
    created: str
    description: str


def _synthetic_id(name: str) -> str:
    """A stable id for a permission the 2026 cassette did not list."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"ddaudit-sim/permission/{name}"))


# fmt: off
_ROWS: tuple[tuple[str, str, str, str, str, bool, str, str], ...] = (
    ("984a2bd4-d3b4-11e8-a1ff-a7f660d43029", "admin",
     "Privileged Access", "General", "other", False,
     "2018-10-19T15:35:23.734317Z", "Deprecated. Privileged Access."),
    ("984d2f00-d3b4-11e8-a200-bb47109e9987", "standard",
     "Standard Access", "General", "other", False,
     "2018-10-19T15:35:23.756736Z", "Deprecated. Standard Access."),
    ("9ac1d8cc-e707-11ea-aa2d-73d37e989a9d", "user_access_invite",
     "User Access Invite", "Access Management", "write", False,
     "2020-08-25T19:17:23.539701Z", "Invite other users to your organization."),
    ("9de604d8-e707-11ea-aa2d-93f1a783b3a3", "user_access_manage",
     "User Access Manage", "Access Management", "write", False,
     "2020-08-25T19:17:28.810412Z", "Disable users, manage user roles, manage SAML-to-role."),
    (_synthetic_id("user_access_read"), "user_access_read",
     "User Access Read", "Access Management", "read", False,
     "2020-08-25T19:17:20.12345Z", "View users and their roles and settings."),
    ("7df222b6-a45c-11eb-a0af-da7ad0900002", "org_management",
     "Org Management", "Access Management", "write", False,
     "2021-04-23T17:51:12.18734Z", "Edit org configurations, including authentication and."),
    ("372896c4-f923-11ea-adbc-4fecd107156d", "api_keys_read",
     "API Keys Read", "API and Application Keys", "read", False,
     "2020-09-17T20:20:23.279769Z", "List and retrieve the key values of all API Keys in your."),
    ("3e4d4d28-f923-11ea-adbc-e3565938c12e", "api_keys_write",
     "API Keys Write", "API and Application Keys", "write", False,
     "2020-09-17T20:20:35.26443Z", "Create and rename API Keys for your organization."),
    ("7850e390-20da-11ee-bed6-da7ad0900002", "api_keys_delete",
     "API Keys Delete", "API and Application Keys", "write", False,
     "2023-07-12T17:35:18.858294Z", "Delete API Keys for your organization."),
    ("46a301db-ec5c-11ea-aa9f-2fe72193d60e", "org_app_keys_read",
     "Org App Keys Read", "API and Application Keys", "read", False,
     "2020-09-01T14:06:05.444705Z", "View Application Keys owned by all users in the."),
    ("46a301dc-ec5c-11ea-aa9f-13b33f8f46ea", "org_app_keys_write",
     "Org App Keys Write", "API and Application Keys", "write", False,
     "2020-09-01T14:06:05.444705Z", "Manage Application Keys owned by all users in the."),
    ("46a301da-ec5c-11ea-aa9f-73bedeab67ee", "user_app_keys",
     "User App Keys", "API and Application Keys", "write", False,
     "2020-09-01T14:06:05.444705Z", "View and manage Application Keys owned by the user."),
    ("a42e94b2-1476-11eb-bd08-efda28c04248", "service_account_write",
     "Service Account Write", "Access Management", "write", False,
     "2020-10-22T14:55:35.814239Z", "Create, disable, and use Service Accounts in your."),
    ("8079f2e6-2724-11ee-84eb-da7ad0900002", "org_connections_read",
     "Org Connections Read", "Access Management", "read", False,
     "2023-07-20T17:40:22.283891Z", "View which organizations can query data from your."),
    ("807a82d8-2724-11ee-84ec-da7ad0900002", "org_connections_write",
     "Org Connections Write", "Access Management", "write", False,
     "2023-07-20T17:40:22.283891Z", "Control which organizations can query your organization's."),
    ("2fbdac76-f923-11ea-adbc-07f3823e2b43", "audit_logs_read",
     "Audit Trail Read", "Compliance", "read", False,
     "2020-09-17T20:20:10.834252Z", "View Audit Trail in your organization."),
    ("04bc1cf2-340a-11eb-873a-43b973c760dd", "audit_logs_write",
     "Audit Trail Write", "Compliance", "write", False,
     "2020-12-01T19:18:39.866516Z", "Configure Audit Trail in your organization."),
    ("e35c06b0-966b-11ec-83c9-da7ad0900002", "logs_delete_data",
     "Logs Delete Data", "Log Management", "write", False,
     "2022-02-25T18:51:06.176019Z", "Delete data from your Logs, including entire indexes."),
    ("0b32e638-7a0f-11f0-bc08-da7ad0900002", "data_scanner_unmask",
     "Data Scanner Unmask", "Compliance", "read", False,
     "2025-08-15T19:35:47.946146Z", "Unmask (view) sensitive data that was previously masked."),
    ("bf0dcf7c-90af-11eb-9b82-da7ad0900002", "data_scanner_read",
     "Data Scanner Read", "Compliance", "read", False,
     "2021-03-29T16:56:46.394971Z", "View Sensitive Data Scanner configurations and scanning."),
    ("559980f6-ca55-11f0-8040-da7ad0900002", "governance_console_write",
     "Governance Console Write", "Access Management", "write", False,
     "2025-11-25T23:20:30.56322Z", "Enforce Governance controls via the Governance Console."),
    ("8c2cd864-716f-11f0-9eb9-da7ad0900002", "governance_console_read",
     "Governance Console Read", "Access Management", "read", False,
     "2025-08-04T20:13:55.553519Z", "View the Governance Console."),
    (_synthetic_id("org_authorized_apps_read"), "org_authorized_apps_read",
     "Org Authorized Apps Read", "Access Management", "read", False,
     "2026-07-07T14:02:11.51234Z", "View the OAuth applications authorized in your organization."),
    (_synthetic_id("manage_integrations"), "manage_integrations",
     "Integrations Manage", "Integrations", "write", False,
     "2024-01-23T17:30:31.083178Z", "Install, uninstall, and configure integrations."),
    ("1b572396-ba15-11ee-9e19-da7ad0900002", "integrations_read",
     "Integrations Read", "Integrations", "read", False,
     "2024-01-23T17:30:31.083178Z", "View integrations and their configurations."),
    (_synthetic_id("teams_read"), "teams_read",
     "Teams Read", "Teams", "read", False,
     "2023-01-18T20:45:59.97783Z", "View Teams."),
    ("1d76ecfa-9771-11ed-9c2f-da7ad0900002", "teams_manage",
     "Teams Manage", "Teams", "write", False,
     "2023-01-18T20:45:59.977837Z", "Manage Teams."),
    ("d90f6830-d3d8-11e9-a77a-b3404e5e9ee2", "dashboards_read",
     "Dashboards Read", "Dashboards", "read", True,
     "2019-09-10T14:39:51.955175Z", "View dashboards."),
    ("d90f6831-d3d8-11e9-a77a-4fd230ddbc6a", "dashboards_write",
     "Dashboards Write", "Dashboards", "write", False,
     "2019-09-10T14:39:51.962944Z", "Create and change dashboards."),
    ("4441648c-d8b1-11e9-a77a-1b899a04b304", "monitors_read",
     "Monitors Read", "Monitors", "read", True,
     "2019-09-16T18:39:07.744297Z", "View monitors."),
    ("48ef71ea-d8b1-11e9-a77a-93f408470ad0", "monitors_write",
     "Monitors Write", "Monitors", "write", False,
     "2019-09-16T18:39:15.597109Z", "Edit, delete, and resolve individual monitors."),
    ("1af86ce4-7823-11ea-93dc-d7cad1b1c6cb", "logs_read_data",
     "Logs Read Data", "Log Management", "read", False,
     "2020-04-06T16:24:35.989108Z", "Read log data."),
    ("5e605652-dd12-11e8-9e53-375565b8970e", "logs_read_index_data",
     "Logs Read Index Data", "Log Management", "read", False,
     "2018-10-31T13:39:19.72745Z", "Read log data, possibly scoped to one or more indexes."),
    ("46a301df-ec5c-11ea-aa9f-970a9ae645e5", "billing_read",
     "Billing Read", "Billing and Usage", "read", False,
     "2020-09-01T14:06:05.444705Z", "View your organization's subscription and payment method."),
    ("46a301e1-ec5c-11ea-aa9f-afa39f6f3e36", "usage_read",
     "Usage Read", "Billing and Usage", "read", False,
     "2020-09-01T14:06:05.444705Z", "View your organization's usage."),
    ("5025ee24-f923-11ea-adbc-576ea241df8d", "synthetics_read",
     "Synthetics Read", "Synthetic Monitoring", "read", False,
     "2020-09-17T20:21:05.205361Z", "List and view configured Synthetic tests and test results."),
    ("417ba636-2dce-11eb-84c0-6bce5b0d9de0", "apm_read",
     "APM Read", "APM", "read", True,
     "2020-11-23T20:55:45.00611Z", "Read and query APM and Trace Analytics."),
    ("12efc20e-d36c-11eb-a9b8-da7ad0900002", "incident_read",
     "Incidents Read", "Case and Incident Management", "read", True,
     "2021-06-22T15:11:09.255499Z", "View incidents in Datadog."),
    ("80de1ec0-aa58-11ea-95e2-aff381626d5d", "security_monitoring_signals_read",
     "Security Signals Read", "Cloud Security Platform", "read", False,
     "2020-06-09T13:52:48.410398Z", "View Security Signals."),
    ("8247acc4-7a4c-11ed-958f-da7ad0900002", "cases_read",
     "Cases Read", "Case and Incident Management", "read", False,
     "2022-12-12T18:40:54.018521Z", "View Cases."),
)
# fmt: on

CATALOGUE: tuple[Permission, ...] = tuple(Permission(*row) for row in _ROWS)
BY_NAME: dict[str, Permission] = {p.name: p for p in CATALOGUE}
BY_ID: dict[str, Permission] = {p.id: p for p in CATALOGUE}

# The rules' "Privileged permission" (the pack's default parameter).
PRIVILEGED: frozenset[str] = frozenset(
    {
        "user_access_manage",
        "user_access_invite",
        "org_management",
        "api_keys_write",
        "api_keys_delete",
        "org_app_keys_write",
        "service_account_write",
        "org_connections_write",
        "audit_logs_write",
        "logs_delete_data",
        "data_scanner_unmask",
        "governance_console_write",
        "admin",
    }
)
ADMIN_EQUIVALENT_PERMISSIONS: frozenset[str] = frozenset({"user_access_manage", "org_management"})
ADMIN_ROLE_NAME = "Datadog Admin Role"

# Read-only, non-privileged permissions the filler hands out.
EVERYDAY: tuple[str, ...] = (
    "dashboards_read",
    "dashboards_write",
    "monitors_read",
    "monitors_write",
    "logs_read_data",
    "logs_read_index_data",
    "synthetics_read",
    "apm_read",
    "incident_read",
    "cases_read",
    "usage_read",
    "billing_read",
)

# Everything the collectors need; a scanned org's key pair holds these by default.
SCANNER_PERMISSIONS: frozenset[str] = frozenset(
    {
        "org_management",
        "user_access_read",
        "org_app_keys_read",
        "user_app_keys",
        "service_account_write",
        "api_keys_read",
        "teams_read",
        "org_connections_read",
        "integrations_read",
        "org_authorized_apps_read",
    }
)


# The x-permission of each write endpoint remediation uses (server.WRITE_ROUTES):
# org-wide app-key and any-token revokes, API-key deletes, service-account keys and
# tokens, AuthN mapping deletes and disabling users. The scan pair already holds
# `service_account_write` (listing a service account's keys requires it) and
# `user_app_keys`, so it could revoke those keys and its own user's tokens: keeping the
# scan pair from writing is the client's job, as against the real API.
REMEDIATION_PERMISSIONS: frozenset[str] = frozenset(
    {"org_app_keys_write", "api_keys_delete", "service_account_write", "user_access_manage"}
)
# What a write key pair holds unless told otherwise: re-read (the listings) and change.
WRITE_PAIR_PERMISSIONS: frozenset[str] = SCANNER_PERMISSIONS | REMEDIATION_PERMISSIONS


def ids_for(names: list[str] | tuple[str, ...] | frozenset[str]) -> list[str]:
    """Permission ids for `names`, in catalogue order."""
    wanted = set(names)
    return [p.id for p in CATALOGUE if p.name in wanted]
