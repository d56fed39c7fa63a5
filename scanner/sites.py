"""The Datadog sites ddaudit knows and the API base URL of each."""

from __future__ import annotations

SITES: tuple[str, ...] = (
    "datadoghq.com",
    "us3.datadoghq.com",
    "us5.datadoghq.com",
    "datadoghq.eu",
    "ap1.datadoghq.com",
    "ap2.datadoghq.com",
    "ddog-gov.com",
    "uk1.datadoghq.com",
    "us2.ddog-gov.com",
)

# The seven sites of the built-in demo estate (the ones every Datadog client knows).
DEMO_SITES: tuple[str, ...] = SITES[:7]


def api_base_url(site: str) -> str:
    """Return the official API base URL of `site` (raises KeyError for an unknown site)."""
    if site not in SITES:
        raise KeyError(site)
    return f"https://api.{site}"
