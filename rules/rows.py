"""What a condition row becomes in a finding: its id (once per rule) and its detail sentence.

Both ways of evaluating a rule use these: rows streamed through Python (rules.evaluate) and
rows kept inside SQLite (rules.sqlite_findings), which renders the detail in SQL with the
same result and calls back into `FindingIds` for the id.
"""

from __future__ import annotations

import hashlib
import string
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from rules.model import Rule
from rules.params import ISO_TIMESTAMP, Shown, render_value
from scanner.errors import RuleError

_FORMATTER = string.Formatter()
_ISO_MATCH = ISO_TIMESTAMP.match


class FindingIds:
    """The ids of one rule's findings: model.fingerprint, each given out once.

    Calling it with a row's target and key columns gives the finding id, or None when the
    target is skipped (not assessed) or the id was given already (duplicate targets of one
    org give one finding). A resource type the rule does not declare is a RuleError.
    """

    def __init__(self, rule: Rule, skipped: Collection[str], seen: set[str]) -> None:
        self.rule, self.skipped, self.seen = rule, skipped, seen
        self.prefix = f"{rule.id}|"
        self.types = frozenset(rule.resource_types)
        self.new = 0  # ids given out
        self.error: RuleError | None = None

    def __call__(self, target: object, site: object, org: object, rtype: object,
                 rid: object) -> str | None:
        """The id of the finding of this row, or None to drop the row."""
        if target in self.skipped:
            return None
        rtype = rtype if type(rtype) is str else str(rtype)
        if rtype not in self.types:
            # kept: SQLite reports an exception in a function it calls as its own error
            self.error = RuleError(
                f"{self.rule.path}: field 'condition' returned resource_type {rtype!r}, "
                f"not one of {', '.join(self.rule.resource_types)}"
            )
            raise self.error
        org = "" if org is None else org
        # model.fingerprint, inlined: sha256 of "rule|site|org|type|id", 32 hex digits
        fid = hashlib.sha256(f"{self.prefix}{site}|{org}|{rtype}|{rid}".encode()).hexdigest()
        fid = fid[:32]
        if fid in self.seen:
            return None
        self.seen.add(fid)
        self.new += 1
        return fid


class Detail:
    """A rule's detail template, parsed once for the columns of its condition.

    A placeholder names a column of the row or, failing that, a bind value (a parameter);
    `{col:text}` shows `text` where the value is NULL (default "unknown"). `render(row)`
    fills it in Python; `sql(...)` gives the SQLite expression that fills it the same way.
    """

    def __init__(self, rule: Rule, columns: Sequence[str], values: Mapping[str, Any]) -> None:
        self.parts: list[tuple[str, int, str]] = []  # (literal, column index or -1, text)
        self.columns = tuple(columns)
        index = {name: i for i, name in enumerate(columns)}
        for literal, field, spec, _conversion in _FORMATTER.parse(rule.detail):
            if field is None:
                self.parts.append((literal, -1, ""))
            elif field in index:
                self.parts.append((literal, index[field], spec or "unknown"))
            elif field in values:
                self.parts.append((literal, -1, format(Shown(values[field]), spec or "")))
            else:
                raise RuleError(f"{rule.path}: field 'detail' cannot be filled: {field!r}")

    def render(self, row: Sequence[Any]) -> str:
        """The detail sentence of one row."""
        out: list[str] = []
        for literal, i, text in self.parts:
            out.append(literal)
            if i < 0:
                out.append(text)
                continue
            value = row[i]
            if value is None:
                out.append(text)
            elif type(value) is str:  # the common case, without render_value's other checks
                # value[4] == "-" is what every ISO timestamp has: most names skip the regex
                iso = len(value) >= 19 and value[4] == "-" and _ISO_MATCH(value)
                out.append(value[:10] if iso else value)
            elif type(value) is datetime and value.year >= 1000:  # PostgreSQL's timestamps
                out.append(value.isoformat()[:10])  # strftime's %Y, only faster
            else:
                out.append(render_value(value))
        return "".join(out)

    def sql(self, column: str, shown: str) -> tuple[str, dict[str, str]]:
        """SQLite: an expression giving render()'s sentence, and the values it binds.

        `column` formats a column name into the expression naming it; `shown` names a SQL
        function that is render_value. Texts are bound, never spliced into the SQL.
        """
        pieces: list[str] = []
        binds: dict[str, str] = {"ddaudit_iso": _ISO_GLOB, "ddaudit_iso_like": _ISO_LIKE}
        for n, (literal, i, text) in enumerate(self.parts):
            binds[f"ddaudit_literal_{n}"] = literal + (text if i < 0 else "")
            pieces.append(f":ddaudit_literal_{n}")
            if i >= 0:
                binds[f"ddaudit_null_{n}"] = text
                pieces.append(_shown_sql(column.format(_quoted(self.columns[i])),
                                         f":ddaudit_null_{n}", shown))
        return " || ".join(pieces) or "''", binds


# render() in SQLite terms. Text that is an ISO timestamp in ASCII digits shows its date;
# text shaped like one but with other digits (Python's \d takes any), and values that are
# neither text nor integers, go to render_value itself. As in render(), a fifth character
# other than "-" settles that text is no timestamp without matching the pattern.
_ISO_GLOB = "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9][ T][0-9][0-9]:[0-9][0-9]:[0-9][0-9]*"
_ISO_LIKE = "????-??-??[ T]??:??:??*"


def _shown_sql(value: str, null: str, shown: str) -> str:
    return (f"CASE WHEN {value} IS NULL THEN {null}"
            f" WHEN typeof({value}) = 'text' THEN"
            f" CASE WHEN substr({value}, 5, 1) <> '-' THEN {value}"
            f" WHEN {value} GLOB :ddaudit_iso THEN substr({value}, 1, 10)"
            f" WHEN {value} GLOB :ddaudit_iso_like THEN {shown}({value})"
            f" ELSE {value} END"
            f" WHEN typeof({value}) = 'integer' THEN CAST({value} AS TEXT)"
            f" ELSE {shown}({value}) END")


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
