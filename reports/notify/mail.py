"""The e-mail sink: a plain-text and an HTML part, sent over SMTP from a worker thread."""

from __future__ import annotations

import asyncio
import html
import smtplib
import ssl
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import aiohttp

from reports.notify import text
from reports.notify.digest import Digest
from reports.notify.transport import LOOPBACK, SinkError
from scanner.config_notify import NotifySink
from scanner.errors import ConfigError


def check(sink: NotifySink) -> None:
    """Refuse a password that would travel in clear text, or a login without one."""
    label = f"[[notify]] '{sink.name}'"
    if sink.username is not None and sink.password is None:
        raise ConfigError(f"{label} sets username but not password_env; add password_env "
                          "or remove username")
    if sink.password is not None and not sink.starttls and sink.smtp_host not in LOOPBACK:
        raise ConfigError(f"{label} would send its SMTP password unencrypted; set starttls = "
                          "true (or send through a relay on loopback)")


def html_part(digest: Digest) -> str:
    """The digest as a small self-contained HTML document (every value escaped)."""
    e = html.escape
    parts = [f"<h2>{e(digest.headline)}</h2>",
             f"<p>Events: {e(', '.join(digest.events))}</p>"]
    if digest.facts.status != "failed":
        parts.append(f"<p>{e(text.counts_line(digest.facts))}</p>")
    for section in text.sections(digest):
        parts.append(f"<h3>{e(section.title)} ({section.total})</h3><ul>")
        parts += [f"<li>{e(line)}</li>" for line in section.lines]
        if section.more:
            parts.append(f"<li><em>… and {section.more} more (see the report)</em></li>")
        parts.append("</ul>")
    if digest.report_url:
        parts.append(f'<p><a href="{e(digest.report_url)}">Open the report</a></p>')
    else:
        parts.append(f"<p>{e(text.report_line(digest))}</p>")
    return ("<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head><body>"
            + "\n".join(parts) + "</body></html>\n")


def build(sink: NotifySink, digest: Digest, sent_at: datetime) -> EmailMessage:
    """The multipart/alternative message: plain text first, then HTML."""
    assert sink.sender is not None  # the config requires from and to for e-mail
    message = EmailMessage()
    message["Subject"] = digest.headline
    message["From"] = sink.sender
    message["To"] = ", ".join(sink.recipients)
    message["Date"] = format_datetime(sent_at.replace(tzinfo=UTC), usegmt=True)
    message["Message-ID"] = make_msgid(domain="ddaudit")
    message.set_content(text.plain_text(digest))
    message.add_alternative(html_part(digest), subtype="html")
    return message


def _deliver(sink: NotifySink, message: EmailMessage) -> None:
    """Blocking SMTP exchange (runs in a worker thread); SinkError on any failure."""
    assert sink.smtp_host is not None
    try:
        with smtplib.SMTP(sink.smtp_host, sink.smtp_port, timeout=sink.timeout) as smtp:
            if sink.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if sink.username is not None and sink.password is not None:
                smtp.login(sink.username, sink.password.reveal())
            smtp.send_message(message)
    except smtplib.SMTPResponseException as exc:
        raise SinkError(f"SMTP {exc.smtp_code}") from None
    except smtplib.SMTPRecipientsRefused:
        raise SinkError("SMTP refused every recipient") from None
    except (smtplib.SMTPException, OSError) as exc:
        # TimeoutError is an OSError; the server's own text is left out (it may echo input).
        raise SinkError(f"connection failed ({exc.__class__.__name__})") from None


async def send(sink: NotifySink, digest: Digest, session: aiohttp.ClientSession,
               sent_at: datetime) -> None:
    """Send the message over SMTP without blocking the other sinks."""
    check(sink)
    await asyncio.to_thread(_deliver, sink, build(sink, digest, sent_at))


def preview(sink: NotifySink, digest: Digest, sent_at: datetime) -> str:
    """Subject, addresses and the plain-text part (the HTML part says the same)."""
    return (f"Subject: {digest.headline}\nFrom: {sink.sender}\nTo: "
            f"{', '.join(sink.recipients)}\n\n{text.plain_text(digest)}")
