"""Reports of one scan, written into its output folder: findings.json and report.html."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from sqlalchemy import Engine

from reports.findings_json import render_findings_json
from reports.html import render_html
from reports.load import ScanReport, load_scan
from scanner.errors import OutputError

__all__ = ["ScanReport", "load_scan", "render_findings_json", "render_html", "write_reports"]

DIR_MODE = 0o700
FILE_MODE = 0o600  # the files are security evidence: owner only


def write_reports(engine: Engine, scan_id: str, out_dir: Path) -> Path:
    """Write findings.json and report.html of scan `scan_id` into `out_dir`; return the HTML path.

    `out_dir` is created (mode 0o700) when missing; each file is written atomically with
    mode 0o600. Raises OutputError when the folder cannot be written, StoreError when the
    database cannot be read, ConfigError when the scan does not exist.
    """
    report = load_scan(engine, scan_id)
    # Render everything before touching the disk: a rendering bug leaves no file behind.
    outputs = {
        "findings.json": render_findings_json(report),
        "report.html": render_html(report),
    }
    _make_dir(out_dir)
    for name, text in outputs.items():
        _write_atomic(out_dir, name, text.encode("utf-8"))
    return out_dir / "report.html"


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
