"""Crash trials: SIGKILL `ddaudit scan` mid-collection or mid-evaluation, then check and recover.

Each trial starts the CLI in a child process against the simulator, waits for the phase
it aims at (the scan's row, or its coverage rows once collection is recorded), sleeps a
random part of that phase's length and kills the child with SIGKILL, so no handler runs.
It then checks the SQLite file, the earlier complete scan (rows, bundle, a fresh report)
and the killed scan's status, and recovers with `scan --resume` or a new `scan`.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import reports
from reports.manifest import verify_bundle
from scanner.config import load_config
from scanner.demo import simulator_config
from scanner.pipeline import RuleStage
from scanner.simulator import SimulatedDatadog
from scanner.simulator.model import Estate
from scanner.store import schema
from scanner.store.database import open_store
from tests.ops.conftest import write_toml

POLL = 0.002


@dataclass(frozen=True)
class CrashTrial:
    """One kill and what was found after it."""

    number: int
    aim: str  # collection | evaluation
    phase: str  # where the kill landed: collection | evaluation | report
    delay: float  # seconds into the phase
    left_as: str  # the killed scan's status straight after the kill
    integrity: str  # SQLite's integrity_check
    earlier_intact: bool  # rows unchanged, bundle verifies, report renders again
    recovery: str  # resume | new scan
    recovery_exit: int
    killed_final: str  # the killed scan's status after the recovery

    @property
    def ok(self) -> bool:
        """Everything the issue asks of a crash held."""
        final = "complete" if self.recovery == "resume" else "failed"
        return (self.left_as == "running" and self.integrity == "ok" and self.earlier_intact
                and self.recovery_exit in (0, 1) and self.killed_final == final)


class CrashLab:
    """A simulator, a config and an earlier complete scan to kill later scans beside."""

    def __init__(self, estate: Estate, folder: Path, *, latency: float = 0.01) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.server = SimulatedDatadog.start_in_thread(estate, latency=latency)
        self.db = folder / "ddaudit.db"
        config = simulator_config(estate, dict(self.server.urls), folder / "out",
                                  f"sqlite:///{self.db}", fail_on="critical")
        self.toml, self.env = write_toml(config, folder)
        self.config = load_config(self.toml, self.env)
        started = time.monotonic()
        child = self._start()
        scan_id = self._wait_for("SELECT id FROM scans", set(), child)
        collected = time.monotonic()
        self._wait_for("SELECT scan_id FROM coverage", set(), child)
        evaluated = time.monotonic()
        self._wait_for("SELECT id FROM scans WHERE finished_at IS NOT NULL", set(), child)
        finished = time.monotonic()
        assert child.wait(120) in (0, 1), child.stderr.read() if child.stderr else ""
        self.phase_seconds = {"collection": max(0.05, evaluated - collected),
                              "evaluation": max(0.05, finished - evaluated)}
        self.startup = collected - started
        self.earlier = scan_id
        self.earlier_rows = self._population(scan_id)
        self.too_late = 0  # kills that landed after the phase aimed at (redone)

    def close(self) -> None:
        """Stop the simulator."""
        self.server.stop()

    def _start(self, *args: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, "-m", "scanner.cli", "scan", "--config",
                                 str(self.toml), *args], env=self.env, cwd=self.folder,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def _query(self, sql: str) -> list[tuple[object, ...]]:
        with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=30) as conn:
            return conn.execute(sql).fetchall()

    def _wait_for(self, sql: str, known: set[str], child: subprocess.Popen[bytes]) -> str:
        while True:
            try:
                fresh = {str(r[0]) for r in self._query(sql)} - known
            except sqlite3.OperationalError:
                fresh = set()  # the schema is still being created
            if fresh:
                return fresh.pop()
            if child.poll() is not None:
                raise RuntimeError("the scan ended before the phase to kill it in")
            time.sleep(POLL)

    def _population(self, scan_id: str) -> dict[str, int]:
        return {name: int(str(self._query(f"SELECT count(*) FROM {name} WHERE scan_id = "
                                          f"'{scan_id}'")[0][0]))
                for name in schema.POPULATION_TABLES}

    def trial(self, number: int, rng: random.Random) -> CrashTrial:
        """Kill one scan at a random moment of the phase its number aims at; recover."""
        aim = "collection" if number % 2 else "evaluation"
        known = {str(r[0]) for r in self._query("SELECT id FROM scans")}
        child = self._start()
        scan_id = self._wait_for("SELECT id FROM scans", known, child)
        if aim == "evaluation":
            self._wait_for(f"SELECT scan_id FROM coverage WHERE scan_id = '{scan_id}'",
                           set(), child)
        delay = rng.uniform(0, self.phase_seconds[aim])
        time.sleep(delay)
        if child.poll() is not None:
            self.too_late += 1
            raise RuntimeError("the scan finished before the kill")
        os.kill(child.pid, signal.SIGKILL)
        child.wait(30)
        phase = self._phase(scan_id)
        if phase == "report":
            self.too_late += 1  # the scan was done: no longer a kill during evaluation
            self._start().wait(120)
            raise RuntimeError("the kill landed after the evaluation")
        left_as = str(self._query(f"SELECT status FROM scans WHERE id = '{scan_id}'")[0][0])
        integrity = str(self._query("PRAGMA integrity_check")[0][0])
        intact = self._earlier_intact()
        resume = number % 4 in (1, 2)  # both aims meet both recoveries
        recovery = self._start(*(["--resume"] if resume else []))
        code = recovery.wait(120)
        final = str(self._query(f"SELECT status FROM scans WHERE id = '{scan_id}'")[0][0])
        return CrashTrial(number, aim, phase, delay, left_as, integrity, intact,
                          "resume" if resume else "new scan", code, final)

    def _phase(self, scan_id: str) -> str:
        coverage = self._query(f"SELECT count(*) FROM coverage WHERE scan_id = '{scan_id}'")
        if not coverage[0][0]:
            return "collection"
        finished = self._query(f"SELECT finished_at FROM scans WHERE id = '{scan_id}'")
        return "evaluation" if finished[0][0] is None else "report"

    def _earlier_intact(self) -> bool:
        status = self._query(f"SELECT status FROM scans WHERE id = '{self.earlier}'")
        if status != [("complete",)] or self._population(self.earlier) != self.earlier_rows:
            return False
        bundle = self.config.output / self.earlier
        if not verify_bundle(bundle).ok:
            return False
        engine = open_store(self.config.database)
        try:
            evaluation = RuleStage.from_config(self.config)
            reports.write_reports(engine, self.earlier, bundle, pack=evaluation.pack,
                                  suppressions=evaluation.suppressions,
                                  disabled_rules=evaluation.settings.disabled)
        finally:
            engine.dispose()
        return verify_bundle(bundle).ok


def run_trials(lab: CrashLab, count: int, seed: int = 1) -> Iterator[CrashTrial]:
    """`count` trials, alternating the phase aimed at; a kill that came too late is redone."""
    rng = random.Random(seed)
    number = 0
    while number < count:
        try:
            trial = lab.trial(number + 1, rng)
        except RuntimeError:
            continue
        number += 1
        yield trial
