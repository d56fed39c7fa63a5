"""The notifications of one scan: plan each sink's digest, send them, record the outcome."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from sqlalchemy import Engine

from reports.notify import ledger, mail
from reports.notify.announce import REPORT, plan_digest
from reports.notify.digest import Digest
from reports.notify.dispatch import deliver
from reports.notify.facts import load_facts
from reports.notify.history import ScanHistory
from reports.notify.ledger import FAILED, SENT, Delivery
from reports.notify.transport import check_url
from rules.model import SEVERITY_RANK
from scanner.config import Config
from scanner.config_notify import NotifySink
from scanner.errors import DDAuditError
from scanner.store.lifecycle import COLLECTED
from scanner.timeutil import utcnow

log = logging.getLogger(__name__)


def check_sinks(sinks: Sequence[NotifySink]) -> None:
    """Before a scan or a send: every sink's secrets are set and usable, or one line (exit 2).

    Reads the variables (a webhook URL must be https, or http to loopback) and never
    shows a value. A dry run needs none of this.
    """
    for sink in sinks:
        for secret in sink.secrets:
            secret.check()
        if sink.url is not None:
            check_url(sink.url.reveal(), f"[[notify]] '{sink.name}' url_env: the URL in "
                                         f"{sink.url.variable}")
        if sink.kind == "email":
            mail.check(sink)


def plan(engine: Engine, config: Config, scan_id: str) -> list[Digest]:
    """The digest of every configured sink for scan `scan_id` (reads the database only)."""
    floor = max((s.min_severity for s in config.notify), key=SEVERITY_RANK.__getitem__)
    with engine.connect() as conn:
        facts = load_facts(conn, scan_id, floor)
        history = ScanHistory(conn, facts.started_at)
        report = (str((config.output / scan_id / REPORT).absolute())
                  if facts.status in COLLECTED else None)
        return [plan_digest(conn, history, sink, facts, report) for sink in config.notify]


def record(engine: Engine, digests: Sequence[Digest], deliveries: Sequence[Delivery]) -> None:
    """Store each delivery; a sink that did not fail has its findings' ledger rows written."""
    now = utcnow()
    with engine.begin() as conn:
        for digest, delivery in zip(digests, deliveries, strict=True):
            facts = digest.facts
            if delivery.outcome != FAILED:
                announced = digest.announced if delivery.outcome == SENT else ()
                ledger.record_announced(conn, digest.sink.name, facts.id, facts.started_at,
                                        announced, digest.seen)
            ledger.record_delivery(conn, facts.id, delivery, now)


def notify_scan(engine: Engine, config: Config, scan_id: str) -> list[Delivery]:
    """Send scan `scan_id`'s notifications to every sink and record them; return outcomes.

    Findings already announced to a sink, and a partial or failed scan already reported
    to it, are not sent again: a second call sends only what the first could not.
    """
    digests = plan(engine, config, scan_id)
    deliveries = asyncio.run(deliver(digests))
    record(engine, digests, deliveries)
    return deliveries


def after_scan(config: Config, engine: Engine, scan_id: str) -> list[Delivery]:
    """`ddaudit scan`'s notifications, when [[notify]] is configured; never raises.

    Whatever happens here is logged and recorded, and leaves the scan's status and exit
    code as they are.
    """
    if not config.notify:
        return []
    try:
        return notify_scan(engine, config, scan_id)
    except DDAuditError as exc:
        reason = str(exc)
    except Exception as exc:  # the scan is done: a notification bug must not undo it
        reason = f"unexpected error ({exc.__class__.__name__})"
        log.debug("notifications of scan %s", scan_id, exc_info=True)
    log.warning("notifications of scan %s were not sent: %s; 'ddaudit notify --scan %s' "
                "sends them", scan_id, reason, scan_id)
    return []

