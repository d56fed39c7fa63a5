"""The webhook sink: the digest's JSON document, signed with HMAC-SHA256 when a secret is set."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime

import aiohttp

from reports.notify.digest import Digest
from reports.notify.transport import post
from scanner.config_notify import NotifySink

SIGNATURE_HEADER = "X-Ddaudit-Signature"


def signature(secret: str, body: bytes) -> str:
    """`sha256=<hex>`: HMAC-SHA256 of the exact body bytes under the shared secret."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


async def send(sink: NotifySink, digest: Digest, session: aiohttp.ClientSession,
               sent_at: datetime) -> None:
    """POST the `ddaudit.notification/1` document to the sink's URL."""
    assert sink.url is not None  # the config requires url_env for a webhook
    body = digest.body(sent_at)
    headers = {"Content-Type": "application/json"}
    if sink.secret is not None:
        headers[SIGNATURE_HEADER] = signature(sink.secret.reveal(), body)
    await post(session, sink.url.reveal(), body, headers)


def preview(sink: NotifySink, digest: Digest, sent_at: datetime) -> str:
    """The document, indented (the body sent is the same JSON, compact)."""
    signed = (f"{SIGNATURE_HEADER}: sha256=<HMAC of the body under {sink.secret.variable}>\n"
              if sink.secret is not None else "")
    return signed + json.dumps(digest.as_json(sent_at), indent=2, ensure_ascii=False) + "\n"
