"""Drop secret-like fields from API payloads before anything is stored or logged."""

from __future__ import annotations

from typing import Any

# Field names that carry credentials in Datadog responses (full keys, Okta secrets) or
# could, were the API to start echoing them. Matching is on the exact, lower-cased name.
SECRET_FIELDS: frozenset[str] = frozenset(
    {
        "key",
        "api_key",
        "app_key",
        "application_key",
        "client_secret",
        "secret",
        "password",
        "token",
        "access_token",
        "refresh_token",
        "private_key",
        "hash",
    }
)


def redact(value: Any) -> Any:
    """Return a copy of `value` with every secret-like field removed, at any depth."""
    if isinstance(value, dict):
        return {
            k: redact(v)
            for k, v in value.items()
            if not (isinstance(k, str) and k.lower() in SECRET_FIELDS)
        }
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value
