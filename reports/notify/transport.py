"""HTTP delivery shared by the webhook, Slack and Datadog sinks, and its scrubbed errors."""

from __future__ import annotations

from urllib.parse import urlsplit

import aiohttp

from scanner import __version__
from scanner.errors import ConfigError

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
USER_AGENT = f"ddaudit/{__version__}"


class SinkError(Exception):
    """A delivery attempt that failed; `str()` is safe to log: no URL, address or secret."""


def check_url(url: str, what: str) -> None:
    """Refuse a URL that would carry a secret in clear text off this machine.

    `what` names where the URL comes from (the sink and its variable), never the URL:
    a webhook URL is itself a secret.
    """
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname in LOOPBACK:
        return
    raise ConfigError(f"{what} is not an https URL (plain http only to loopback); fix the "
                      "variable's value")


async def post(session: aiohttp.ClientSession, url: str, body: bytes,
               headers: dict[str, str]) -> None:
    """POST `body`; SinkError naming only the status or the error's class on a failure.

    Redirects are not followed (a secret header must not travel to another host).
    """
    try:
        async with session.post(url, data=body, headers={"User-Agent": USER_AGENT, **headers},
                                allow_redirects=False) as response:
            await response.read()
            if response.status >= 300:
                raise SinkError(f"HTTP {response.status}")
    except aiohttp.ClientError as exc:
        # Its message may hold the URL (a secret for webhooks): the class name only.
        raise SinkError(f"connection failed ({exc.__class__.__name__})") from None
