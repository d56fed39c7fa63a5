"""The Slack sink: a readable message for an incoming webhook (fallback text and blocks)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import aiohttp

from reports.notify import text
from reports.notify.digest import Digest
from reports.notify.transport import post
from scanner.config_notify import NotifySink

SECTION_LIMIT = 3000  # characters of one section block's text
HEADER_LIMIT = 150  # characters of a header block


def escape(value: str) -> str:
    """Slack's mrkdwn control characters, escaped as Slack asks."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _section(markdown: str) -> dict[str, Any]:
    if len(markdown) > SECTION_LIMIT:
        markdown = markdown[:SECTION_LIMIT - 1] + "…"
    return {"type": "section", "text": {"type": "mrkdwn", "text": markdown}}


def message(digest: Digest) -> dict[str, Any]:
    """The incoming-webhook payload: `text` for notifications, `blocks` for the channel."""
    facts = digest.facts
    summary = [f"*Events:* {', '.join(digest.events)}"]
    if facts.status != "failed":
        summary.append(escape(text.counts_line(facts)))
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text",
                                    "text": digest.headline[:HEADER_LIMIT]}},
        _section("\n".join(summary)),
    ]
    for section in text.sections(digest):
        lines = [f"*{section.title} ({section.total})*"]
        lines += [f"• {escape(line)}" for line in section.lines]
        if section.more:
            lines.append(f"_… and {section.more} more (see the report)_")
        blocks.append(_section("\n".join(lines)))
    if digest.report_url:
        where = f"<{digest.report_url}|Open the report>"
    else:
        where = escape(text.report_line(digest))
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": where}]})
    return {"text": digest.headline, "blocks": blocks}


async def send(sink: NotifySink, digest: Digest, session: aiohttp.ClientSession,
               sent_at: datetime) -> None:
    """POST the message to the sink's incoming-webhook URL."""
    assert sink.url is not None  # the config requires url_env for Slack
    body = json.dumps(message(digest), ensure_ascii=False).encode("utf-8")
    await post(session, sink.url.reveal(), body, {"Content-Type": "application/json"})


def preview(sink: NotifySink, digest: Digest, sent_at: datetime) -> str:
    """The payload, indented."""
    return json.dumps(message(digest), indent=2, ensure_ascii=False) + "\n"
