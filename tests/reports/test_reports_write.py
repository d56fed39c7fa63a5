"""write_reports: the bundle's files, their modes, atomic writes, and one-line errors."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from report_seed import SCAN_ID
from sqlalchemy import Engine

from reports import write_reports
from scanner.errors import ConfigError, OutputError

BUNDLE = [
    "assessment-results.json", "findings.csv", "findings.json", "findings.ocsf.jsonl",
    "listings", "manifest.json", "population.json", "report.html", "run.json",
]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_writes_both_files_with_private_modes(store: Engine, tmp_path: Path) -> None:
    out = tmp_path / "ddaudit-out" / SCAN_ID
    result = write_reports(store, SCAN_ID, out)
    assert result == out / "report.html"
    assert sorted(p.name for p in out.iterdir()) == BUNDLE
    assert _mode(out) == 0o700 and _mode(out / "listings") == 0o700
    files = [p for p in out.rglob("*") if p.is_file()]
    assert len(files) > len(BUNDLE)  # the listings too
    assert all(_mode(p) == 0o600 for p in files)


def test_modes_do_not_depend_on_umask(store: Engine, tmp_path: Path) -> None:
    old = os.umask(0o000)
    try:
        write_reports(store, SCAN_ID, tmp_path / "out")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "out") == 0o700
    assert _mode(tmp_path / "out" / "findings.json") == 0o600


def test_rewrite_replaces_files_and_leaves_no_temp(store: Engine, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.html").write_text("stale")
    os.chmod(out / "report.html", 0o644)
    write_reports(store, SCAN_ID, out)
    assert (out / "report.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert _mode(out / "report.html") == 0o600
    assert sorted(p.name for p in out.iterdir()) == BUNDLE


def test_parent_is_a_file(store: Engine, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    out = blocker / SCAN_ID
    with pytest.raises(OutputError) as info:
        write_reports(store, SCAN_ID, out)
    message = str(info.value)
    assert str(out) in message and "\n" not in message
    assert info.value.exit_code == 4


def test_out_dir_is_a_file(store: Engine, tmp_path: Path) -> None:
    out = tmp_path / "report-file"
    out.write_text("x")
    with pytest.raises(OutputError, match="exists and is not a folder"):
        write_reports(store, SCAN_ID, out)


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores folder permissions")
def test_read_only_folder(store: Engine, tmp_path: Path) -> None:
    out = tmp_path / "ro"
    out.mkdir(mode=0o500)
    try:
        with pytest.raises(OutputError, match=str(out)):
            write_reports(store, SCAN_ID, out)
    finally:
        os.chmod(out, 0o700)


def test_failed_replace_keeps_old_file_and_no_temp(
    store: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    write_reports(store, SCAN_ID, out)
    before = (out / "findings.json").read_bytes()

    def boom(src: str, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OutputError, match="No space left on device"):
        write_reports(store, SCAN_ID, out)
    assert (out / "findings.json").read_bytes() == before
    assert sorted(p.name for p in out.iterdir()) == BUNDLE
    assert not [p for p in out.rglob("*.tmp")]


def test_unknown_scan_writes_nothing(store: Engine, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(ConfigError, match="no scan 'nope'"):
        write_reports(store, "nope", out)
    assert not out.exists()
