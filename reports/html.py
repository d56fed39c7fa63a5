"""Render report.html: one self-contained, script-free page for one scan (Jinja2, autoescaped)."""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from reports.load import FINDING_STATUSES, SEVERITIES, ScanReport
from scanner.timeutil import isoformat_z

TEMPLATE = "report.html"
STYLESHEET = "report.css"


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


@cache
def _stylesheet() -> tuple[Markup, str]:
    """The inline CSS (ours, trusted) and its CSP hash source `sha256-...`."""
    env = _environment()
    if env.loader is None:  # pragma: no cover - set in _environment()
        raise RuntimeError("report templates have no loader")
    css, _, _ = env.loader.get_source(env, STYLESHEET)
    if "<" in css:
        raise ValueError(f"{STYLESHEET} must not contain '<' (it is inlined in a <style>)")
    digest = base64.b64encode(hashlib.sha256(css.encode("utf-8")).digest()).decode("ascii")
    return Markup(css), f"sha256-{digest}"


def render_html(report: ScanReport) -> str:
    """Return report.html for `report`; the same scan always gives the same text."""
    css, style_hash = _stylesheet()
    template = _environment().get_template(TEMPLATE)
    return template.render(
        report=report,
        scan=report.scan,
        counts=report.counts,
        incomplete=report.incomplete_coverage,
        css=css,
        style_hash=style_hash,
    )


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


_KNOWN_TOKENS = frozenset(SEVERITIES) | frozenset(FINDING_STATUSES) | frozenset(
    ("complete", "partial", "forbidden", "failed", "running")
)


def _css_token(value: object) -> str:
    """A CSS class suffix for a known severity or status; `unknown` for anything else."""
    text = str(value)
    return text.replace("_", "-") if text in _KNOWN_TOKENS else "unknown"
