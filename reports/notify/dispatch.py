"""Send each due digest to its sink: concurrently, retried with backoff, never raising.

Every sink runs at once; each attempt has the sink's timeout, a failed one is retried
after `backoff` seconds (doubled each time) up to `attempts` in all. A sink that still
fails is logged in one line (its name and kind, the error: never its URL or a secret)
and returned as a failed Delivery; nothing here changes a scan's status or exit code.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

import aiohttp

from reports.notify import datadog, mail, slack, webhook
from reports.notify.digest import Digest
from reports.notify.ledger import FAILED, SENT, SKIPPED, Delivery
from reports.notify.transport import SinkError
from scanner.config_notify import NotifySink
from scanner.errors import ConfigError
from scanner.timeutil import utcnow

log = logging.getLogger(__name__)

MAX_BACKOFF = 30.0  # seconds: the longest wait between two attempts

Send = Callable[[NotifySink, Digest, aiohttp.ClientSession, datetime], Awaitable[None]]
Preview = Callable[[NotifySink, Digest, datetime], str]

SENDERS: dict[str, tuple[Send, Preview]] = {
    "webhook": (webhook.send, webhook.preview),
    "slack": (slack.send, slack.preview),
    "email": (mail.send, mail.preview),
    "datadog": (datadog.send, datadog.preview),
}


def preview(digest: Digest, now: datetime) -> str:
    """What the sink would be sent (a dry run): needs no secret."""
    return SENDERS[digest.sink.kind][1](digest.sink, digest, now)


async def deliver(digests: Sequence[Digest]) -> list[Delivery]:
    """Send every due digest concurrently; one Delivery per digest, in order."""
    async with aiohttp.ClientSession(trust_env=False) as session:
        return list(await asyncio.gather(*(_deliver_one(d, session) for d in digests)))


async def _deliver_one(digest: Digest, session: aiohttp.ClientSession) -> Delivery:
    sink = digest.sink

    def outcome(status: str, attempts: int, error: str | None = None) -> Delivery:
        return Delivery(sink.name, sink.kind, status, attempts, digest.events,
                        len(digest.new), len(digest.regressed), error)

    if not digest.due:
        return outcome(SKIPPED, 0)
    send = SENDERS[sink.kind][0]
    error = "not attempted"
    attempt = 0
    while attempt < sink.attempts:
        attempt += 1
        try:
            await asyncio.wait_for(send(sink, digest, session, utcnow()), sink.timeout)
            log.info("notification of scan %s sent to '%s' (%s): %s", digest.facts.id,
                     sink.name, sink.kind, ", ".join(digest.events))
            return outcome(SENT, attempt)
        except TimeoutError:
            error = f"timed out after {sink.timeout:g}s"
        except SinkError as exc:
            error = str(exc)
        except ConfigError as exc:  # a variable unset or a bad URL: retrying cannot help
            error = str(exc)
            break
        except Exception as exc:  # one sink's bug must not cost the others their message
            error = f"unexpected error ({exc.__class__.__name__})"
        if attempt < sink.attempts:
            delay = min(sink.backoff * 2 ** (attempt - 1), MAX_BACKOFF)
            log.debug("notification to '%s' (%s), attempt %d failed: %s; retrying in %gs",
                      sink.name, sink.kind, attempt, error, delay)
            await asyncio.sleep(delay)
    log.warning("notification of scan %s to '%s' (%s) failed after %d attempt%s: %s; the "
                "scan's result is unchanged, 'ddaudit notify --scan %s' sends it again",
                digest.facts.id, sink.name, sink.kind, attempt, "" if attempt == 1 else "s",
                error, digest.facts.id)
    return outcome(FAILED, attempt, error)
