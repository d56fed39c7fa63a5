"""A seeded history of nightly scans for the trends and index.html tests.

Each `Night` says how many open findings each target has per severity; a finding's id is
`<target>-<severity>-<k>`, so a count that grows adds new findings and one that shrinks
resolves some. Every night also holds a suppressed and a not-assessed finding per target,
which no trend counts, and its coverage: one row per endpoint and target, `gaps` of
them partial, one unavailable (which counts as complete).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, insert

from reports import write_reports
from reports.index_page import write_index
from scanner.store import lifecycle
from scanner.store.schema import ENDPOINTS, coverage, findings, scans, targets

TARGETS = (("prod-us1", "datadoghq.com", "abc123", "Acme Zürich Prod"),
           ("prod-eu1", "datadoghq.eu", "def456", "Acme EU"))


@dataclass(frozen=True)
class Night:
    """One scan: its status, the targets it covered and their open findings."""

    id: str
    status: str = "complete"
    open: Mapping[tuple[int, str], int] = field(default_factory=dict)  # (target, severity)
    targets: tuple[int, ...] = (0, 1)
    gaps: int = 0  # coverage rows of target 0 left partial

    @property
    def started_at(self) -> datetime:
        """The start time its id begins with."""
        return datetime.strptime(self.id[:16], "%Y%m%dT%H%M%SZ")


def night_id(day: int, suffix: str = "aaaaaa") -> str:
    """The id of the scan started on November `day`, 2026 at 02:00 UTC."""
    return f"202611{day:02d}T020000Z-{suffix}"


# A finding appears, persists, resolves and comes back; night 3 failed, night 2 is partial
# and left prod-eu1 out; night 6 is still running.
HISTORY: tuple[Night, ...] = (
    Night(night_id(1), open={(0, "high"): 2, (0, "low"): 1, (1, "critical"): 1}),
    Night(night_id(2), status="partial", targets=(0,), gaps=2,
          open={(0, "high"): 3, (0, "low"): 1}),
    Night(night_id(3), status="failed", open={(0, "high"): 9}),
    Night(night_id(4), open={(0, "high"): 1, (0, "medium"): 2, (1, "critical"): 1,
                             (1, "info"): 3}),
    Night(night_id(5), open={(0, "high"): 2, (0, "medium"): 2, (1, "critical"): 2}),
    Night(night_id(6), status="running", open={(0, "critical"): 7}),
)


def insert_night(engine: Engine, night: Night) -> None:
    """Insert one night's scan row, targets, coverage and findings."""
    started = night.started_at
    finished = None if night.status == "running" else started + timedelta(minutes=5)
    rows: list[dict[str, object]] = []
    for t in night.targets:
        target, site, org, name = TARGETS[t]
        where = {"scan_id": night.id, "target": target, "site": site, "org_public_id": org}
        opened = [(f"{target}-{sev}-{k}", sev, "open")
                  for (i, sev), n in sorted(night.open.items()) if i == t for k in range(n)]
        others = [(f"{target}-sup", "low", "suppressed"), (f"{target}-na", "high",
                                                            "not_assessed")]
        rows += [{**where, "id": fid, "severity": sev, "rule_id": "DDA-KEY-004"
                  if status == "not_assessed" else "DDA-KEY-001",
                  "status": status, "title": "t", "detail": "d", "org_name": name,
                  "resource_type": "application_key", "resource_id": fid,
                  "resource_name": fid, "first_seen": started, "controls": json.dumps([]),
                  "suppression": None} for fid, sev, status in opened + others]
    with engine.begin() as conn:
        conn.execute(insert(scans), [{
            "id": night.id, "started_at": started, "finished_at": finished,
            "status": night.status, "tool_version": "0.1.0", "config_sha256": "c" * 64,
            "rulepack_sha256": "e" * 64, "evaluated_at": finished}])
        conn.execute(insert(targets), [
            {"scan_id": night.id, "target": TARGETS[t][0], "site": TARGETS[t][1],
             "org_public_id": TARGETS[t][2], "org_name": TARGETS[t][3]}
            for t in night.targets])
        conn.execute(insert(coverage), [
            {"scan_id": night.id, "target": TARGETS[t][0], "site": TARGETS[t][1],
             "org_public_id": TARGETS[t][2], "endpoint": endpoint,
             "status": coverage_status(night, t, e), "collected": 1, "expected": 1}
            for t in night.targets for e, endpoint in enumerate(ENDPOINTS)])
        if rows:
            conn.execute(insert(findings), rows)


def coverage_status(night: Night, target: int, endpoint: int) -> str:
    """The status of endpoint number `endpoint` of `target` in `night`."""
    if target == 0 and endpoint < night.gaps:
        return "partial"
    return "unavailable" if endpoint == len(ENDPOINTS) - 1 else "complete"


def run_history(engine: Engine, output: Path, nights: Sequence[Night] = HISTORY) -> None:
    """Each night as the pipeline runs it: stored, its bundle written (complete and partial
    ones, into `output/<id>/`) and stamped reported, then index.html rewritten."""
    for night in nights:
        insert_night(engine, night)
        if night.status in ("complete", "partial"):
            write_reports(engine, night.id, output / night.id)
            lifecycle.reported(engine, night.id)
        write_index(output, engine)
