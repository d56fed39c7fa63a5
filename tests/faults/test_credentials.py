"""Keys go only where they may: no redirects, no unverified TLS, no clear text off loopback."""

from __future__ import annotations

import datetime
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from scanner.client import DatadogClient, RetryPolicy, path_segment
from scanner.config import Secret, Target
from scanner.errors import APIError, ConfigError

API, APP = "k" * 32, "a" * 40
POLICY = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.02, timeout=2)


class Recorder:
    """An aiohttp app that records the keys of every request it gets."""

    def __init__(self, answer: web.Response | None = None) -> None:
        self.seen: list[tuple[str, str | None]] = []
        self.answer = answer

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.seen.append((request.path, request.headers.get("DD-API-KEY")))
        return self.answer or web.json_response({"data": []})


async def _serve(recorder: Recorder, host: str = "127.0.0.1",
                 ssl_context: ssl.SSLContext | None = None) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_get("/{tail:.*}", recorder.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, 0, ssl_context=ssl_context)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"{'https' if ssl_context else 'http'}://{host}:{port}"


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(trust_env=False) as s:
        yield s


def _client(session: aiohttp.ClientSession, url: str) -> DatadogClient:
    target = Target("t", "datadoghq.com", Secret(API), Secret(APP), url)
    return DatadogClient(session, target, allow_custom_endpoints=True, policy=POLICY)


async def test_a_redirect_to_another_host_is_refused_before_the_keys_leave(
    session: aiohttp.ClientSession,
) -> None:
    elsewhere = Recorder()
    other_runner, other_url = await _serve(elsewhere, "127.0.0.2")
    origin = Recorder(web.Response(status=302, headers={"Location": other_url + "/steal"}))
    runner, url = await _serve(origin)
    try:
        with pytest.raises(APIError, match="refused to follow a redirect"):
            await _client(session, url).get("/api/v2/users")
    finally:
        await runner.cleanup()
        await other_runner.cleanup()
    assert origin.seen == [("/api/v2/users", API)] and elsewhere.seen == []


def _self_signed(folder: Path) -> ssl.SSLContext:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return context


async def test_an_unverifiable_certificate_fails_at_once_and_sends_no_key(
    session: aiohttp.ClientSession, tmp_path: Path,
) -> None:
    recorder = Recorder()
    runner, url = await _serve(recorder, ssl_context=_self_signed(tmp_path))
    client = _client(session, url)
    try:
        with pytest.raises(APIError, match="TLS verification failed") as raised:
            await client.get("/api/v2/users")
    finally:
        await runner.cleanup()
    assert "never sends keys" in str(raised.value)
    assert recorder.seen == [] and client.stats.requests == 1  # not retried


@pytest.mark.parametrize("url", ["http://10.1.2.3:8080", "http://proxy.corp", "ftp://x",
                                 "http://127.0.0.1.evil.example"])
async def test_a_hand_built_target_cannot_send_keys_in_clear_text(
    session: aiohttp.ClientSession, url: str,
) -> None:
    with pytest.raises(ConfigError):
        _client(session, url)


async def test_an_api_url_that_is_not_allowed_is_ignored_for_the_official_one(
    session: aiohttp.ClientSession,
) -> None:
    target = Target("t", "datadoghq.eu", Secret(API), Secret(APP), "https://proxy.example")
    assert DatadogClient(session, target).base_url == "https://api.datadoghq.eu"


@pytest.mark.parametrize("hostile", ["../api_keys/abc#", "a/b", "x?y=1", "..", "", "%2e%2e",
                                     "a b", None, 7, "é"])
def test_ids_from_answers_never_reshape_a_request_path(hostile: object) -> None:
    with pytest.raises(APIError, match="not a plain id"):
        path_segment(hostile, "the service account id")
    assert path_segment("9919ec9b-ebc7-49ee-8dc8-03626e717cca", "id").startswith("9919")
