"""One rule's findings written by SQLite itself: INSERT INTO findings SELECT from its condition.

On SQLite the condition rows need not travel into Python and back. One INSERT ... SELECT
wraps the condition, renders each detail sentence in SQL (rows.Detail.sql) and calls back
into Python once per row for the finding id (rows.FindingIds), which also drops the rows
of targets not assessed and ids already given; first_seen comes from finding_history by a
join. What it writes is what the streaming path (rules.evaluate) writes for the same rows,
column for column: values that are not text get Python's str() through a function too.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from rules.model import REQUIRED_COLUMNS, Rule
from rules.params import render_value, statement
from rules.rows import Detail, FindingIds
from scanner.errors import RuleError

_ID, _TEXT, _SHOWN = "ddaudit_finding_id", "ddaudit_text", "ddaudit_shown"
_NAMES = "ddaudit_target_names"  # TEMP table: the org name of each target, for this evaluation


class SqliteFindings:
    """Writes rules' findings with INSERT ... SELECT, over one evaluation's connection.

    `names` gives each target's org name; `history`, whether finding_history has rows to
    take first_seen from. `close` removes the functions and the table it added.
    """

    def __init__(self, conn: Connection, names: Mapping[str, str | None], history: bool) -> None:
        self.conn, self.history = conn, history
        driver = conn.connection.driver_connection
        assert isinstance(driver, sqlite3.Connection)  # the pysqlite dialect's connection
        self.driver = driver
        self.driver.create_function(_TEXT, 1, str)
        self.driver.create_function(_SHOWN, 1, render_value)
        conn.exec_driver_sql(
            f"CREATE TEMP TABLE IF NOT EXISTS {_NAMES} (target TEXT PRIMARY KEY, org_name TEXT)")
        conn.exec_driver_sql(f"DELETE FROM temp.{_NAMES}")
        if names:
            conn.exec_driver_sql(f"INSERT INTO temp.{_NAMES} VALUES (?, ?)",
                                 list(names.items()))

    def write(self, rule: Rule, values: Mapping[str, Any], ids: FindingIds,
              controls: str) -> int | None:
        """Insert the rule's open findings (`controls`: their JSON list); return how many.

        None: the condition does not run as a subquery (it ends with ";", say), so nothing
        was written; the caller streams it instead, which runs it as it is.
        """
        errors = (SQLAlchemyError, self.conn.dialect.loaded_dbapi.Error)
        condition = f"(\n{rule.condition}\n)"  # own lines: a closing comment ends there
        try:
            stmt, params = statement(f"SELECT * FROM {condition} AS c LIMIT 0", values)
            columns = list(self.conn.execute(stmt, params).keys())
        except errors:
            return None
        absent = [c for c in REQUIRED_COLUMNS if c not in columns]
        if absent:
            raise RuleError(f"{rule.path}: field 'condition' must return column {absent[0]}")
        detail, binds = Detail(rule, columns, values).sql("f.{}", _SHOWN)
        binds.update(ddaudit_rule=rule.id, ddaudit_severity=rule.severity,
                     ddaudit_title=rule.title, ddaudit_controls=controls)
        stmt, params = statement(self._insert(condition, detail), {**values, **binds})
        self.driver.create_function(_ID, 5, ids)
        try:
            self.conn.execute(stmt, params)
        except errors as exc:
            if ids.error is not None:
                raise ids.error from None
            message = str(getattr(exc, "orig", exc)).splitlines()[0]
            raise RuleError(f"{rule.path}: field 'condition' failed: {message}") from exc
        finally:
            self.driver.create_function(_ID, 5, None)
        return ids.new

    def _insert(self, condition: str, detail: str) -> str:
        first_seen, join = ":now", ""
        if self.history:  # Python's FindingHistory.first_seen, as a join
            first_seen = "CASE WHEN h.first_seen < :now THEN h.first_seen ELSE :now END"
            join = "LEFT JOIN finding_history h ON h.id = f.ddaudit_id"
        # LIMIT keeps SQLite from merging the inner SELECT into the outer one, which could
        # then call the id function twice for a row (and find it given already).
        return f"""
INSERT INTO findings (scan_id, id, rule_id, severity, status, title, detail, site,
                      org_public_id, org_name, target, resource_type, resource_id,
                      resource_name, first_seen, controls, suppression)
SELECT :scan_id, f.ddaudit_id, :ddaudit_rule, :ddaudit_severity, 'open', :ddaudit_title,
       {detail}, {_text("f.site")}, {_text("f.org_public_id", null=True)},
       (SELECT n.org_name FROM temp.{_NAMES} n
        WHERE n.target = f.target AND typeof(f.target) = 'text'),
       {_text("f.target")}, {_text("f.resource_type")}, {_text("f.resource_id")},
       {_text("f.resource_name", null=True)}, {first_seen}, :ddaudit_controls, NULL
FROM (SELECT c.*, {_ID}(c.target, c.site, c.org_public_id, c.resource_type, c.resource_id)
                  AS ddaudit_id
      FROM {condition} AS c LIMIT -1) AS f
{join}
WHERE f.ddaudit_id IS NOT NULL"""

    def close(self) -> None:
        """Drop the TEMP table and the functions."""
        self.conn.exec_driver_sql(f"DROP TABLE IF EXISTS temp.{_NAMES}")
        self.driver.create_function(_TEXT, 1, None)
        self.driver.create_function(_SHOWN, 1, None)


def _text(column: str, *, null: bool = False) -> str:
    """str(value) as the streaming path stores it; NULL kept as NULL when `null`."""
    keep = f"{column} IS NULL OR " if null else ""
    return f"CASE WHEN {keep}typeof({column}) = 'text' THEN {column} ELSE {_TEXT}({column}) END"
