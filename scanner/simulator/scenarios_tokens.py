"""Deliberate access tokens and OAuth clients: one trigger and near misses per rule."""

from __future__ import annotations

from scanner.simulator.factory import Factory
from scanner.simulator.filler import role_named
from scanner.simulator.model import Org, User

READ = ("dashboards_read",)


def _service_account(f: Factory, org: Org, name: str, *, disabled: bool = False) -> User:
    """A service account created 400 days ago holding the standard role."""
    return f.user(
        org,
        name,
        roles=[role_named(org, "Datadog Standard Role")],
        service_account=True,
        login_days=None,
        created_days=400,
        disabled=disabled,
        status="Disabled" if disabled else "Active",
    )


def access_tokens(f: Factory, org: Org) -> None:
    """TOK-001..005, and SA-002/SA-003 counting tokens, with near misses.

    Every token that outlives its last use by more than 90 days also lives more than 90
    days (a listed token has not expired), so the TOK-003 triggers fire TOK-002 as well.
    """
    read_only = role_named(org, "Datadog Read Only Role")

    # TOK-001: a SAT that never expires; near miss: one expiring in 30 days, held by an
    # old service account with no application key (SA-002 near miss once tokens count).
    forever = _service_account(f, org, "svc-forever-sync")
    f.access_token(org, forever, "sat-forever", kind="service", created_days=50,
                   expires_in_days=None, used_days=1, scopes=READ)
    token_only = _service_account(f, org, "svc-token-only")
    f.access_token(org, token_only, "sat-expiring", kind="service", created_days=20,
                   expires_in_days=30, used_days=2, scopes=READ)

    # TOK-003 on SATs: never used, created 200 days ago (the org tracks token use);
    # near miss: never used, created 20 days ago. Two credentials: an SA-003 near miss.
    batch = _service_account(f, org, "svc-batch-jobs")
    f.access_token(org, batch, "sat-never-used-old", kind="service", created_days=200,
                   expires_in_days=150, used_days=None, scopes=READ)
    f.access_token(org, batch, "sat-new-unused", kind="service", created_days=20,
                   expires_in_days=45, used_days=None, scopes=READ)

    # TOK-004: a SAT of a disabled service account.
    retired = _service_account(f, org, "svc-retired-sync", disabled=True)
    f.access_token(org, retired, "sat-of-disabled-sa", kind="service", created_days=50,
                   expires_in_days=20, used_days=45, scopes=READ)

    # TOK-005: a SAT scoped to a privileged permission.
    admin_bot = _service_account(f, org, "svc-user-admin-bot")
    f.access_token(org, admin_bot, "sat-user-admin", kind="service", created_days=10,
                   expires_in_days=55, used_days=1, scopes=("user_access_manage",))

    # SA-003 counting tokens: two application keys and one SAT (3 > 2).
    mixed = _service_account(f, org, "svc-mixed-creds")
    for i in range(2):
        f.app_key(org, mixed, f"mixed-key-{i}", created_days=50, used_days=1, scopes=READ)
    f.access_token(org, mixed, "mixed-sat", kind="service", created_days=10,
                   expires_in_days=55, used_days=1, scopes=READ)

    # PATs of an active human who has been in the org long enough for an April token.
    owner = next(
        u
        for u in org.users
        if not u.service_account
        and u.status == "Active"
        and not u.is_disabled
        and u.id != org.current_user_id
        and (f.now - u.created_at).days > 300
    )
    # TOK-002: lives 310 days; near miss: 80 days.
    f.access_token(org, owner, "pat-long-lived", kind="personal", created_days=10,
                   expires_in_days=300, used_days=1, scopes=READ)
    f.access_token(org, owner, "pat-short-lived", kind="personal", created_days=10,
                   expires_in_days=70, used_days=1, scopes=READ)
    # TOK-003: last used 120 days ago (an April 2026 PAT: no `ddpat_` prefix); near
    # miss: used 5 days ago.
    f.access_token(org, owner, "pat-stale", kind="personal", created_days=220,
                   expires_in_days=100, used_days=120, scopes=READ, prefixed=False)
    f.access_token(org, owner, "pat-recent", kind="personal", created_days=40,
                   expires_in_days=40, used_days=5, scopes=READ)
    # TOK-005 near miss: everyday scopes only (and an edited token: `modified_at` shown).
    f.access_token(org, owner, "pat-dashboards", kind="personal", created_days=15,
                   expires_in_days=60, used_days=2,
                   scopes=("dashboards_read", "dashboards_write"), edited=True)

    # TOK-004: owned by a disabled user, by an id that is no user of the org; near miss:
    # owned by a pending (not disabled) user.
    departed = f.user(org, "Tess Departed", roles=[read_only], status="Disabled",
                      disabled=True, login_days=200)
    f.access_token(org, departed, "pat-of-departed", kind="personal", created_days=50,
                   expires_in_days=30, used_days=40, scopes=READ)
    f.access_token(org, f.uuid(), "pat-of-stranger", kind="personal", created_days=50,
                   expires_in_days=30, used_days=1, scopes=READ)
    pending = f.user(org, "Penny Pending", roles=[read_only], status="Pending", login_days=None)
    f.access_token(org, pending, "pat-of-pending", kind="personal", created_days=10,
                   expires_in_days=60, used_days=None, scopes=READ)


def oauth_clients(f: Factory, org: Org) -> None:
    """OAUTH-001: enabled clients idle for 100 days or never exercised; near misses."""
    f.oauth_client(org, "oauth-stale", disabled=False, exercised_days=100, users=3)
    f.oauth_client(org, "oauth-never", disabled=False, exercised_days=None, users=1)
    f.oauth_client(org, "oauth-recent", disabled=False, exercised_days=5, users=7)
    f.oauth_client(org, "oauth-disabled-stale", disabled=True, exercised_days=200, users=2)
