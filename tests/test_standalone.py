"""The repository stands alone: nothing the tests or tools read lies outside its root."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import conftest
from tests.conftest import ROOT

# What the checked files must not mention: the design brief beside the checkout and its
# environment variable. Spelled in pieces so that this file does not mention them itself.
FORBIDDEN = ("../" + "shared", "DDAUDIT_" + "SHARED", "INTERFACES" + ".md")
# Lines that compute the folder above the root on purpose (the guard itself) carry this.
PRAGMA = "standalone: " + "guard"
CHECKED = ("tests", "Makefile", "scripts", "bench", ".ci")
_SKIP_DIRS = frozenset({"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"})
_SKIP_SUFFIXES = (".pyc", ".pyo")

_PARENTS_INDEX = re.compile(r"__file__\)[\w.()]*?\.parents\[(\d+)\]")
_PARENT_CHAIN = re.compile(r"__file__\)(?:\.resolve\(\)|\.absolute\(\))?((?:\.parent\b)+)")
_ROOT_PARENT = re.compile(r"\bROOT\s*\.\s*parent\b|\bROOT\s*/\s*[\"']\.\.")


def _files() -> Iterator[Path]:
    for name in CHECKED:
        path = ROOT / name
        if path.is_file():
            yield path
            continue
        for folder, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS)
            for file in sorted(files):
                if not file.endswith(_SKIP_SUFFIXES):
                    yield Path(folder) / file


def _climbs_above_root(rel: Path, line: str) -> bool:
    """Whether a line computes a folder above the root from its file's own location."""
    if _ROOT_PARENT.search(line):
        return True
    depth = len(rel.parts) - 1  # folders between the root and this file
    if rel.suffix == ".py":
        # parents[depth] is the root; `.parent` k times is parents[k - 1].
        if any(int(m.group(1)) > depth for m in _PARENTS_INDEX.finditer(line)):
            return True
        return any(m.group(1).count(".parent") > depth + 1 for m in _PARENT_CHAIN.finditer(line))
    # Makefile and shell: `..` from a file directly under the root (or one folder down).
    ups = "/".join([".."] * (depth + 1))
    return re.search(rf"(^|[\s\"'=/]){re.escape(ups)}(/|\s|\"|'|$)", line) is not None


def test_no_file_mentions_or_climbs_outside_the_repository() -> None:
    problems = []
    for path in _files():
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        rel = path.relative_to(ROOT)
        for number, line in enumerate(text.splitlines(), 1):
            if PRAGMA in line:
                continue
            for word in FORBIDDEN:
                if word in line:
                    problems.append(f"{rel}:{number}: mentions {word}")
            if _climbs_above_root(rel, line):
                problems.append(f"{rel}:{number}: resolves a path above the repository root")
    assert not problems, "\n".join(problems)


# The samples that climb carry the pragma: they are data for the check, not paths.
@pytest.mark.parametrize(("rel", "line", "climbs"), [
    ("tests/conftest.py", "ROOT = Path(__file__).resolve().parents[1]", False),
    ("tests/conftest.py", "X = Path(__file__).resolve().parents[2]", True),  # standalone: guard
    ("tests/a/b.py", "Path(__file__).resolve().parents[2]", False),  # standalone: guard
    ("tests/a/b.py", "Path(__file__).parent.parent.parent.parent", True),  # standalone: guard
    ("bench/collect.py", "sys.path.insert(0, str(Path(__file__).resolve().parents[1]))", False),
    ("tests/x.py", "SPEC = ROOT.parent / 'spec'", True),  # standalone: guard
    ("Makefile", "\tcp ../spec/x .", True),  # standalone: guard
    (".ci/run", 'cd "$(dirname "$0")/.."', False),
    (".ci/run", 'cd "$(dirname "$0")/../.."', True),  # standalone: guard
])
def test_the_climb_check_itself(rel: str, line: str, climbs: bool) -> None:
    assert _climbs_above_root(Path(rel), line) is climbs


def test_the_audit_hook_records_an_open_beside_the_repository() -> None:
    parent = os.path.dirname(str(ROOT))  # standalone: guard
    beside = os.path.join(parent, "no-such-sibling-of-ddaudit")
    before = len(conftest.OUTSIDE_OPENS)
    with pytest.raises(OSError):
        open(os.path.join(beside, "file"), encoding="utf-8")
    recorded = conftest.OUTSIDE_OPENS[before:]
    del conftest.OUTSIDE_OPENS[before:]  # a deliberate probe, not a failure of the session
    assert recorded == [os.path.join(beside, "file")]
    open(ROOT / "pyproject.toml", encoding="utf-8").close()
    os.listdir(ROOT / "tests")
    assert len(conftest.OUTSIDE_OPENS) == before


def test_the_audit_hook_only_compares_strings() -> None:
    inside = str(ROOT / "tests" / "reference" / "README.md")
    assert not conftest.outside_repository(inside)
    assert not conftest.outside_repository(str(ROOT))
    sibling = str(ROOT) + "-other/file"  # a sibling whose name starts like the root's
    assert conftest.outside_repository(sibling)


def test_no_test_so_far_opened_a_file_beside_the_repository() -> None:
    # The session fails at its end for opens made later (pytest_sessionfinish).
    assert not conftest.OUTSIDE_OPENS, sorted(set(conftest.OUTSIDE_OPENS))
