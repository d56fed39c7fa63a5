"""Render population.json and listings/<type>.csv: every collected population, for sampling."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Select, Table, select
from sqlalchemy.exc import SQLAlchemyError

from reports.findings_csv import write_csv
from reports.load import ScanReport
from scanner.errors import StoreError
from scanner.store.schema import POPULATION_TABLES, SETTLED, users
from scanner.timeutil import isoformat_z

SCHEMA = "ddaudit.population/1"
_SKIP_COLUMNS = frozenset({"scan_id", "raw"})  # raw is the API object: evidence, not listing


@dataclass(frozen=True, slots=True)
class Listing:
    """One population as CSV: its type (file stem), row count and text."""

    type: str
    rows: int
    text: str

    @property
    def path(self) -> str:
        """The file's path inside the bundle."""
        return f"listings/{self.type}.csv"


def load_listings(engine: Engine, scan_id: str) -> list[Listing]:
    """Every population table of the scan (plus `service_accounts`, a view of users), sorted.

    Rows are sorted in Python on their rendered cells, so SQLite and PostgreSQL give the
    same bytes.
    """
    out: list[Listing] = []
    try:
        with engine.connect() as conn:
            for name in sorted(POPULATION_TABLES):
                table = POPULATION_TABLES[name]
                out.append(_listing(conn.execute(_query(table, scan_id)).all(), table, name))
                if table is users:
                    query = _query(table, scan_id).where(users.c.service_account.is_(True))
                    out.append(_listing(conn.execute(query).all(), table, "service_accounts"))
    except SQLAlchemyError as exc:
        raise StoreError(
            f"cannot read the populations of scan {scan_id!r}: {exc.__class__.__name__}; "
            "check that the database is reachable and migrated"
        ) from exc
    return sorted(out, key=lambda listing: listing.type)


def _columns(table: Table) -> list[str]:
    return [c.name for c in table.columns if c.name not in _SKIP_COLUMNS]


def _query(table: Table, scan_id: str) -> Select[Any]:
    cols = [table.c[name] for name in _columns(table)]
    return select(*cols).where(table.c.scan_id == scan_id)


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return isoformat_z(value) or ""
    return str(value)


def _listing(rows: Sequence[Sequence[object]], table: Table, name: str) -> Listing:
    cells = sorted([_cell(v) for v in row] for row in rows)
    return Listing(name, len(cells), write_csv(_columns(table), cells))


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
