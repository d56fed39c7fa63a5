"""Seeded constructors shared by the filler and the deliberate scenarios: ids, ages, resources."""

from __future__ import annotations

import random
import string
import uuid
from datetime import datetime, timedelta

from scanner.simulator import permissions as perms
from scanner.simulator.model import (
    AccessToken,
    ApiKey,
    ApplicationKey,
    AuthnMapping,
    Leak,
    OAuthClient,
    OktaAccount,
    Org,
    OrgConnection,
    OrgRef,
    Role,
    Team,
    User,
)

# Rule thresholds (days; 60 is DDA-OAUTH-001's) every generated age keeps at least MARGIN
# days away from.
THRESHOLDS: tuple[int, ...] = (30, 60, 90, 365)
MARGIN = 3


def seeded_rng(seed: int, *parts: object) -> random.Random:
    """A Random seeded from `seed` and a label, so each stream is independent of the others."""
    return random.Random(f"{seed}/" + "/".join(str(p) for p in parts))


class Factory:
    """Creates resources with seeded ids and ages measured back from `now`."""

    def __init__(self, rng: random.Random, now: datetime) -> None:
        self.rng = rng
        self.now = now

    def uuid(self) -> str:
        """A lower-case hyphenated UUID from the seeded stream."""
        return str(uuid.UUID(bytes=self.rng.randbytes(16), version=4))

    def public_id(self) -> str:
        """A short org public id."""
        return "".join(self.rng.choice(string.ascii_lowercase + string.digits) for _ in range(16))

    def hex(self, n: int) -> str:
        """`n` lower-case hex characters."""
        return self.rng.randbytes((n + 1) // 2).hex()[:n]

    def ago(self, days: float) -> datetime:
        """`days` before now, with a few random hours and microseconds (never crossing a day)."""
        jitter = timedelta(
            seconds=self.rng.randint(0, 4 * 3600), microseconds=self.rng.randint(1, 999_999)
        )
        return self.now - timedelta(days=days) - jitter

    def safe_days(self, low: int, high: int) -> int:
        """A whole number of days in [low, high], at least MARGIN days from every threshold."""
        for _ in range(100):
            days = self.rng.randint(low, high)
            if all(abs(days - t) >= MARGIN + 1 for t in THRESHOLDS):
                return days
        raise ValueError(f"no safe age in [{low}, {high}]")

    def safe_ago(self, low: int, high: int) -> datetime:
        """A timestamp a safe number of days ago (see `safe_days`)."""
        return self.ago(self.safe_days(low, high))

    def leak(self, days: int, source: str) -> Leak:
        """A leak reported `days` ago from `source`."""
        return Leak(self.uuid(), self.ago(days), source)

    def user(
        self,
        org: Org,
        name: str | None,
        *,
        roles: list[Role] | tuple[Role, ...] = (),
        service_account: bool = False,
        status: str = "Active",
        disabled: bool = False,
        created_days: int = 400,
        login_days: int | None = 5,
        email: str | None = None,
    ) -> User:
        """Add a human user or a service account (handle = its uuid) to `org`."""
        uid = self.uuid()
        slug = (name or uid[:8]).lower().replace(" ", ".")
        mail = email or f"{slug}@{org.public_id[:6]}.example.com"
        created = self.ago(created_days)
        user = User(
            id=uid,
            handle=uid if service_account else mail,
            email=mail,
            name=name,
            status=status,
            disabled=disabled,
            service_account=service_account,
            created_at=created,
            modified_at=created + timedelta(minutes=self.rng.randint(1, 600)),
            last_login_time=None if login_days is None else self.ago(login_days),
            role_ids=tuple(r.id for r in roles),
        )
        org.users.append(user)
        return user

    def role(self, org: Org, name: str, permission_names: list[str] | tuple[str, ...]) -> Role:
        """Add a role granting `permission_names` to `org`."""
        created = self.safe_ago(400, 2000)
        role = Role(self.uuid(), name, tuple(perms.ids_for(permission_names)), created, created)
        org.roles.append(role)
        return role

    def app_key(
        self,
        org: Org,
        owner: User,
        name: str,
        *,
        created_days: int,
        used_days: int | None,
        scopes: tuple[str, ...] | None,
        leak: Leak | None = None,
    ) -> ApplicationKey:
        """Add an application key owned by `owner`."""
        key = ApplicationKey(
            id=self.uuid(),
            name=name,
            owner_id=owner.id,
            created_at=self.ago(created_days),
            last_used_at=None if used_days is None else self.ago(used_days),
            scopes=scopes,
            last4=self.hex(4),
            leak=leak,
        )
        org.app_keys.append(key)
        return key

    def api_key(
        self,
        org: Org,
        creator_id: str,
        name: str,
        *,
        created_days: int,
        used_days: int | None,
        leak: Leak | None = None,
        category: str = "default",
        reports_date_last_used: bool = True,
    ) -> ApiKey:
        """Add an API key created by `creator_id` (which need not be a user of the org)."""
        created = self.ago(created_days)
        key = ApiKey(
            id=self.uuid(),
            name=name,
            created_at=created,
            modified_at=created,
            date_last_used=None if used_days is None else self.ago(used_days),
            created_by_id=creator_id,
            modified_by_id=creator_id,
            category=category,
            last4=self.hex(4),
            leak=leak,
            reports_date_last_used=reports_date_last_used,
        )
        org.api_keys.append(key)
        return key

    def mapping(
        self,
        org: Org,
        key: str,
        value: str,
        *,
        role_id: str | None = None,
        team_id: str | None = None,
    ) -> AuthnMapping:
        """Add an AuthN mapping of IdP attribute `key`=`value` to a role or a team."""
        mapping = AuthnMapping(
            id=self.uuid(),
            attribute_key=key,
            attribute_value=value,
            created_at=self.safe_ago(100, 900),
            role_id=role_id,
            team_id=team_id,
            saml_attribute_id=str(self.rng.randint(1000, 99999)),
        )
        org.mappings.append(mapping)
        return mapping

    def team(self, org: Org, name: str) -> Team:
        """Add a team."""
        team = Team(
            self.uuid(),
            name,
            name.lower().replace(" ", "-"),
            self.safe_ago(100, 900),
            self.rng.randint(2, 30),
        )
        org.teams.append(team)
        return team

    def connection(
        self,
        owner: Org,
        source: OrgRef,
        sink: OrgRef,
        creator_id: str,
        creator_name: str,
        types: tuple[str, ...],
        *,
        sink_org: Org | None = None,
    ) -> OrgConnection:
        """Add a connection to `owner` (and to `sink_org`, which lists it too)."""
        conn = OrgConnection(
            self.uuid(), source, sink, creator_id, creator_name, types, self.safe_ago(40, 700)
        )
        owner.connections.append(conn)
        if sink_org is not None and sink_org is not owner:
            sink_org.connections.append(conn)
        return conn

    def okta(self, org: Org, name: str, domain: str, auth_method: str = "oauth") -> OktaAccount:
        """Add an Okta integration account."""
        account = OktaAccount(self.uuid(), name, domain, auth_method, f"0oa{self.hex(17)}")
        org.okta_accounts.append(account)
        return account

    def token_secret_part(self) -> str:
        """A 22-character public part of a token, as Datadog shows it (without prefix)."""
        return "".join(self.rng.choice(string.ascii_letters + string.digits) for _ in range(22))

    def access_token(
        self,
        org: Org,
        owner: User | str,
        name: str,
        *,
        kind: str,
        created_days: int,
        expires_in_days: int | None,
        used_days: int | None,
        scopes: tuple[str, ...],
        prefixed: bool = True,
        edited: bool = False,
    ) -> AccessToken:
        """Add a PAT (`kind` personal) or SAT (`kind` service) owned by `owner` (or an id).

        The token lives `created_days + expires_in_days` whole days (None: it never
        expires, which only a SAT may do); a listed token has not expired yet, as Datadog
        revokes expired ones.
        """
        if kind not in ("personal", "service"):
            raise ValueError(f"unknown token kind {kind!r}")
        if expires_in_days is not None and expires_in_days < 1:
            raise ValueError("a listed token has not expired")
        if used_days is not None and used_days > created_days:
            raise ValueError("a token is not used before it is created")
        created = self.ago(created_days)
        expires = (None if expires_in_days is None
                   else created + timedelta(days=created_days + expires_in_days))
        used = None if used_days is None else max(created + timedelta(minutes=1),
                                                  self.ago(used_days))
        modified = None
        if edited:
            modified = max(created + timedelta(minutes=5),
                           self.ago(self.rng.randint(0, max(0, created_days - 1))))
        token = AccessToken(
            id=self.uuid(),
            kind=kind,
            name=name,
            owner_id=owner if isinstance(owner, str) else owner.id,
            created_at=created,
            expires_at=expires,
            last_used_at=used,
            modified_at=modified,
            scopes=tuple(scopes),
            public_portion=self.token_secret_part(),
            prefixed=prefixed,
        )
        org.access_tokens.append(token)
        return token

    def oauth_client(
        self, org: Org, name: str, *, disabled: bool, exercised_days: int | None, users: int
    ) -> OAuthClient:
        """Add an OAuth client authorized in `org` by `users` users (None: never exercised)."""
        client = OAuthClient(
            id=self.uuid(),
            client_id=self.uuid(),
            name=name,
            disabled=disabled,
            last_exercised=None if exercised_days is None else self.ago(exercised_days),
            user_count=users,
        )
        org.oauth_clients.append(client)
        return client
