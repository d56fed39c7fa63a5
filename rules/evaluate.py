"""Evaluating a rule pack over one stored scan and writing its findings.

Each condition runs in the database. Its rows stream through in batches, become findings
rows (stable id, detail sentence: rules/rows.py) and go to a FindingsWriter
(rules/findings_writer.py), which finishes them (first_seen from finding_history,
rules/first_seen.py; suppressions applied) and inserts them as they come, so memory stays
flat however many findings a scan has. On SQLite the rows of a rule no suppression can
touch never leave the database: rules/sqlite_findings.py writes them with one INSERT ...
SELECT. A rule whose inputs were not fully collected for a target gives one not_assessed
finding for that org instead. Once all are written, the owner pass (rules/owners.py)
fills in who answers for each. The caller gets an `Evaluated`: counts, the time of each
rule and of the owner pass, the suppressions' usage, and the findings read back from the
table. The suppressions' usage is stored too (`suppression_usage`), for later reports of
the scan.
"""

from __future__ import annotations

import gc
import json
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, select, text
from sqlalchemy.exc import SQLAlchemyError

from rules.findings_writer import FindingsWriter
from rules.model import REQUIRED_COLUMNS, Rule, RulePack, RuleSettings, fingerprint
from rules.owners import assign_owners
from rules.params import bind_values, check_settings, rule_parameters, statement
from rules.results import Evaluated, RuleRun
from rules.rows import Detail, FindingIds
from rules.sqlite_findings import SqliteFindings
from rules.suppressions import Suppressions, SuppressionTracker, SuppressionUsage
from scanner.errors import NotFoundError, RuleError
from scanner.store import lifecycle
from scanner.store.schema import (
    INPUT_PARTS,
    SETTLED,
    coverage,
    findings,
    orgs,
    scans,
    suppression_usage,
    targets,
)

_FETCH = 2000  # condition rows fetched at a time
IN_SQLITE = True  # on SQLite, write findings with INSERT ... SELECT (rules.sqlite_findings)
_PG_EVALUATION_LOCK = 0x64646165  # "ddae": evaluations queue on PostgreSQL (shared history)


@dataclass(frozen=True)
class _Target:
    name: str
    site: str
    org_public_id: str | None
    org_name: str | None


def evaluate_scan(
    engine: Engine,
    scan_id: str,
    pack: RulePack,
    settings: RuleSettings,
    suppressions: Suppressions | None = None,
) -> Evaluated:
    """Evaluate every enabled rule on scan `scan_id`, replace its findings rows, return them.

    The result counts the findings and, when iterated, reads them back sorted by severity,
    rule id, site, org and resource id. The scan's suppression usage rows are replaced,
    finding_history is updated, and the scan is stamped evaluated (and not yet reported
    since: its stored bundle no longer matches), all in one transaction.
    """
    check_settings(pack, settings)
    runs: list[RuleRun] = []
    with _cyclic_gc_paused(), engine.begin() as conn:
        if conn.dialect.name == "postgresql":  # concurrent upserts of one history deadlock
            conn.execute(select(func.pg_advisory_xact_lock(_PG_EVALUATION_LOCK)))
            # Compiling a large condition's plan took longer than running it interpreted.
            conn.execute(text("SET LOCAL jit = off"))
        now = conn.execute(select(scans.c.started_at).where(scans.c.id == scan_id)).scalar()
        if now is None:
            raise NotFoundError(f"scan {scan_id} is not in the database; see `ddaudit scans list`")
        scan_targets = _targets(conn, scan_id)
        cov = _coverage(conn, scan_id)
        conn.execute(delete(findings).where(findings.c.scan_id == scan_id))
        writer = FindingsWriter(conn, scan_id, now, SuppressionTracker(suppressions, now))
        in_sqlite = None
        if IN_SQLITE and conn.dialect.name == "sqlite":
            names = {t.name: t.org_name for t in scan_targets}
            in_sqlite = SqliteFindings(conn, names, history=not writer.history.empty)
        for rule in pack.rules:
            if rule.id in settings.disabled:
                continue
            started = time.perf_counter()
            values = bind_values(
                rule_parameters(pack, rule, settings),
                scan_id=scan_id,
                now=now,
                trusted_orgs=settings.trusted_orgs,
            )
            written = _evaluate_rule(conn, rule, values, scan_targets, cov, writer, in_sqlite)
            runs.append(RuleRun(rule.id, written, time.perf_counter() - started))
        writer.close()
        if in_sqlite is not None:
            in_sqlite.close()
        started = time.perf_counter()
        assign_owners(conn, scan_id)
        owners_seconds = time.perf_counter() - started
        usage = writer.tracker.usage()
        _record_usage(conn, scan_id, usage)
        lifecycle.evaluated(conn, scan_id)
    return Evaluated(engine, scan_id, writer.counts, runs, usage, owners_seconds=owners_seconds)


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector (as it was before, after).

    Each finding passes through as a fresh list, a million of them in a large scan; every
    few hundred allocations the collector would walk the young ones, and now and then every
    object alive. The rows make no reference cycles, so nothing is left for it meanwhile.
    """
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


def _record_usage(conn: Connection, scan_id: str, usage: SuppressionUsage) -> None:
    """Replace the scan's suppression_usage rows with this evaluation's."""
    conn.execute(delete(suppression_usage).where(suppression_usage.c.scan_id == scan_id))
    rows = [
        {"scan_id": scan_id, "position": e.index, "rule": e.rule, "resource": e.resource,
         "site": e.site, "org": e.org, "reason": e.reason, "owner": e.owner,
         "ticket": e.ticket, "expires": e.expires, "state": state, "matches": matches}
        for e, state, matches in usage.states()
    ]
    if rows:
        conn.execute(suppression_usage.insert(), rows)


def _targets(conn: Connection, scan_id: str) -> list[_Target]:
    names = dict(
        conn.execute(
            select(orgs.c.target, func.min(orgs.c.name))
            .where(orgs.c.scan_id == scan_id, orgs.c.relation == "self")
            .group_by(orgs.c.target)
        ).all()
    )
    rows = conn.execute(
        select(targets.c.target, targets.c.site, targets.c.org_public_id, targets.c.org_name)
        .where(targets.c.scan_id == scan_id)
        .order_by(targets.c.target)
    ).all()
    return [_Target(r[0], r[1], r[2], r[3] or names.get(r[0])) for r in rows]


def _coverage(conn: Connection, scan_id: str) -> dict[tuple[str, str], str]:
    """(target, rule input) -> status, for every endpoint and every part of a split one.

    A part (`orgs.settings`) has the status its endpoint's row records for it, else the
    endpoint's own (schema.INPUT_PARTS).
    """
    rows = conn.execute(
        select(coverage.c.target, coverage.c.endpoint, coverage.c.status, coverage.c.parts)
        .where(coverage.c.scan_id == scan_id)
    ).all()
    status: dict[tuple[str, str], str] = {}

    def worst(key: tuple[str, str], state: str) -> None:
        # Several rows for one (target, input): the worst one wins.
        if status.get(key, "complete") in SETTLED:
            status[key] = state

    for target, endpoint, state, parts in rows:
        worst((target, endpoint), state)
        recorded = json.loads(parts) if parts else {}
        for part in INPUT_PARTS.get(endpoint, ()):
            worst((target, f"{endpoint}.{part}"), recorded.get(part, state))
    return status


def _evaluate_rule(
    conn: Connection,
    rule: Rule,
    values: Mapping[str, Any],
    scan_targets: Sequence[_Target],
    cov: Mapping[tuple[str, str], str],
    writer: FindingsWriter,
    in_sqlite: SqliteFindings | None,
) -> int:
    """Write one rule's findings; return how many.

    Its not_assessed findings come first. The open ones are written by SQLite itself when
    `in_sqlite` is given and no suppression could apply to the rule (those are matched in
    Python), else streamed through the writer.
    """
    scan_id, now, add = writer.scan_id, writer.now, writer.add
    rule_id, severity, title = rule.id, rule.severity, rule.title
    controls = json.dumps(list(rule.control_ids))
    seen: set[str] = set()  # one finding per id: duplicate targets of one org give one
    skipped: set[str] = set()
    for t in scan_targets:
        missing = [(e, cov.get((t.name, e), "missing")) for e in rule.inputs]
        missing = [(e, s) for e, s in missing if s not in SETTLED]
        if missing:
            skipped.add(t.name)
            resource_id = t.org_public_id or t.name
            fid = fingerprint(rule_id, t.site, t.org_public_id, "org", resource_id)
            if fid not in seen:
                seen.add(fid)
                what = ", ".join(f"{e} ({s})" for e, s in missing)
                add([scan_id, fid, rule_id, severity, "not_assessed", title,
                     f"Not assessed for this org: {what} not fully collected.", t.site,
                     t.org_public_id, t.org_name, t.name, "org", resource_id, t.org_name, now,
                     controls, None])
    ids = FindingIds(rule, skipped, seen)
    written = None
    if in_sqlite is not None and not writer.tracker.for_rule(rule_id):
        written = in_sqlite.write(rule, values, ids, controls)
    if written is None:
        _stream(conn, rule, values, {t.name: t.org_name for t in scan_targets}, ids, writer,
                controls)
    else:
        writer.counts[(severity, "open")] += written
    writer.flush()
    return len(seen)


def _stream(
    conn: Connection,
    rule: Rule,
    values: Mapping[str, Any],
    names: Mapping[str, str | None],
    ids: FindingIds,
    writer: FindingsWriter,
    controls: str,
) -> None:
    """Read the rule's condition rows and hand its open findings to the writer."""
    scan_id, now, add = writer.scan_id, writer.now, writer.add
    rule_id, severity, title = rule.id, rule.severity, rule.title
    stmt, params = statement(rule.condition, values)
    try:
        # A server-side cursor keeps PostgreSQL from sending every row at once; SQLite's
        # cursor steps as it is read anyway, and without SQLAlchemy's buffer in front of it
        # it hands out plain tuples, not Row objects built for each row.
        buffered = conn.dialect.name != "sqlite"
        result = conn.execute(stmt, params, execution_options={"stream_results": buffered})
        columns = list(result.keys())
        absent = [c for c in REQUIRED_COLUMNS if c not in columns]
        if absent:
            raise RuleError(f"{rule.path}: field 'condition' must return column {absent[0]}")
        i_site, i_target, i_org, i_type, i_id, i_name = map(columns.index, REQUIRED_COLUMNS)
        render = Detail(rule, columns, values).render
        chunks = (result.partitions(_FETCH) if buffered
                  else iter(partial(result.cursor.fetchmany, _FETCH), []))
        for chunk in chunks:
            for row in chunk:
                target, site, org, rtype, rid = (row[i_target], row[i_site], row[i_org],
                                                 row[i_type], row[i_id])
                fid = ids(target, site, org, rtype, rid)
                if fid is None:
                    continue
                name = row[i_name]
                add([scan_id, fid, rule_id, severity, "open", title, render(row), str(site),
                     None if org is None else str(org), names.get(target), str(target),
                     str(rtype), str(rid), None if name is None else str(name), now,
                     controls, None])
        result.close()
    except (SQLAlchemyError, conn.dialect.loaded_dbapi.Error) as exc:
        # rows are fetched from the DBAPI cursor itself, whose errors SQLAlchemy never sees
        message = str(getattr(exc, "orig", exc)).splitlines()[0]
        raise RuleError(f"{rule.path}: field 'condition' failed: {message}") from exc
