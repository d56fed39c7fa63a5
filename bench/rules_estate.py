"""The synthetic snapshot bench/rules.py evaluates, generated straight into a database.

One scan of 500 orgs by default: 1,000,000 application keys, 200,000 service accounts,
150,000 people, 50,000 AuthN mappings, 20,000 API keys and 30,000 access tokens, with the
users, roles, permissions, scopes, teams, connections, Okta accounts, OAuth clients,
targets and coverage rows the rules read, mixed so that every rule fires at a plausible
rate. Rows go in with executemany on SQLite and COPY on PostgreSQL; the indexes are built
after the load.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, text

from scanner.simulator.permissions import CATALOGUE, PRIVILEGED
from scanner.store.schema import ENDPOINTS, metadata, scans

SCAN_ID = "bench-scan"
NEXT_SCAN_ID = "bench-scan-2"
NOW = datetime(2026, 11, 21, 2, 0, 0)
BATCH = 50_000
SITES = ("datadoghq.com", "datadoghq.eu", "us3.datadoghq.com", "us5.datadoghq.com",
         "ap1.datadoghq.com")
SITE_WEIGHTS = (55, 20, 10, 10, 5)
AREAS = ("dashboards", "monitors", "synthetics", "apm", "incident", "cases", "usage",
         "billing", "notebooks", "slos", "security_monitoring", "rum", "ci_visibility",
         "workflows", "apps", "metrics", "hosts", "events", "integrations", "teams",
         "on_call", "status_pages", "cost", "processes", "network", "database_monitoring",
         "serverless", "containers", "profiling", "error_tracking", "feature_flags",
         "reference_tables", "sensitive_data", "observability_pipelines", "llm",
         "software_catalog", "scorecards", "bits", "debugger", "watchdog")
ADMIN_PERMS = ("user_access_manage", "org_management")
PUBLIC_DOMAINS = ("gmail.com", "outlook.com", "yahoo.com")


@dataclass(frozen=True)
class Sizes:
    """How many of each population the snapshot holds, across all orgs."""

    orgs: int = 500
    app_keys: int = 1_000_000
    service_accounts: int = 200_000
    humans: int = 150_000
    mappings: int = 50_000
    api_keys: int = 20_000
    access_tokens: int = 30_000

    def scaled(self, factor: float) -> Sizes:
        """Every population times `factor` (at least 2 orgs, 1 of everything else)."""
        return Sizes(*(max(2 if i == 0 else 1, round(v * factor))
                       for i, v in enumerate(vars(self).values())))


def _split(total: int, weights: Sequence[float]) -> list[int]:
    """`total` split in proportion to `weights`, summing exactly to `total`."""
    scale = total / sum(weights)
    parts = [int(w * scale) for w in weights]
    for i in sorted(range(len(parts)), key=lambda i: parts[i] - weights[i] * scale)[
            : total - sum(parts)]:
        parts[i] += 1
    return parts


def _permission_names() -> list[str]:
    names = [p.name for p in CATALOGUE]
    for area in AREAS:
        for verb in ("read", "write"):
            if f"{area}_{verb}" not in names:
                names.append(f"{area}_{verb}")
    return names


_SCOPE = ("scan_id", "target", "site", "org_public_id")
# The columns the generator fills, in the order it gives them ("raw" is added where present).
COLUMNS: dict[str, tuple[str, ...]] = {
    "scans": ("id", "started_at", "finished_at", "status", "tool_version"),
    "targets": (*_SCOPE, "org_uuid", "org_name", "owner"),
    "coverage": (*_SCOPE, "endpoint", "status", "collected", "expected", "error"),
    "orgs": (*_SCOPE, "public_id", "uuid", "name", "relation", "created_at", "saml_enabled",
             "saml_strict_mode", "saml_idp_initiated_login", "saml_autocreate_access_role",
             "saml_autocreate_domains_enabled", "private_widget_share"),
    "org_autocreate_domains": (*_SCOPE, "domain"),
    "users": (*_SCOPE, "id", "uuid", "handle", "email", "name", "status", "disabled",
              "service_account", "created_at", "last_login_time"),
    "user_roles": (*_SCOPE, "user_id", "role_id"),
    "roles": (*_SCOPE, "id", "name", "created_at", "modified_at", "user_count"),
    "role_permissions": (*_SCOPE, "role_id", "permission_id"),
    "permissions": (*_SCOPE, "id", "name", "display_name", "restricted"),
    "application_keys": (*_SCOPE, "id", "name", "owner_id", "created_at", "last_used_at",
                         "unscoped", "leaked", "leak_date", "leak_source", "listing"),
    "application_key_scopes": (*_SCOPE, "key_id", "scope"),
    "api_keys": (*_SCOPE, "id", "name", "category", "created_at", "date_last_used",
                 "created_by_id", "modified_by_id", "leaked", "leak_date", "leak_source"),
    "authn_mappings": (*_SCOPE, "id", "resource_type", "attribute_key", "attribute_value",
                       "role_id", "team_id", "created_at"),
    "teams": (*_SCOPE, "id", "name", "handle", "user_count"),
    "org_connections": (*_SCOPE, "id", "source_org_id", "source_org_name", "sink_org_id",
                        "sink_org_name", "created_by_id", "created_by_name",
                        "connection_types", "created_at"),
    "okta_accounts": (*_SCOPE, "id", "name", "domain", "auth_method", "client_id"),
    "access_tokens": (*_SCOPE, "id", "kind", "name", "owner_id", "owner_type", "created_at",
                      "expires_at", "lifetime_days", "last_used_at", "modified_at",
                      "public_portion"),
    "access_token_scopes": (*_SCOPE, "token_id", "scope"),
    "oauth_clients": (*_SCOPE, "id", "client_id", "disabled", "last_exercised", "user_count"),
}


class _Loader:
    """Buffers rows per table and inserts them in big batches: executemany, or COPY."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        sqlite = engine.dialect.name == "sqlite"
        self.ts: Callable[[datetime | None], Any] = (
            (lambda d: None if d is None else d.isoformat(" ", "microseconds"))
            if sqlite else (lambda d: d))
        self.copy = engine.dialect.name == "postgresql"  # COPY: many times executemany's pace
        self.raw = {name for name in COLUMNS if "raw" in metadata.tables[name].c}
        self.sql = {}
        for name, cols in COLUMNS.items():
            cols = (*cols, "raw") if name in self.raw else cols
            self.sql[name] = (f"COPY {name} ({', '.join(cols)}) FROM STDIN" if self.copy else
                              f"INSERT INTO {name} ({', '.join(cols)}) "
                              f"VALUES ({', '.join('?' for _ in cols)})")
        self.buffers: dict[str, list[tuple[Any, ...]]] = {name: [] for name in COLUMNS}
        self.counts: dict[str, int] = dict.fromkeys(COLUMNS, 0)

    def add(self, table: str, row: tuple[Any, ...]) -> None:
        """Queue one row, given in the order of COLUMNS[table] (without raw)."""
        buffer = self.buffers[table]
        if table in self.raw:
            row += (f'{{"id": "{row[4]}", "type": "{table}", "attributes": {{}}}}',)
        buffer.append(row)
        if len(buffer) >= BATCH:
            self.flush(table)

    def flush(self, table: str | None = None) -> None:
        """Insert the queued rows of `table` (of every table when None)."""
        for name in [table] if table else list(self.buffers):
            rows, self.buffers[name] = self.buffers[name], []
            if not rows:
                continue
            with self.engine.begin() as conn:
                if self.copy:
                    driver: Any = conn.connection.driver_connection  # a psycopg Connection
                    with driver.cursor() as cursor, cursor.copy(self.sql[name]) as copy:
                        for row in rows:
                            copy.write_row(row)
                else:
                    conn.exec_driver_sql(self.sql[name], rows)
            self.counts[name] += len(rows)


class _Gen:
    """Generates one org after the other into a _Loader, from one seeded random stream."""

    def __init__(self, loader: _Loader, sizes: Sizes, seed: int) -> None:
        self.out, self.sizes, self.rng, self.seed = loader, sizes, random.Random(seed), seed
        self.ts = loader.ts
        self.perms = _permission_names()
        self.perm_ids = {name: f"{i:08x}-0000-4000-8000-00000000perm" for i, name
                         in enumerate(self.perms)}
        self.perm_ids.update({p.name: p.id for p in CATALOGUE})
        self.serial = 0
        n = sizes.orgs
        weights = [1 / (i + 5) ** 0.7 for i in range(n)]
        random.Random(seed + 1).shuffle(weights)
        self.per_org = {
            "app_keys": _split(sizes.app_keys, weights),
            "sas": _split(sizes.service_accounts, weights),
            "humans": _split(sizes.humans, weights),
            "api_keys": _split(sizes.api_keys, weights),
            "tokens": _split(sizes.access_tokens, weights),
        }
        mapped = [w if self.rng.random() < 0.85 else 0.0 for w in weights]
        self.per_org["mappings"] = _split(sizes.mappings, mapped)
        self.orgs = [(f"org-{i:03d}", self.rng.choices(SITES, SITE_WEIGHTS)[0],
                      f"{i:06x}b3c1d2", f"{i:08x}-aaaa-4bbb-8ccc-{i:012x}") for i in range(n)]

    def uid(self) -> str:
        """A fresh UUID-shaped id."""
        self.serial += 1
        return f"{self.serial:08x}-{self.rng.getrandbits(16):04x}-4{self.serial % 4096:03x}-" \
               f"8{self.rng.getrandbits(12):03x}-{self.rng.getrandbits(48):012x}"

    def ago(self, mean_days: float, cap_days: float = 2500) -> datetime:
        """A time before NOW, exponentially distributed with the given mean."""
        return NOW - timedelta(seconds=int(min(self.rng.expovariate(1 / mean_days),
                                               cap_days) * 86400))

    def run(self) -> None:
        """Generate the scan row, then every org, then flush."""
        self.out.add("scans", (SCAN_ID, self.ts(NOW), self.ts(NOW), "complete", "bench"))
        for i in range(self.sizes.orgs):
            self.org(i)
        self.out.flush()

    def scoped(self, table: str, i: int, *values: Any) -> None:
        """Add a row of a population table for org `i`."""
        self.out.add(table, (SCAN_ID, *self.orgs[i][:3], *values))

    def org(self, i: int) -> None:
        """All rows of org `i`."""
        rng = self.rng
        target, site, public_id, uuid = self.orgs[i]
        name = f"Acme Org {i}"
        saml = rng.random() < 0.85
        domains = rng.random() < 0.1
        owner = f"team-{i % 50}@acme.example" if i % 2 else None  # half the orgs name one
        self.out.add("targets", (SCAN_ID, target, site, public_id, uuid, name, owner))
        self.scoped("orgs", i, public_id, uuid, name, "self", self.ts(self.ago(900)), saml,
                    rng.random() < 0.6, rng.random() < 0.3, "adm" if rng.random() < 0.03
                    else "st", domains, rng.random() < 0.25)
        if domains:
            self.scoped("org_autocreate_domains", i, f"acme{i}.example")
            if rng.random() < 0.3:
                self.scoped("org_autocreate_domains", i, rng.choice(PUBLIC_DOMAINS))
        if i < 25:  # parents listing other scanned orgs, and now and then an unscanned one
            for j in rng.sample(range(self.sizes.orgs), min(20, self.sizes.orgs)):
                _, _, child_pub, child_uuid = self.orgs[j]
                self.scoped("orgs", i, child_pub, child_uuid, f"Acme Org {j}", "child",
                            None, None, None, None, None, None, None)
            if rng.random() < 0.3:
                self.scoped("orgs", i, f"{i:06x}ffffff", self.uid(), f"Shadow org {i}",
                            "child", None, None, None, None, None, None, None)
        bad = rng.choice(ENDPOINTS) if rng.random() < 0.01 else None
        for endpoint in ENDPOINTS:
            status = ("forbidden" if endpoint == bad and rng.random() < 0.5 else
                      "partial" if endpoint == bad else "complete")
            self.out.add("coverage", (SCAN_ID, target, site, public_id, endpoint, status,
                                      100, 100 if status == "complete" else 120,
                                      "403 Forbidden" if status == "forbidden" else None))
        roles = self.roles(i)
        humans, sas = self.users(i, roles)
        self.app_keys(i, humans, sas)
        self.api_keys(i, humans)
        self.mappings(i, roles)
        self.connections(i, humans)
        self.okta(i)
        # Tokens and OAuth clients draw from a stream of their own: what the main stream
        # generates is the same as before they were added.
        extra = random.Random(self.seed * 1_000_003 + i)
        self.tokens(i, humans, sas, extra)
        self.oauth(i, extra)

    def roles(self, i: int) -> list[tuple[str, str]]:
        """Permissions, the three managed roles and some custom ones: (id, name) each."""
        rng = self.rng
        for name in self.perms:
            self.scoped("permissions", i, self.perm_ids[name], name, name.replace("_", " "),
                        False)
        everyday = [p for p in self.perms if p not in PRIVILEGED]
        grants = {
            "Datadog Admin Role": self.perms,
            "Datadog Standard Role": [p for p in everyday if not p.endswith("_manage")],
            "Datadog Read Only Role": [p for p in everyday if p.endswith("_read")],
        }
        for n in range(4 + rng.randrange(14)):
            perms = rng.sample(everyday, rng.randrange(5, 25))
            if rng.random() < 0.08:
                perms.append(rng.choice(ADMIN_PERMS))
            elif rng.random() < 0.15:
                perms.append(rng.choice(sorted(PRIVILEGED - set(ADMIN_PERMS))))
            grants[f"custom-role-{n}"] = perms
        roles = []
        for name, perms in grants.items():
            rid = self.uid()
            roles.append((rid, name))
            self.scoped("roles", i, rid, name, self.ts(self.ago(700)), self.ts(self.ago(100)),
                        None)
            for perm in perms:
                self.scoped("role_permissions", i, rid, self.perm_ids[perm])
        for n in range(10 + rng.randrange(20)):
            self.scoped("teams", i, self.uid(), f"team-{n}", f"team-{n}", rng.randrange(30))
        return roles

    def users(self, i: int, roles: list[tuple[str, str]]) -> tuple[list[str], list[str]]:
        """Humans and service accounts with their roles; returns (enabled humans, all SAs)."""
        rng = self.rng
        humans: list[str] = []
        sas: list[str] = []
        custom = roles[3:]
        for sa, count in ((False, self.per_org["humans"][i]), (True, self.per_org["sas"][i])):
            for n in range(count):
                uid = self.uid()
                disabled = rng.random() < (0.05 if sa else 0.08)
                status = "Disabled" if disabled else "Pending" if rng.random() < 0.03 else "Active"
                label = f"{'svc' if sa else 'user'}-{i}-{n}"
                self.scoped("users", i, uid, uid, f"{label}@acme.example", None if sa else
                            f"{label}@acme.example", label, status, disabled, sa,
                            self.ts(self.ago(600)), None if sa else self.ts(self.ago(30)))
                draw = rng.random()
                role = (roles[0] if draw < (0.12 if sa else 0.05) else
                        roles[1] if draw < 0.6 else roles[2] if draw < 0.8 else
                        rng.choice(custom))
                self.scoped("user_roles", i, uid, role[0])
                if rng.random() < 0.2:
                    self.scoped("user_roles", i, uid, rng.choice(custom)[0])
                (sas if sa else humans if not disabled else []).append(uid)
        return humans, sas

    def app_keys(self, i: int, humans: list[str], sas: list[str]) -> None:
        """Application keys: most service accounts own a few, some own many, some none."""
        rng = self.rng
        total = self.per_org["app_keys"][i]
        keyed = [s for s in sas if rng.random() < 0.65]
        owners: list[str | None] = list(keyed)
        weights = [1 / (n + 1) for n in range(len(keyed))]
        sa_keys = int(total * 0.55)
        if keyed and sa_keys > len(keyed):
            owners += rng.choices(keyed, weights, k=sa_keys - len(keyed))
        owners += [rng.choice(humans) if humans else None for _ in range(total - len(owners))]
        tracks_use = rng.random() < 0.9
        scope_names = [p for p in self.perms if p not in PRIVILEGED]
        privileged = sorted(PRIVILEGED)
        for n, owner in enumerate(owners[:total]):
            kid = self.uid()
            created = self.ago(300)
            used = None
            if tracks_use and rng.random() > 0.15:
                used = max(created, self.ago(40))
            unscoped = rng.random() < 0.6
            leaked = rng.random() < 0.0002
            self.scoped("application_keys", i, kid, f"key-{i}-{n}", owner, self.ts(created),
                        self.ts(used), unscoped, leaked, self.ts(NOW) if leaked else None,
                        "github" if leaked else None,
                        "org")
            if not unscoped:
                for scope in rng.sample(scope_names, rng.randrange(1, 5)):
                    self.scoped("application_key_scopes", i, kid, scope)
                if rng.random() < 0.08:
                    self.scoped("application_key_scopes", i, kid, rng.choice(privileged))

    def api_keys(self, i: int, humans: list[str]) -> None:
        """API keys, created by current, disabled or departed users."""
        rng = self.rng
        tracks_use = rng.random() < 0.9
        for n in range(self.per_org["api_keys"][i]):
            created = self.ago(400)
            used = max(created, self.ago(20)) if tracks_use and rng.random() > 0.1 else None
            draw = rng.random()
            creator = (rng.choice(humans) if humans and draw < 0.88 else
                       self.uid() if draw < 0.94 else None)
            leaked = rng.random() < 0.001
            self.scoped("api_keys", i, self.uid(), f"api-key-{i}-{n}", "default",
                        self.ts(created), self.ts(used), creator, creator, leaked,
                        self.ts(NOW) if leaked else None, "github" if leaked else None)

    def mappings(self, i: int, roles: list[tuple[str, str]]) -> None:
        """AuthN mappings: IdP groups to roles (some to several roles), a few to teams."""
        rng = self.rng
        count = self.per_org["mappings"][i]
        groups = max(1, int(count / 1.25))
        mappable = roles[1:]
        for n in range(count):
            group = f"idp-group-{n % groups if n >= groups else n}"
            draw = rng.random()
            if draw < 0.1:
                self.scoped("authn_mappings", i, self.uid(), "team", "memberOf", group, None,
                            self.uid(), self.ts(self.ago(300)))
                continue
            role = (self.uid() if draw < 0.12 else roles[0][0] if n == 0 else
                    rng.choice(mappable)[0])
            self.scoped("authn_mappings", i, self.uid(), "role", "memberOf", group, role,
                        None, self.ts(self.ago(300)))

    def connections(self, i: int, humans: list[str]) -> None:
        """Org connections from this org to scanned orgs (mirrored there) or outsiders."""
        rng = self.rng
        if rng.random() > 0.4:
            return
        _, _, _, uuid = self.orgs[i]
        for _ in range(rng.randrange(1, 6)):
            outsider = rng.random() < 0.15
            peer = rng.randrange(self.sizes.orgs)
            sink = self.uid() if outsider else self.orgs[peer][3]
            types = "," + ",".join(sorted(rng.sample(("logs", "metrics", "audit"),
                                                     rng.randrange(1, 3)))) + ","
            creator = rng.choice(humans) if humans and rng.random() < 0.9 else self.uid()
            values = (self.uid(), uuid, f"Acme Org {i}", sink, "Partner" if outsider else
                      f"Acme Org {peer}", creator, None, types, self.ts(self.ago(300)))
            self.scoped("org_connections", i, *values)
            if not outsider and peer != i:
                self.scoped("org_connections", peer, *values)

    def okta(self, i: int) -> None:
        """Okta integration accounts; a few domains are configured in several orgs."""
        rng = self.rng
        if rng.random() > 0.3:
            return
        for n in range(rng.randrange(1, 3)):
            shared = rng.random() < 0.1
            domain = f"acme-shared{rng.randrange(5)}.okta.com" if shared else \
                f"acme{i}-{n}.okta.com"
            self.scoped("okta_accounts", i, self.uid(), f"okta-{n}", domain,
                        "oauth" if rng.random() < 0.7 else "api_token", self.uid())


    def tokens(self, i: int, humans: list[str], sas: list[str], rng: random.Random) -> None:
        """Access tokens: personal ones of people, service ones of service accounts."""
        tracks_use = rng.random() < 0.9
        everyday = [p for p in self.perms if p not in PRIVILEGED]
        privileged = sorted(PRIVILEGED)
        for n in range(self.per_org["tokens"][i]):
            service = bool(sas) and (not humans or rng.random() < 0.5)
            owner = (f"gone-{i}-{n}" if rng.random() < 0.03 or not (sas or humans) else
                     rng.choice(sas) if service else rng.choice(humans))
            created = NOW - timedelta(days=rng.expovariate(1 / 200))
            lifetime = None if rng.random() < 0.25 else rng.choice((30, 60, 90, 180, 365))
            expires = None if lifetime is None else created + timedelta(days=lifetime)
            used = None
            if tracks_use and rng.random() < 0.85:
                used = max(created, NOW - timedelta(days=rng.expovariate(1 / 40)))
            tid = f"{i:04x}{n:06x}-5555-4666-8777-{rng.getrandbits(48):012x}"
            self.scoped("access_tokens", i, tid, "service" if service else "personal",
                        f"token-{i}-{n}", owner, "service_account" if service else "users",
                        self.ts(created), self.ts(expires), lifetime, self.ts(used), None,
                        f"ddpat_{rng.getrandbits(40):010x}")
            for scope in rng.sample(everyday, rng.randrange(1, 4)):
                self.scoped("access_token_scopes", i, tid, scope)
            if rng.random() < 0.05:
                self.scoped("access_token_scopes", i, tid, rng.choice(privileged))

    def oauth(self, i: int, rng: random.Random) -> None:
        """Authorized OAuth clients: a few orgs have some, now and then one unused."""
        if rng.random() > 0.4:
            return
        for n in range(rng.randrange(1, 5)):
            exercised = None if rng.random() < 0.1 else NOW - timedelta(
                days=rng.expovariate(1 / 45))
            self.scoped("oauth_clients", i, f"{i:04x}{n:04x}-0a0a-4b0b-8c0c-oauthclient0",
                        f"client-{i}-{n}", rng.random() < 0.1, self.ts(exercised),
                        rng.randrange(1, 40))


def bench_engine(url: str) -> Engine:
    """An engine on `url`; on SQLite without journal or fsync (the bench database only)."""
    engine = create_engine(url)
    if engine.dialect.name == "sqlite":
        def pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=OFF")
            cursor.execute("PRAGMA synchronous=OFF")
            cursor.close()

        event.listen(engine, "connect", pragmas)
    return engine


def generate(url: str, sizes: Sizes, seed: int) -> dict[str, int]:
    """Create the schema (indexes after the load) and generate the snapshot into `url`."""
    engine = bench_engine(url)
    existing = inspect(engine).get_table_names()
    if existing:
        raise SystemExit(f"{url} already holds tables ({existing[0]}, ...); give an empty "
                         "database, or --reuse to evaluate what it holds")
    indexes = [ix for table in metadata.sorted_tables for ix in table.indexes]
    for table in metadata.sorted_tables:
        table.create(engine)
    with engine.begin() as conn:
        for ix in indexes:
            conn.execute(text(f"DROP INDEX {ix.name}"))
    loader = _Loader(engine)
    _Gen(loader, sizes, seed).run()
    with engine.begin() as conn:
        for ix in indexes:
            ix.create(conn)
        if engine.dialect.name == "postgresql":
            conn.execute(text("ANALYZE"))
    engine.dispose()
    return {k: v for k, v in loader.counts.items() if v}


_INDEX = re.compile(r"^(\w+)\((\w+(?:,\s*\w+)*)\)$")


def create_indexes(engine: Engine, specs: Sequence[str]) -> None:
    """Create each `table(col, col)` index in the bench database."""
    with engine.begin() as conn:
        for n, spec in enumerate(specs):
            m = _INDEX.match(spec.replace(" ", ""))
            if not m or m.group(1) not in metadata.tables:
                raise SystemExit(f"--index {spec!r}: give table(column, column)")
            conn.execute(text(f"CREATE INDEX ix_bench_{n} ON {m.group(1)} ({m.group(2)})"))
        if engine.dialect.name == "sqlite":
            conn.execute(text("ANALYZE"))


def copy_scan(engine: Engine, source: str, dest: str, started: datetime) -> None:
    """Add scan `dest`, started at `started`, holding the same population as `source`."""
    with engine.begin() as conn:
        conn.execute(scans.insert().values(id=dest, started_at=started, finished_at=started,
                                           status="complete", tool_version="bench"))
        for name in COLUMNS:
            if name == "scans":
                continue
            cols = ", ".join(c.name for c in metadata.tables[name].columns
                             if c.name != "scan_id")
            conn.execute(text(f"INSERT INTO {name} (scan_id, {cols}) SELECT :dest, {cols} "
                              f"FROM {name} WHERE scan_id = :source"),
                         {"dest": dest, "source": source})
