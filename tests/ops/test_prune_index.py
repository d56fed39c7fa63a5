"""`prune` rewrites <output>/index.html when it deleted scans, and only then."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import Engine

from reports.index_page import write_index
from scanner.ops.history import prune
from tests.ops.test_history import NOW, seed


def _listed(output: Path) -> list[str]:
    return re.findall(r'<tr data-scan="([^"]+)">', (output / "index.html").read_text())


def test_prune_rewrites_the_index_without_the_deleted_scans(store: Engine,
                                                            tmp_path: Path) -> None:
    seed(store, tmp_path, "s100", 100, "complete")
    seed(store, tmp_path, "s5", 5, "complete")
    seed(store, tmp_path, "s1", 1, "partial")
    write_index(tmp_path, store)
    assert _listed(tmp_path) == ["s1", "s5", "s100"]
    assert prune(store, tmp_path, 30, now=NOW).scans == ["s100"]
    assert _listed(tmp_path) == ["s1", "s5"]


def test_a_prune_that_deletes_nothing_leaves_the_folder_alone(store: Engine,
                                                              tmp_path: Path) -> None:
    seed(store, tmp_path, "s5", 5, "complete")
    assert prune(store, tmp_path, 30, now=NOW).scans == []
    assert not (tmp_path / "index.html").exists()
    seed(store, tmp_path, "s100", 100, "complete")
    assert prune(store, tmp_path, 30, now=NOW, dry_run=True).scans == ["s100"]
    assert not (tmp_path / "index.html").exists()  # a dry run changes nothing
