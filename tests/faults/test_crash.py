"""kill -9 during collection and evaluation: the database and earlier scans survive."""

from __future__ import annotations

from pathlib import Path

import pytest

from scanner.timeutil import utcnow
from tests.faults.crash import CrashLab, run_trials
from tests.faults.harness import make_estate

pytestmark = pytest.mark.slow


def test_kill_9_leaves_a_consistent_database_and_a_recoverable_scan(tmp_path: Path) -> None:
    lab = CrashLab(make_estate(utcnow(), whole=True), tmp_path)  # scans that can complete
    try:
        trials = list(run_trials(lab, 4, seed=3))
    finally:
        lab.close()
    assert {t.aim for t in trials} == {"collection", "evaluation"}
    assert {t.recovery for t in trials} == {"resume", "new scan"}
    for trial in trials:
        assert trial.left_as == "running"  # no handler ran; never taken for complete
        assert trial.integrity == "ok" and trial.earlier_intact
        assert trial.recovery_exit in (0, 1), trial
        # the next locked run marks it failed; a resume completes it as the same scan
        assert trial.killed_final == ("complete" if trial.recovery == "resume" else "failed")
        assert trial.ok
