"""The output-format interface: a renderer names the bundle files it writes and streams each one.

A renderer never touches the disk: it yields the bytes of one bundle file in chunks, and
the bundle (reports.bundle) writes them, hashing and measuring as they go. A renderer that
refers to other files by hash (OSCAL back-matter, the manifest) says so by running in a
later `Phase`: it then finds the SHA-256 and size of every file written in the phases
before its own in `RenderInput.written`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import IntEnum
from typing import ClassVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine

from reports.atomic import Written
from reports.context import ReportContext
from reports.listings import Listing
from reports.manifest import PreviousLink


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
