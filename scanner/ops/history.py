"""Scan history and retention: `ddaudit scans list` and `ddaudit prune --keep-days N`."""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Column, ColumnElement, Connection, Engine, func, select

from reports.index_page import refresh_index
from scanner.store import lifecycle
from scanner.store.schema import SETTLED, coverage, findings, targets
from scanner.timeutil import utcnow

log = logging.getLogger(__name__)
_CHUNK = 50  # scans deleted per transaction


@dataclass(frozen=True)
class ScanListing:
    """One row of `ddaudit scans list`."""

    id: str
    started_at: datetime
    finished_at: datetime | None
    status: str
    shards: int | None
    targets: int
    incomplete: int  # coverage rows (target, endpoint) not complete
    open_findings: int
    findings: int
    evaluated_at: datetime | None = None
    reported_at: datetime | None = None

    @property
    def unfinished_stage(self) -> str | None:
        """'unevaluated' or 'unreported' for a collected scan whose run stopped short.

        A complete or partial scan with no report since its last evaluation: killed while
        writing its bundle, collected by `ddaudit collect` alone, or re-evaluated since.
        `ddaudit report --scan ID` (after `ddaudit evaluate --scan ID` when unevaluated)
        writes it, as does `ddaudit scan --resume` for the latest scan.
        """
        if self.status not in lifecycle.COLLECTED or self.reported_at is not None:
            return None
        return "unevaluated" if self.evaluated_at is None else "unreported"

    @property
    def label(self) -> str:
        """The status as `scans list` shows it, e.g. 'complete, unreported'."""
        stage = self.unfinished_stage
        return self.status if stage is None else f"{self.status}, {stage}"

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form (times as ISO 8601 UTC)."""
        def iso(t: datetime | None) -> str | None:
            return None if t is None else t.strftime("%Y-%m-%dT%H:%M:%SZ")
        return {"id": self.id, "started_at": iso(self.started_at),
                "finished_at": iso(self.finished_at), "status": self.status,
                "shards": self.shards, "targets": self.targets,
                "incomplete_coverage": self.incomplete, "open_findings": self.open_findings,
                "findings": self.findings, "evaluated_at": iso(self.evaluated_at),
                "reported_at": iso(self.reported_at), "unfinished": self.unfinished_stage}


def list_scans(engine: Engine, limit: int | None = None) -> list[ScanListing]:
    """The most recent scans first, with their target, coverage and finding counts."""
    with engine.connect() as conn:
        rows = lifecycle.recent(conn, limit)
        ids = [r["id"] for r in rows]
        n_targets = _counts(conn, targets.c.scan_id, ids)
        n_bad = _counts(conn, coverage.c.scan_id, ids, coverage.c.status.notin_(SETTLED))
        n_open = _counts(conn, findings.c.scan_id, ids, findings.c.status == "open")
        n_all = _counts(conn, findings.c.scan_id, ids)
    return [ScanListing(r["id"], r["started_at"], r["finished_at"], r["status"], r["shards"],
                        n_targets.get(r["id"], 0), n_bad.get(r["id"], 0),
                        n_open.get(r["id"], 0), n_all.get(r["id"], 0), r["evaluated_at"],
                        r["reported_at"]) for r in rows]


def _counts(conn: Connection, column: Column[Any], ids: Sequence[str],
            *where: ColumnElement[bool]) -> dict[str, int]:
    out: dict[str, int] = {}
    for start in range(0, len(ids), 500):
        chunk = list(ids[start:start + 500])
        query = select(column, func.count()).where(column.in_(chunk), *where).group_by(column)
        out.update({str(k): int(v) for k, v in conn.execute(query).all()})
    return out


@dataclass
class PruneResult:
    """What `prune` removed (or would remove, with dry_run)."""

    scans: list[str] = field(default_factory=list)
    rows: int = 0
    folders: int = 0
    kept_latest: str | None = None
    seconds: float = 0.0


def prune(engine: Engine, output: Path, keep_days: int, *, now: datetime | None = None,
          dry_run: bool = False) -> PruneResult:
    """Delete scans started more than `keep_days` ago: their rows and output folders.

    Never deletes the latest complete scan, nor a scan still running; when it deleted
    any, `<output>/index.html` is rewritten without them. finding_history is
    left alone on purpose: when a finding was first seen is history, so a finding still
    open in a kept scan keeps the first_seen of a pruned one.
    """
    began = time.perf_counter()
    cutoff = (now or utcnow()) - timedelta(days=keep_days)
    keep = lifecycle.latest_complete(engine)
    old = lifecycle.prunable(engine, cutoff)
    result = PruneResult(scans=[s for s in old if s != keep], kept_latest=keep)
    if dry_run:
        return result
    for start in range(0, len(result.scans), _CHUNK):
        chunk = result.scans[start:start + _CHUNK]
        with engine.begin() as conn:
            result.rows += lifecycle.remove(conn, chunk)
        for scan_id in chunk:
            result.folders += _remove_folder(output, scan_id)
    if result.scans:
        refresh_index(output, engine)  # index.html no longer lists them; a failure only warns
    result.seconds = time.perf_counter() - began
    log.info("pruned %d scans older than %d days (%d rows, %d folders) in %.2fs",
             len(result.scans), keep_days, result.rows, result.folders, result.seconds)
    return result


def _remove_folder(output: Path, scan_id: str) -> int:
    """Remove `<output>/<scan_id>` if it is a folder there (never anything outside)."""
    if not scan_id or scan_id != Path(scan_id).name or scan_id.startswith("."):
        return 0
    folder = output / scan_id
    if folder.is_dir() and not folder.is_symlink():
        shutil.rmtree(folder)
        return 1
    return 0


def mark_abandoned(engine: Engine) -> list[str]:
    """Mark failed the unsharded scans left 'running' by a killed run; return their ids.

    Call only while holding the global run lock: then no such scan can really be running.
    The move itself is lifecycle.abandoned.
    """
    return lifecycle.abandoned(engine)
