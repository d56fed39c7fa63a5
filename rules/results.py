"""The outcome of one evaluation: counts at hand, the findings themselves read back on demand.

A scan can have a million findings; the engine writes them to the `findings` table as it
goes and hands back an `Evaluated`, which counts them by severity and status and streams
them from the table (in report order) whenever it is iterated. It is a view of the stored
rows: evaluating the scan again replaces what it shows.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, overload

from sqlalchemy import ColumnElement, Engine, RowMapping, case, func, select

from rules.model import SEVERITIES, SEVERITY_RANK, Finding
from rules.suppressions import SuppressionUsage
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
    ) -> None:
        self.engine = engine
        self.scan_id = scan_id
        self.counts: Mapping[tuple[str, str], int] = dict(counts)
        self.rule_runs: tuple[RuleRun, ...] = tuple(rule_runs)
        self.suppression_usage = suppression_usage or SuppressionUsage()
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
    """ORDER BY terms giving Finding.sort_key's order (code-point string order)."""
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


def _stream(
    engine: Engine, scan_id: str, *, offset: int | None = None, limit: int | None = None
) -> Iterator[Finding]:
    query = (
        select(findings)
        .where(findings.c.scan_id == scan_id)
        .order_by(*report_order(engine.dialect.name))
        .offset(offset)
        .limit(limit)
    )
    with engine.connect() as conn:
        result = conn.execute(query, execution_options={"yield_per": _FETCH})
        for row in result.mappings():
            yield _finding(row)


def _finding(row: RowMapping) -> Finding:
    return Finding(
        id=row["id"],
        rule_id=row["rule_id"],
        severity=row["severity"],
        status=row["status"],
        title=row["title"],
        detail=row["detail"],
        site=row["site"],
        org_public_id=row["org_public_id"],
        org_name=row["org_name"],
        target=row["target"],
        resource_type=row["resource_type"],
        resource_id=row["resource_id"],
        resource_name=row["resource_name"],
        first_seen=row["first_seen"],
        controls=tuple(json.loads(row["controls"])),
        suppression=None if row["suppression"] is None else json.loads(row["suppression"]),
    )
