"""Pure-Python findings oracle: the rules (docs/rules.md) over the simulator's estate."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime

from scanner.simulator.model import ApiKey, ApplicationKey, Estate, Org, Role, SimTarget, User
from scanner.simulator.permissions import ADMIN_ROLE_NAME, BY_ID, PRIVILEGED

Finding = tuple[str, str, str, str, str]  # rule_id, site, org_public_id, resource_type, id

PUBLIC_DOMAINS = (
    "gmail.com",
    "googlemail.com",
    "outlook.com",
    "hotmail.com",
    "live.com",
    "yahoo.com",
    "icloud.com",
    "aol.com",
    "proton.me",
    "protonmail.com",
    "gmx.com",
    "mail.com",
)
DEFAULT_PARAMS: dict[str, dict[str, object]] = {
    "DDA-KEY-001": {"stale_days": 90},
    "DDA-KEY-002": {"stale_days": 90},
    "DDA-KEY-003": {"rotation_days": 365},
    "DDA-SA-002": {"grace_days": 30},
    "DDA-SA-003": {"max_keys": 2},
    "DDA-TOK-002": {"max_lifetime_days": 90},
    "DDA-TOK-003": {"stale_days": 90},
    "DDA-OAUTH-001": {"stale_days": 60},
    "DDA-ORG-004": {"public_domains": PUBLIC_DOMAINS},
    "privileged_permissions": {"names": tuple(sorted(PRIVILEGED))},
}

# What each rule reads: coverage endpoints (docs/outputs.md names) or a part of one
# (`orgs.settings`, `orgs.children`, `application_keys.service_accounts`); a missing one
# makes the rule not_assessed.
RULE_INPUTS: dict[str, set[str]] = {
    "DDA-KEY-001": {"application_keys"},
    "DDA-KEY-002": {"api_keys"},
    "DDA-KEY-003": {"application_keys", "api_keys"},
    "DDA-KEY-004": {"application_keys.service_accounts", "users"},
    "DDA-KEY-005": {"application_keys"},
    "DDA-KEY-006": {"api_keys", "users"},
    "DDA-KEY-007": {"application_keys", "api_keys"},
    "DDA-SA-001": {"users", "roles", "permissions"},
    "DDA-SA-002": {"users", "application_keys.service_accounts", "access_tokens"},
    "DDA-SA-003": {"users", "application_keys.service_accounts", "access_tokens"},
    **{f"DDA-ORG-00{i}": {"orgs.settings"} for i in range(1, 7)},
    "DDA-ORG-007": {"orgs.children"},
    "DDA-MAP-001": {"authn_mappings", "roles", "teams"},
    "DDA-MAP-002": {"authn_mappings", "roles", "permissions"},
    "DDA-MAP-003": {"authn_mappings"},
    "DDA-MAP-004": {"orgs.settings", "authn_mappings"},
    "DDA-ROLE-001": {"authn_mappings", "users", "roles"},
    "DDA-CONN-001": {"orgs.identity", "org_connections"},
    "DDA-CONN-002": {"orgs.identity", "org_connections"},
    "DDA-CONN-003": {"orgs.identity", "org_connections", "users"},
    "DDA-OKTA-001": {"okta_accounts"},
    "DDA-OKTA-002": {"okta_accounts"},
    **{f"DDA-TOK-00{i}": {"access_tokens"} for i in (1, 2, 3, 5)},
    "DDA-TOK-004": {"access_tokens", "users"},
    "DDA-OAUTH-001": {"oauth_clients"},
}
# The listings a site may not offer (a 404: coverage `unavailable`, no gap, nothing judged).
OFFERED_BY: dict[str, str] = {"access_tokens": "/api/v2/personal_access_tokens",
                              "oauth_clients": "/api/v2/org_authorized_clients"}
PARTS: dict[str, tuple[str, ...]] = {
    "orgs": ("orgs.identity", "orgs.settings", "orgs.children"),
    "application_keys": ("application_keys.service_accounts",),
}
# Key-pair permissions each endpoint needs (any one of them), as the simulator enforces.
ENDPOINT_PERMISSIONS: dict[str, tuple[str, ...]] = {
    "users": ("user_access_read",),
    "roles": ("user_access_read",),
    "permissions": ("user_access_read",),
    "api_keys": ("api_keys_read",),
    "authn_mappings": ("user_access_read",),
    "teams": ("teams_read",),
    "org_connections": ("org_connections_read",),
    "okta_accounts": ("integrations_read",),
    "access_tokens": ("user_app_keys", "org_app_keys_read"),
    "oauth_clients": ("org_authorized_apps_read", "manage_integrations"),
}


def with_parts(endpoints: Iterable[str]) -> set[str]:
    """The endpoints and every part of each: what a wholly forbidden endpoint loses."""
    return {i for e in endpoints for i in (e, *PARTS.get(e, ()))}


def _p(params: Mapping[str, Mapping[str, object]], rule: str, name: str) -> object:
    return params.get(rule, {}).get(name, DEFAULT_PARAMS[rule][name])


def _days(now: datetime, then: datetime) -> float:
    return (now - then).total_seconds() / 86400


def derived_forbidden(target: SimTarget, org: Org | None = None) -> set[str]:
    """The endpoints (and parts of one) a target's key pair cannot collect whole.

    Orgs: child orgs need /api/v2/org (org_management or org_connections_write, and a site
    that offers it); the org's settings need /api/v1/org/{public_id}. Application keys
    need the org-wide listing (org_app_keys_read): the per-service-account fallback
    (service_account_write, and the user list to find the accounts) cannot see keys
    owned by users, so without it the endpoint is partial at best.
    """
    perms = target.permissions
    offline = org.missing_endpoints if org is not None else frozenset()
    missing = {e for e, need in ENDPOINT_PERMISSIONS.items() if not set(need) & perms}
    if not {"org_management", "org_connections_write"} & perms or "/api/v2/org" in offline:
        missing |= {"orgs", "orgs.children"}
    if "/api/v1/org/{public_id}" in offline:
        missing |= {"orgs", "orgs.settings"}
    if "org_app_keys_read" not in perms:
        missing.add("application_keys")
        if "service_account_write" not in perms or "users" in missing:
            missing.add("application_keys.service_accounts")
        missing.add("access_tokens")  # only the key pair's own user's tokens are listed
    return missing - {e for e, path in OFFERED_BY.items() if path in offline}


def offered(org: Org, endpoint: str) -> bool:
    """Whether the org's site offers a listing that some sites do not."""
    return OFFERED_BY[endpoint] not in org.missing_endpoints


def visible_app_keys(org: Org, target: SimTarget) -> list[ApplicationKey]:
    """The application keys the collector sees: all, or only service accounts' (fallback)."""
    if "org_app_keys_read" in target.permissions:
        return list(org.app_keys)
    if "service_account_write" not in target.permissions:
        return []
    sa_ids = {u.id for u in org.users if u.service_account}
    return [k for k in org.app_keys if k.owner_id in sa_ids]


def _admin_equivalent(role: Role) -> bool:
    names = {BY_ID[p].name for p in role.permission_ids}
    return role.name == ADMIN_ROLE_NAME or bool(names & {"user_access_manage", "org_management"})


def _missing(
    estate: Estate, forbidden: Mapping[str, set[str]] | None, derive: bool
) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for t in estate.targets:
        out[t.org_public_id] |= with_parts((forbidden or {}).get(t.name, set()))
        if derive:
            out[t.org_public_id] |= derived_forbidden(t, estate.org(t.org_public_id))
    return out


def expected_findings(
    estate: Estate,
    *,
    now: datetime,
    params: Mapping[str, Mapping[str, object]] | None = None,
    trusted_orgs: Iterable[str] | None = None,
    forbidden: Mapping[str, set[str]] | None = None,
    derive_forbidden: bool = True,
) -> set[Finding]:
    """Every (rule, site, org, resource_type, resource_id) the rules expect for this estate."""
    params = params or {}
    trusted = set(estate.trusted_orgs if trusted_orgs is None else trusted_orgs)
    missing = _missing(estate, forbidden, derive_forbidden)
    out: set[Finding] = set()
    for target in estate.targets:
        for endpoint in sorted(missing[target.org_public_id]):
            if "." not in endpoint:  # a part's gap is its endpoint's DDA-SCAN-001
                out.add(("DDA-SCAN-001", target.site, target.org_public_id, "collection",
                         endpoint))
    scanned = {t.org_public_id: t for t in estate.targets}
    orgs = [o for o in estate.orgs if o.public_id in scanned]
    raw: set[Finding] = set()
    for org in orgs:
        raw |= _key_rules(org, scanned[org.public_id], now, params)
        raw |= _sa_rules(org, scanned[org.public_id], now, params)
        raw |= _org_rules(estate, org, params)
        raw |= _mapping_rules(org)
        raw |= _token_rules(org, now, params)
    raw |= _connection_rules(estate, orgs, missing, trusted)
    raw |= _okta_rules(orgs, missing)
    for f in raw:
        if not RULE_INPUTS[f[0]] & missing[f[2]]:
            out.add(f)
    return out


def expected_not_assessed(
    estate: Estate,
    *,
    forbidden: Mapping[str, set[str]] | None = None,
    rule_inputs: Mapping[str, set[str]] | None = None,
    derive_forbidden: bool = True,
) -> set[Finding]:
    """(rule, site, org, "org", org public_id) for each rule whose inputs an org lacks."""
    inputs = rule_inputs or RULE_INPUTS
    missing = _missing(estate, forbidden, derive_forbidden)
    return {
        (rule, t.site, t.org_public_id, "org", t.org_public_id)
        for t in estate.targets
        for rule, needs in inputs.items()
        if needs & missing[t.org_public_id]
    }


def findings_for(findings: Iterable[Finding], *rule_ids: str) -> set[Finding]:
    """The findings of the given rules."""
    return {f for f in findings if f[0] in rule_ids}


def _key_rules(
    org: Org, target: SimTarget, now: datetime, params: Mapping[str, Mapping[str, object]]
) -> set[Finding]:
    """KEY-001..007.

    KEY-001/002: last use (KEY-002: `date_last_used`, else the 90-day window's) older than
    stale_days; or never used (null, org tracks use of that
    key kind) and created more than stale_days ago. KEY-003: created more than rotation_days
    ago (each kind). KEY-004: owned by a service account, scopes null or empty. KEY-005: a
    scope is privileged. KEY-006: API key created by a disabled user or a non-user. KEY-007:
    leak_information.data not null (each kind).
    """
    site, oid = org.site, org.public_id
    app_keys = visible_app_keys(org, target)
    users = {u.id: u for u in org.users}
    privileged = set(_p(params, "privileged_permissions", "names"))  # type: ignore[call-overload]
    rotation = float(_p(params, "DDA-KEY-003", "rotation_days"))  # type: ignore[arg-type]
    out: set[Finding] = set()

    def stale(rule: str, kind: str, keys: list[tuple[str, datetime, datetime | None]]) -> None:
        limit = float(_p(params, rule, "stale_days"))  # type: ignore[arg-type]
        tracks = any(used is not None for _, _, used in keys)
        for kid, created, used in keys:
            if (used is not None and _days(now, used) > limit) or (
                used is None and tracks and _days(now, created) > limit
            ):
                out.add((rule, site, oid, kind, kid))

    stale(
        "DDA-KEY-001", "application_key", [(k.id, k.created_at, k.last_used_at) for k in app_keys]
    )
    stale("DDA-KEY-002", "api_key",
          [(k.id, k.created_at, k.last_use_seen(now)) for k in org.api_keys])
    both: list[tuple[str, ApplicationKey | ApiKey]] = [
        *(("application_key", k) for k in app_keys),
        *(("api_key", k) for k in org.api_keys),
    ]
    for kind, key in both:
        if _days(now, key.created_at) > rotation:
            out.add(("DDA-KEY-003", site, oid, kind, key.id))
        if key.leak is not None:
            out.add(("DDA-KEY-007", site, oid, kind, key.id))
    for k in app_keys:
        owner = users.get(k.owner_id)
        if owner is not None and owner.service_account and not k.scopes:
            out.add(("DDA-KEY-004", site, oid, "application_key", k.id))
        if k.scopes and set(k.scopes) & privileged:
            out.add(("DDA-KEY-005", site, oid, "application_key", k.id))
    for a in org.api_keys:
        creator = users.get(a.created_by_id)
        if creator is None or creator.is_disabled:
            out.add(("DDA-KEY-006", site, oid, "api_key", a.id))
    return out


def _sa_rules(
    org: Org, target: SimTarget, now: datetime, params: Mapping[str, Mapping[str, object]]
) -> set[Finding]:
    """SA-001: an enabled SA holds an admin-equivalent role. SA-002: an enabled SA has no
    application keys and no access tokens, and was created more than grace_days ago.
    SA-003: an SA has more than max_keys credentials (application keys and tokens)."""
    grace = float(_p(params, "DDA-SA-002", "grace_days"))  # type: ignore[arg-type]
    max_keys = int(_p(params, "DDA-SA-003", "max_keys"))  # type: ignore[call-overload]
    counts = Counter(k.owner_id for k in visible_app_keys(org, target))
    if offered(org, "access_tokens"):
        counts.update(t.owner_id for t in org.access_tokens)
    out: set[Finding] = set()
    for u in org.users:
        if not u.service_account:
            continue
        f = (org.site, org.public_id, "service_account", u.id)
        roles = [r for r in (org.role(rid) for rid in u.role_ids) if r is not None]
        if not u.is_disabled and any(_admin_equivalent(r) for r in roles):
            out.add(("DDA-SA-001", *f))
        if not u.is_disabled and counts[u.id] == 0 and _days(now, u.created_at) > grace:
            out.add(("DDA-SA-002", *f))
        if counts[u.id] > max_keys:
            out.add(("DDA-SA-003", *f))
    return out


def _token_rules(
    org: Org, now: datetime, params: Mapping[str, Mapping[str, object]]
) -> set[Finding]:
    """TOK-001 no expiry; 002 expires more than max_lifetime_days after creation; 003 last
    use older than stale_days, or never used (org tracks token use) and created more than
    stale_days ago; 004 owner disabled or not a user of the org; 005 a privileged scope.
    OAUTH-001 an enabled client not exercised for more than stale_days, or never."""
    site, oid = org.site, org.public_id
    out: set[Finding] = set()
    tokens = org.access_tokens if offered(org, "access_tokens") else []
    lifetime = float(_p(params, "DDA-TOK-002", "max_lifetime_days"))  # type: ignore[arg-type]
    stale = float(_p(params, "DDA-TOK-003", "stale_days"))  # type: ignore[arg-type]
    privileged = set(_p(params, "privileged_permissions", "names"))  # type: ignore[call-overload]
    tracks = any(t.last_used_at is not None for t in tokens)
    for t in tokens:
        f = (site, oid, "access_token", t.id)
        if t.expires_at is None:
            out.add(("DDA-TOK-001", *f))
        elif _days(t.expires_at, t.created_at) > lifetime:
            out.add(("DDA-TOK-002", *f))
        if (t.last_used_at is not None and _days(now, t.last_used_at) > stale) or (
                t.last_used_at is None and tracks and _days(now, t.created_at) > stale):
            out.add(("DDA-TOK-003", *f))
        owner = org.user(t.owner_id)
        if owner is None or owner.is_disabled:
            out.add(("DDA-TOK-004", *f))
        if set(t.scopes) & privileged:
            out.add(("DDA-TOK-005", *f))
    limit = float(_p(params, "DDA-OAUTH-001", "stale_days"))  # type: ignore[arg-type]
    for c in org.oauth_clients if offered(org, "oauth_clients") else []:
        if not c.disabled and (c.last_exercised is None or _days(now, c.last_exercised) > limit):
            out.add(("DDA-OAUTH-001", site, oid, "oauth_client", c.id))
    return out


def _org_rules(
    estate: Estate, org: Org, params: Mapping[str, Mapping[str, object]]
) -> set[Finding]:
    """ORG-001 SAML off; 002 SAML on, strict off; 003 SAML on and JIT role `adm`; 004
    auto-create enabled for a public domain; 005 private_widget_share; 006 IdP-initiated
    login; 007 a child org of this scanned parent that no target covers (resource = child)."""
    s, site, oid = org.settings, org.site, org.public_id
    public = {d.lower() for d in _p(params, "DDA-ORG-004", "public_domains")}  # type: ignore[attr-defined]
    checks = {
        "DDA-ORG-001": not s.saml_enabled,
        "DDA-ORG-002": s.saml_enabled and not s.saml_strict_mode,
        "DDA-ORG-003": s.saml_enabled and s.saml_autocreate_access_role == "adm",
        "DDA-ORG-004": s.autocreate_domains_enabled
        and any(d.lower() in public for d in s.autocreate_domains),
        "DDA-ORG-005": s.private_widget_share,
        "DDA-ORG-006": s.saml_idp_initiated_login,
        "DDA-MAP-004": s.saml_enabled and not any(m.role_id for m in org.mappings),
    }
    out = {(rule, site, oid, "org", oid) for rule, hit in checks.items() if hit}
    covered = {t.org_public_id for t in estate.targets}
    for child in estate.orgs:
        if child.parent_public_id == oid and child.public_id not in covered:
            out.add(("DDA-ORG-007", site, oid, "org", child.public_id))
    return out


def _mapping_rules(org: Org) -> set[Finding]:
    """MAP-001 role/team missing; MAP-002 admin-equivalent role; MAP-003 same key+value mapped
    to a different role; ROLE-001 (org with role mappings) a role held by an enabled human
    that no mapping grants."""
    site, oid = org.site, org.public_id
    roles = {r.id: r for r in org.roles}
    teams = {t.id for t in org.teams}
    role_maps = [m for m in org.mappings if m.role_id is not None]
    out: set[Finding] = set()
    for m in org.mappings:
        f = (site, oid, "authn_mapping", m.id)
        if (m.role_id is not None and m.role_id not in roles) or (
            m.team_id is not None and m.team_id not in teams
        ):
            out.add(("DDA-MAP-001", *f))
        if m.role_id in roles and _admin_equivalent(roles[m.role_id]):
            out.add(("DDA-MAP-002", *f))
        if m.role_id is not None and any(
            o.attribute_key == m.attribute_key
            and o.attribute_value == m.attribute_value
            and o.role_id != m.role_id
            for o in role_maps
        ):
            out.add(("DDA-MAP-003", *f))
    if role_maps:
        granted = {m.role_id for m in role_maps}
        held = {
            rid
            for u in org.users
            if not u.service_account and not u.is_disabled
            for rid in u.role_ids
        }
        out |= {("DDA-ROLE-001", site, oid, "role", rid) for rid in held - granted}
    return out


def _connection_rules(
    estate: Estate, orgs: list[Org], missing: Mapping[str, set[str]], trusted: set[str]
) -> set[Finding]:
    """CONN-001 other org neither scanned nor trusted; 002 shares logs or audit; 003 creator
    disabled or not among the org's users, judged from the source org only. Judged once:
    at the source when the source org saw it, else at the sink."""
    seen = {o.uuid: o for o in orgs if "org_connections" not in missing[o.public_id]}
    scanned_uuids = {o.uuid for o in orgs}
    out: set[Finding] = set()
    judged: set[str] = set()
    for org in seen.values():
        for c in org.connections:
            if c.id in judged:
                continue
            judge = seen.get(c.source.uuid) or seen.get(c.sink.uuid)
            if judge is None:
                continue
            judged.add(c.id)
            other = c.sink if judge.uuid == c.source.uuid else c.source
            f = (judge.site, judge.public_id, "org_connection", c.id)
            if other.uuid not in scanned_uuids and other.uuid not in trusted:
                out.add(("DDA-CONN-001", *f))
            if {"logs", "audit"} & set(c.connection_types):
                out.add(("DDA-CONN-002", *f))
            # CONN-003 only from the source org: created_by is one of its users
            if judge.uuid == c.source.uuid:
                creator = judge.user(c.created_by_id)
                if creator is None or creator.is_disabled:
                    out.add(("DDA-CONN-003", *f))
    return out


def normalise_domain(domain: str) -> str:
    """Lower case, no scheme, no trailing slash (the schema's normal form)."""
    d = domain.strip().lower()
    for scheme in ("https://", "http://"):
        d = d.removeprefix(scheme)
    return d.rstrip("/")


def _okta_rules(orgs: list[Org], missing: Mapping[str, set[str]]) -> set[Finding]:
    """OKTA-001 auth_method is not oauth; OKTA-002 the same domain in more than one account
    across the (collected) estate."""
    accounts = [
        (o, a) for o in orgs if "okta_accounts" not in missing[o.public_id] for a in o.okta_accounts
    ]
    per_domain = Counter(normalise_domain(a.domain) for _, a in accounts)
    out: set[Finding] = set()
    for o, a in accounts:
        f = (o.site, o.public_id, "okta_account", a.id)
        if a.auth_method != "oauth":
            out.add(("DDA-OKTA-001", *f))
        if per_domain[normalise_domain(a.domain)] > 1:
            out.add(("DDA-OKTA-002", *f))
    return out


def _person(user: User | None) -> str | None:
    """A user as findings name them: e-mail, else handle, else name."""
    if user is None:
        return None
    return user.email or user.handle or user.name or None


def _answerer(user: User | None, fallback: str | None, named: str | None = None) -> str | None:
    """An enabled human answers; else the target's owner; else whoever Datadog names."""
    if user is not None and not user.service_account and not user.is_disabled:
        return _person(user)
    return fallback or _person(user) or named


def expected_owner(estate: Estate, finding: Finding) -> str | None:
    """The owner docs/outputs.md gives the finding (rules/owners.py), worked out from the
    estate's model rather than the snapshot."""
    rule, _site, org_id, rtype, rid = finding
    target = estate.target_for(org_id)
    fallback = target.owner if target is not None else None
    if rule == "DDA-SCAN-001" or rtype not in _OWNED_TYPES:
        return fallback
    org = estate.org(org_id)
    if rtype == "authn_mapping":
        m = next(m for m in org.mappings if m.id == rid)
        return f"{m.attribute_key}={m.attribute_value}"
    if rtype == "service_account":
        return fallback or _person(org.user(rid))
    if rtype == "org_connection":
        c = next(c for c in org.connections if c.id == rid)
        return _answerer(org.user(c.created_by_id), fallback, c.created_by_name or None)
    held: dict[str, str] = {
        **{k.id: k.owner_id for k in org.app_keys if rtype == "application_key"},
        **{t.id: t.owner_id for t in org.access_tokens if rtype == "access_token"},
        **{a.id: a.created_by_id for a in org.api_keys if rtype == "api_key"},
    }
    return _answerer(org.user(held[rid]), fallback)


_OWNED_TYPES = frozenset({"application_key", "access_token", "api_key", "org_connection",
                          "service_account", "authn_mapping"})
