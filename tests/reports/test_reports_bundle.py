"""Bundle assembly: phases see what earlier phases wrote; a failed render changes nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from report_seed import SCAN_ID
from sqlalchemy import Engine

from reports import write_reports
from reports.bundle import load_input, write_bundle
from reports.formats import FORMATS, Phase, Registry, RenderInput, SingleFile
from reports.formats.findings_json import FindingsJson
from reports.formats.manifest import Manifest
from reports.formats.oscal import Oscal
from reports.formats.run import Run
from reports.manifest import sha256_hex, verify_bundle


class Probe(SingleFile):
    """probe.txt in the assessment phase: the names of the files it was shown."""

    name = "probe"
    path = "probe.txt"
    phase = Phase.ASSESSMENT

    def render(self, path: str, inp: RenderInput) -> Iterator[bytes]:
        yield "".join(f"{n} {w.sha256} {w.size}\n" for n, w in sorted(inp.written.items())).encode()


class Broken(SingleFile):
    """broken.txt: fails half way through, after the other formats were staged."""

    name = "broken"
    path = "broken.txt"

    def render(self, path: str, inp: RenderInput) -> Iterator[bytes]:
        yield b"half"
        raise RuntimeError("renderer bug")


class Clone(SingleFile):
    """A second writer of findings.json."""

    name = "clone"
    path = "findings.json"

    def render(self, path: str, inp: RenderInput) -> Iterator[bytes]:
        yield b"{}"


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_each_phase_sees_only_the_phases_before(store: Engine, tmp_path: Path) -> None:
    out = tmp_path / SCAN_ID
    formats = Registry([FindingsJson(), Run(), Probe(), Oscal(), Manifest()])
    written = write_bundle(load_input(store, SCAN_ID, out), out, formats)
    files = _files(out)
    assert sorted(files) == ["assessment-results.json", "findings.json", "manifest.json",
                             "probe.txt", "run.json"]
    assert {n: (w.sha256, w.size) for n, w in written.items()} == {
        n: (sha256_hex(data), len(data)) for n, data in files.items()}
    shown = [line.split(" ") for line in files["probe.txt"].decode().splitlines()]
    assert shown == [[n, sha256_hex(files[n]), str(len(files[n]))]
                     for n in ("findings.json", "run.json")]
    oscal = json.loads(files["assessment-results.json"])
    titles = [r["title"] for r in oscal["assessment-results"]["back-matter"]["resources"]]
    assert titles[1:] == ["findings.json", "run.json"]  # not probe.txt: same phase
    manifest = json.loads(files["manifest.json"])
    assert [e["path"] for e in manifest["files"]] == sorted(set(files) - {"manifest.json"})
    assert verify_bundle(out).ok


def test_failed_render_keeps_the_previous_bundle(store: Engine, tmp_path: Path) -> None:
    out = tmp_path / SCAN_ID
    write_reports(store, SCAN_ID, out)
    (out / "report.html").write_bytes(b"older")  # any later rename would show
    before = _files(out)
    with pytest.raises(RuntimeError, match="renderer bug"):
        write_bundle(load_input(store, SCAN_ID, out), out, Registry([*FORMATS, Broken()]))
    assert _files(out) == before
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]


def test_failed_render_into_a_new_folder_leaves_nothing(store: Engine, tmp_path: Path) -> None:
    out = tmp_path / "out" / SCAN_ID
    with pytest.raises(RuntimeError, match="renderer bug"):
        write_bundle(load_input(store, SCAN_ID, out), out, Registry([*FORMATS, Broken()]))
    assert not out.exists()


def test_two_formats_may_not_write_one_path(store: Engine, tmp_path: Path) -> None:
    out = tmp_path / SCAN_ID
    with pytest.raises(ValueError, match="two renderers write findings.json"):
        write_bundle(load_input(store, SCAN_ID, out), out, Registry([FindingsJson(), Clone()]))
    assert not out.exists()


@pytest.mark.parametrize("path", ["../escape.txt", "/abs.txt", "a/../../b", "", "a//b"])
def test_paths_stay_inside_the_bundle(store: Engine, tmp_path: Path, path: str) -> None:
    class Outside(Clone):
        name = "outside"

    Outside.path = path
    out = tmp_path / SCAN_ID
    with pytest.raises(ValueError, match="not a path inside the bundle"):
        write_bundle(load_input(store, SCAN_ID, out), out, Registry([Outside()]))
    assert not (tmp_path / "escape.txt").exists() and not out.exists()
