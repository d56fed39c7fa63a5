"""The format registry: a new output format is one module and one registry line."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from report_seed import SCAN_ID
from sqlalchemy import Engine

from reports import write_reports
from reports.formats import FORMATS, Phase, Registry, RenderInput, SingleFile
from reports.manifest import sha256_hex, verify_bundle


class Summary(SingleFile):
    """summary.txt: the number of findings, streamed in several chunks."""

    name = "summary"
    path = "summary.txt"

    def render(self, path: str, inp: RenderInput) -> Iterator[bytes]:
        yield b"findings: "
        yield str(len(inp.ctx.report.findings)).encode("ascii")
        yield b"\n"


@pytest.fixture
def summary() -> Iterator[Summary]:
    """Summary registered in the bundle's registry for one test."""
    renderer = FORMATS.register(Summary())
    try:
        yield renderer
    finally:
        FORMATS.unregister(renderer.name)


def test_builtin_formats_in_render_order() -> None:
    assert FORMATS.names() == ["findings-json", "findings-csv", "ocsf", "population", "run",
                               "html", "listings", "credentials", "oscal", "manifest"]
    phases = {r.name: r.phase for r in FORMATS}
    assert phases["oscal"] == Phase.ASSESSMENT and phases["manifest"] == Phase.SEAL
    assert {p for n, p in phases.items() if n not in ("oscal", "manifest")} == {Phase.EVIDENCE}


def test_extra_format_is_written_listed_and_verified(
    summary: Summary, store: Engine, tmp_path: Path
) -> None:
    out = tmp_path / SCAN_ID
    write_reports(store, SCAN_ID, out)
    data = (out / "summary.txt").read_bytes()
    findings = json.loads((out / "findings.json").read_text(encoding="utf-8"))["findings"]
    assert data == f"findings: {len(findings)}\n".encode()
    assert (out / "summary.txt").stat().st_mode & 0o777 == 0o600
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    entry = next(e for e in manifest["files"] if e["path"] == "summary.txt")
    assert entry == {"path": "summary.txt", "sha256": sha256_hex(data), "size": len(data)}
    # An evidence-phase format is evidence: OSCAL's back-matter names it by hash too.
    oscal = json.loads((out / "assessment-results.json").read_text(encoding="utf-8"))
    resources = oscal["assessment-results"]["back-matter"]["resources"]
    rlink = next(r for r in resources if r["title"] == "summary.txt")["rlinks"][0]
    assert rlink["hashes"] == [{"algorithm": "SHA-256", "value": sha256_hex(data)}]
    assert rlink["media-type"] == "application/octet-stream"
    assert verify_bundle(out).ok
    done = subprocess.run([sys.executable, "-m", "scanner.cli", "verify", str(out)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "OK:" in done.stdout, done.stdout + done.stderr


def test_unregistered_format_is_not_written(store: Engine, tmp_path: Path) -> None:
    assert "summary" not in FORMATS
    write_reports(store, SCAN_ID, tmp_path / "out")
    assert not (tmp_path / "out" / "summary.txt").exists()


def test_names_are_unique() -> None:
    registry = Registry([Summary()])
    with pytest.raises(ValueError, match="'summary' is already registered"):
        registry.register(Summary())
    assert registry.unregister("summary").name == "summary"
    assert list(registry) == [] and registry.names() == []
    with pytest.raises(KeyError):
        registry.unregister("summary")
