"""Real local servers for the notification tests: an aiohttp receiver and an SMTP inbox."""

from __future__ import annotations

import asyncio
import email
import email.policy
import logging
import socket
import threading
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

HANG = "hang"  # a scripted answer: never answer (the client times out)


@dataclass(frozen=True)
class Received:
    """One POST the receiver got: its path, headers and exact body bytes."""

    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """An aiohttp server on loopback in its own thread, recording every POST.

    `script[path]` lists the answers to give that path's next requests (a status, or
    HANG); once it is used up, requests are answered 200 "ok", as Slack does.
    """

    requests: list[Received] = field(default_factory=list)
    script: dict[str, list[int | str]] = field(default_factory=dict)
    port: int = 0

    def __post_init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        assert self._ready.wait(10), "the receiver did not start"

    def url(self, path: str) -> str:
        """The receiver's URL for `path`."""
        return f"http://127.0.0.1:{self.port}{path}"

    def at(self, path: str) -> list[Received]:
        """Requests received at `path`, oldest first."""
        return [r for r in self.requests if r.path == path]

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.requests.append(Received(request.path, dict(request.headers), body))
        answers = self.script.get(request.path)
        answer = answers.pop(0) if answers else 200
        if answer == HANG:
            await asyncio.sleep(60)
        return web.Response(status=int(answer), text="ok" if answer == 200 else "error")

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.port = self._runner.addresses[0][1]
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self._runner.cleanup())
        self._loop.close()

    def stop(self) -> None:
        """Stop serving and join the thread."""
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


class Inbox:
    """A local SMTP server (aiosmtpd) that keeps every message; AUTH LOGIN/PLAIN optional."""

    def __init__(self, username: str | None = None, password: str | None = None) -> None:
        self.messages: list[Message] = []
        self.envelopes: list[Envelope] = []
        self.logins: list[str] = []
        self.username, self.password = username, password
        self.port = _free_port()
        logging.getLogger("mail.log").setLevel(logging.WARNING)  # its DEBUG shows AUTH lines
        kwargs: dict[str, Any] = {}
        if username is not None:
            kwargs.update(authenticator=self._authenticate, auth_require_tls=False)
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port, **kwargs)
        self._controller.start()

    def _authenticate(self, server: SMTP, session: Session, envelope: Envelope,
                      mechanism: str, data: Any) -> AuthResult:
        ok = (isinstance(data, LoginPassword) and data.login.decode() == self.username
              and data.password.decode() == self.password)
        if ok:
            self.logins.append(data.login.decode())
        return AuthResult(success=ok)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """Keep the message (aiosmtpd's handler hook)."""
        self.envelopes.append(envelope)
        raw = envelope.content if isinstance(envelope.content, bytes) else b""
        self.messages.append(email.message_from_bytes(raw, policy=email.policy.default))
        return "250 OK"

    def stop(self) -> None:
        """Stop the server."""
        self._controller.stop()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
