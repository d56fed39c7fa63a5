"""A scan's findings read from the snapshot as they are needed, in report order, never whole.

`StoredFindings` is the Sequence of a scan's findings (or of a filtered part of them) that
the reports hold: iterating it streams the `findings` table (server-side on PostgreSQL),
`len` and the counts come from one GROUP BY (`FindingSummary`), a slice is a LIMIT. Rows
are decoded by rules.results.read_finding and sorted by rules.results.report_order, the
engine's own reader and order.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple, overload

from sqlalchemy import ColumnElement, Connection, Engine, RowMapping, Select, func, select
from sqlalchemy.exc import SQLAlchemyError

from rules.model import SEVERITY_RANK, Finding
from rules.results import read_finding, report_order
from scanner.errors import StoreError
from scanner.store.schema import findings

FETCH = 500  # rows fetched at a time while streaming (the memory a read holds)


class FindingGroup(NamedTuple):
    """How many findings of a scan share these values (one row of the summary's GROUP BY)."""

    rule_id: str
    severity: str
    status: str
    site: str
    org_public_id: str | None
    org_name: str | None
    target: str
    resource_type: str
    n: int  # how many


GROUP_COLUMNS = tuple(findings.c[name] for name in FindingGroup._fields[:-1])


class FindingSummary(NamedTuple):
    """Every count the reports show of a scan's findings, from one GROUP BY."""

    groups: tuple[FindingGroup, ...]

    @property
    def total(self) -> int:
        """All findings."""
        return sum(g.n for g in self.groups)

    def count_by(self, *fields: str) -> dict[tuple[Any, ...], int]:
        """Findings counted per combination of `fields` (FindingGroup field names)."""
        out: dict[tuple[Any, ...], int] = {}
        for g in self.groups:
            key = tuple(getattr(g, name) for name in fields)
            out[key] = out.get(key, 0) + g.n
        return out

    def values(self, field: str) -> set[Any]:
        """The distinct values of one field."""
        return {getattr(g, field) for g in self.groups}


def _order(g: FindingGroup) -> tuple[object, ...]:
    """Report order as far as a group goes (severity, rule, site, org), then the rest: counts
    built from the groups list their keys alike on every database."""
    return (SEVERITY_RANK.get(g.severity, len(SEVERITY_RANK)), g.rule_id, g.site,
            g.org_public_id or "", g.target, g.resource_type, g.severity, g.status,
            g.org_public_id is None, g.org_name or "", g.org_name is None)


class StoredFindings(Sequence[Finding]):
    """The findings of scan `scan_id` matching `where`, in report order, read on demand.

    Iterating streams them from the database; `len` is counted there (once); `[a:b]` reads
    only those rows. Equal to any sequence holding the same findings in the same order.
    """

    def __init__(self, engine: Engine, scan_id: str, *where: ColumnElement[bool]) -> None:
        self.engine = engine
        self.scan_id = scan_id
        self._where = (findings.c.scan_id == scan_id, *where)
        self._len: int | None = None
        self._summary: FindingSummary | None = None

    def where(self, *conditions: ColumnElement[bool]) -> StoredFindings:
        """These findings narrowed by `conditions` (on the `findings` table)."""
        return StoredFindings(self.engine, self.scan_id, *self._where[1:], *conditions)

    def summary(self) -> FindingSummary:
        """The counts of these findings per rule, severity, status, site, org, target, type."""
        if self._summary is None:
            query = (select(*GROUP_COLUMNS, func.count()).where(*self._where)
                     .group_by(*GROUP_COLUMNS))
            with self._reading() as conn:
                groups = tuple(sorted(map(FindingGroup._make, conn.execute(query)), key=_order))
            self._summary = FindingSummary(groups)
            self._len = self._summary.total
        return self._summary

    def owners(self) -> set[str | None]:
        """The distinct owners of these findings (None: a finding nobody answers for)."""
        query = select(findings.c.owner).where(*self._where).distinct()
        with self._reading() as conn:
            return {row[0] for row in conn.execute(query)}

    def query(self, *extra: ColumnElement[Any]) -> Select[Any]:
        """SELECT every column (and `extra`) of these findings in report order."""
        order = report_order(self.engine.dialect.name)
        return select(findings, *extra).where(*self._where).order_by(*order)

    def rows(self, query: Select[Any] | None = None) -> Iterator[RowMapping]:
        """Stream the rows of `query` (default: `self.query()`), FETCH at a time."""
        with self._reading() as conn:
            result = conn.execute(self.query() if query is None else query,
                                  execution_options={"yield_per": FETCH})
            yield from result.mappings()

    def __iter__(self) -> Iterator[Finding]:
        return map(read_finding, self.rows())

    def __len__(self) -> int:
        if self._len is None:
            query = select(func.count()).select_from(findings).where(*self._where)
            with self._reading() as conn:
                self._len = int(conn.execute(query).scalar_one())
        return self._len

    @overload
    def __getitem__(self, index: int) -> Finding: ...

    @overload
    def __getitem__(self, index: slice) -> list[Finding]: ...

    def __getitem__(self, index: int | slice) -> Finding | list[Finding]:
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if step != 1:
                return list(self)[index]
            if stop <= start:
                return []
            return list(map(read_finding, self.rows(
                self.query().offset(start).limit(stop - start))))
        position = index + len(self) if index < 0 else index
        if not 0 <= position < len(self):
            raise IndexError(index)
        return self[position:position + 1][0]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, str | bytes):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<StoredFindings of scan {self.scan_id}>"

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        """A connection for one read; a database error becomes a one-line StoreError."""
        try:
            with self.engine.connect() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise StoreError(
                f"cannot read the findings of scan {self.scan_id!r}: {exc.__class__.__name__}; "
                "check that the database is reachable and migrated"
            ) from exc
