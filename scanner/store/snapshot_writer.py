"""The single batched writer: every collector hands rows to it; it inserts them in batches."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Engine

from scanner.errors import StoreError
from scanner.store.schema import POPULATION_TABLES

Row = Mapping[str, Any]
_Batch = tuple[str, list[Row]]


class SnapshotWriter:
    """Collects rows per table from any number of coroutines and inserts them in batches.

    One consumer task owns the database connection, so inserts never interleave; the
    bounded queue makes fast collectors wait for the database instead of hoarding rows.
    Should the consumer die (the database gone, say), every producer waiting on the full
    queue, and every later `put`, gets a StoreError at once instead of waiting forever.
    """

    def __init__(self, engine: Engine, *, batch_size: int = 1000, queue_size: int = 64,
                 chunk: int = 100) -> None:
        self._engine = engine
        self._batch_size = batch_size
        # The queue holds at most queue_size chunks of `chunk` rows: its bound is in rows,
        # whatever the page size of the listing that produced them.
        self._queue: asyncio.Queue[_Batch | None] = asyncio.Queue(maxsize=queue_size)
        self._chunk = chunk
        self._buffers: dict[str, list[Row]] = defaultdict(list)
        self._task: asyncio.Task[None] | None = None
        self.rows_written: dict[str, int] = defaultdict(int)

    async def __aenter__(self) -> SnapshotWriter:
        self._task = asyncio.create_task(self._run(), name="snapshot-writer")
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def put(self, table: str, rows: Sequence[Row]) -> None:
        """Queue `rows` for `table` (a name from POPULATION_TABLES).

        Raises StoreError when the writer has failed, before or while waiting for room.
        """
        if table not in POPULATION_TABLES:
            raise KeyError(table)
        if self._task is not None and self._task.done():
            self._raise_failure(self._task)
        for start in range(0, len(rows), self._chunk):
            await self._enqueue((table, list(rows[start:start + self._chunk])))

    async def close(self) -> None:
        """Flush everything and stop the consumer; re-raise its error, if any."""
        if self._task is None:
            return
        task = self._task
        try:
            if not task.done():
                await self._enqueue(None)
            await task
        except StoreError:
            raise
        except Exception as exc:
            raise _failure(exc) from exc
        finally:
            self._task = None

    async def _enqueue(self, item: _Batch | None) -> None:
        """Put `item` on the queue, or raise as soon as the consumer dies while we wait."""
        task = self._task
        if task is None:  # not started: nobody to race against
            await self._queue.put(item)
            return
        putter = asyncio.ensure_future(self._queue.put(item))
        try:
            await asyncio.wait((putter, task), return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not putter.done():
                putter.cancel()
        if putter.done() and not putter.cancelled():
            putter.result()
            return
        self._raise_failure(task)

    @staticmethod
    def _raise_failure(task: asyncio.Task[None]) -> None:
        """Raise the error the finished consumer `task` died of (as a StoreError)."""
        if task.cancelled():
            raise StoreError("the snapshot writer was cancelled; nothing more can be stored")
        exc = task.exception()
        if exc is None:
            raise StoreError("the snapshot writer has already been closed")
        if isinstance(exc, StoreError):
            raise exc
        raise _failure(exc) from exc

    async def _run(self) -> None:
        while True:
            item = await self._queue.get()
            if item is None:
                break
            table, rows = item
            buffer = self._buffers[table]
            buffer.extend(rows)
            if len(buffer) >= self._batch_size:
                await self._flush(table)
        for table in list(self._buffers):
            await self._flush(table)

    async def _flush(self, table: str) -> None:
        rows, self._buffers[table] = self._buffers[table], []
        if rows:
            await asyncio.to_thread(self._insert, table, rows)
            self.rows_written[table] += len(rows)

    def _insert(self, table: str, rows: list[Row]) -> None:
        with self._engine.begin() as conn:
            conn.execute(POPULATION_TABLES[table].insert(), rows)


def _failure(exc: BaseException) -> StoreError:
    """The operator's line for a writer that died of `exc` (its first line, no SQL)."""
    first = (str(exc).splitlines() or [""])[0][:200]
    detail = f"{exc.__class__.__name__}: {first}" if first else exc.__class__.__name__
    return StoreError(f"writing the snapshot failed ({detail}); check that the database is "
                      "reachable, writable and not full")
