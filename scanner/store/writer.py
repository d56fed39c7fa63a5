"""The single batched writer: every collector hands rows to it; it inserts them in batches."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Engine

from scanner.store.schema import POPULATION_TABLES

Row = Mapping[str, Any]
_Batch = tuple[str, list[Row]]


class SnapshotWriter:
    """Collects rows per table from any number of coroutines and inserts them in batches.

    One consumer task owns the database connection, so inserts never interleave; the
    bounded queue makes fast collectors wait for the database instead of hoarding rows.
    """

    def __init__(self, engine: Engine, *, batch_size: int = 1000, queue_size: int = 64) -> None:
        self._engine = engine
        self._batch_size = batch_size
        self._queue: asyncio.Queue[_Batch | None] = asyncio.Queue(maxsize=queue_size)
        self._buffers: dict[str, list[Row]] = defaultdict(list)
        self._task: asyncio.Task[None] | None = None
        self.rows_written: dict[str, int] = defaultdict(int)

    async def __aenter__(self) -> SnapshotWriter:
        self._task = asyncio.create_task(self._run(), name="snapshot-writer")
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def put(self, table: str, rows: Sequence[Row]) -> None:
        """Queue `rows` for `table` (a name from POPULATION_TABLES)."""
        if table not in POPULATION_TABLES:
            raise KeyError(table)
        if self._task is not None and self._task.done():
            self._task.result()  # surface the writer's failure to the producer
        if rows:
            await self._queue.put((table, list(rows)))

    async def close(self) -> None:
        """Flush everything and stop the consumer; re-raise its error, if any."""
        if self._task is None:
            return
        if not self._task.done():
            await self._queue.put(None)
        task, self._task = self._task, None
        await task

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
