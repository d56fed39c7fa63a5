"""Deterministic, seeded estate generator: clean filler plus deliberate rule triggers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from scanner.simulator import permissions as perms
from scanner.simulator import scenarios_keys, scenarios_org, scenarios_tokens
from scanner.simulator.factory import Factory, seeded_rng
from scanner.simulator.filler import fill_org, fill_tokens
from scanner.simulator.handlers_tokens import TOKEN_PATHS
from scanner.simulator.model import Estate, Org, OrgSettings, SimTarget
from scanner.sites import DEMO_SITES

SITE_LABELS: dict[str, str] = {
    "datadoghq.com": "us1",
    "us3.datadoghq.com": "us3",
    "us5.datadoghq.com": "us5",
    "datadoghq.eu": "eu1",
    "ap1.datadoghq.com": "ap1",
    "ap2.datadoghq.com": "ap2",
    "ddog-gov.com": "gov",
    "uk1.datadoghq.com": "uk1",
    "us2.ddog-gov.com": "gov2",
}

# Index (among scanned orgs, modulo their count) of the org whose scenario lives there.
APP_KEYS_AT, API_KEYS_AT, UNTRACKED_AT, MAPPINGS_AT, CONNECTIONS_AT = 10, 11, 8, 12, 13
OKTA_PEER_AT = 3
# Tokens and OAuth clients: not the org whose key pair lacks org_app_keys_read (9), nor
# one on a site without them (ap2: 10 and 11 in the demo estate).
TOKENS_AT = 7
DEFAULT_SEED = 20261121


@dataclass(frozen=True)
class EstateSpec:
    """Sizes and switches of a generated estate (the defaults are the demo estate)."""

    sites: tuple[str, ...] = DEMO_SITES
    orgs_per_site: int = 2
    users_per_org: int = 40
    service_accounts_per_org: int = 15
    app_keys_per_service_account: float = 2.0
    api_keys_per_org: int = 10
    roles_per_org: int = 6
    mappings_per_org: int = 6
    connections_per_org: int = 2
    okta_accounts_per_org: int = 2
    tokens_per_org: int = 6
    oauth_clients_per_org: int = 4
    seed: int = DEFAULT_SEED
    deliberate: bool = True
    canaries: bool = False
    # (scanned-org index, permission) pairs removed from that org's key pair.
    key_gaps: tuple[tuple[int, str], ...] = ((9, "org_app_keys_read"),)
    # Sites that do not offer the access-token and OAuth-client listings (404).
    token_less_sites: tuple[str, ...] = ("ap2.datadoghq.com",)
    # Set: every scanned org also gets a write key pair holding these permissions
    # (`Estate.add_write_pair`; e.g. perms.WRITE_PAIR_PERMISSIONS). None: scan pairs only.
    write_permissions: frozenset[str] | None = None


def site_label(site: str) -> str:
    """The short label of a site used in target names ("us3"), or the site itself."""
    return SITE_LABELS.get(site, site.split(".")[0])


def generate_estate(spec: EstateSpec | None = None, *, now: datetime) -> Estate:
    """Build the estate of `spec` with every age measured back from naive-UTC `now`."""
    spec = spec or EstateSpec()
    estate = Estate(orgs=[], targets=[], now=now, seed=spec.seed)
    scanned: list[Org] = []
    for s, site in enumerate(spec.sites):
        label = site_label(site)
        for k in range(1, spec.orgs_per_site + 1):
            f = Factory(seeded_rng(spec.seed, "org", site, k), now)
            org = Org(
                public_id=f.public_id(),
                uuid=f.uuid(),
                name=f"Acme {label.upper()} Prod {k}",
                site=site,
                created=f.safe_ago(400, 2500),
                settings=OrgSettings(),
                description=f"Production org {k} on {site}",
            )
            fill_org(
                f,
                org,
                users=spec.users_per_org,
                service_accounts=spec.service_accounts_per_org,
                app_keys_per_sa=spec.app_keys_per_service_account,
                api_keys=spec.api_keys_per_org,
                roles=spec.roles_per_org,
                mappings=spec.mappings_per_org,
                okta_accounts=1 + (s + k) % spec.okta_accounts_per_org
                if spec.okta_accounts_per_org > 1
                else spec.okta_accounts_per_org,
            )
            # Tokens and OAuth clients come from a stream of their own, so they shift no
            # other resource's random draws.
            fill_tokens(
                Factory(seeded_rng(spec.seed, "tokens", site, k), now),
                org,
                tokens=spec.tokens_per_org,
                oauth_clients=spec.oauth_clients_per_org,
            )
            estate.orgs.append(org)
            scanned.append(org)
            estate.targets.append(
                SimTarget(
                    name=f"{label}-prod-{k}",
                    site=site,
                    org_public_id=org.public_id,
                    api_key=f.hex(32),
                    app_key=f.hex(40),
                    permissions=perms.SCANNER_PERMISSIONS,
                    # The second org of each site names a team that answers for its
                    # unowned findings; the first names none (owners stay NULL there).
                    owner=f"secops-{label}@acme.example" if k % 2 == 0 else None,
                )
            )
    _filler_connections(estate, scanned, spec)
    if spec.deliberate and scanned:
        _deliberate(estate, scanned, spec, now)
    for org in estate.orgs:
        if org.site in spec.token_less_sites:
            org.missing_endpoints = org.missing_endpoints | TOKEN_PATHS
    for index, permission in spec.key_gaps:
        if scanned:
            target = estate.targets[index % len(estate.targets)]
            estate.revoke(target.name, permission)
    if spec.write_permissions is not None:
        for target in list(estate.targets):
            estate.add_write_pair(target.name, spec.write_permissions)
    if spec.canaries:
        _canaries(estate)
    return estate


def demo_estate(now: datetime, *, canaries: bool = False, seed: int = DEFAULT_SEED) -> Estate:
    """The built-in demo estate (7 sites, 2 scanned orgs each)."""
    return generate_estate(EstateSpec(seed=seed, canaries=canaries), now=now)


def _filler_connections(estate: Estate, scanned: list[Org], spec: EstateSpec) -> None:
    """Clean metrics-only connections from each scanned org to the next ones."""
    if len(scanned) < 2:
        return
    for i, org in enumerate(scanned):
        f = Factory(seeded_rng(spec.seed, "connections", org.public_id), estate.now or org.created)
        me = org.user(org.current_user_id)
        assert me is not None
        for j in range(spec.connections_per_org):
            peer = scanned[(i + 1 + j) % len(scanned)]
            if peer is org:
                continue
            f.connection(
                org, org.ref, peer.ref, me.id, me.name or me.handle, ("metrics",), sink_org=peer
            )


def _deliberate(estate: Estate, scanned: list[Org], spec: EstateSpec, now: datetime) -> None:
    """Place the deliberate triggers and near misses, from their own seeded stream."""
    f = Factory(seeded_rng(spec.seed, "deliberate"), now)

    def at(i: int) -> Org:
        return scanned[i % len(scanned)]

    if spec.orgs_per_site >= 2:
        sandbox = scenarios_org.managed_children(f, scanned[0], scanned[1], estate.orgs)
        sf = Factory(seeded_rng(spec.seed, "sandbox"), now)
        fill_org(
            sf,
            sandbox,
            users=6,
            service_accounts=2,
            app_keys_per_sa=1,
            api_keys=1,
            roles=4,
            mappings=3,
            okta_accounts=0,
        )
    scenarios_org.settings(scanned)
    scenarios_keys.untracked_use(f, at(UNTRACKED_AT))
    scenarios_keys.application_keys(f, at(APP_KEYS_AT))
    scenarios_keys.api_keys(f, at(API_KEYS_AT))
    scenarios_org.mappings(f, at(MAPPINGS_AT))
    scenarios_org.connections(f, estate, at(CONNECTIONS_AT), at(0), at(OKTA_PEER_AT))
    tf = Factory(seeded_rng(spec.seed, "deliberate-tokens"), now)
    scenarios_tokens.access_tokens(tf, at(TOKENS_AT))
    scenarios_tokens.oauth_clients(tf, at(TOKENS_AT))


def _canaries(estate: Estate) -> None:
    """Number the secret-looking canary values the server will add to responses."""
    n = 0
    for org in estate.scanned_orgs:
        for account in org.okta_accounts:
            n += 1
            estate.canaries.extend([f"CANARY-okta-secret-{n}", f"CANARY-okta-apikey-{n}"])
            estate.canary_fields[account.id] = {
                "client_secret": f"CANARY-okta-secret-{n}",
                "api_key": f"CANARY-okta-apikey-{n}",
            }
        target = estate.target_for(org.public_id)
        listed = target is not None and "org_app_keys_read" in target.permissions
        for key in org.app_keys[:2] if listed else []:
            n += 1
            estate.canaries.append(f"CANARY-appkey-{n}")
            estate.canary_fields[key.id] = {"key": f"CANARY-appkey-{n}"}
