"""`ddaudit demo`: the whole pipeline against the built-in simulated multi-site estate."""

from __future__ import annotations

import logging
from pathlib import Path

from scanner.config import Config, Secret, Target
from scanner.pipeline import ScanOutcome, run_scan
from scanner.simulator import EstateSpec, SimulatedDatadog, generate_estate
from scanner.simulator.model import Estate
from scanner.store.database import open_store
from scanner.timeutil import utcnow

log = logging.getLogger(__name__)


def simulator_config(estate: Estate, urls: dict[str, str], output: Path, database: str,
                     *, fail_on: str = "high") -> Config:
    """A Config whose targets are the estate's, pointed at the simulator's loopback URLs.

    A target whose org has a write key pair (`Estate.add_write_pair`) gets it as its
    write_api_key / write_app_key.
    """
    targets = []
    for t in estate.targets:
        write = estate.write_pair(t.name)
        targets.append(Target(
            t.name, t.site, Secret(t.api_key), Secret(t.app_key), urls[t.site], owner=t.owner,
            write_api_key=Secret(write.api_key) if write else None,
            write_app_key=Secret(write.app_key) if write else None))
    return Config(
        targets=tuple(targets),
        database=database,
        output=output,
        fail_on=fail_on,
        allow_custom_endpoints=True,
        trusted_orgs=frozenset(estate.trusted_orgs),
        source="demo",
    )


def run_demo(output: Path) -> ScanOutcome:
    """Generate the demo estate, serve it on loopback, scan it, and return the outcome."""
    output.mkdir(parents=True, exist_ok=True, mode=0o700)
    estate = generate_estate(EstateSpec(), now=utcnow())
    server = SimulatedDatadog.start_in_thread(estate)
    try:
        urls = {site: server.base_url(site) for site in estate.sites}
        log.info("simulated estate: %d sites, %d targets", len(urls), len(estate.targets))
        database = f"sqlite:///{(output / 'ddaudit.db').resolve()}"
        config = simulator_config(estate, urls, output, database)
        return run_scan(config, open_store(database))
    finally:
        server.stop()
