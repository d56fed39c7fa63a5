"""Assemble the evidence bundle of one scan: load the shared input, run every renderer, commit.

The renderers come from a registry (reports.formats.FORMATS) and run phase by phase; each
phase gets the SHA-256 and size of every file the phases before it wrote. The files made
of the findings (row renderers, of any phase) are written together from one read of the
findings at the start of the first phase; each is finished in its own phase. Every file
is staged before any is renamed into place (reports.atomic), the manifest last.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from reports.atomic import StagedFile, Staging, Written
from reports.context import ReportContext, build_context
from reports.diff import diff_reports
from reports.formats import FORMATS, Registry
from reports.formats.base import Renderer, RenderInput, RowFile, RowRenderer
from reports.listings import load_listings
from reports.load import latest_finished_scan, load_scan, load_suppression_usage
from reports.manifest import load_signing_key, previous_link
from rules.model import RulePack
from rules.suppressions import Suppressions
from scanner import __version__
from scanner.errors import RuleError

REPORT = "report.html"


def load_context(
    engine: Engine,
    scan_id: str,
    *,
    pack: RulePack | None = None,
    suppressions: Suppressions | None = None,
    disabled_rules: frozenset[str] = frozenset(),
) -> ReportContext:
    """Load scan `scan_id`, its previous finished scan (for the diff) and the rule metadata.

    Without `pack`, the built-in rule pack gives the rule metadata. The suppressions'
    usage is the one stored when the scan was evaluated; `suppressions` (the current
    file) is used only for a scan evaluated before that was stored.
    """
    report = load_scan(engine, scan_id)
    previous_id = latest_finished_scan(engine, before=report.scan.started_at)
    previous = None if previous_id is None else load_scan(engine, previous_id)
    if pack is None:
        pack = _builtin_pack()
    return build_context(report, diff_reports(previous, report), pack=pack,
                         suppressions=suppressions, disabled_rules=disabled_rules,
                         recorded=load_suppression_usage(engine, scan_id))


def _builtin_pack() -> RulePack | None:
    from rules.loader import load_rulepack

    try:
        return load_rulepack()
    except RuleError:  # pragma: no cover - the built-in pack is tested to load
        return None


def load_input(
    engine: Engine,
    scan_id: str,
    out_dir: Path,
    *,
    pack: RulePack | None = None,
    suppressions: Suppressions | None = None,
    disabled_rules: frozenset[str] = frozenset(),
    signing_key: Path | None = None,
) -> RenderInput:
    """The input every renderer shares; `out_dir`'s parent holds the previous scan's bundle."""
    key = None if signing_key is None else load_signing_key(signing_key)
    ctx = load_context(engine, scan_id, pack=pack, suppressions=suppressions,
                       disabled_rules=disabled_rules)
    previous = ctx.diff.from_scan
    return RenderInput(
        ctx=ctx,
        listings=load_listings(engine, scan_id),
        tool_version=__version__,
        engine=engine,
        previous=previous_link(out_dir.parent, None if previous is None else previous.id),
        signing_key=key,
    )


def write_bundle(inp: RenderInput, out_dir: Path, formats: Registry = FORMATS) -> dict[
        str, Written]:
    """Render every registered format into `out_dir`; return each file's SHA-256 and size.

    Nothing in `out_dir` changes unless every file rendered: then files an earlier export
    left and this one does not write are removed and the staged files renamed into place,
    phase by phase, path by path (the manifest last).
    """
    renderers = list(formats)
    written: dict[str, Written] = {}
    order: list[str] = []
    with Staging(out_dir) as staging:
        fed: list[_Fed] | None = None
        for phase in sorted({r.phase for r in renderers}):
            phase_input = inp.after(written)
            if fed is None:
                fed = _feed(staging, [r for r in renderers if isinstance(r, RowRenderer)],
                            phase_input)
            rendered = {f.renderer.path: f.finish(phase_input) for f in fed
                        if f.renderer.phase == phase}
            rendered.update({path: staging.write(path, renderer.render(path, phase_input))
                             for renderer in renderers if renderer.phase == phase
                             and not isinstance(renderer, RowRenderer)
                             for path in _paths(renderer, phase_input)})
            written.update(rendered)
            order += sorted(rendered)
        staging.remove_stale(pattern for r in renderers for pattern in r.stale)
        staging.commit(order)
    return written


class _Fed:
    """A row renderer's staged file, its head and rows written, its tail still to come."""

    def __init__(self, renderer: RowRenderer, staged: StagedFile, file: RowFile) -> None:
        self.renderer = renderer
        self.staged = staged
        self.file = file

    def finish(self, inp: RenderInput) -> Written:
        self.file.finish(inp)
        return self.staged.close()


def _feed(staging: Staging, renderers: list[RowRenderer], inp: RenderInput) -> list[_Fed]:
    """Write every row renderer's head and rows from one read of the findings."""
    fed = []
    for renderer in renderers:
        staged = staging.open(renderer.path)
        file = RowFile(renderer, renderer.writer(inp), staged.write, staging.out_dir)
        fed.append(_Fed(renderer, staged, file))
    if fed:
        pairs = [f.file.adder() for f in fed]
        for n, row in enumerate(inp.rows(any(r.flags for r in renderers)), 1):
            for append, text in pairs:
                append(text(row))
            if n % 100 == 0:
                for f in fed:
                    f.file.flush_if_full()
    return fed


def _paths(renderer: Renderer, inp: RenderInput) -> list[str]:
    paths = list(renderer.paths(inp))
    if len(set(paths)) != len(paths):
        raise ValueError(f"output format {renderer.name!r} names a path twice")
    return paths


def write_reports(
    engine: Engine,
    scan_id: str,
    out_dir: Path,
    *,
    pack: RulePack | None = None,
    suppressions: Suppressions | None = None,
    disabled_rules: frozenset[str] = frozenset(),
    signing_key: Path | None = None,
) -> Path:
    """Write the evidence bundle of scan `scan_id` into `out_dir`; return report.html's path.

    `pack`, `suppressions` and `disabled_rules` are those the scan was evaluated with (rule
    metadata, expired and unused suppressions, disabled rules); `signing_key` is the
    `[evidence] signing_key` PEM file. `out_dir` is created (mode 0o700) when missing; each
    file is written atomically with mode 0o600, manifest.json last. Raises OutputError when
    the folder cannot be written, StoreError when the database cannot be read, ConfigError
    when the scan does not exist or the signing key is unusable.
    """
    # Load everything before touching the disk: an unknown scan or a bad key writes nothing.
    inp = load_input(engine, scan_id, out_dir, pack=pack, suppressions=suppressions,
                     disabled_rules=disabled_rules, signing_key=signing_key)
    write_bundle(inp, out_dir)
    return out_dir / REPORT
