"""The output-format interface: a renderer names the bundle files it writes and streams each one.

A renderer never touches the disk: it yields the bytes of one bundle file in chunks, and
the bundle (reports.bundle) writes them, hashing and measuring as they go. A renderer that
refers to other files by hash (OSCAL back-matter, the manifest) says so by running in a
later `Phase`: it then finds the SHA-256 and size of every file written in the phases
before its own in `RenderInput.written`.

A file made of the findings (findings.json, the CSV, OCSF, the report's explorer, OSCAL)
is a `RowRenderer`: its `RowWriter` gives a head, one text per finding and a tail, and the
bundle feeds every row renderer of a phase from one read of the findings, as they stream
from the database: no renderer ever holds them all.
"""

from __future__ import annotations

import tempfile
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import IntEnum
from pathlib import Path
from typing import ClassVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine

from reports.atomic import Written
from reports.context import ReportContext
from reports.listings import Listing
from reports.manifest import PreviousLink
from reports.verdicts import FindingRow, flagged


class Phase(IntEnum):
    """When a renderer runs; each phase sees what the phases before it wrote, never its own."""

    EVIDENCE = 1  # needs only the scan
    ASSESSMENT = 2  # refers to the evidence files by hash (OSCAL back-matter)
    SEAL = 3  # lists every file written before it (the manifest and its signature)


@dataclass(frozen=True, slots=True)
class RenderInput:
    """Everything a renderer may read; the same for every renderer of one phase.

    `ctx` holds the scan loaded whole; a renderer that streams rows instead reads them
    from `engine` (the snapshot) for scan `ctx.report.scan.id` while it yields.
    """

    ctx: ReportContext
    listings: Sequence[Listing]
    tool_version: str  # the ddaudit that writes the bundle
    engine: Engine | None = None
    previous: PreviousLink | None = None  # the previous scan's bundle, for the chain
    signing_key: Ed25519PrivateKey | None = None
    written: Mapping[str, Written] = field(default_factory=dict)  # earlier phases' files

    def after(self, written: Mapping[str, Written]) -> RenderInput:
        """This input for a later phase: `written` is what the earlier phases wrote."""
        return replace(self, written=dict(written))

    def rows(self, flags: bool = True) -> Iterator[FindingRow]:
        """The scan's findings in report order, streamed from the database.

        With `flags`, each says whether it is new or changed since the previous scan (an
        extra look-up in the database); without, both flags are False.
        """
        findings = self.ctx.report.findings
        previous = self.ctx.diff.from_scan
        if flags:
            return flagged(findings, None if previous is None else previous.id)
        return (FindingRow(f, False, False) for f in findings)


class Renderer(ABC):
    """One output format: its name, the bundle paths it writes, and how to render one of them."""

    name: ClassVar[str]  # unique in the registry, e.g. "findings-json"
    phase: ClassVar[Phase] = Phase.EVIDENCE
    # Globs (inside the bundle) of files an earlier export may have written and this one
    # might not: those this export does not write are removed (a listing, manifest.sig).
    stale: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def paths(self, inp: RenderInput) -> Sequence[str]:
        """The bundle paths (POSIX, relative) this renderer writes for `inp`."""

    @abstractmethod
    def render(self, path: str, inp: RenderInput) -> Iterator[bytes]:
        """Yield the bytes of bundle file `path` (one of `paths(inp)`) in chunks."""


class SingleFile(Renderer):
    """A renderer of one fixed bundle file."""

    path: ClassVar[str]

    def paths(self, inp: RenderInput) -> Sequence[str]:
        """Just `path`."""
        return (self.path,)


def utf8(text: str) -> Iterator[bytes]:
    """A whole rendered text as one chunk of UTF-8 (for renderers that do not stream yet)."""
    yield text.encode("utf-8")


CHUNK = 1 << 16  # characters gathered before they are encoded and handed on


class RowWriter(ABC):
    """One file written from the findings as they stream by: head, a text per row, tail."""

    def head(self) -> str:
        """The text before the first row (asked after the rows when the renderer spools)."""
        return ""

    @abstractmethod
    def row(self, row: FindingRow) -> str:
        """The text of one finding (the one place a finding's fields are formatted)."""

    def tail(self, inp: RenderInput) -> Iterable[str]:
        """The text after the last row, in pieces; `inp` is the input of the file's phase."""
        return ()


class RowRenderer(SingleFile):
    """A file made of the scan's findings in report order, written as they are read.

    The bundle feeds every row renderer from one read of the findings (reports.bundle):
    the head and rows are written during that read, the tail when the renderer's phase
    comes (so an ASSESSMENT renderer's tail sees the evidence files). `render` reads the
    findings for this file alone.
    """

    # True when the writer looks at FindingRow.new / .changed (one more database look-up).
    flags: ClassVar[bool] = False
    # True when the head depends on the rows: they wait in an unnamed temp file until then.
    spooled: ClassVar[bool] = False

    @abstractmethod
    def writer(self, inp: RenderInput) -> RowWriter:
        """A fresh writer of this file for `inp`."""

    def render(self, path: str, inp: RenderInput) -> Iterator[bytes]:
        """The whole file, reading the findings for it alone."""
        chunks: list[bytes] = []
        file = RowFile(self, self.writer(inp), chunks.append)
        for row in inp.rows(self.flags):
            file.add(row)
            if chunks:
                yield from chunks
                chunks.clear()
        file.finish(inp)
        yield from chunks


class RowFile:
    """A row renderer's file while the findings stream by: its text goes to `write`, encoded
    in chunks; a spooled renderer's rows wait in an unnamed temp file (in `spool_dir`)."""

    def __init__(self, renderer: RowRenderer, writer: RowWriter,
                 write: Callable[[bytes], object], spool_dir: Path | None = None) -> None:
        self.writer = writer
        self._write = write
        self._spool = tempfile.TemporaryFile(dir=spool_dir) if renderer.spooled else None
        self._pending = [] if renderer.spooled else [writer.head()]

    def add(self, row: FindingRow) -> None:
        """Write (or spool) one finding's text."""
        self._pending.append(self.writer.row(row))
        if len(self._pending) % 100 == 0:
            self.flush_if_full()

    def adder(self) -> tuple[Callable[[str], None], Callable[[FindingRow], str]]:
        """For a caller feeding many files: where a row's text goes, and the row's text.
        It must call `flush_if_full` every so often (say every 100 rows)."""
        return self._pending.append, self.writer.row

    def flush_if_full(self) -> None:
        """Write (or spool) the texts gathered, once they are CHUNK characters or more."""
        if sum(map(len, self._pending)) >= CHUNK:
            self._flush()

    def finish(self, inp: RenderInput) -> None:
        """Write what is left: the spooled head and rows, then the tail for `inp`."""
        self._flush()
        if self._spool is not None:
            self._write(self.writer.head().encode("utf-8"))
            self._spool.seek(0)
            while chunk := self._spool.read(CHUNK * 4):
                self._write(chunk)
            self._spool.close()
            self._spool = None
        self._pending = list(self.writer.tail(inp))
        self._flush()

    def _flush(self) -> None:
        data = "".join(self._pending).encode("utf-8")
        if data:
            (self._write if self._spool is None else self._spool.write)(data)
        self._pending.clear()  # the same list: `adder` handed out its append
