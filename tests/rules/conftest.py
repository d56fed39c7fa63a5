"""Fixtures for rule tests: a real SQLite snapshot and small builders of its rows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, Table, delete

from rules import Finding, RulePack, RuleSettings, evaluate_scan, load_rulepack
from rules.suppressions import Suppressions
from scanner.store import schema as s

NOW = datetime(2026, 11, 21, 2, 0, 0)


def days_ago(n: float) -> datetime:
    """A timestamp `n` days before the default scan start."""
    return NOW - timedelta(days=n)


@dataclass(frozen=True)
class Tgt:
    """A target of the test scan and the org it covers."""

    name: str
    site: str
    org: str | None
    uuid: str | None


class Snap:
    """Builder of one scan's snapshot rows; every method inserts rows at once."""

    def __init__(self, engine: Engine, pack: RulePack, scan_id: str, started: datetime) -> None:
        self.engine, self.pack, self.scan_id, self.started = engine, pack, scan_id, started
        self._put(s.scans, id=scan_id, started_at=started, status="complete", tool_version="t")

    def _put(self, table: Table, **row: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(table.insert(), [row])

    def _scoped(self, table: Table, t: Tgt, **row: Any) -> None:
        self._put(
            table, scan_id=self.scan_id, target=t.name, site=t.site, org_public_id=t.org, **row
        )

    def target(
        self,
        name: str = "prod",
        site: str = "datadoghq.com",
        org: str | None = "pub-prod",
        uuid: str | None = "uuid-prod",
        owner: str | None = None,
        **org_attrs: Any,
    ) -> Tgt:
        """Add a target (`owner`: its configured one), its 'self' org row (SAML done right
        by default), full coverage."""
        t = Tgt(name, site, org, uuid)
        org_name = f"Org {name}"
        self._put(
            s.targets, scan_id=self.scan_id, target=name, site=site, org_public_id=org,
            org_uuid=uuid, org_name=org_name, owner=owner,
        )
        attrs: dict[str, Any] = {
            "saml_enabled": True,
            "saml_strict_mode": True,
            "saml_idp_initiated_login": False,
            "saml_autocreate_access_role": "st",
            "saml_autocreate_domains_enabled": False,
            "private_widget_share": False,
        }
        attrs.update(org_attrs)
        if org is not None:
            self._scoped(s.orgs, t, public_id=org, uuid=uuid, name=org_name, relation="self",
                         **attrs)
        for endpoint in s.ENDPOINTS:
            self.coverage(t, endpoint, "complete", collected=1, expected=1)
        return t

    def coverage(
        self, t: Tgt, endpoint: str, status: str, collected: int = 0,
        expected: int | None = None, error: str | None = None,
    ) -> None:
        """Set the coverage row of (target, endpoint)."""
        with self.engine.begin() as conn:
            conn.execute(
                delete(s.coverage).where(
                    s.coverage.c.scan_id == self.scan_id, s.coverage.c.target == t.name,
                    s.coverage.c.endpoint == endpoint,
                )
            )
        self._scoped(s.coverage, t, endpoint=endpoint, status=status, collected=collected,
                     expected=expected, error=error)

    def drop_coverage(self, t: Tgt, endpoint: str) -> None:
        """Remove the coverage row of (target, endpoint) altogether."""
        with self.engine.begin() as conn:
            conn.execute(delete(s.coverage).where(
                s.coverage.c.target == t.name, s.coverage.c.endpoint == endpoint))

    def user(self, t: Tgt, uid: str, *, sa: bool = False, disabled: bool | None = False,
             status: str | None = "Active", created: datetime | None = None,
             uuid: str | None = None, email: str | None = None) -> None:
        """Add a user (or service account with sa=True)."""
        self._scoped(s.users, t, id=uid, uuid=uuid, handle=f"{uid}@example.com", name=uid,
                     email=email, status=status, disabled=disabled, service_account=sa,
                     created_at=created or days_ago(400))

    def role(self, t: Tgt, rid: str, name: str, perms: Sequence[str] = ()) -> None:
        """Add a role and its permissions (permission rows are created by name)."""
        self._scoped(s.roles, t, id=rid, name=name)
        for perm in perms:
            self._scoped(s.permissions, t, id=f"perm-{rid}-{perm}", name=perm)
            self._scoped(s.role_permissions, t, role_id=rid, permission_id=f"perm-{rid}-{perm}")

    def grant(self, t: Tgt, uid: str, rid: str) -> None:
        """Give user `uid` role `rid`."""
        self._scoped(s.user_roles, t, user_id=uid, role_id=rid)

    def app_key(self, t: Tgt, kid: str, *, owner: str | None = None,
                created: datetime | None = None, last_used: datetime | None = None,
                scopes: Sequence[str] | None = ("dashboards_read",), leaked: bool = False) -> None:
        """Add an application key (scopes None or empty means unscoped)."""
        self._scoped(s.application_keys, t, id=kid, name=f"name-{kid}", owner_id=owner,
                     created_at=created or days_ago(10), last_used_at=last_used,
                     unscoped=not scopes, leaked=leaked,
                     leak_date=days_ago(1) if leaked else None,
                     leak_source="github" if leaked else None, listing="org")
        for scope in scopes or ():
            self._scoped(s.application_key_scopes, t, key_id=kid, scope=scope)

    def api_key(self, t: Tgt, kid: str, *, created_by: str | None = None,
                created: datetime | None = None, last_used: datetime | None = None,
                leaked: bool = False) -> None:
        """Add an API key."""
        self._scoped(s.api_keys, t, id=kid, name=f"name-{kid}", created_by_id=created_by,
                     created_at=created or days_ago(10), date_last_used=last_used,
                     leaked=leaked, leak_date=days_ago(1) if leaked else None,
                     leak_source="github" if leaked else None)

    def mapping(self, t: Tgt, mid: str, key: str, value: str, *, role: str | None = None,
                team: str | None = None) -> None:
        """Add an AuthN mapping to a role (or to a team when `team` is given)."""
        self._scoped(s.authn_mappings, t, id=mid, resource_type="team" if team else "role",
                     attribute_key=key, attribute_value=value, role_id=role, team_id=team)

    def team(self, t: Tgt, tid: str) -> None:
        """Add a team."""
        self._scoped(s.teams, t, id=tid, name=tid, handle=tid)

    def child(self, t: Tgt, public_id: str | None, uuid: str, name: str = "child") -> None:
        """Add a child org listed by the target's org."""
        self._scoped(s.orgs, t, public_id=public_id, uuid=uuid, name=name, relation="child")

    def domain(self, t: Tgt, domain: str) -> None:
        """Add a SAML auto-creation domain."""
        self._scoped(s.org_autocreate_domains, t, domain=domain)

    def connection(self, t: Tgt, cid: str, source: str, sink: str,
                   types: Sequence[str] = ("metrics",), created_by: str | None = None,
                   created_by_name: str | None = None) -> None:
        """Add an org connection (source and sink are org UUIDs)."""
        self._scoped(s.org_connections, t, id=cid, source_org_id=source, source_org_name=source,
                     sink_org_id=sink, sink_org_name=sink, created_by_id=created_by,
                     created_by_name=created_by_name or created_by, created_at=days_ago(5),
                     connection_types="," + ",".join(sorted(types)) + ",")

    def token(self, t: Tgt, tid: str, owner: str, *, kind: str = "personal",
              created: datetime | None = None, expires: datetime | None = None,
              never_expires: bool = False, last_used: datetime | None = None,
              scopes: Sequence[str] = ("dashboards_read",)) -> None:
        """Add an access token (by default created 10 days ago, expiring in 30 days)."""
        created = created or days_ago(10)
        expires = None if never_expires else (expires or NOW + timedelta(days=30))
        self._scoped(s.access_tokens, t, id=tid, kind=kind, name=f"name-{tid}",
                     owner_id=owner,
                     owner_type="service_account" if kind == "service" else "users",
                     created_at=created, expires_at=expires,
                     lifetime_days=None if expires is None
                     else (expires - created).total_seconds() / 86400,
                     last_used_at=last_used)
        for scope in scopes:
            self._scoped(s.access_token_scopes, t, token_id=tid, scope=scope)

    def oauth_client(self, t: Tgt, cid: str, *, disabled: bool = False,
                     exercised: datetime | None = None) -> None:
        """Add an authorized OAuth client."""
        self._scoped(s.oauth_clients, t, id=cid, client_id=f"client-{cid}", disabled=disabled,
                     last_exercised=exercised, user_count=1)

    def okta(self, t: Tgt, aid: str, domain: str, auth_method: str = "oauth") -> None:
        """Add an Okta integration account."""
        self._scoped(s.okta_accounts, t, id=aid, name=aid, domain=domain,
                     auth_method=auth_method)

    @staticmethod
    def ago(n: float) -> datetime:
        """A timestamp `n` days before the default scan start."""
        return days_ago(n)

    @staticmethod
    def hits(found: Sequence[Finding], rule_id: str, status: str = "open") -> set[str]:
        """Resource ids of the findings of one rule with the given status."""
        return hits(found, rule_id, status)

    def evaluate(self, settings: RuleSettings | None = None,
                 suppressions: Suppressions | None = None) -> list[Finding]:
        """Run the whole pack over this scan; the findings read back into a list."""
        return list(evaluate_scan(self.engine, self.scan_id, self.pack,
                                  settings or RuleSettings(), suppressions))


def hits(found: Sequence[Finding], rule_id: str, status: str = "open") -> set[str]:
    """Resource ids of the findings of one rule with the given status."""
    return {f.resource_id for f in found if f.rule_id == rule_id and f.status == status}


@pytest.fixture(scope="session")
def pack() -> RulePack:
    """The built-in rule pack, loaded once."""
    return load_rulepack()


@pytest.fixture()
def engine(store: Engine) -> Engine:
    """A fresh snapshot database, on SQLite and on PostgreSQL (tests/conftest.py)."""
    return store


@pytest.fixture()
def snap(engine: Engine, pack: RulePack) -> Snap:
    """An empty scan 'scan-1' started at NOW."""
    return Snap(engine, pack, "scan-1", NOW)
