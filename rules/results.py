"""The outcome of one evaluation: counts at hand, the findings themselves read back on demand.

A scan can have a million findings; the engine writes them to the `findings` table as it
goes and hands back an `Evaluated`, which counts them by severity and status and streams
them from the table (in report order) whenever it is iterated. It is a view of the stored
rows: evaluating the scan again replaces what it shows. `read_findings` is the one reader
of stored findings, the reports' too.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, overload

from sqlalchemy import ColumnElement, Connection, Engine, RowMapping, case, func, select

from rules.model import SEVERITIES, SEVERITY_RANK, Finding
from rules.suppressions import SuppressionUsage
from scanner.errors import StoreError
from scanner.store.schema import findings

_FETCH = 2000


@dataclass(frozen=True)
class RuleRun:
    """What one rule did in an evaluation: findings written and seconds taken."""

    rule_id: str
    findings: int
    seconds: float


class Evaluated(Sequence[Finding]):
    """The findings of one evaluated scan: a Sequence read from the findings table."""

    def __init__(
        self,
        engine: Engine,
        scan_id: str,
        counts: Mapping[tuple[str, str], int],
        rule_runs: Sequence[RuleRun] = (),
        suppression_usage: SuppressionUsage | None = None,
        *,
        owners_seconds: float = 0.0,
    ) -> None:
        self.engine = engine
        self.scan_id = scan_id
        self.counts: Mapping[tuple[str, str], int] = dict(counts)
        self.rule_runs: tuple[RuleRun, ...] = tuple(rule_runs)
        self.suppression_usage = suppression_usage or SuppressionUsage()
        self.owners_seconds = owners_seconds  # the owner pass (rules/owners.py)
        self._total = sum(self.counts.values())

    @classmethod
    def stored(cls, engine: Engine, scan_id: str) -> Evaluated:
        """The findings the scan's last evaluation stored, counted in the database."""
        query = (
            select(findings.c.severity, findings.c.status, func.count())
            .where(findings.c.scan_id == scan_id)
            .group_by(findings.c.severity, findings.c.status)
        )
        with engine.connect() as conn:
            counts = {(str(sev), str(state)): int(n) for sev, state, n in conn.execute(query)}
        return cls(engine, scan_id, counts)

    def __len__(self) -> int:
        return self._total

    def __iter__(self) -> Iterator[Finding]:
        return _stream(self.engine, self.scan_id)

    @overload
    def __getitem__(self, index: int) -> Finding: ...

    @overload
    def __getitem__(self, index: slice) -> list[Finding]: ...

    def __getitem__(self, index: int | slice) -> Finding | list[Finding]:
        if isinstance(index, slice):
            return list(self)[index]
        position = index + self._total if index < 0 else index
        if not 0 <= position < self._total:
            raise IndexError(index)
        return list(_stream(self.engine, self.scan_id, offset=position, limit=1))[0]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, str | bytes):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<Evaluated scan {self.scan_id}: {self._total} findings>"

    def tally(self, *, status: str | None = None, at_or_above: str | None = None) -> int:
        """How many findings have `status` and a severity at or above `at_or_above`."""
        limit = SEVERITY_RANK[at_or_above] if at_or_above is not None else len(SEVERITIES)
        return sum(
            n
            for (severity, state), n in self.counts.items()
            if (status is None or state == status)
            and SEVERITY_RANK.get(severity, len(SEVERITIES)) <= limit
        )


def report_order(dialect_name: str) -> list[ColumnElement[Any]]:
    """ORDER BY terms giving Finding.sort_key's order (code-point string order).

    PostgreSQL compares under the "C" collation (UTF-8 bytes, which order like code
    points); SQLite's default BINARY collation does the same, so both match Python.
    """
    rank = case(
        {name: rank for name, rank in SEVERITY_RANK.items()},
        value=findings.c.severity,
        else_=len(SEVERITIES),
    )
    texts: list[ColumnElement[Any]] = [
        findings.c.rule_id,
        findings.c.site,
        func.coalesce(findings.c.org_public_id, ""),
        findings.c.resource_id,
        findings.c.resource_type,
        findings.c.id,
    ]
    if dialect_name == "postgresql":  # compare bytes like Python does, not by locale
        texts = [t.collate("C") for t in texts]
    return [rank, *texts]


def read_findings(
    conn: Connection, scan_id: str, *, offset: int | None = None, limit: int | None = None
) -> Iterator[Finding]:
    """The findings rows of one scan, in report order (Finding.sort_key), streamed.

    StoreError when a stored row cannot be read back (bad JSON, a non-timestamp).
    """
    query = (
        select(findings)
        .where(findings.c.scan_id == scan_id)
        .order_by(*report_order(conn.dialect.name))
        .offset(offset)
        .limit(limit)
    )
    result = conn.execute(query, execution_options={"yield_per": _FETCH})
    for row in result.mappings():
        yield read_finding(row)


def read_finding(row: RowMapping) -> Finding:
    """One `findings` row as a Finding: JSON columns decoded, first_seen naive UTC."""
    finding_id = str(row["id"])
    return Finding(
        id=finding_id,
        rule_id=str(row["rule_id"]),
        severity=str(row["severity"]),
        status=str(row["status"]),
        title=str(row["title"]),
        detail=str(row["detail"]),
        site=str(row["site"]),
        org_public_id=_opt_str(row["org_public_id"]),
        org_name=_opt_str(row["org_name"]),
        target=str(row["target"]),
        resource_type=str(row["resource_type"]),
        resource_id=str(row["resource_id"]),
        resource_name=_opt_str(row["resource_name"]),
        first_seen=naive_utc(row["first_seen"]),
        controls=_controls(row["controls"], finding_id),
        suppression=_suppression(row["suppression"], finding_id),
        owner=_opt_str(row["owner"]),
    )


def naive_utc(value: object) -> datetime:
    """A timestamp read from the database as naive UTC (the store's convention)."""
    if not isinstance(value, datetime):
        raise StoreError(f"expected a timestamp in the database, got {type(value).__name__}")
    if value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def _stream(
    engine: Engine, scan_id: str, *, offset: int | None = None, limit: int | None = None
) -> Iterator[Finding]:
    with engine.connect() as conn:
        yield from read_findings(conn, scan_id, offset=offset, limit=limit)


def _controls(raw: object, finding_id: str) -> tuple[str, ...]:
    known = _CONTROLS.get(raw) if isinstance(raw, str) else None
    if known is not None:  # a rule's findings share their controls: decode them once
        return known
    value = _json(raw, finding_id, "controls")
    if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
        raise StoreError(f"finding {finding_id}: controls is not a JSON list of strings")
    if len(_CONTROLS) >= 4096:
        _CONTROLS.clear()
    _CONTROLS[str(raw)] = tuple(value)
    return _CONTROLS[str(raw)]


_CONTROLS: dict[str, tuple[str, ...]] = {}  # controls JSON text -> decoded


def _suppression(raw: object, finding_id: str) -> Mapping[str, Any] | None:
    if raw is None:
        return None
    value = _json(raw, finding_id, "suppression")
    if value is None:
        return None
    if not isinstance(value, dict):
        raise StoreError(f"finding {finding_id}: suppression is not a JSON object")
    return MappingProxyType(value)


def _json(raw: object, finding_id: str, field: str) -> object:
    if not isinstance(raw, str):
        raise StoreError(f"finding {finding_id}: {field} is not JSON text")
    try:
        value: object = json.loads(raw)
    except ValueError as exc:
        raise StoreError(f"finding {finding_id}: {field} is not valid JSON ({exc})") from exc
    return value


def _opt_str(value: object) -> str | None:
    return None if value is None else str(value)
