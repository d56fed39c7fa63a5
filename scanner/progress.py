"""Collection progress: rich bars on a terminal (targets, endpoints, pages), log lines otherwise.

The CLI installs one reporter per run (`install`); the collection code reports to
`current()` and never needs to know which kind it is. Under cron (stderr not a terminal)
the reporter writes plain or JSON log lines: one per target started and finished, and a
warning for every endpoint not fully collected.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn

from scanner.store.schema import SETTLED

if TYPE_CHECKING:
    from scanner.collect.base import Coverage

log = logging.getLogger("ddaudit.progress")


class Reporter:
    """Receives collection events; this base class logs them (the cron-friendly form)."""

    def start(self, targets: Sequence[str], endpoints: int) -> None:
        """A collection of `targets`, `endpoints` each, begins."""
        log.info("collecting %d target(s), %d endpoints each", len(targets), endpoints)

    def target_started(self, target: str, site: str) -> None:
        """One target's collection begins."""
        log.info("collecting target %s (%s)", target, site)

    def page(self, target: str, endpoint: str, items: int) -> None:
        """One page of `items` arrived for (target, endpoint)."""

    def endpoint_done(self, target: str, coverage: Coverage) -> None:
        """One (target, endpoint) is finished, with its coverage."""
        if coverage.status not in SETTLED:
            log.warning("target %s endpoint %s %s: %s", target, coverage.endpoint,
                        coverage.status, coverage.error or "no detail")

    def target_done(self, target: str, coverage: Sequence[Coverage], requests: int) -> None:
        """One target is finished."""
        bad = [c.endpoint for c in coverage if c.status not in SETTLED]
        items = sum(c.collected for c in coverage)
        log.info("target %s done: %d items, %d requests, %s", target, items, requests,
                 "complete" if not bad else f"incomplete: {', '.join(bad)}")

    def stop(self) -> None:
        """The collection is over (also on error)."""


class RichReporter(Reporter):
    """Live bars on a terminal: all targets, each running target's endpoints, its pages."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._bars = Progress(
            TextColumn("{task.description:<28}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[pages]:>5} pages  {task.fields[items]:>7} items"),
            console=console, transient=False,
        )
        self._overall: TaskID | None = None
        self._tasks: dict[str, TaskID] = {}
        self._counts: dict[str, tuple[int, int]] = {}  # target ("" = all) -> pages, items

    def start(self, targets: Sequence[str], endpoints: int) -> None:
        self._endpoints = endpoints
        self._overall = self._bars.add_task("all targets", total=len(targets), pages=0, items=0)
        self._bars.start()

    def target_started(self, target: str, site: str) -> None:
        self._tasks[target] = self._bars.add_task(f"  {target}", total=self._endpoints,
                                                  pages=0, items=0)

    def page(self, target: str, endpoint: str, items: int) -> None:
        for key, task in ((target, self._tasks.get(target)), ("", self._overall)):
            if task is not None:
                pages, total = self._counts.get(key, (0, 0))
                self._counts[key] = (pages + 1, total + items)
                self._bars.update(task, pages=pages + 1, items=total + items)

    def endpoint_done(self, target: str, coverage: Coverage) -> None:
        if target in self._tasks:
            self._bars.advance(self._tasks[target])
        if coverage.status not in SETTLED:
            self.console.print(f"[yellow]{target} {coverage.endpoint}: {coverage.status}[/] "
                               f"{coverage.error or ''}", markup=True, highlight=False)

    def target_done(self, target: str, coverage: Sequence[Coverage], requests: int) -> None:
        task = self._tasks.pop(target, None)
        if task is not None:
            self._bars.remove_task(task)
        if self._overall is not None:
            self._bars.advance(self._overall)

    def stop(self) -> None:
        self._bars.stop()


_current: Reporter = Reporter()


def install(reporter: Reporter) -> None:
    """Make `reporter` receive the events of every collection from now on."""
    global _current
    _current = reporter


def current() -> Reporter:
    """The reporter collections report to."""
    return _current


def for_terminal(console: Console) -> Reporter:
    """Bars when `console` is an interactive terminal, log lines otherwise."""
    return RichReporter(console) if console.is_terminal else Reporter()
