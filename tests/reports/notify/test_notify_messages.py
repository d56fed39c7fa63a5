"""The four message formats of one digest: capped lists, escaped names, Datadog's limits."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import replace
from datetime import datetime
from email.message import EmailMessage

from reports.notify import datadog, mail, slack, text, webhook
from reports.notify.digest import Digest
from reports.notify.facts import Gap, Item, ScanFacts, Unassessed
from scanner.config_notify import NotifySink

T = datetime(2026, 11, 21, 2, 0, 0)
HOSTILE = "<script>alert(1)</script> & *bold* [x](https://evil.example) \x1b[31m"


def _item(n: int, name: str = "ci-key") -> Item:
    return Item(id=f"id{n}", rule_id="DDA-KEY-007", severity="critical", title="Leaked key",
                detail="d", site="datadoghq.com", org_public_id="pub1", org_name="Acme",
                target="prod", resource_type="api_key", resource_id=f"k{n}",
                resource_name=name, owner="secops@example.com" if n == 0 else None,
                first_seen=T)


def _digest(sink: NotifySink, *, status: str = "partial", new: int = 3,
            name: str = "ci-key") -> Digest:
    facts = ScanFacts(
        id="s1", status=status, started_at=T, finished_at=T, tool_version="0.1.0",
        open_by_severity=(("critical", new), ("high", 0), ("medium", 2), ("low", 0),
                          ("info", 0)),
        suppressed=1, not_assessed=1, open_items=(),
        unassessed=(Unassessed("DDA-KEY-001", "high", "datadoghq.com", "prod", "pub1", "Acme"),),
        gaps=(Gap("prod", "datadoghq.com", "pub1", "api_keys", "forbidden"),))
    return Digest(sink=sink, facts=facts, events=("new", "partial"),
                  new=tuple(_item(n, name) for n in range(new)), regressed=(), seen=(),
                  report_path="/srv/out/s1/report.html", report_url=None)


def test_lists_show_max_items_and_count_the_rest() -> None:
    digest = _digest(NotifySink("webhook", "hook", max_items=2))
    document = digest.as_json(T)
    assert document["new"]["count"] == 3 and [i["id"] for i in document["new"]["items"]] == [
        "id0", "id1"]
    assert document["new"]["items"][0]["owner"] == "secops@example.com"
    plain = text.plain_text(digest)
    assert "New (3):" in plain and "... and 1 more (see the report)" in plain
    assert "owner secops@example.com" in plain and "prod api_keys: forbidden" in plain
    assert "[high] DDA-KEY-001 in prod (Acme)" in plain
    assert plain.endswith("Report: /srv/out/s1/report.html\n")


def test_the_signature_is_hmac_sha256_of_the_exact_body() -> None:
    body = _digest(NotifySink("webhook", "hook")).body(T)
    assert webhook.signature("k3y", body) == "sha256=" + hmac.new(
        b"k3y", body, hashlib.sha256).hexdigest()
    assert json.loads(body)["schema"] == "ddaudit.notification/1"


def test_names_from_the_api_are_escaped_in_every_format() -> None:
    sink = NotifySink("slack", "chat")
    digest = _digest(sink, name=HOSTILE)
    payload = json.dumps(slack.message(digest))
    assert "<script>" not in payload and "&lt;script&gt;" in payload and "\\u001b" not in payload
    html = mail.html_part(digest)
    assert "<script>" not in html and "&lt;script&gt;" in html
    message = mail.build(replace(sink, kind="email", sender="a@example.com",
                                 recipients=("b@example.com",)), digest, T)
    assert isinstance(message, EmailMessage) and "\x1b" not in message.as_string()
    event_text = datadog.event(sink, digest)["text"]
    assert "\x1b" not in event_text and "[x](https" not in event_text
    assert "\\[x\\]\\(https://evil.example\\)" in event_text


def test_the_datadog_event_keeps_within_its_limits_and_says_the_status() -> None:
    sink = NotifySink("datadog", "events", site="datadoghq.eu", tags=("team:sec",),
                      max_items=500)
    event = datadog.event(sink, _digest(sink, new=400))
    assert len(event["text"]) <= datadog.TEXT_LIMIT and event["text"].startswith("%%% \n")
    assert len(event["title"]) <= datadog.TITLE_LIMIT and event["alert_type"] == "warning"
    assert {"ddaudit_scan_id:s1", "ddaudit_status:partial", "ddaudit_new:400",
            "ddaudit_open_critical:400", "team:sec"} <= set(event["tags"])
    assert datadog.events_url(sink) == "https://api.datadoghq.eu/api/v1/events"
    failed = datadog.event(sink, _digest(sink, status="failed", new=0))
    quiet = datadog.event(sink, replace(_digest(sink, status="complete", new=0), events=()))
    assert (failed["alert_type"], quiet["alert_type"]) == ("error", "success")
