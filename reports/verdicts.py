"""Which findings of a scan are new, changed or gone since another scan, in SQL.

Each verdict is a condition on the `findings` table (a look-up in the other scan's ids,
hashed or indexed by the database), so a diff of two scans of a million findings holds
neither; `flagged` streams a scan's findings with their verdicts.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

from sqlalchemy import ColumnElement, select

from reports.stream import StoredFindings
from rules.model import Finding
from rules.results import read_finding
from scanner.store.schema import findings


class FindingRow(NamedTuple):
    """A finding as the reports stream it, with what the diff says of it."""

    finding: Finding
    new: bool  # not in the previous scan (every finding is new when there is none)
    changed: bool  # in the previous scan with another severity or status


def new_since(previous_id: str) -> ColumnElement[bool]:
    """Findings whose id the previous scan does not have."""
    other = findings.alias("other")
    return findings.c.id.not_in(select(other.c.id).where(other.c.scan_id == previous_id))


def changed_since(previous_id: str) -> ColumnElement[bool]:
    """Findings the previous scan has with another severity or status."""
    other = findings.alias("other")
    known = select(other.c.id).where(other.c.scan_id == previous_id)
    same = select(_key(other.c.id, other.c.severity, other.c.status)).where(
        other.c.scan_id == previous_id)
    return findings.c.id.in_(known) & _key(
        findings.c.id, findings.c.severity, findings.c.status).not_in(same)


def unassessed_in(scan_id: str) -> ColumnElement[bool]:
    """Findings whose rule scan `scan_id` could not assess for their target."""
    other = findings.alias("other")
    return _key(findings.c.rule_id, findings.c.target).in_(
        select(_key(other.c.rule_id, other.c.target))
        .where(other.c.scan_id == scan_id, other.c.status == "not_assessed"))


def _key(first: ColumnElement[str], *rest: ColumnElement[str]) -> ColumnElement[str]:
    """Columns joined by `|` into one value: an IN on one value is a hash or index look-up
    on both databases, where SQLite scans for a tuple (`first`, a finding or rule id,
    never holds a `|`, so no two tuples give the same key)."""
    key = first
    for column in rest:
        key = key + "|" + column
    return key


def gone(before: StoredFindings, after_id: str) -> StoredFindings:
    """Findings of `before` that scan `after_id` no longer has (not-assessed ones aside)."""
    return before.where(new_since(after_id), findings.c.status != "not_assessed")


def flagged(now: StoredFindings, previous_id: str | None) -> Iterator[FindingRow]:
    """`now` in report order, each finding with its diff verdict against `previous_id`."""
    if previous_id is None:
        for f in now:
            yield FindingRow(f, True, False)
        return
    query = now.query(new_since(previous_id).label("ddaudit_new"),
                      changed_since(previous_id).label("ddaudit_changed"))
    for row in now.rows(query):
        yield FindingRow(read_finding(row), bool(row["ddaudit_new"]),
                         bool(row["ddaudit_changed"]))


def gone_rows(before: StoredFindings, after_id: str) -> Iterator[tuple[Finding, bool]]:
    """The findings `before` had and scan `after_id` has not, each with True when its rule
    was not assessed for its target in `after_id` (else it is resolved); report order."""
    missing = gone(before, after_id)
    for row in missing.rows(missing.query(unassessed_in(after_id).label("ddaudit_unassessed"))):
        yield read_finding(row), bool(row["ddaudit_unassessed"])
