"""Query parsing and paging as the real API does it: 0-based pages, size capped at 100."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypeVar

T = TypeVar("T")
MAX_PAGE_SIZE = 100


class BadRequest(Exception):
    """A 400 answer; the message is the `errors` entry."""


def _int(query: Mapping[str, str], name: str, default: int) -> int:
    raw = query.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise BadRequest(f"Invalid value for parameter {name}: {raw!r} is not an integer") from None


def page_params(query: Mapping[str, str], default_size: int = 10,
                largest: int = MAX_PAGE_SIZE) -> tuple[int, int]:
    """`(size, number)` from `page[size]` and `page[number]`; BadRequest when out of range.

    `largest`: the listing's own maximum (the users listing serves up to 1000).
    """
    size = _int(query, "page[size]", default_size)
    number = _int(query, "page[number]", 0)
    if size < 1 or size > largest:
        raise BadRequest(f"page[size] must be between 1 and {largest}, got {size}")
    if number < 0:
        raise BadRequest(f"page[number] must be greater than or equal to 0, got {number}")
    return size, number


def limit_offset(query: Mapping[str, str]) -> tuple[int, int]:
    """`(limit, offset)` for org connections (defaults 1000 and 0)."""
    limit = _int(query, "limit", 1000)
    offset = _int(query, "offset", 0)
    if limit < 1 or offset < 0:
        raise BadRequest("limit must be positive and offset must not be negative")
    return limit, offset


def page(items: Sequence[T], size: int, number: int) -> list[T]:
    """The `number`th (0-based) page of `size` items; past the end it is empty."""
    return list(items[size * number : size * (number + 1)])


def contains(needle: str | None, *haystack: str | None) -> bool:
    """Case-insensitive substring filter (True when there is no filter)."""
    if not needle:
        return True
    low = needle.lower()
    return any(h is not None and low in h.lower() for h in haystack)


def sort_key_name(sort: str | None, default: str = "name") -> tuple[str, bool]:
    """`(field, descending)` from a `sort` parameter like `-name`."""
    value = sort or default
    return value.lstrip("-"), value.startswith("-")
