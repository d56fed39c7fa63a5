"""<output>/index.html: every scan of the output folder, newest first, and the Trends charts.

What it lists (docs/outputs.md, "index.html"):
- each sub-folder that is a scan's bundle: its name is a scan id in the database, or it
  holds run.json or report.html. Its counts and its changes since the previous scan come
  from its own run.json, the summary its report.html was written with: the index agrees
  with the report it links to, and still describes a bundle whose rows were pruned from
  the database (or that another database wrote). Its status comes from the database
  while the scan is there, else from run.json.
- each scan in the database without a folder (failed, never reported, or written to
  another output folder), without counts: a failed night still shows.
Hidden folders, symbolic links, and folders that are none of these (or files, such as the
demo's SQLite database) are not listed. The charts are report.html's Trends section for
the latest finished scan in the database. The page is rewritten atomically (reports.atomic)
after each scan's report is written and after `ddaudit prune` deleted scans.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError

from reports.atomic import Staging
from reports.html import TREND_STYLESHEET, stylesheet, template
from reports.load import latest_finished_scan
from reports.svg import TrendSection, trend_section
from reports.trends import load_trends
from rules.model import SEVERITIES
from rules.results import naive_utc
from scanner import __version__
from scanner.errors import StoreError
from scanner.store.schema import scans

log = logging.getLogger(__name__)

INDEX = "index.html"
TEMPLATE = "index.html"
STYLESHEET = "index.css"
RUN_SCHEMA = "ddaudit.run/1"


@dataclass(frozen=True, slots=True)
class IndexRow:
    """One scan of the index; None where neither its bundle nor the database says."""

    id: str
    started_at: datetime | None
    status: str
    open_by_severity: tuple[int, ...] | None  # SEVERITIES order, from its run.json
    new: int | None
    resolved: int | None
    report: str | None  # href of its report.html, relative to index.html
    note: str  # why something is missing, or ""

    @property
    def open_total(self) -> int | None:
        """Open findings of every severity, when run.json gave them."""
        return None if self.open_by_severity is None else sum(self.open_by_severity)


@dataclass(frozen=True, slots=True)
class _Run:
    """What index.html reads from a bundle's run.json."""

    started_at: datetime | None
    status: str | None
    open_by_severity: tuple[int, ...] | None
    new: int | None
    resolved: int | None


def refresh_index(output: Path, engine: Engine) -> Path | None:
    """Rewrite `<output>/index.html`; never raises: the index is a convenience, not evidence.

    A failure is logged as a warning (the scan's own bundle is already written) and None
    returned; so is an output folder that does not exist (nothing to index).
    """
    if not output.is_dir():
        return None
    try:
        return write_index(output, engine)
    except Exception as exc:  # any failure: the scan and its exit code stand
        log.warning("could not rewrite %s (%s: %s); it is rewritten after the next scan, "
                    "or run 'ddaudit report'", output / INDEX, exc.__class__.__name__, exc)
        return None


def write_index(output: Path, engine: Engine) -> Path:
    """Render index.html for `output` and the database, and rename it into place."""
    page = render_index(output, engine).encode("utf-8")
    with Staging(output) as staging:
        staging.write(INDEX, iter((page,)))
        staging.commit([INDEX])
    return output / INDEX


def index_rows(output: Path, engine: Engine) -> list[IndexRow]:
    """Every scan folder of `output` and every scan of the database, newest first."""
    folders = _bundle_folders(output)
    try:
        with engine.connect() as conn:
            stored = {str(r.id): r for r in conn.execute(
                select(scans.c.id, scans.c.started_at, scans.c.status))}
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot read the scan history: {exc.__class__.__name__}; check "
                         "that the database is reachable and migrated") from exc
    bundles = {n for n, files in folders.items() if n in stored or files}
    rows = [_row(n, folders.get(n, {}), stored.get(n)) for n in bundles | stored.keys()]
    rows.sort(key=lambda r: (r.started_at or _time_of(r.id) or datetime.min, r.id), reverse=True)
    return rows


def render_index(output: Path, engine: Engine) -> str:
    """The page: scan rows newest first, then the Trends section of the latest finished scan."""
    rows = index_rows(output, engine)
    latest = latest_finished_scan(engine)
    trend: TrendSection | None = None
    if latest is not None:
        reports = {r.id: r.report for r in rows if r.report}
        trend = trend_section(load_trends(engine, latest), lambda scan_id, anchor: (
            f"{reports[scan_id]}#{anchor}" if scan_id in reports else None))
    css, css_hash = stylesheet(STYLESHEET)
    trend_css, trend_hash = stylesheet(TREND_STYLESHEET)
    csp = (f"default-src 'none'; script-src 'none'; style-src '{css_hash}' '{trend_hash}'; "
           "img-src 'none'; connect-src 'none'; base-uri 'none'; form-action 'none'")
    return template(TEMPLATE).render(
        rows=rows, trend=trend, severities=SEVERITIES, css=css, trend_css=trend_css, csp=csp,
        folder=output.resolve().name, version=__version__, latest=latest)


def _bundle_folders(output: Path) -> dict[str, dict[str, Path]]:
    """Each visible sub-folder (no link) of `output`, with its run.json and report.html."""
    out: dict[str, dict[str, Path]] = {}
    for entry in sorted(output.iterdir()):
        if entry.name.startswith(".") or entry.is_symlink() or not entry.is_dir():
            continue
        out[entry.name] = {name: entry / name for name in ("run.json", "report.html")
                           if (entry / name).is_file()}
    return out


def _row(name: str, files: Mapping[str, Path], stored: Any) -> IndexRow:
    run = _read_run(files["run.json"]) if "run.json" in files else None
    report = f"{quote(name, safe='')}/report.html" if "report.html" in files else None
    notes = []
    if stored is None:
        notes.append("not in the database (pruned, or another database's scan)")
    if not files:
        notes.append("no bundle in this folder")
    elif run is None:
        notes.append("no readable run.json: counts unknown")
    started = naive_utc(stored.started_at) if stored is not None else (
        run.started_at if run else None)
    status = str(stored.status) if stored is not None else (
        run.status if run and run.status else "unknown")
    return IndexRow(name, started, status, run.open_by_severity if run else None,
                    run.new if run else None, run.resolved if run else None, report,
                    "; ".join(notes))


def _read_run(path: Path) -> _Run | None:
    """The summary of a bundle's run.json; None when it is missing or not ddaudit.run/1."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("schema") != RUN_SCHEMA:
        return None
    scan, results, changes = (_dict(doc.get(k)) for k in ("scan", "results", "changes"))
    by_severity = _dict(results.get("open_by_severity"))
    counts = tuple(_int(by_severity.get(s)) for s in SEVERITIES)
    status = scan.get("status")
    return _Run(
        started_at=_time(scan.get("started_at")),
        status=status if isinstance(status, str) else None,
        open_by_severity=None if None in counts else tuple(n or 0 for n in counts),
        new=_int(changes.get("new")),
        resolved=_int(changes.get("resolved")),
    )


def _dict(value: object) -> dict[str, object]:
    return value if isinstance(value, dict) else {}


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _time(value: object) -> datetime | None:
    try:
        return datetime.strptime(str(value), "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        return None


def _time_of(scan_id: str) -> datetime | None:
    """The start time a scan id begins with (`20261121T020000Z-...`), if it does."""
    try:
        return datetime.strptime(scan_id[:16], "%Y%m%dT%H%M%SZ")
    except ValueError:
        return None
