"""Deliberate org settings, AuthN mapping, role, connection and Okta resources."""

from __future__ import annotations

from dataclasses import replace

from scanner.simulator import permissions as perms
from scanner.simulator.factory import Factory
from scanner.simulator.filler import role_named
from scanner.simulator.model import Estate, Org, OrgRef, OrgSettings


def settings(orgs: list[Org]) -> None:
    """ORG-001..006 and MAP-004 triggers and near misses on orgs 2..7 (modulo their count)."""

    def at(i: int) -> Org:
        return orgs[i % len(orgs)]

    # ORG-001: SAML off (ORG-003 near miss: `adm` without SAML).
    at(2).settings = OrgSettings(
        saml_enabled=False, saml_strict_mode=False, saml_autocreate_access_role="adm"
    )
    # ORG-002 (strict off) and ORG-006 (IdP-initiated login on).
    at(3).settings = OrgSettings(saml_strict_mode=False, saml_idp_initiated_login=True)
    # ORG-003 (JIT users get `adm`) and ORG-004 (auto-create for gmail.com).
    at(4).settings = OrgSettings(
        saml_autocreate_access_role="adm",
        autocreate_domains_enabled=True,
        autocreate_domains=("acme-corp.example", "gmail.com"),
    )
    # ORG-005 (widgets shared); ORG-004 near miss: public domain listed but auto-create off.
    at(5).settings = OrgSettings(
        private_widget_share=True,
        autocreate_domains_enabled=False,
        autocreate_domains=("outlook.com",),
    )
    # MAP-004: SAML on, only a team mapping (no role mapping).
    org6 = at(6)
    org6.mappings[:] = [m for m in org6.mappings if m.team_id is not None]
    # Near miss for all of them: SAML on + strict, role mappings, corporate domain auto-create.
    at(7).settings = OrgSettings(
        autocreate_domains_enabled=True, autocreate_domains=("acme-corp.example",)
    )


def mappings(f: Factory, org: Org) -> None:
    """MAP-001, MAP-002, MAP-003 and ROLE-001 triggers with near misses."""
    standard = role_named(org, "Datadog Standard Role")
    read_only = role_named(org, "Datadog Read Only Role")
    admin = role_named(org, perms.ADMIN_ROLE_NAME)
    # MAP-001: a role that does not exist, and a team that does not exist.
    f.mapping(org, "memberOf", "dd-deleted-role", role_id=f.uuid())
    f.mapping(org, "memberOf", "team-deleted", team_id=f.uuid())
    # MAP-002: admin role, and a custom role holding org_management; near miss: api_keys_write.
    f.mapping(org, "memberOf", "dd-admins", role_id=admin.id)
    org_mgr = f.role(org, "Org Managers", ("org_management", "dashboards_read"))
    f.mapping(org, "memberOf", "dd-org-managers", role_id=org_mgr.id)
    rotators = f.role(org, "Key Rotators", ("api_keys_write", "api_keys_read"))
    f.mapping(org, "memberOf", "dd-key-rotators", role_id=rotators.id)
    # MAP-003: one IdP group, two roles (both mappings fire).
    f.mapping(org, "groups", "platform-eng", role_id=standard.id)
    f.mapping(org, "groups", "platform-eng", role_id=read_only.id)
    # Near misses: same value under another key; same key/value to a role and to a team.
    f.mapping(org, "memberOf", "platform-eng", role_id=standard.id)
    sre = next(t for t in org.teams if t.name == "SRE")
    f.mapping(org, "groups", "sre", role_id=standard.id)
    f.mapping(org, "groups", "sre", team_id=sre.id)
    # ROLE-001: an unmapped role held by an enabled human; near misses: held by a disabled
    # human only, held by a service account only.
    glass = f.role(org, "Break-glass", ("dashboards_write",))
    f.user(org, "Bea Glass", roles=[glass])
    legacy = f.role(org, "Legacy Ops", ("monitors_write",))
    f.user(org, "Lou Legacy", roles=[legacy], status="Disabled", disabled=True, login_days=300)
    bots = f.role(org, "Bots", ("monitors_read",))
    bot = f.user(org, "svc-bot", roles=[bots], service_account=True, login_days=None)
    f.app_key(org, bot, "bot-key", created_days=50, used_days=1, scopes=("monitors_read",))


def connections(f: Factory, estate: Estate, org: Org, peer: Org, okta_peer: Org) -> None:
    """CONN-001..003 (seen from source and sink-only), OKTA-001 and OKTA-002."""
    untrusted = OrgRef(f.uuid(), "Partner Analytics Inc")
    trusted = OrgRef(f.uuid(), "Acme Security Lake")
    estate.external_orgs.extend([untrusted, trusted])
    estate.trusted_orgs.append(trusted.uuid)
    me = org.user(org.current_user_id)
    assert me is not None
    gone = f.user(
        org,
        "Cleo Gone",
        roles=[role_named(org, "Datadog Read Only Role")],
        status="Disabled",
        disabled=True,
        login_days=400,
    )
    # CONN-001 only: an untrusted peer, metrics, active creator.
    f.connection(org, org.ref, untrusted, me.id, "Audit Bot Owner", ("metrics",))
    # CONN-002 only (CONN-001 near miss: the peer is trusted).
    f.connection(org, org.ref, trusted, me.id, "Audit Bot Owner", ("logs", "metrics"))
    # CONN-002 + CONN-003 (audit data; creator disabled).
    f.connection(org, org.ref, trusted, gone.id, "Cleo Gone", ("audit",))
    # CONN-003 only: creator not among the org's users.
    f.connection(org, org.ref, trusted, f.uuid(), "Former Employee", ("metrics",))
    # Near miss for every CONN rule, listed by both orgs, judged once at the source.
    f.connection(org, org.ref, peer.ref, me.id, "Audit Bot Owner", ("metrics",), sink_org=peer)
    # Seen only from its sink: judged here (CONN-001, CONN-002, CONN-003).
    f.connection(org, untrusted, org.ref, f.uuid(), "Partner Admin", ("logs",))

    # OKTA-001: a static API token; OKTA-002: one domain in two orgs (spelled differently).
    f.okta(org, "okta-legacy-token", "https://acme-legacy.okta.com/", auth_method="api_key")
    f.okta(org, "okta-acme", "https://acme.okta.com/")
    f.okta(okta_peer, "okta-acme-eu", "https://ACME.okta.com")
    f.okta(org, "okta-acme-dev", "https://acme-dev.okta.com/")  # near miss: unique domain


def managed_children(f: Factory, parent: Org, child: Org, site_orgs: list[Org]) -> Org:
    """Make `child` a managed child of `parent` and add an unscanned child (ORG-007)."""
    child.parent_public_id = parent.public_id
    sandbox = Org(
        public_id=f.public_id(),
        uuid=f.uuid(),
        name=f"{parent.name} Sandbox"[:32],
        site=parent.site,
        created=f.safe_ago(400, 900),
        settings=replace(OrgSettings()),
        parent_public_id=parent.public_id,
        description="Unscanned child org",
    )
    site_orgs.append(sandbox)
    return sandbox
