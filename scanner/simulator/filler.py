"""The random filler: a realistic, clean population for one org (no rule should fire on it)."""

from __future__ import annotations

from scanner.simulator import permissions as perms
from scanner.simulator.factory import Factory
from scanner.simulator.model import Org, Role, User

FIRST = (
    "Ada",
    "Ben",
    "Chloe",
    "Dev",
    "Elif",
    "Femi",
    "Gus",
    "Hana",
    "Ivo",
    "Jun",
    "Kai",
    "Lena",
    "Mo",
    "Nia",
    "Oren",
    "Pia",
    "Quin",
    "Ravi",
    "Sara",
    "Tom",
    "Uma",
    "Vik",
)
LAST = ("Ng", "Okafor", "Silva", "Berg", "Kaur", "Novak", "Ito", "Moreau", "Rossi", "Adams")
CUSTOM_ROLES = (
    "Developers",
    "On-call",
    "Analysts",
    "Support",
    "Finance Viewers",
    "Data Eng",
    "Release Managers",
    "Observability",
    "QA",
    "Contractors",
)
SA_PURPOSES = (
    "terraform",
    "ci-deploy",
    "synthetics-sync",
    "slo-export",
    "backup",
    "pagerduty-bridge",
    "cost-report",
    "catalog-sync",
    "dash-publisher",
    "etl",
)
TEAMS = ("Platform", "SRE", "Data")
TOKEN_PURPOSES = ("grafana", "backstage", "runbook-bot", "ci-smoke", "status-page", "notebook")
OAUTH_APPS = ("Datadog Mobile", "Slack", "PagerDuty", "Jira Cloud", "Statuspage", "VS Code")

AUDITOR_ROLE = "Security Auditor"
AUDITOR_PERMISSIONS = (
    "user_access_read",
    "org_app_keys_read",
    "api_keys_read",
    "teams_read",
    "org_connections_read",
    "integrations_read",
    "audit_logs_read",
)
ADMIN_PERMISSIONS = tuple(
    sorted(perms.PRIVILEGED | set(perms.EVERYDAY) | perms.SCANNER_PERMISSIONS)
)


def role_named(org: Org, name: str) -> Role:
    """The org's role called `name` (KeyError if none)."""
    for role in org.roles:
        if role.name == name:
            return role
    raise KeyError(name)


def base_roles(f: Factory, org: Org, count: int) -> list[Role]:
    """The built-in roles, the auditor role and custom roles, `count` in all (at least 4).

    Returns the roles a filler human may hold (never an admin-equivalent one).
    """
    f.role(org, perms.ADMIN_ROLE_NAME, ("admin",) + ADMIN_PERMISSIONS)
    standard = f.role(org, "Datadog Standard Role", ("standard",) + perms.EVERYDAY)
    read_only = f.role(
        org, "Datadog Read Only Role", tuple(p for p in perms.EVERYDAY if p.endswith("_read"))
    )
    auditor = f.role(org, AUDITOR_ROLE, AUDITOR_PERMISSIONS)
    custom = [
        f.role(
            org,
            CUSTOM_ROLES[i % len(CUSTOM_ROLES)] + ("" if i < len(CUSTOM_ROLES) else f" {i}"),
            tuple(f.rng.sample(perms.EVERYDAY, 4)),
        )
        for i in range(max(0, count - 4))
    ]
    return [auditor, standard, read_only, *custom]


def fill_org(
    f: Factory,
    org: Org,
    *,
    users: int,
    service_accounts: int,
    app_keys_per_sa: float,
    api_keys: int,
    roles: int,
    mappings: int,
    okta_accounts: int,
) -> None:
    """Populate `org` with clean filler; its first human is the auditor who owns the scan key."""
    mappable = base_roles(f, org, roles)
    teams = [f.team(org, name) for name in TEAMS]
    auditor_role = mappable[0]
    # Role mappings first: filler humans hold only mapped roles, so no role is "unmapped".
    mapped: list[Role] = []
    for i in range(mappings):
        role = mappable[i % len(mappable)]
        suffix = "" if i < len(mappable) else f"-{i // len(mappable) + 1}"
        slug = role.name.lower().replace(" ", "-").replace("datadog-", "")
        f.mapping(org, "memberOf", f"dd-{slug}{suffix}", role_id=role.id)
        mapped.append(role)
    if teams and mappings:
        f.mapping(org, "memberOf", f"team-{teams[0].handle}", team_id=teams[0].id)
    holdable = [r for r in mapped if r is not auditor_role] or mappable[1:]

    auditor = f.user(
        org,
        "Audit Bot Owner",
        roles=[auditor_role],
        created_days=f.safe_days(200, 900),
        login_days=1,
        email=f"secops@{org.public_id[:6]}.example.com",
    )
    org.current_user_id = auditor.id
    f.app_key(
        org, auditor, "ddaudit-scanner", created_days=f.safe_days(35, 80), used_days=0, scopes=None
    )

    humans: list[User] = [auditor]
    for i in range(max(0, users - service_accounts - 1)):
        name = f"{FIRST[i % len(FIRST)]} {LAST[(i // len(FIRST) + i) % len(LAST)]}"
        pending = i % 11 == 10
        human = f.user(
            org,
            name,
            roles=[f.rng.choice(holdable)],
            status="Pending" if pending else "Active",
            created_days=f.safe_days(35, 1500),
            login_days=None if pending else f.rng.randint(0, 26),
        )
        humans.append(human)
        if i % 4 == 0 and not pending:
            f.app_key(
                org,
                human,
                f"{human.handle.split('@')[0]}-laptop",
                created_days=f.safe_days(35, 360),
                used_days=f.rng.randint(0, 26),
                scopes=None,
            )

    sa_roles = mappable[1:]
    whole, frac = int(app_keys_per_sa), app_keys_per_sa - int(app_keys_per_sa)
    for i in range(service_accounts):
        purpose = SA_PURPOSES[i % len(SA_PURPOSES)]
        sa = f.user(
            org,
            f"svc-{purpose}-{i}",
            roles=[f.rng.choice(sa_roles)],
            service_account=True,
            created_days=f.safe_days(100, 1200),
            login_days=None,
        )
        n_keys = max(1, whole + (1 if f.rng.random() < frac else 0))
        if app_keys_per_sa <= 2:
            n_keys = min(n_keys, 2)
        for k in range(n_keys):
            created = f.safe_days(35, 360)
            f.app_key(
                org,
                sa,
                f"{purpose}-{k}",
                created_days=created,
                used_days=f.rng.randint(0, min(26, created - 1)),
                scopes=tuple(sorted(f.rng.sample(perms.EVERYDAY, f.rng.randint(1, 3)))),
            )

    active = [h for h in humans if h.status == "Active"]
    for i in range(api_keys):
        creator = active[i % len(active)]
        created = f.safe_days(35, 360)
        f.api_key(
            org,
            creator.id,
            f"{org.name.split()[-1].lower()}-agent-{i}",
            created_days=created,
            used_days=f.rng.randint(0, 26),
        )

    slug = org.public_id[:8]
    for i in range(okta_accounts):
        f.okta(org, f"okta-{slug}-{i}", f"https://{slug}-{i}.okta.com/")


def fill_tokens(f: Factory, org: Org, *, tokens: int, oauth_clients: int) -> None:
    """Clean access tokens and OAuth clients for `org` (after `fill_org`, own stream).

    Tokens: non-privileged scopes, at most 85 days from creation to expiry, used in the
    last 26 days, owned by active humans (the auditor owns the first) or by young
    service accounts holding nothing else (so no service-account rule counts them).
    OAuth clients: enabled ones exercised in the last 26 days; every fourth is disabled.
    """
    me = org.user(org.current_user_id)
    humans = [
        u
        for u in org.users
        if not u.service_account and u.status == "Active" and not u.is_disabled
    ]
    read_only = role_named(org, "Datadog Read Only Role")
    n_sats = tokens // 3
    for i in range(tokens):
        purpose = TOKEN_PURPOSES[i % len(TOKEN_PURPOSES)]
        scopes = tuple(sorted(f.rng.sample(perms.EVERYDAY, f.rng.randint(1, 3))))
        if i < n_sats:
            owner_days = f.safe_days(8, 25)
            owner = f.user(
                org,
                f"svc-token-{purpose}-{i}",
                roles=[read_only],
                service_account=True,
                created_days=owner_days,
                login_days=None,
            )
            kind, name = "service", f"{purpose}-sat"
        else:
            owner = me if i == n_sats and me is not None else f.rng.choice(humans)
            owner_days = int((f.now - owner.created_at).total_seconds() // 86400)
            kind = "personal"
            name = "ddaudit-cli" if owner is me else f"{owner.handle.split('@')[0]}-{purpose}"
        created = f.safe_days(1, max(1, min(70, owner_days - 1)))
        lifetime = f.safe_days(created + 7, 85)
        f.access_token(
            org,
            owner,
            name,
            kind=kind,
            created_days=created,
            expires_in_days=lifetime - created,
            used_days=f.rng.randint(0, min(26, created - 1)),
            scopes=scopes,
            edited=f.rng.random() < 0.3,
        )
    for i in range(oauth_clients):
        disabled = i % 4 == 3
        f.oauth_client(
            org,
            OAUTH_APPS[i % len(OAUTH_APPS)] + ("" if i < len(OAUTH_APPS) else f" {i}"),
            disabled=disabled,
            exercised_days=f.safe_days(100, 400) if disabled else f.rng.randint(0, 26),
            users=f.rng.randint(1, 12),
        )
