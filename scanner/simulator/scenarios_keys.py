"""Deliberate key and service-account resources: one trigger and near misses per rule."""

from __future__ import annotations

from dataclasses import replace

from scanner.simulator import permissions as perms
from scanner.simulator.factory import Factory
from scanner.simulator.filler import role_named
from scanner.simulator.model import Org

READ = ("dashboards_read",)


def application_keys(f: Factory, org: Org) -> None:
    """KEY-001, KEY-003, KEY-004, KEY-005, KEY-007 (application keys), SA-001, SA-002, SA-003."""
    standard = role_named(org, "Datadog Standard Role")
    admin = role_named(org, perms.ADMIN_ROLE_NAME)

    a = f.user(org, "svc-legacy-export", roles=[standard], service_account=True, login_days=None)
    # KEY-001: last used 120 days ago; and never used, created 150 days ago (org tracks use).
    f.app_key(org, a, "legacy-export", created_days=200, used_days=120, scopes=READ)
    f.app_key(org, a, "never-used-old", created_days=150, used_days=None, scopes=READ)
    b = f.user(org, "svc-near-miss", roles=[standard], service_account=True, login_days=None)
    # Near misses for KEY-001: used 87 days ago; never used but created 60 days ago.
    f.app_key(org, b, "almost-stale", created_days=200, used_days=87, scopes=READ)
    f.app_key(org, b, "fresh-never-used", created_days=60, used_days=None, scopes=READ)
    c = f.user(org, "svc-rotation", roles=[standard], service_account=True, login_days=None)
    # KEY-003 (application_key): created 400 days ago; near miss 362 days.
    f.app_key(org, c, "rotation-overdue", created_days=400, used_days=2, scopes=READ)
    f.app_key(org, c, "rotation-soon", created_days=362, used_days=2, scopes=READ)
    d = f.user(org, "svc-unscoped", roles=[standard], service_account=True, login_days=None)
    # KEY-004: a service account's key with scopes null, and one with scopes [].
    f.app_key(org, d, "unscoped-sa-key", created_days=50, used_days=1, scopes=None)
    f.app_key(org, d, "empty-scopes-sa-key", created_days=50, used_days=1, scopes=())
    e = f.user(org, "svc-privileged-scope", roles=[standard], service_account=True, login_days=None)
    # KEY-005: a scope is privileged; near miss: user_access_read is not.
    f.app_key(
        org,
        e,
        "priv-scope",
        created_days=50,
        used_days=1,
        scopes=("api_keys_write", "dashboards_read"),
    )
    f.app_key(
        org,
        e,
        "read-scopes-only",
        created_days=50,
        used_days=1,
        scopes=("dashboards_read", "user_access_read"),
    )
    human = next(
        u
        for u in org.users
        if not u.service_account and u.status == "Active" and u.id != org.current_user_id
    )
    # KEY-004 near miss: a user's unscoped key; KEY-005 trigger on a user's scoped key.
    f.app_key(org, human, "personal-unscoped", created_days=50, used_days=1, scopes=None)
    f.app_key(
        org,
        human,
        "personal-user-manage",
        created_days=50,
        used_days=1,
        scopes=("user_access_manage",),
    )
    g = f.user(org, "svc-leaky", roles=[standard], service_account=True, login_days=None)
    # KEY-007 (application_key): Datadog reports the key leaked.
    f.app_key(
        org,
        g,
        "leaked-app-key",
        created_days=50,
        used_days=1,
        scopes=READ,
        leak=f.leak(5, "github"),
    )
    h = f.user(org, "svc-many-keys", roles=[standard], service_account=True, login_days=None)
    # SA-003: three keys (more than max_keys=2); svc-legacy-export has exactly 2 (near miss).
    for i in range(3):
        f.app_key(org, h, f"many-{i}", created_days=50, used_days=1, scopes=READ)

    # SA-001: enabled SAs with the admin role / a role holding user_access_manage.
    user_admin = f.role(org, "Automation Admin", ("user_access_manage", "dashboards_read"))
    key_rotator = f.role(org, "Key Rotator", ("api_keys_write", "api_keys_read"))
    for name, role, disabled in (
        ("svc-admin-automation", admin, False),
        ("svc-user-provisioner", user_admin, False),
        ("svc-retired-admin", admin, True),  # near miss: disabled
        ("svc-key-rotator", key_rotator, False),  # near miss: privileged, not admin-equivalent
    ):
        holder = f.user(
            org,
            name,
            roles=[role],
            service_account=True,
            login_days=None,
            disabled=disabled,
            status="Disabled" if disabled else "Active",
        )
        f.app_key(org, holder, f"{name}-key", created_days=50, used_days=1, scopes=READ)

    # SA-002: enabled, keyless, created 60 days ago; near misses: 20 days old; disabled.
    f.user(
        org, "svc-idle", roles=[standard], service_account=True, login_days=None, created_days=60
    )
    f.user(
        org,
        "svc-brand-new",
        roles=[standard],
        service_account=True,
        login_days=None,
        created_days=20,
    )
    f.user(
        org,
        "svc-idle-disabled",
        roles=[standard],
        service_account=True,
        login_days=None,
        created_days=200,
        disabled=True,
        status="Disabled",
    )


def api_keys(f: Factory, org: Org) -> None:
    """KEY-002, KEY-003, KEY-006, KEY-007 (API keys), with near misses."""
    read_only = role_named(org, "Datadog Read Only Role")
    me = org.current_user_id
    departed = f.user(
        org, "Dana Departed", roles=[read_only], status="Disabled", disabled=True, login_days=200
    )
    status_only = f.user(
        org, "Sam Statusonly", roles=[read_only], status="Disabled", disabled=False, login_days=150
    )
    pending = f.user(org, "Pat Pending", roles=[read_only], status="Pending", login_days=None)
    # KEY-002: used 120 days ago; never used, created 150 days ago (org tracks use).
    f.api_key(org, me, "stale-agent", created_days=200, used_days=120)
    f.api_key(org, me, "never-used-agent", created_days=150, used_days=None)
    # Near misses: used 87 days ago; never used but created 60 days ago.
    f.api_key(org, me, "almost-stale-agent", created_days=200, used_days=87)
    f.api_key(org, me, "new-unused-agent", created_days=60, used_days=None)
    # KEY-003 (api_key): created 400 days ago; near miss 362.
    f.api_key(org, me, "old-agent", created_days=400, used_days=1)
    f.api_key(org, me, "rotation-soon-agent", created_days=362, used_days=1)
    # KEY-006: creator disabled (flag), disabled (status only), or not a user of the org.
    f.api_key(org, departed.id, "departed-agent", created_days=100, used_days=1)
    f.api_key(org, status_only.id, "status-disabled-agent", created_days=100, used_days=1)
    f.api_key(org, f.uuid(), "orphan-agent", created_days=100, used_days=1)
    # Near miss: a pending (not disabled) creator.
    f.api_key(org, pending.id, "pending-agent", created_days=100, used_days=1)
    # KEY-007 (api_key): leaked.
    f.api_key(
        org, me, "leaked-agent", created_days=100, used_days=1, leak=f.leak(3, "public_repository")
    )
    # Keys whose answers leave date_last_used null and show use only in last_used_date
    # (the 90-day window). Near miss: used 10 days ago, seen only there. KEY-002: used 200
    # days ago, outside the window, so no use is seen at all.
    f.api_key(org, me, "window-only-agent", created_days=300, used_days=10,
              reports_date_last_used=False)
    f.api_key(org, me, "window-expired-agent", created_days=300, used_days=200,
              reports_date_last_used=False)


def untracked_use(f: Factory, org: Org) -> None:
    """An org that tracks no key use: never-used old keys are "unknown" (KEY-001/002 near miss)."""
    org.app_keys[:] = [replace(k, last_used_at=None) for k in org.app_keys]
    org.api_keys[:] = [replace(k, date_last_used=None) for k in org.api_keys]
    owner = org.user(org.current_user_id)
    assert owner is not None
    f.app_key(org, owner, "untracked-old-app-key", created_days=200, used_days=None, scopes=READ)
    f.api_key(org, org.current_user_id, "untracked-old-api-key", created_days=200, used_days=None)
