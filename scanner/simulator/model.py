"""Dataclasses of a simulated Datadog estate: orgs, their populations and scan targets."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TypeVar

from scanner.simulator.permissions import WRITE_PAIR_PERMISSIONS

T = TypeVar("T")


def _pop(items: list[T], match: Callable[[T], bool]) -> T | None:
    """Remove and return the first item of `items` that `match`es, or None."""
    found = next((i for i in items if match(i)), None)
    if found is not None:
        items.remove(found)
    return found


@dataclass(frozen=True)
class Leak:
    """What Datadog reports about a leaked key (a `leaked_keys` item in `included`)."""

    id: str
    date: datetime
    source: str


@dataclass(frozen=True)
class OrgSettings:
    """The v1 `Organization.settings` fields the rules read."""

    saml_enabled: bool = True
    saml_strict_mode: bool = True
    saml_idp_initiated_login: bool = False
    saml_autocreate_access_role: str | None = "st"
    autocreate_domains_enabled: bool = False
    autocreate_domains: tuple[str, ...] = ()
    private_widget_share: bool = False


@dataclass(frozen=True)
class User:
    """A user or (with `service_account`) a service account; `role_ids` are its roles."""

    id: str
    handle: str
    email: str
    name: str | None
    status: str  # Active | Pending | Disabled
    disabled: bool
    service_account: bool
    created_at: datetime
    modified_at: datetime
    last_login_time: datetime | None
    role_ids: tuple[str, ...]
    title: str | None = None

    @property
    def uuid(self) -> str:
        """The user's uuid (the same as its id, as in the 2026 recordings)."""
        return self.id

    @property
    def is_disabled(self) -> bool:
        """The rules' "disabled user": `disabled` is true or `status` is `Disabled`."""
        return self.disabled or self.status == "Disabled"


@dataclass(frozen=True)
class Role:
    """A role with the ids of the permissions it grants."""

    id: str
    name: str
    permission_ids: tuple[str, ...]
    created_at: datetime
    modified_at: datetime


@dataclass(frozen=True)
class ApplicationKey:
    """An application key; `scopes` None means unscoped."""

    id: str
    name: str
    owner_id: str
    created_at: datetime
    last_used_at: datetime | None
    scopes: tuple[str, ...] | None
    last4: str
    leak: Leak | None = None


@dataclass(frozen=True)
class ApiKey:
    """An API key; `date_last_used` None means never used or unknown."""

    id: str
    name: str
    created_at: datetime
    modified_at: datetime
    date_last_used: datetime | None
    created_by_id: str
    modified_by_id: str
    category: str
    last4: str
    remote_config_read_enabled: bool = True
    leak: Leak | None = None
    # False: the answer leaves `date_last_used` null and carries the use only in
    # `last_used_date.timestamp`, which holds the last 90 days only (as real answers may).
    reports_date_last_used: bool = True

    def last_use_seen(self, now: datetime) -> datetime | None:
        """The last use an API answer shows: `date_last_used`, else the 90-day window's."""
        if self.reports_date_last_used:
            return self.date_last_used
        return window_use(self.date_last_used, now)


LAST_USE_WINDOW_DAYS = 90


def window_use(used: datetime | None, now: datetime) -> datetime | None:
    """`used` if it falls within the window Datadog keeps API-key use for, else None."""
    if used is None or (now - used).total_seconds() > LAST_USE_WINDOW_DAYS * 86400:
        return None
    return used


@dataclass(frozen=True)
class AuthnMapping:
    """An IdP attribute mapped to a role (`role_id`) or a team (`team_id`)."""

    id: str
    attribute_key: str
    attribute_value: str
    created_at: datetime
    role_id: str | None = None
    team_id: str | None = None
    saml_attribute_id: str = ""

    @property
    def resource_type(self) -> str:
        """`role` or `team`, the `resource_type` query value that lists this mapping."""
        return "team" if self.team_id is not None else "role"


@dataclass(frozen=True)
class Team:
    """A team (the target of team AuthN mappings)."""

    id: str
    name: str
    handle: str
    created_at: datetime
    user_count: int


@dataclass(frozen=True)
class OrgRef:
    """An org as a connection peer: uuid and name."""

    uuid: str
    name: str


@dataclass(frozen=True)
class OrgConnection:
    """A data-sharing connection from `source` to `sink`."""

    id: str
    source: OrgRef
    sink: OrgRef
    created_by_id: str
    created_by_name: str
    connection_types: tuple[str, ...]
    created_at: datetime


@dataclass(frozen=True)
class OktaAccount:
    """An Okta integration account; `auth_method` is `oauth` or `api_key`."""

    id: str
    name: str
    domain: str
    auth_method: str
    client_id: str


@dataclass(frozen=True)
class AccessToken:
    """A personal (owned by a user) or service (owned by a service account) access token.

    `modified_at` None: never edited (the answer then leaves the attribute out);
    `prefixed`: `public_portion` is rendered with its `ddpat_`/`ddsat_` prefix (the April
    2026 PATs had none).
    """

    id: str
    kind: str  # personal | service
    name: str
    owner_id: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    modified_at: datetime | None
    scopes: tuple[str, ...]
    public_portion: str
    prefixed: bool = True

    @property
    def item_type(self) -> str:
        """The JSON:API `type` of this token in the mixed listing."""
        return "service_access_tokens" if self.kind == "service" else "personal_access_tokens"

    @property
    def owner_type(self) -> str:
        """The `owned_by.data.type`: `users` or (singular) `service_account`."""
        return "service_account" if self.kind == "service" else "users"

    @property
    def shown_public_portion(self) -> str:
        """`public_portion` as the API shows it (`ddpat_...`, `ddsat_...` or bare)."""
        if not self.prefixed:
            return self.public_portion
        return ("ddsat_" if self.kind == "service" else "ddpat_") + self.public_portion


@dataclass(frozen=True)
class OAuthClient:
    """An OAuth application authorized in the org (an `org_authorized_clients` item).

    `client_id` is the id of its `oauth2_clients` resource; `name` is that client's name
    (not in the listing's attributes: it only orders and filters it).
    """

    id: str
    client_id: str
    name: str
    disabled: bool
    last_exercised: datetime | None
    user_count: int

    def grant_ids(self) -> list[str]:
        """Ids of the per-user grants (`user_authorized_clients`), one per user, stable."""
        return [str(uuid.uuid5(uuid.NAMESPACE_URL, f"ddaudit-sim/uac/{self.id}/{i}"))
                for i in range(self.user_count)]


@dataclass
class Org:
    """An org and everything in it."""

    public_id: str
    uuid: str
    name: str
    site: str
    created: datetime
    settings: OrgSettings
    parent_public_id: str | None = None
    description: str = ""
    users: list[User] = field(default_factory=list)
    roles: list[Role] = field(default_factory=list)
    app_keys: list[ApplicationKey] = field(default_factory=list)
    api_keys: list[ApiKey] = field(default_factory=list)
    mappings: list[AuthnMapping] = field(default_factory=list)
    teams: list[Team] = field(default_factory=list)
    connections: list[OrgConnection] = field(default_factory=list)
    okta_accounts: list[OktaAccount] = field(default_factory=list)
    access_tokens: list[AccessToken] = field(default_factory=list)
    oauth_clients: list[OAuthClient] = field(default_factory=list)
    current_user_id: str = ""
    # Route paths (as in server.ROUTES) this org's site does not offer: they answer 404.
    missing_endpoints: frozenset[str] = frozenset()
    users_page_limit: int = 1000  # the largest users page it serves
    total_shortfall: int = 0  # its listings' meta.page totals under-report by this many
    # Tokens revoked through the API: gone from the listing, but a DELETE answers 204 again.
    revoked_tokens: list[AccessToken] = field(default_factory=list)

    @property
    def ref(self) -> OrgRef:
        """This org as a connection peer."""
        return OrgRef(self.uuid, self.name)

    def user(self, user_id: str) -> User | None:
        """The user with `user_id`, or None."""
        return next((u for u in self.users if u.id == user_id), None)

    def role(self, role_id: str) -> Role | None:
        """The role with `role_id`, or None."""
        return next((r for r in self.roles if r.id == role_id), None)

    # ---- mutations behind the simulator's write endpoints (handlers_writes.py) ----------
    def delete_app_key(self, key_id: str, owner_id: str | None = None) -> bool:
        """Remove an application key (only one `owner_id` owns, if given); False if none."""
        return _pop(self.app_keys,
                    lambda k: k.id == key_id and owner_id in (None, k.owner_id)) is not None

    def delete_api_key(self, key_id: str) -> bool:
        """Remove an API key; False if there is none with `key_id`."""
        return _pop(self.api_keys, lambda k: k.id == key_id) is not None

    def delete_mapping(self, mapping_id: str) -> bool:
        """Remove an AuthN mapping; False if there is none with `mapping_id`."""
        return _pop(self.mappings, lambda m: m.id == mapping_id) is not None

    def find_token(self, token_id: str) -> AccessToken | None:
        """The live or revoked access token with `token_id`, or None."""
        return next((t for t in (*self.access_tokens, *self.revoked_tokens)
                     if t.id == token_id), None)

    def revoke_token(self, token_id: str) -> None:
        """Move a live token to `revoked_tokens` (it leaves the listing); revoked: no-op."""
        token = _pop(self.access_tokens, lambda t: t.id == token_id)
        if token is not None:
            self.revoked_tokens.append(token)

    def set_disabled(self, user_id: str, disabled: bool, now: datetime) -> User | None:
        """Disable (status Disabled) or re-enable (Active) a user; None if unknown."""
        user = self.user(user_id)
        if user is None:
            return None
        status = "Disabled" if disabled else ("Active" if user.status == "Disabled"
                                              else user.status)
        changed = replace(user, disabled=disabled, status=status, modified_at=now)
        self.users[self.users.index(user)] = changed
        return changed


@dataclass(frozen=True)
class SimTarget:
    """A configured target: one org's credentials and the permissions its key pair holds."""

    name: str
    site: str
    org_public_id: str
    api_key: str
    app_key: str
    permissions: frozenset[str]
    owner: str | None = None  # the config's `owner`: who answers for unowned findings


@dataclass
class Estate:
    """Every org of the simulated estate, the scan targets and the trusted outside peers."""

    orgs: list[Org]
    targets: list[SimTarget]
    trusted_orgs: list[str] = field(default_factory=list)
    external_orgs: list[OrgRef] = field(default_factory=list)
    canaries: list[str] = field(default_factory=list)
    # Second key pairs for remediation writes (`add_write_pair`), apart from the scan's.
    write_targets: list[SimTarget] = field(default_factory=list)
    # resource id -> secret-looking attributes the server adds (only with canaries on)
    canary_fields: dict[str, dict[str, str]] = field(default_factory=dict)
    now: datetime | None = None
    seed: int = 0

    def org(self, public_id: str) -> Org:
        """The org with `public_id` (KeyError if unknown)."""
        for org in self.orgs:
            if org.public_id == public_id:
                return org
        raise KeyError(public_id)

    def target(self, name: str) -> SimTarget:
        """The target called `name` (KeyError if unknown)."""
        for target in self.targets:
            if target.name == name:
                return target
        raise KeyError(name)

    def target_for(self, public_id: str) -> SimTarget | None:
        """The target scanning org `public_id`, if any."""
        return next((t for t in self.targets if t.org_public_id == public_id), None)

    def add_write_pair(self, target_name: str,
                       permissions: Iterable[str] | None = None) -> SimTarget:
        """Give scan target `target_name`'s org a write key pair, `<name>-write`.

        It holds `permissions` (default `WRITE_PAIR_PERMISSIONS`: the scanner's reads plus
        the remediation writes); its keys are derived from the estate's seed and the
        name, so they are stable and differ from the scan pair's. Replaces an earlier one.
        """
        scan = self.target(target_name)
        name = f"{target_name}-write"
        seed = f"ddaudit-sim/write-pair/{self.seed}/{name}"
        pair = SimTarget(
            name=name, site=scan.site, org_public_id=scan.org_public_id,
            api_key=hashlib.md5(seed.encode(), usedforsecurity=False).hexdigest(),
            app_key=hashlib.sha1(seed.encode(), usedforsecurity=False).hexdigest(),
            permissions=frozenset(WRITE_PAIR_PERMISSIONS if permissions is None
                                  else permissions),
        )
        self.write_targets[:] = [t for t in self.write_targets if t.name != name] + [pair]
        return pair

    def write_pair(self, target_name: str) -> SimTarget | None:
        """The write key pair of scan target `target_name`, if it has one."""
        return next((t for t in self.write_targets if t.name == f"{target_name}-write"),
                    None)

    @property
    def key_pairs(self) -> list[SimTarget]:
        """Every key pair the simulator accepts: the scan targets', then the write pairs."""
        return [*self.targets, *self.write_targets]

    @property
    def sites(self) -> list[str]:
        """The sites of the estate's orgs, in first-seen order."""
        return list(dict.fromkeys(o.site for o in self.orgs))

    @property
    def scanned_orgs(self) -> list[Org]:
        """The orgs a target covers."""
        covered = {t.org_public_id for t in self.targets}
        return [o for o in self.orgs if o.public_id in covered]

    def revoke(self, target_name: str, *permissions: str) -> None:
        """Remove `permissions` from a key pair, scan or write (the API then answers 403)."""
        self._replace(target_name, lambda t: t.permissions - set(permissions), None)

    def grant(self, target_name: str, *permissions: str) -> None:
        """Add `permissions` to a target's key pair."""
        self._replace(target_name, lambda t: t.permissions | set(permissions), None)

    def set_app_key(self, target_name: str, app_key: str) -> None:
        """Change the application key the org accepts for this target."""
        self._replace(target_name, lambda t: t.permissions, app_key)

    def _replace(
        self,
        name: str,
        perms: Callable[[SimTarget], frozenset[str]],
        app_key: str | None,
    ) -> None:
        """Swap a key pair (scan or write) for a copy with new permissions and/or app key."""
        for pairs in (self.targets, self.write_targets):
            for i, t in enumerate(pairs):
                if t.name == name:
                    pairs[i] = replace(
                        t, permissions=frozenset(perms(t)), app_key=app_key or t.app_key
                    )
                    return
        raise KeyError(name)
