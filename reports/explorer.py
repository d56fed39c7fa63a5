"""The findings explorer's data in report.html, written one finding at a time.

Compact JSON inside <script type=application/json>: dictionaries of the repeated strings
(from the findings' counts), then one row per finding of indexes into them and its own
strings, escaped so that no name can close the element.
"""

from __future__ import annotations

import json
from datetime import datetime
from json.encoder import encode_basestring

from reports.context import ReportContext
from rules.model import SEVERITIES, Finding


class Explorer:
    """The findings explorer's data, compact JSON safe inside <script type=application/json>.

    Repeated strings (rules, sites, orgs, targets, types, owners) are indexes into
    dictionaries (from the findings' counts; `owner` ends with null, "no owner", when a
    finding has none); `<`, `>` and `&` are escaped as \\u003c etc., so no name can close
    the element. Written as `prefix`, each `row` (after a comma but the first), and
    `SUFFIX`.
    """

    SUFFIX = "]}"
    STATUSES = ("open", "suppressed", "not_assessed")

    def __init__(self, ctx: ReportContext) -> None:
        summary = ctx.report.findings.summary()
        self.has_previous = ctx.diff.from_scan is not None
        self.rule_ids = sorted({r.rule.id for r in ctx.rules} | summary.values("rule_id"))
        titles = ctx.rule_map
        orgs = {_label(g.org_name, g.org_public_id) for g in summary.groups}
        owned = ctx.report.findings.owners()
        owners: list[str | None] = [*sorted(o for o in owned if o is not None),
                                    *([None] if None in owned else [])]
        self.dictionaries: dict[str, list[str]] = {
            "sev": list(SEVERITIES),
            "status": list(self.STATUSES),
            "rule": self.rule_ids,
            "title": [titles[r].title if r in titles else r for r in self.rule_ids],
            "site": sorted(summary.values("site")),
            "org": sorted(orgs),
            "target": sorted(summary.values("target")),
            "rtype": sorted(summary.values("resource_type")),
        }
        self.owners = owners
        self._index = {name: {v: i for i, v in enumerate(values)}
                       for name, values in self.dictionaries.items()}
        self._owner_index = {v: i for i, v in enumerate(owners)}
        self._known: dict[tuple[str | None, ...], str] = {}
        self._days: dict[datetime, str] = {}

    def prefix(self) -> str:
        """The data up to the first row."""
        document: dict[str, object] = {"v": 1, "hasPrevious": self.has_previous}
        document.update((k, v) for k, v in self.dictionaries.items())
        document["owner"] = self.owners
        return _script_safe(_COMPACT.encode(document)[:-1] + ',"rows":[')

    def row(self, f: Finding, new: bool) -> str:
        """One finding's row (the one place its explorer fields are chosen): the indexes of
        severity, status, rule, site, org, target and type, then resource id, name, detail,
        the day first seen, the new flag and the owner's index."""
        text = "".join((
            self._codes(f), _s(f.resource_id), ",", _s(f.resource_name or ""), ",",
            _s(f.detail), ',"', self._day(f.first_seen), '",',
            "1," if new and self.has_previous else "0,", str(self._owner_index[f.owner]), "]",
        ))
        return _script_safe(text)

    def _codes(self, f: Finding) -> str:
        """`[` and the dictionary indexes of the finding, each with its comma."""
        key = (f.severity, f.status, f.rule_id, f.site, f.org_name, f.org_public_id, f.target,
               f.resource_type)
        text = self._known.get(key)
        if text is None:
            idx = self._index
            codes = (
                idx["sev"].get(f.severity, len(SEVERITIES) - 1), idx["status"].get(f.status, 0),
                idx["rule"][f.rule_id], idx["site"][f.site],
                idx["org"][_label(f.org_name, f.org_public_id)], idx["target"][f.target],
                idx["rtype"][f.resource_type],
            )
            if len(self._known) >= 1024:
                self._known.clear()
            text = self._known[key] = "[" + "".join(f"{c}," for c in codes)
        return text

    def _day(self, value: datetime) -> str:
        text = self._days.get(value)
        if text is None:
            if len(self._days) >= 1024:
                self._days.clear()
            text = self._days[value] = value.strftime("%Y-%m-%d")
        return text


_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_s = encode_basestring  # a JSON string, as json.dumps(ensure_ascii=False) writes it


def _label(name: str | None, public_id: str | None) -> str:
    text = name or "unknown org"
    return f"{text} ({public_id})" if public_id else text


def _script_safe(text: str) -> str:
    return (text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))
