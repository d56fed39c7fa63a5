"""Ctrl-C in the middle of a collection: the scan is marked failed, never complete."""

from __future__ import annotations

import _thread
from pathlib import Path

import pytest
from aiohttp import web
from sqlalchemy import func, select

from scanner.demo import simulator_config
from scanner.pipeline import run_scan
from scanner.simulator import SimulatedDatadog
from scanner.simulator.model import Estate, SimTarget
from scanner.store import schema
from scanner.store.database import open_store
from tests.scale.conftest import RETRIES, limits

pytestmark = pytest.mark.slow


def test_ctrl_c_mid_collection_leaves_no_scan_marked_complete(
    estate: Estate, tmp_path: Path
) -> None:
    server = SimulatedDatadog.start_in_thread(estate, limits=limits(5, 1))
    pressed: list[str] = []

    async def ctrl_c(target: SimTarget, request: web.Request) -> None:
        # Once some pages are in, the operator presses Ctrl-C (SIGINT to the main thread).
        if request.query.get("page[number]") == "1" and not pressed:
            pressed.append(target.name)
            _thread.interrupt_main()

    server.sim.hooks.append(ctrl_c)
    database = f"sqlite:///{tmp_path / 'cancel.db'}"
    config = simulator_config(estate, server.urls, tmp_path / "out", database)
    engine = open_store(database)
    try:
        with pytest.raises(KeyboardInterrupt):
            run_scan(config, engine, policy=RETRIES)
    finally:
        server.stop()
    assert pressed
    with engine.connect() as conn:
        scans = conn.execute(select(schema.scans.c.status, schema.scans.c.finished_at)).all()
        coverage = conn.execute(select(func.count()).select_from(schema.coverage)).scalar()
        keys = conn.execute(select(func.count()).select_from(schema.application_keys)).scalar()
    assert [s.status for s in scans] == ["failed"]
    assert scans[0].finished_at is not None
    assert coverage == 0  # no endpoint was recorded as collected, complete or otherwise
    # Interrupted on a second page (users come in one): the keys were never all stored.
    assert keys is not None and keys < sum(len(o.app_keys) for o in estate.scanned_orgs)
