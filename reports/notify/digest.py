"""One digest per scan and sink: what it announces, and its versioned JSON (the webhook body)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from reports.notify.facts import Item, ScanFacts
from scanner.config_notify import NotifySink
from scanner.timeutil import isoformat_z

SCHEMA = "ddaudit.notification/1"
T = TypeVar("T")


@dataclass(frozen=True)
class Digest:
    """What one sink is told about one scan.

    `events` are the sink's `on` events this scan raises and the sink was not yet told
    (empty: nothing to send). `new` and `regressed` are every finding announced (a message
    lists the first `max_items` of each, and counts them all); `seen` are findings
    announced before and still unresolved, whose ledger rows move on to this scan.
    """

    sink: NotifySink
    facts: ScanFacts
    events: tuple[str, ...]
    new: tuple[Item, ...]
    regressed: tuple[Item, ...]
    seen: tuple[str, ...]
    report_path: str | None
    report_url: str | None

    @property
    def due(self) -> bool:
        """True when there is something to send."""
        return bool(self.events)

    @property
    def announced(self) -> tuple[str, ...]:
        """Ids of every finding this digest announces."""
        return tuple(i.id for i in (*self.new, *self.regressed))

    @property
    def report(self) -> str | None:
        """Where the report is: its public URL when configured, else its path."""
        return self.report_url or self.report_path

    def shown(self, items: Sequence[T]) -> Sequence[T]:
        """The first `max_items` of a list (the rest are only counted)."""
        return items[:self.sink.max_items]

    @property
    def headline(self) -> str:
        """One line: scan, status and what is announced."""
        facts = self.facts
        parts = [f"ddaudit scan {facts.id} {facts.status}"]
        if facts.status != "failed":
            parts.append(f"{len(self.new)} new, {len(self.regressed)} regressed at "
                         f"{self.sink.min_severity} or above")
        if facts.status == "partial":
            parts.append(f"{len(facts.gaps)} coverage gaps")
        return ": ".join(parts[:2]) + "".join(f"; {p}" for p in parts[2:])

    def as_json(self, sent_at: datetime) -> dict[str, Any]:
        """The `ddaudit.notification/1` document (docs/notifications.md)."""
        facts = self.facts
        return {
            "schema": SCHEMA,
            "sink": self.sink.name,
            "events": list(self.events),
            "sent_at": isoformat_z(sent_at),
            "scan": facts.scan_json(),
            "min_severity": self.sink.min_severity,
            "counts": {"open": dict(facts.open_by_severity), "open_total": facts.open_total,
                       "suppressed": facts.suppressed, "not_assessed": facts.not_assessed},
            "new": _group(self.new, self.shown(self.new)),
            "regressed": _group(self.regressed, self.shown(self.regressed)),
            "not_assessed": _group(facts.unassessed, self.shown(facts.unassessed)),
            "coverage_gaps": _group(facts.gaps, self.shown(facts.gaps)),
            "report": {"path": self.report_path, "url": self.report_url},
        }

    def body(self, sent_at: datetime) -> bytes:
        """The JSON document as the exact bytes that are sent (and signed)."""
        return json.dumps(self.as_json(sent_at), ensure_ascii=False, sort_keys=True,
                          separators=(",", ":")).encode("utf-8")


def _group(every: Sequence[Any], shown: Sequence[Any]) -> dict[str, Any]:
    return {"count": len(every), "items": [item.as_json() for item in shown]}
