"""The snapshot writer: a consumer that dies never leaves its producers waiting."""

from __future__ import annotations

import asyncio
from typing import cast

import pytest
from sqlalchemy import Engine

from scanner.errors import StoreError
from scanner.store.snapshot_writer import Row, SnapshotWriter

GUARD = 30.0  # a hang guard only: a correct writer answers at once


class _BrokenDatabase(SnapshotWriter):
    """A writer whose every insert fails, as when the database goes away mid-scan."""

    def _insert(self, table: str, rows: list[Row]) -> None:
        raise RuntimeError("disk I/O error")


def _row(i: int) -> Row:
    return {"id": f"u{i}"}


async def test_producers_on_a_full_queue_fail_when_the_writer_dies() -> None:
    writer = _BrokenDatabase(cast(Engine, None), batch_size=1, queue_size=1)
    await writer.__aenter__()

    async def producer(n: int) -> None:
        for i in range(50):
            await writer.put("users", [_row(n * 100 + i)])

    results = await asyncio.wait_for(
        asyncio.gather(*(producer(n) for n in range(4)), return_exceptions=True), GUARD)
    assert all(isinstance(r, StoreError) for r in results), results
    first = results[0]
    assert isinstance(first, StoreError) and "disk I/O error" in str(first)
    assert isinstance(first.__cause__, RuntimeError)
    with pytest.raises(StoreError, match="RuntimeError: disk I/O error"):
        await asyncio.wait_for(writer.close(), GUARD)


async def test_close_does_not_wait_for_room_in_a_dead_writers_queue() -> None:
    writer = _BrokenDatabase(cast(Engine, None), batch_size=1, queue_size=1)
    await writer.__aenter__()
    with pytest.raises(StoreError):
        for i in range(10):  # the first insert kills the consumer; the queue fills up
            await asyncio.wait_for(writer.put("users", [_row(i)]), GUARD)
    with pytest.raises(StoreError, match="disk I/O error"):
        await asyncio.wait_for(writer.close(), GUARD)
