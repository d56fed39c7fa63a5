"""Staging: temp files hashed while written, renamed only on commit, removed on failure."""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from reports.atomic import Staging, Written
from scanner.errors import OutputError


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _chunks(*parts: bytes) -> Iterator[bytes]:
    yield from parts


def _temps(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.endswith(".tmp")]


def test_write_hashes_what_was_streamed_and_commit_renames(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with Staging(out) as staging:
        written = staging.write("a/b/c.txt", _chunks(b"hello ", b"", b"world\n"))
        staging.write("top.txt", _chunks(b"x"))
        assert not (out / "a" / "b" / "c.txt").exists()  # staged, not yet in place
        staging.commit(["a/b/c.txt", "top.txt"])
    data = b"hello world\n"
    assert written == Written(hashlib.sha256(data).hexdigest(), len(data))
    assert (out / "a" / "b" / "c.txt").read_bytes() == data
    assert _mode(out) == _mode(out / "a") == _mode(out / "a" / "b") == 0o700
    assert _mode(out / "a" / "b" / "c.txt") == _mode(out / "top.txt") == 0o600
    assert not _temps(out)


def test_failure_removes_temps_and_the_folders_it_made(tmp_path: Path) -> None:
    out = tmp_path / "existing"
    out.mkdir()
    (out / "keep.txt").write_bytes(b"old")
    with pytest.raises(RuntimeError), Staging(out) as staging:
        staging.write("keep.txt", _chunks(b"new"))
        staging.write("sub/x.txt", _chunks(b"x"))
        raise RuntimeError("later renderer failed")
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]
    assert (out / "keep.txt").read_bytes() == b"old"


def test_commit_must_name_every_staged_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="every staged file"), Staging(tmp_path) as staging:
        staging.write("a.txt", _chunks(b"a"))
        staging.write("b.txt", _chunks(b"b"))
        staging.commit(["a.txt"])
    assert not list(tmp_path.iterdir())


def test_remove_stale_drops_old_files_and_killed_exports_temps(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    for name in ("sub/old.csv", "sub/new.csv", "sub/.new.csv.k1ll3d.tmp", ".a.txt.x.tmp",
                 "other.sig", "notes.md"):
        (tmp_path / name).write_bytes(b"left by an earlier export")
    with Staging(tmp_path) as staging:
        staging.write("sub/new.csv", _chunks(b"new"))
        staging.write("a.txt", _chunks(b"a"))
        staging.remove_stale(["sub/*.csv", "other.sig"])
        assert len(_temps(tmp_path)) == 2  # ours, still staged
        staging.commit(["a.txt", "sub/new.csv"])
    remaining = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*"))
    assert remaining == ["a.txt", "notes.md", "sub", "sub/new.csv"]


def test_a_relative_out_dir_keeps_its_own_temps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "out" / "sub").mkdir(parents=True)
    (tmp_path / "out" / "sub" / ".old.csv.k1ll3d.tmp").write_bytes(b"killed")
    with Staging(Path("out")) as staging:
        staging.write("a.txt", _chunks(b"a"))
        staging.write("sub/b.csv", _chunks(b"b"))
        staging.remove_stale(["sub/*.csv"])
        staging.commit(["a.txt", "sub/b.csv"])
    assert (tmp_path / "out" / "a.txt").read_bytes() == b"a"
    assert (tmp_path / "out" / "sub" / "b.csv").read_bytes() == b"b"
    assert not _temps(tmp_path)


def test_a_failed_write_is_an_output_error_naming_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OutputError) as info, Staging(tmp_path / "out") as staging:
        staging.write("listings/users.csv", _chunks(b"x"))
    message = str(info.value)
    assert str(tmp_path / "out" / "listings") in message and "users.csv" in message
    assert "No space left on device" in message and "\n" not in message
    assert not (tmp_path / "out").exists()


def test_out_dir_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(OutputError, match="exists and is not a folder"), Staging(tmp_path / "f"):
        pass
