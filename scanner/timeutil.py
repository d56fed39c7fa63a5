"""Tolerant parsing of the timestamps Datadog returns, to naive UTC datetimes for storage."""

from __future__ import annotations

import re
from datetime import UTC, datetime

# Datadog mixes `+00:00` with 6 digits, `Z` with 5, 6 or 9 digits, and no fraction at all.
_TS = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?\s*(Z|[+-]\d{2}:?\d{2})?$"
)


def parse_timestamp(value: object) -> datetime | None:
    """Parse a Datadog timestamp into a naive UTC datetime; None for null or unparseable."""
    if not isinstance(value, str) or not value:
        return None
    m = _TS.match(value.strip())
    if m is None:
        return None
    day, clock, fraction, zone = m.groups()
    micro = (fraction or "0")[:6].ljust(6, "0")
    offset = "+00:00" if zone in (None, "Z") else zone
    if len(offset) == 5:  # +0000
        offset = offset[:3] + ":" + offset[3:]
    try:
        parsed = datetime.fromisoformat(f"{day}T{clock}.{micro}{offset}")
    except ValueError:
        return None
    return parsed.astimezone(UTC).replace(tzinfo=None)


def utcnow() -> datetime:
    """Return the current time as a naive UTC datetime (the store's convention)."""
    return datetime.now(UTC).replace(tzinfo=None)


def isoformat_z(value: datetime | None) -> str | None:
    """Render a naive UTC datetime as `YYYY-MM-DDTHH:MM:SSZ` (None stays None)."""
    if value is None:
        return None
    return value.replace(microsecond=0).isoformat() + "Z"
