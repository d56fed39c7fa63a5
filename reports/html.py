"""Render report.html: one self-contained page (Jinja2, autoescaped) under a strict CSP.

Summary, changes, breakdowns, rules, controls, suppressions and coverage are rendered
server-side and read with JavaScript off; the findings explorer is our one inline script
(allowed by its hash) reading an inert JSON data block. No name from the API ever reaches
the page unescaped, and the script builds rows with textContent only.

The page is written from the findings as they stream by (`PageWriter`): each finding is
counted for the server-side tables and its explorer row spooled to an unnamed temp file;
once the last one has gone by, the page is rendered around the spooled rows.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined, Template
from markupsafe import Markup

from reports.context import RULE_STATUSES, ReportContext
from reports.credentials import KINDS, OWNER_STATUSES, Credential, offboarding
from reports.diff import ScanDiff, diff_counts
from reports.explorer import Explorer
from reports.svg import trend_section
from reports.trends import Trends, report_links
from reports.verdicts import FindingRow, flagged
from reports.views import (
    CHANGES_SAMPLE,
    ChangeSamples,
    OrgBreakdown,
    OrgTally,
    OwnerBreakdown,
    OwnerTally,
    RuleSamples,
    RuleSection,
    controls_view,
    org_coverage,
    sample,
)
from rules.model import SEVERITIES, STATUSES
from scanner.store.lifecycle import ScanStatus
from scanner.store.schema import COVERAGE_STATUSES
from scanner.timeutil import isoformat_z

TEMPLATE = "report.html"
STYLESHEET = "report.css"
SCRIPT = "explorer.js"
TREND_STYLESHEET = "trends.css"  # the Trends section's own (reports/trends.py, reports/svg.py)


@cache
def _environment() -> Environment:
    # autoescape=True for every template: every name in the report comes from the API.
    env = Environment(
        loader=PackageLoader("reports", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["ts"] = _ts
    env.filters["duration"] = _duration
    env.filters["css_token"] = _css_token
    return env


def _inline(name: str, forbidden: str) -> tuple[Markup, str]:
    """One of our own (trusted) assets, inlined, and its CSP hash source `sha256-...`."""
    env = _environment()
    if env.loader is None:  # pragma: no cover - set in _environment()
        raise RuntimeError("report templates have no loader")
    text, _, _ = env.loader.get_source(env, name)
    if forbidden in text:
        raise ValueError(f"{name} must not contain {forbidden!r} (it is inlined in the page)")
    digest = base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")
    return Markup(text), f"sha256-{digest}"


@cache
def _stylesheet() -> tuple[Markup, str]:
    return _inline(STYLESHEET, "<")


@cache
def _script() -> tuple[Markup, str]:
    return _inline(SCRIPT, "</")


@cache
def stylesheet(name: str) -> tuple[Markup, str]:
    """Our stylesheet `name` (report.html's trends.css, index.html's) and its CSP hash source."""
    return _inline(name, "<")


def template(name: str) -> Template:
    """A page template of the reports' one environment (index.html shares it)."""
    return _environment().get_template(name)


def content_security_policy() -> str:
    """The page's policy: nothing but our own hashed style and script, no requests at all."""
    _, style_hash = _stylesheet()
    _, script_hash = _script()
    _, trend_hash = stylesheet(TREND_STYLESHEET)
    return (
        f"default-src 'none'; script-src '{script_hash}'; "
        f"style-src '{style_hash}' '{trend_hash}'; "
        "img-src 'none'; connect-src 'none'; base-uri 'none'; form-action 'none'; "
        "require-trusted-types-for 'script'; trusted-types 'none'"
    )


def render_html(ctx: ReportContext, credentials: Sequence[Credential] = (),
                trends: Trends | None = None) -> str:
    """Return report.html for `ctx`, its credential inventory and trends; deterministic."""
    page = PageWriter(ctx, credentials, trends)
    previous = ctx.diff.from_scan
    rows = [page.row(row) for row in flagged(ctx.report.findings,
                                             None if previous is None else previous.id)]
    return page.head() + "".join(rows) + "".join(page.tail())


class PageWriter:
    """report.html from the findings streamed in report order.

    `row` counts each finding for the server-side tables and gives its explorer row; once
    every row has gone by, `head` is the page up to the explorer rows and `tail` the rest.
    """

    def __init__(self, ctx: ReportContext, credentials: Sequence[Credential],
                 trends: Trends | None = None) -> None:
        self.ctx = ctx
        self.credentials = credentials
        self.trends = trends
        self.explorer = Explorer(ctx)
        self.orgs = OrgTally()
        self.owners = OwnerTally()
        self.rules = RuleSamples()
        self.changes = ChangeSamples()
        self._first = True
        self._after = ""

    def row(self, row: FindingRow) -> str:
        """Take one finding; its explorer row (after a comma unless it is the first)."""
        f = row.finding
        self.orgs.add(f)
        self.owners.add(f)
        self.rules.add(f)
        self.changes.add(row)
        text = self.explorer.row(f, row.new)
        if self._first:
            self._first = False
            return text
        return "," + text

    def head(self) -> str:
        """The page up to the first explorer row (once every row has been taken)."""
        before, self._after = render_page(
            self.ctx, self.credentials, self.changes.diff(self.ctx), self.orgs.rows(),
            self.owners.rows(), self.rules.sections(self.ctx), self.trends)
        return before + self.explorer.prefix()

    def tail(self) -> Iterator[str]:
        """The page after the last explorer row."""
        yield self.explorer.SUFFIX
        yield self._after


_ROWS = "\x00ddaudit-explorer-rows\x00"  # where the explorer data goes in the rendered page


def render_page(ctx: ReportContext, credentials: Sequence[Credential], diff: ScanDiff,
                breakdown: Iterable[OrgBreakdown], owners: Iterable[OwnerBreakdown],
                sections: Sequence[RuleSection],
                trends: Trends | None = None) -> tuple[str, str]:
    """The page before and after its explorer data (which the caller writes between)."""
    css, _ = _stylesheet()
    script, _ = _script()
    report = ctx.report
    template = _environment().get_template(TEMPLATE)
    text = template.render(
        ctx=ctx,
        report=report,
        scan=report.scan,
        counts=report.counts,
        incomplete=report.incomplete_coverage,
        diff=diff,
        diff_counts=diff_counts(diff),
        changes_sample=CHANGES_SAMPLE,
        sample=sample,
        org_coverage=org_coverage(ctx),
        breakdown=breakdown,
        owners=owners,
        severities=SEVERITIES,
        rule_sections=sections,
        controls=controls_view(ctx),
        css=css,
        script=script,
        csp=content_security_policy(),
        explorer_data=Markup(_ROWS),
        credentials=credentials,
        offboarding=offboarding(credentials),
        credential_kinds=[(k, sum(1 for c in credentials if c.kind == k)) for k in KINDS],
        owner_statuses=[(s, sum(1 for c in credentials if c.owner_status == s))
                        for s in OWNER_STATUSES],
        trend=None if trends is None else trend_section(trends, report_links(trends)),
        trend_css=stylesheet(TREND_STYLESHEET)[0],
    )
    # The last occurrence: a name from the API (earlier in the page) cannot move the split.
    before, _, after = text.rpartition(_ROWS)
    return before, after


def _ts(value: datetime | None) -> str:
    return isoformat_z(value) or ""


def _duration(scan_start: datetime, scan_end: datetime | None) -> str:
    if scan_end is None:
        return ""
    seconds = max(0, int((scan_end - scan_start).total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


_KNOWN_TOKENS = (
    frozenset(SEVERITIES) | frozenset(STATUSES) | frozenset(RULE_STATUSES)
    | frozenset(s.value for s in ScanStatus)  # the scan's status
    | frozenset(COVERAGE_STATUSES)
    | frozenset(("active", "expired", "unused"))  # suppression entries' states
)


def _css_token(value: object) -> str:
    """A CSS class suffix for a known severity or status; `unknown` for anything else."""
    text = str(value)
    return text.replace("_", "-") if text in _KNOWN_TOKENS else "unknown"
