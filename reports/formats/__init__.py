"""The output formats of the evidence bundle: one module per format, registered in FORMATS.

A new format is a module defining a `Renderer` (or a `RowRenderer`, for a file made of the
findings; reports.formats.base) plus one line in FORMATS below; the bundle writes it, the
manifest lists it with its SHA-256 and OSCAL's back-matter names it (when it runs in the
evidence phase).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

from reports.formats.base import (
    Phase,
    Renderer,
    RenderInput,
    RowRenderer,
    RowWriter,
    SingleFile,
    utf8,
)
from reports.formats.credentials import Credentials
from reports.formats.findings_csv import FindingsCsv
from reports.formats.findings_json import FindingsJson
from reports.formats.html import Html
from reports.formats.listings import Listings
from reports.formats.manifest import Manifest
from reports.formats.ocsf import Ocsf
from reports.formats.oscal import Oscal
from reports.formats.population import Population
from reports.formats.run import Run

__all__ = ["FORMATS", "Phase", "Registry", "RenderInput", "Renderer", "RowRenderer", "RowWriter",
           "SingleFile", "utf8"]

R = TypeVar("R", bound=Renderer)


class Registry:
    """The renderers of a bundle by name, in registration order (the render order in a phase)."""

    def __init__(self, renderers: Iterable[Renderer] = ()) -> None:
        self._by_name: dict[str, Renderer] = {}
        for renderer in renderers:
            self.register(renderer)

    def register(self, renderer: R) -> R:
        """Add `renderer`; ValueError when its name is taken."""
        if renderer.name in self._by_name:
            raise ValueError(f"an output format named {renderer.name!r} is already registered")
        self._by_name[renderer.name] = renderer
        return renderer

    def unregister(self, name: str) -> Renderer:
        """Remove and return the renderer named `name`; KeyError when there is none."""
        return self._by_name.pop(name)

    def __iter__(self) -> Iterator[Renderer]:
        return iter(list(self._by_name.values()))

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def names(self) -> list[str]:
        """The registered names, in order."""
        return list(self._by_name)


FORMATS = Registry([
    FindingsJson(),
    FindingsCsv(),
    Ocsf(),
    Population(),
    Run(),
    Html(),
    Listings(),
    Credentials(),
    Oscal(),
    Manifest(),
])
