"""Fixtures for the scanner tests, including aioresponses' compatibility with aiohttp 3.14."""

from __future__ import annotations

from typing import Any
from unittest.mock import Mock

import aioresponses.core
import pytest
from aiohttp import ClientResponse


class _CompatResponse(ClientResponse):
    # aiohttp 3.14 (a security release) made `stream_writer` a required argument, which
    # aioresponses 0.7.9 does not pass yet (pnuckowski/aioresponses#289).
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("stream_writer", Mock(output_size=0))
        super().__init__(*args, **kwargs)


@pytest.fixture(autouse=True)
def _aioresponses_compat(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aioresponses.core, "ClientResponse", _CompatResponse)
