"""Three nights on the simulated estate: each sink gets exactly the digests the dedup rule gives.

Night 1 everything is new. Night 2 a leaked API key (f1) is revoked (resolved), another
leaks (f2, new), and one org's key pair loses org_app_keys_read: the scan is partial and
the leaked application key there (f3) is not assessed. Night 3 f1 is back (regressed),
f3 is assessed again and still open (not announced again: a partial night resolves
nothing), f2 persists (not announced again). A re-send of night 3 sends nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from notify_helpers import HOOK_PATH, HOOK_SECRET, SLACK_PATH, SMTP_PASSWORD, leaks_in
from notify_servers import Inbox, Receiver

from reports.notify import notify_scan
from scanner.config import Config
from scanner.config_notify import NotifySink
from scanner.pipeline import ScanOutcome
from scanner.simulator import SimulatorThread
from scanner.simulator.model import Estate
from scanner.store.database import open_store

ROOT = Path(__file__).resolve().parents[3]
SCHEMA = json.loads((ROOT / "docs" / "notification.schema.json").read_text())
Night = Callable[..., tuple[ScanOutcome, dict[str, Any]]]

pytestmark = pytest.mark.slow


def _ids(document: dict[str, Any], *severities: str) -> set[str]:
    return {f["id"] for f in document["findings"]
            if f["status"] == "open" and f["severity"] in severities}


def _finding(document: dict[str, Any], rule: str, name: str) -> dict[str, Any]:
    return next(f for f in document["findings"]
                if f["rule_id"] == rule and f["resource_name"] == name)


def _hook(receiver: Receiver, night: int) -> dict[str, Any]:
    """The webhook document of the night-th delivery, its signature checked first."""
    request = receiver.at(HOOK_PATH)[night - 1]
    expected = hmac.new(HOOK_SECRET.encode(), request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-Ddaudit-Signature"] == f"sha256={expected}"
    document: dict[str, Any] = json.loads(request.body)
    jsonschema.validate(document, SCHEMA)
    return document


def _listed(group: dict[str, Any]) -> set[str]:
    assert group["count"] == len(group["items"])  # max_items is larger than every list
    return {item["id"] for item in group["items"]}


def test_each_sink_gets_exactly_the_digests_of_new_and_regressed_findings(
        sim_config: Config, all_sinks: tuple[NotifySink, ...], estate: Estate,
        server: SimulatorThread, receiver: Receiver, inbox: Inbox, night: Night,
        caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    caplog.set_level("DEBUG")
    config = replace(sim_config, notify=all_sinks)
    prod1, prod2 = estate.targets[0], estate.targets[1]
    org2 = estate.org(prod2.org_public_id)
    f1_key = next(k for k in org2.api_keys if k.name == "leaked-agent")

    one, doc1 = night(config)
    f1 = _finding(doc1, "DDA-KEY-007", "leaked-agent")["id"]
    f3 = _finding(doc1, "DDA-KEY-007", "leaked-app-key")["id"]
    hook1 = _hook(receiver, 1)
    assert hook1["events"] == ["new"] and hook1["scan"]["id"] == one.scan_id
    assert _listed(hook1["new"]) == _ids(doc1, "critical", "high") and f1 in _listed(hook1["new"])
    assert hook1["regressed"]["count"] == 0
    owners = {i["id"]: i["owner"] for i in hook1["new"]["items"]}
    assert owners[f1] is not None and owners[f1] == _finding(doc1, "DDA-KEY-007",
                                                             "leaked-agent")["owner"]
    assert hook1["report"] == {
        "path": str((config.output / one.scan_id / "report.html").absolute()),
        "url": f"https://audit.example.com/ddaudit-out/{one.scan_id}/report.html"}

    org2.api_keys.remove(f1_key)
    org2.api_keys.append(replace(f1_key, id="f2f2f2f2-0000-4000-8000-000000000002",
                                 name="leaked-agent-2"))
    estate.revoke(prod1.name, "org_app_keys_read")
    two, doc2 = night(config)
    assert two.status == "partial" and f1 not in {f["id"] for f in doc2["findings"]}
    assert f3 not in _ids(doc2, "critical")  # not assessed: the key listing was partial
    f2 = _finding(doc2, "DDA-KEY-007", "leaked-agent-2")["id"]
    hook2 = _hook(receiver, 2)
    assert hook2["events"] == ["new", "partial"]
    new2 = {(i["rule_id"], i["resource_id"]) for i in hook2["new"]["items"]}
    assert new2 == {("DDA-KEY-007", "f2f2f2f2-0000-4000-8000-000000000002"),
                    ("DDA-SCAN-001", "application_keys"), ("DDA-SCAN-001", "access_tokens")}
    assert {g["endpoint"] for g in hook2["coverage_gaps"]["items"]} == {
        "application_keys", "access_tokens"}
    assert "DDA-KEY-007" in {u["rule_id"] for u in hook2["not_assessed"]["items"]}

    org2.api_keys.append(f1_key)
    estate.grant(prod1.name, "org_app_keys_read")
    three, doc3 = night(config)
    assert three.status == "complete" and {f1, f2, f3} <= _ids(doc3, "critical")
    hook3 = _hook(receiver, 3)
    assert hook3["events"] == ["regressed"] and hook3["new"]["count"] == 0
    assert _listed(hook3["regressed"]) == {f1}

    # Slack: no partial event asked for; one readable message per night with news.
    slack = [json.loads(r.body) for r in receiver.at(SLACK_PATH)]
    assert [m["text"].split(": ", 1)[1] for m in slack] == [
        f"{len(_ids(doc1, 'critical', 'high'))} new, 0 regressed at high or above",
        "3 new, 0 regressed at high or above; 2 coverage gaps",
        "0 new, 1 regressed at high or above"]
    assert "leaked-agent-2" in json.dumps(slack[1]["blocks"])

    # E-mail at critical: the two leaks, then f2 (and the partial scan), then f1 again.
    assert [m["Subject"] for m in inbox.messages] == [
        f"ddaudit scan {one.scan_id} complete: 2 new, 0 regressed at critical or above",
        f"ddaudit scan {two.scan_id} partial: 1 new, 0 regressed at critical or above; "
        "2 coverage gaps",
        f"ddaudit scan {three.scan_id} complete: 0 new, 1 regressed at critical or above"]
    mail = inbox.messages[2]
    parts = {p.get_content_type(): p.get_content() for p in mail.walk()
             if not p.is_multipart()}
    assert set(parts) == {"text/plain", "text/html"} and "leaked-agent" in parts["text/plain"]
    assert inbox.logins == ["ddaudit"] * 3

    # Datadog: one event per night, tagged with the scan, its status and counts.
    events = server.sim.events
    assert [e.body["alert_type"] for e in events] == ["info", "warning", "info"]
    assert [sorted(t for t in e.body["tags"] if t.startswith(("ddaudit_scan_id", "ddaudit_st",
                                                              "ddaudit_new", "ddaudit_reg")))
            for e in events] == [
        [f"ddaudit_new:{n}", f"ddaudit_regressed:{r}", f"ddaudit_scan_id:{s.scan_id}",
         f"ddaudit_status:{s.status}"] for n, r, s in ((2, 0, one), (1, 0, two), (0, 1, three))]
    assert all("team:security" in e.body["tags"] for e in events)

    # A re-send of night 3 announces nothing again, and sends nothing.
    engine = open_store(config.database)
    try:
        again = notify_scan(engine, config, three.scan_id)
    finally:
        engine.dispose()
    assert [d.outcome for d in again] == ["skipped"] * 4
    assert (len(receiver.requests), len(inbox.messages), len(events)) == (6, 3, 3)

    run = json.loads((three.report.parent / "run.json").read_text())  # type: ignore[union-attr]
    assert [(n["sink"], n["outcome"], n["events"]) for n in run["notifications"]] == [
        ("chat", "sent", ["regressed"]), ("events", "sent", ["regressed"]),
        ("hook", "sent", ["regressed"]), ("mail", "sent", ["regressed"])]

    secrets = [HOOK_PATH, SLACK_PATH, HOOK_SECRET, SMTP_PASSWORD, estate.targets[0].api_key]
    assert leaks_in(secrets, text=caplog.text, db=tmp_path / "ddaudit.db",
                    folder=config.output) == []
