"""POST /api/v1/events: the fake Datadog accepts and records events, as ddaudit's sink posts them.

Like Datadog's v1 events intake: only the API key authenticates (DD-API-KEY, any key of
an org on the site; no application key), the body is an event object whose `title` and
`text` are required, and an accepted event is answered 202 with `{"status": "ok",
"event": {...}}`. A bad key is a 403, a malformed body a 400, each with `{"errors": [...]}`.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web

from scanner.simulator.model import Estate
from scanner.timeutil import utcnow

EVENTS_PATH = "/api/v1/events"
ALERT_TYPES = frozenset({"error", "warning", "info", "success", "user_update",
                         "recommendation", "snapshot"})
PRIORITIES = frozenset({"normal", "low"})
TEXT_LIMIT = 4000  # characters of `text`
AGGREGATION_KEY_LIMIT = 100


@dataclass(frozen=True)
class PostedEvent:
    """One accepted event: which site and org's key posted it, when, and its body."""

    id: int
    site: str
    org_public_id: str
    received_at: datetime
    body: dict[str, Any]


def problem(body: Any) -> str | None:
    """Why Datadog would refuse this event body (400), or None."""
    if not isinstance(body, dict):
        return "Event must be a JSON object"
    for name in ("title", "text"):
        if not isinstance(body.get(name), str) or not body[name]:
            return f"Missing or empty required field '{name}'"
    if len(body["text"]) > TEXT_LIMIT:
        return f"'text' is longer than {TEXT_LIMIT} characters"
    tags = body.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        return "'tags' must be a list of strings"
    if body.get("alert_type", "info") not in ALERT_TYPES:
        return f"'alert_type' must be one of {', '.join(sorted(ALERT_TYPES))}"
    if body.get("priority", "normal") not in PRIORITIES:
        return "'priority' must be normal or low"
    key = body.get("aggregation_key", "")
    if not isinstance(key, str) or len(key) > AGGREGATION_KEY_LIMIT:
        return f"'aggregation_key' must be a string of at most {AGGREGATION_KEY_LIMIT} characters"
    return None


def _json(status: int, body: object) -> web.Response:
    return web.Response(status=status, text=json.dumps(body, separators=(",", ":")),
                        content_type="application/json")


def events_handler(estate: Estate, posted: list[PostedEvent],
                   site: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    """The POST handler of `site`: validate the key and the body, record, answer 202."""

    async def handle(request: web.Request) -> web.Response:
        key = request.headers.get("DD-API-KEY")
        target = next((t for t in estate.targets if t.site == site and t.api_key == key), None)
        if target is None:
            return _json(403, {"errors": ["Forbidden"]})
        try:
            body = json.loads(await request.text())
        except ValueError:
            return _json(400, {"errors": ["Invalid JSON in the request body"]})
        wrong = problem(body)
        if wrong is not None:
            return _json(400, {"errors": [wrong]})
        now = utcnow()
        event = PostedEvent(len(posted) + 1, site, target.org_public_id, now, body)
        posted.append(event)
        return _json(202, {"status": "ok", "event": {
            "id": event.id, "id_str": str(event.id), "title": body["title"],
            "text": body["text"], "tags": body.get("tags", []),
            "priority": body.get("priority"), "date_happened": int(now.timestamp()),
            "handle": None, "related_event_id": None,
            "url": f"https://app.{site}/event/event?id={event.id}"}})

    return handle
