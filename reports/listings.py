"""Render population.json and listings/<type>.csv: every collected population, for sampling.

A listing is written as its rows stream from the database, sorted there in the order of
their rendered cells (code points, alike on SQLite and PostgreSQL): the order a sort of
the rendered rows in Python gives, without holding them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    DateTime,
    Engine,
    Select,
    String,
    Table,
    case,
    cast,
    func,
    select,
)
from sqlalchemy.exc import SQLAlchemyError

from reports.findings_csv import CsvLines, safe_cell
from reports.load import ScanReport
from scanner.errors import StoreError
from scanner.store.schema import POPULATION_TABLES, SETTLED, users
from scanner.timeutil import isoformat_z

SCHEMA = "ddaudit.population/1"
_SKIP_COLUMNS = frozenset({"scan_id", "raw"})  # raw is the API object: evidence, not listing
FETCH = 500  # rows fetched at a time


@dataclass(frozen=True, slots=True)
class Listing:
    """One population of a scan: its type (file stem), row count and where its rows are."""

    type: str
    rows: int
    table: Table
    scan_id: str
    service_accounts: bool = False  # the users that are service accounts

    @property
    def path(self) -> str:
        """The file's path inside the bundle."""
        return f"listings/{self.type}.csv"

    def query(self) -> Select[Any]:
        """The listing's columns, in the order of their rendered text."""
        cols = [self.table.c[name] for name in columns(self.table)]
        query = select(*cols).where(self.table.c.scan_id == self.scan_id)
        if self.service_accounts:
            query = query.where(users.c.service_account.is_(True))
        return query


def load_listings(engine: Engine, scan_id: str) -> list[Listing]:
    """Every population table of the scan (plus `service_accounts`, a view of users), by type."""
    out: list[Listing] = []
    try:
        with engine.connect() as conn:
            for name in sorted(POPULATION_TABLES):
                table = POPULATION_TABLES[name]
                kinds = [(name, False)] + ([("service_accounts", True)] if table is users else [])
                for kind, service in kinds:
                    listing = Listing(kind, 0, table, scan_id, service)
                    count = select(func.count()).select_from(listing.query().subquery())
                    out.append(Listing(kind, int(conn.execute(count).scalar_one()), table,
                                       scan_id, service))
    except SQLAlchemyError as exc:
        raise _store_error(scan_id, exc) from exc
    return sorted(out, key=lambda listing: listing.type)


def listing_csv(engine: Engine, listing: Listing, batch: int = 500) -> Iterator[str]:
    """The listing's CSV text in pieces: its header, then `batch` rows at a time."""
    lines = CsvLines()
    pending = [lines.line(columns(listing.table))]
    query = listing.query().order_by(*_sort_keys(listing.table, engine.dialect.name))
    try:
        with engine.connect() as conn:
            result = conn.execute(query, execution_options={"yield_per": FETCH})
            for row in result:
                pending.append(lines.line([safe_cell(_cell(v)) for v in row], safe=True))
                if len(pending) >= batch:
                    yield "".join(pending)
                    pending = []
    except SQLAlchemyError as exc:
        raise _store_error(listing.scan_id, exc) from exc
    yield "".join(pending)


def columns(table: Table) -> list[str]:
    """The columns a listing shows (every one but the scan id and the raw API object)."""
    return [c.name for c in table.columns if c.name not in _SKIP_COLUMNS]


def _sort_keys(table: Table, dialect: str) -> list[ColumnElement[Any]]:
    """ORDER BY terms: each column as the text `_cell` renders, compared by code point."""
    keys: list[ColumnElement[Any]] = []
    for name in columns(table):
        column = table.c[name]
        if isinstance(column.type, Boolean):
            text: ColumnElement[Any] = case((column.is_(None), ""), (column, "true"),
                                            else_="false")
        elif isinstance(column.type, DateTime) and dialect == "postgresql":
            text = func.to_char(column, 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
        elif isinstance(column.type, DateTime):
            text = func.substr(column, 1, 19)  # as stored: YYYY-MM-DD HH:MM:SS.ffffff
        else:
            text = cast(column, String)
        text = func.coalesce(text, "")
        keys.append(text.collate("C") if dialect == "postgresql" else text)
    return keys


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return isoformat_z(value) or ""
    return str(value)


def _store_error(scan_id: str, exc: SQLAlchemyError) -> StoreError:
    return StoreError(
        f"cannot read the populations of scan {scan_id!r}: {exc.__class__.__name__}; "
        "check that the database is reachable and migrated"
    )


def render_population(report: ScanReport, listings: Sequence[Listing]) -> str:
    """population.json: per target and endpoint what was collected against the API's totals."""
    by_target: dict[str, list[dict[str, object]]] = {}
    for c in report.coverage:
        by_target.setdefault(c.target, []).append({
            "endpoint": c.endpoint,
            "status": c.status,
            "collected": c.collected,
            "expected": c.expected,
            "error": c.error,
        })
    targets = [
        {
            "target": t.target,
            "site": t.site,
            "org_public_id": t.org_public_id,
            "org_uuid": t.org_uuid,
            "org_name": t.org_name,
            "complete": bool(by_target.get(t.target))
            and all(e["status"] in SETTLED for e in by_target.get(t.target, [])),
            "endpoints": by_target.get(t.target, []),
        }
        for t in report.targets
    ]
    document = {
        "schema": SCHEMA,
        "scan_id": report.scan.id,
        "scan_status": report.scan.status,
        "targets": targets,
        "listings": [{"type": x.type, "file": x.path, "rows": x.rows} for x in listings],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
