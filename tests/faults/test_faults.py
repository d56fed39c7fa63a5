"""Faults on the simulator: the scan finishes, marks what it lost, loses nothing else."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from scanner.simulator.faults import Fault, FaultInjector
from scanner.simulator.model import Estate
from scanner.store.schema import SETTLED
from scanner.timeutil import utcnow
from tests.faults.harness import Rows, Scenario, make_estate, run_scenario
from tests.faults.scenarios import SCENARIOS

pytestmark = pytest.mark.slow
NOW = utcnow()


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rows]:
    """The rows of a fault-free scan of the estate every scenario scans."""
    run, rows = run_scenario(SCENARIOS[0], make_estate(NOW),
                             tmp_path_factory.mktemp("baseline"), None)
    assert run.verdict() == "complete" and run.outcome.exit_code == 3  # the inherent pair
    yield rows


@pytest.mark.parametrize("scenario", SCENARIOS[1:], ids=[s.name for s in SCENARIOS[1:]])
def test_a_fault_costs_only_its_own_pair(scenario: Scenario, baseline: Rows,
                                         tmp_path: Path) -> None:
    run, _ = run_scenario(scenario, make_estate(NOW), tmp_path, baseline)
    assert run.fired or scenario.down_site  # the fault did happen
    assert (run.lost, run.extra) == (0, 0)  # nothing lost or duplicated elsewhere
    assert run.inherent  # the per-service-account key fallback runs under every fault
    steady = run.inherent - run.affected
    broken = {pair: c for pair, c in run.coverage.items()
              if c.status not in SETTLED and pair not in steady}
    assert set(broken) == run.affected, {p: (c.status, c.error) for p, c in broken.items()}
    for pair, coverage in run.coverage.items():
        if pair in run.affected:
            allowed = {"partial", "failed"} if scenario.expect == "mixed" else {scenario.expect}
            assert coverage.status in allowed and coverage.error, (pair, coverage)
        else:
            assert coverage.expected is None or coverage.collected == coverage.expected, pair
        if pair in steady:  # partial as always: service accounts' keys, own user's tokens
            assert coverage.status == "partial", (pair, coverage)
            assert ("keys owned by users cannot be listed" in (coverage.error or "")
                    or "shows only its own user's tokens" in (coverage.error or "")), pair
    if scenario.expect == "absorbed":
        assert run.retries >= run.fired
    # Partial (exit 3) in any case: the inherent pair keeps every scan of this estate so.
    assert (run.outcome.status, run.outcome.exit_code) == ("partial", 3)
    assert run.outcome.report is not None and run.outcome.report.is_file()


def test_every_fault_kind_is_exercised() -> None:
    from scanner.simulator.faults import KINDS

    used = {f.kind for s in SCENARIOS for f in s.faults}
    assert used == set(KINDS)
    assert any(s.down_site for s in SCENARIOS)


def test_a_fault_fires_only_where_and_as_often_as_it_says() -> None:
    estate: Estate = make_estate(NOW)
    victim, other = estate.targets
    fault = Fault("status", victim.org_public_id, path="/api/v2/u*", times=2)
    injector = FaultInjector([fault, Fault("reset", probability=0.0)])

    class Req:
        def __init__(self, path: str) -> None:
            self.path, self.query = path, {"page[number]": "0"}

    fires = [injector._fires(0, t, Req(p)) for t, p in  # type: ignore[arg-type]
             ((other, "/api/v2/users"), (victim, "/api/v2/roles"), (victim, "/api/v2/users"),
              (victim, "/api/v2/users"), (victim, "/api/v2/users"))]
    assert fires == [False, False, True, True, False]
    assert not any(injector._fires(1, victim, Req("/x")) for _ in range(50))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown fault kind"):
        Fault("gremlins")
