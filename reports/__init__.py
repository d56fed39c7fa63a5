"""Reports of one scan, written into its output folder: the evidence bundle (INTERFACES.md).

report.html, findings.json, findings.csv, findings.ocsf.jsonl, assessment-results.json,
population.json, listings/<type>.csv, run.json, manifest.json and (when a signing key is
configured) manifest.sig. The same scan always gives the same bytes.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from sqlalchemy import Engine

from reports.context import ReportContext, build_context
from reports.diff import diff_reports
from reports.findings_csv import render_findings_csv
from reports.findings_json import render_findings_json
from reports.html import render_html
from reports.listings import load_listings, render_population
from reports.load import ScanReport, latest_finished_scan, load_scan, load_suppression_usage
from reports.manifest import (
    MANIFEST,
    SIGNATURE,
    load_signing_key,
    previous_link,
    render_manifest,
    sha256_hex,
)
from reports.ocsf import render_ocsf
from reports.oscal import evidence_names, render_oscal
from reports.runinfo import render_run
from rules.model import RulePack
from rules.suppressions import Suppressions
from scanner import __version__
from scanner.errors import OutputError, RuleError

__all__ = [
    "ReportContext", "ScanReport", "build_bundle", "load_context", "load_scan",
    "render_findings_json", "render_html", "write_reports",
]

DIR_MODE = 0o700
FILE_MODE = 0o600  # the files are security evidence: owner only
LISTINGS = "listings"


def load_context(
    engine: Engine,
    scan_id: str,
    *,
    pack: RulePack | None = None,
    suppressions: Suppressions | None = None,
    disabled_rules: frozenset[str] = frozenset(),
) -> ReportContext:
    """Load scan `scan_id`, its previous finished scan (for the diff) and the rule metadata.

    Without `pack`, the built-in rule pack gives the rule metadata. The suppressions'
    usage is the one stored when the scan was evaluated; `suppressions` (the current
    file) is used only for a scan evaluated before that was stored.
    """
    report = load_scan(engine, scan_id)
    previous_id = latest_finished_scan(engine, before=report.scan.started_at)
    previous = None if previous_id is None else load_scan(engine, previous_id)
    if pack is None:
        pack = _builtin_pack()
    return build_context(report, diff_reports(previous, report), pack=pack,
                         suppressions=suppressions, disabled_rules=disabled_rules,
                         recorded=load_suppression_usage(engine, scan_id))


def _builtin_pack() -> RulePack | None:
    from rules.loader import load_rulepack

    try:
        return load_rulepack()
    except RuleError:  # pragma: no cover - the built-in pack is tested to load
        return None


def build_bundle(
    engine: Engine,
    scan_id: str,
    out_dir: Path,
    *,
    pack: RulePack | None = None,
    suppressions: Suppressions | None = None,
    disabled_rules: frozenset[str] = frozenset(),
    signing_key: Path | None = None,
) -> dict[str, bytes]:
    """Render every file of the bundle (path inside the bundle -> bytes) without writing.

    `out_dir` is only used to find the previous scan's manifest beside it (the chain).
    """
    key = None if signing_key is None else load_signing_key(signing_key)
    ctx = load_context(engine, scan_id, pack=pack, suppressions=suppressions,
                       disabled_rules=disabled_rules)
    listings = load_listings(engine, scan_id)
    texts = {
        "findings.json": render_findings_json(ctx.report),
        "findings.csv": render_findings_csv(ctx.report),
        "findings.ocsf.jsonl": render_ocsf(ctx, __version__),
        "population.json": render_population(ctx.report, listings),
        "run.json": render_run(ctx, __version__),
        "report.html": render_html(ctx),
    }
    texts.update({listing.path: listing.text for listing in listings})
    files = {name: text.encode("utf-8") for name, text in texts.items()}
    evidence = {n: (sha256_hex(files[n]), len(files[n])) for n in evidence_names(files)}
    files["assessment-results.json"] = render_oscal(ctx, evidence, __version__).encode("utf-8")
    previous = ctx.diff.from_scan
    link = previous_link(out_dir.parent, None if previous is None else previous.id)
    manifest, signature = render_manifest(ctx.report.scan.id, files, link, key)
    files[MANIFEST] = manifest
    if signature is not None:
        files[SIGNATURE] = signature
    return files


def write_reports(
    engine: Engine,
    scan_id: str,
    out_dir: Path,
    *,
    pack: RulePack | None = None,
    suppressions: Suppressions | None = None,
    disabled_rules: frozenset[str] = frozenset(),
    signing_key: Path | None = None,
) -> Path:
    """Write the evidence bundle of scan `scan_id` into `out_dir`; return report.html's path.

    `pack`, `suppressions` and `disabled_rules` are those the scan was evaluated with (rule
    metadata, expired and unused suppressions, disabled rules); `signing_key` is the
    `[evidence] signing_key` PEM file. `out_dir` is created (mode 0o700) when missing; each
    file is written atomically with mode 0o600, manifest.json last. Raises OutputError when
    the folder cannot be written, StoreError when the database cannot be read, ConfigError
    when the scan does not exist or the signing key is unusable.
    """
    # Render everything before touching the disk: a rendering bug leaves no file behind.
    files = build_bundle(engine, scan_id, out_dir, pack=pack, suppressions=suppressions,
                         disabled_rules=disabled_rules, signing_key=signing_key)
    _make_dir(out_dir)
    _make_dir(out_dir / LISTINGS)
    _remove_stale(out_dir, files)
    for name in sorted(files, key=lambda n: (n in (MANIFEST, SIGNATURE), n)):
        target = out_dir / name
        _write_atomic(target.parent, target.name, files[name])
    return out_dir / "report.html"


def _remove_stale(out_dir: Path, files: dict[str, bytes]) -> None:
    """Drop files an earlier export wrote that this one does not (a listing, manifest.sig)."""
    stale = [out_dir / SIGNATURE] + sorted((out_dir / LISTINGS).glob("*.csv"))
    for path in stale:
        if path.relative_to(out_dir).as_posix() not in files and path.is_file():
            try:
                path.unlink()
            except OSError as exc:
                raise _output_error(out_dir, f"{path.name}: {exc.strerror or exc}") from exc


def _make_dir(out_dir: Path) -> None:
    try:
        out_dir.mkdir(mode=DIR_MODE, parents=True, exist_ok=False)
    except FileExistsError:
        if not out_dir.is_dir():
            raise _output_error(out_dir, "it exists and is not a folder") from None
        return  # an existing folder keeps its mode; the files inside are 0o600 anyway
    except OSError as exc:
        raise _output_error(out_dir, exc.strerror or str(exc)) from exc
    try:
        os.chmod(out_dir, DIR_MODE)  # the umask may have removed bits we asked for
    except OSError as exc:
        raise _output_error(out_dir, exc.strerror or str(exc)) from exc


def _write_atomic(out_dir: Path, name: str, data: bytes) -> None:
    """Write `data` to `out_dir/name` via a temp file and os.replace: never a half file."""
    tmp_path: str | None = None
    try:
        fd, tmp_path = tempfile.mkstemp(dir=out_dir, prefix=f".{name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), FILE_MODE)
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp_path, out_dir / name)
        tmp_path = None
        _fsync_dir(out_dir)
    except OSError as exc:
        raise _output_error(out_dir, f"{name}: {exc.strerror or exc}") from exc
    finally:
        if tmp_path is not None:
            try:
                os.unlink(tmp_path)
            except OSError:
                pass


def _fsync_dir(path: Path) -> None:
    """Make the rename durable; not every platform lets a folder be opened, so best effort."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _output_error(out_dir: Path, reason: str) -> OutputError:
    return OutputError(
        f"cannot write reports to {out_dir}: {reason}; check the folder and [scan] output"
    )
