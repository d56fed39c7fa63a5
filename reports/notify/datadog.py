"""The Datadog sink: one event per scan (POST /api/v1/events) that a monitor can alert on."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import aiohttp

from reports.notify import text
from reports.notify.digest import Digest
from reports.notify.transport import post
from scanner.config_notify import NotifySink
from scanner.sites import api_base_url

EVENTS_PATH = "/api/v1/events"
TITLE_LIMIT = 100  # characters Datadog keeps of a title
TEXT_LIMIT = 4000  # characters Datadog keeps of a text
AGGREGATION_KEY = "ddaudit-scan"


_MARKDOWN = str.maketrans({c: "\\" + c for c in "\\`*_[]()<>#|~!"})


def escape(line: str) -> str:
    """Markdown's control characters escaped: an API name never becomes a link or markup."""
    return line.translate(_MARKDOWN)


def alert_type(digest: Digest) -> str:
    """The event's alert_type: error (failed), warning (partial), info or success (complete).

    A complete scan's event is `info` when it announces findings, else `success`.
    """
    status = digest.facts.status
    if status == "failed":
        return "error"
    if status == "partial":
        return "warning"
    return "info" if digest.new or digest.regressed else "success"


def tags(sink: NotifySink, digest: Digest) -> list[str]:
    """Scan id, status and counts as tags (a monitor filters and groups on them)."""
    facts = digest.facts
    out = ["source:ddaudit", f"ddaudit_scan_id:{facts.id}", f"ddaudit_status:{facts.status}",
           f"ddaudit_new:{len(digest.new)}", f"ddaudit_regressed:{len(digest.regressed)}",
           f"ddaudit_min_severity:{sink.min_severity}"]
    out += [f"ddaudit_open_{sev}:{n}" for sev, n in facts.open_by_severity]
    out += [f"ddaudit_not_assessed:{facts.not_assessed}",
            f"ddaudit_coverage_gaps:{len(facts.gaps)}", *sink.tags]
    return out


def event(sink: NotifySink, digest: Digest) -> dict[str, Any]:
    """The event body: title, Markdown text, tags, alert_type and an aggregation key."""
    lines = [f"Events: {', '.join(digest.events)}"]
    if digest.facts.status != "failed":
        lines.append(escape(text.counts_line(digest.facts)))
    for section in text.sections(digest):
        lines += ["", f"**{escape(section.title)} ({section.total})**"]
        lines += [f"- {escape(line)}" for line in section.lines]
        if section.more:
            lines.append(f"- … and {section.more} more (see the report)")
    lines += ["", escape(text.report_line(digest))]
    body = "\n".join(lines)
    room = TEXT_LIMIT - len("%%% \n\n %%%")
    if len(body) > room:
        body = body[:room - 1] + "…"
    return {"title": digest.headline[:TITLE_LIMIT], "text": f"%%% \n{body}\n %%%",
            "tags": tags(sink, digest), "alert_type": alert_type(digest),
            "aggregation_key": AGGREGATION_KEY, "priority": "normal"}


def events_url(sink: NotifySink) -> str:
    """The events endpoint of the sink's site (or of its api_url)."""
    assert sink.site is not None  # the config requires it for datadog
    base = sink.api_url or api_base_url(sink.site)
    return base.rstrip("/") + EVENTS_PATH


async def send(sink: NotifySink, digest: Digest, session: aiohttp.ClientSession,
               sent_at: datetime) -> None:
    """POST the event with the sink's API key."""
    assert sink.api_key is not None  # the config requires api_key_env for datadog
    body = json.dumps(event(sink, digest), ensure_ascii=False).encode("utf-8")
    await post(session, events_url(sink), body,
               {"Content-Type": "application/json", "DD-API-KEY": sink.api_key.reveal()})


def preview(sink: NotifySink, digest: Digest, sent_at: datetime) -> str:
    """Where the event goes and its body, indented."""
    return (f"POST {events_url(sink)}\n"
            + json.dumps(event(sink, digest), indent=2, ensure_ascii=False) + "\n")
