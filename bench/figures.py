"""One figure of a bench run (name, target, measured value, ratio) and the JSON all benches share.

Each bench script prints its own report and, with `--json PATH`, also writes its headline
figures as a JSON list of `Figure`s; `bench/all.py` (`make bench`) runs the benches at
their default sizes and prints every figure in one table.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class Figure:
    """A measured figure against its target: `ratio` = measured / bound (<= 1.0 meets it)."""

    bench: str  # "collect", "rules", "report"
    name: str  # e.g. "scale 10: wall time vs bound"
    target: str  # human text of the bound, e.g. "<= 1.10x bound" or "<= 150 MB"
    measured: float
    unit: str  # "s", "MB", "ms", "x", "429s", "requests"
    ratio: float | None = None  # measured / target bound; None when there is no number

    @property
    def met(self) -> bool | None:
        """True when the figure meets its target, None when it has no numeric bound."""
        return None if self.ratio is None else self.ratio <= 1.0


def write_figures(path: Path, figures: Iterable[Figure]) -> None:
    """Write `figures` as a JSON list (the `--json` output of every bench)."""
    path.write_text(json.dumps([asdict(f) for f in figures], indent=2) + "\n",
                    encoding="utf-8")


def read_figures(path: Path) -> list[Figure]:
    """Read a list written by `write_figures`."""
    return [Figure(**row) for row in json.loads(path.read_text(encoding="utf-8"))]
