"""Suppressions end to end: a bad file stops `ddaudit scan` before any request; expired
entries stop applying; expired and unused entries are logged by evaluate and scan."""

from __future__ import annotations

import json
import logging
import re
import socket
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import create_engine, delete, func, inspect, select, update

from rules import RulePack, RuleSettings, load_suppressions
from scanner.cli import main
from scanner.demo import simulator_config
from scanner.pipeline import RuleStage, run_scan
from scanner.simulator import SimulatedDatadog, demo_estate
from scanner.store.database import open_store
from scanner.store.schema import findings, scans, suppression_usage
from scanner.timeutil import utcnow
from tests.e2e.conftest import FAST_RETRIES
from tests.rules.conftest import Snap

ENTRIES = """
- rule: DDA-KEY-007
  resource: "*"
  reason: leak handled in INC-42, keys revoked upstream
  owner: secops@example.com
  ticket: INC-42
  expires: 2099-01-01
- rule: DDA-ORG-*
  resource: "*"
  reason: accepted last year
  owner: grc@example.com
  expires: 2001-01-01
- rule: DDA-NOPE-*
  resource: "*"
  reason: matches nothing
  owner: nobody@example.com
  expires: 2099-01-01
"""

WARNINGS = [
    "{path}: entry 2 (rule DDA-ORG-*, resource *) expired on 2001-01-01 and no longer "
    "applies; renew or remove it (owner grc@example.com)",
    "{path}: entry 3 (rule DDA-NOPE-*, resource *) matched no finding; remove it or correct "
    "its patterns (owner nobody@example.com)",
]


def _main(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
          *args: str) -> tuple[int, str, str]:
    """Run the console entry point; (exit code, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["ddaudit", *args])
    code = 0
    try:
        main()
    except SystemExit as stop:
        code = int(stop.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture()
def listener() -> Iterator[socket.socket]:
    """A loopback port that accepts connections, so a test can prove none was made."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.setblocking(False)
    yield sock
    sock.close()


def _config(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "ddaudit.toml"
    path.write_text(
        "[scan]\n"
        f'database = "sqlite:///{tmp_path / "scan.db"}"\n'
        f'output = "{tmp_path / "out"}"\n'
        "allow_custom_endpoints = true\n"
        "[[targets]]\n"
        'name = "prod"\nsite = "datadoghq.com"\napi_key_env = "K"\napp_key_env = "A"\n'
        f'api_url = "{url}"\n'
        "[suppressions]\n"
        'file = "supp.yaml"\n'
    )
    return path


def test_malformed_file_stops_scan_before_any_request(
    tmp_path: Path, listener: socket.socket, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("K", "api-key-value")
    monkeypatch.setenv("A", "app-key-value")
    port = listener.getsockname()[1]
    config = _config(tmp_path, f"http://127.0.0.1:{port}")
    (tmp_path / "supp.yaml").write_text(
        ENTRIES + "- {rule: DDA-KEY-001, resource: ci-*, reason: r, expires: 2099-01-01}\n")
    code, out, err = _main(monkeypatch, capsys, "scan", "--config", str(config))
    assert code == 2 and out == ""
    assert err == f"ddaudit: error: {tmp_path / 'supp.yaml'}: entry 4: 'owner' is required\n"
    with pytest.raises(BlockingIOError):
        listener.accept()  # nobody ever connected
    database = tmp_path / "scan.db"
    if database.exists():
        engine = create_engine(f"sqlite:///{database}")
        if "scans" in inspect(engine).get_table_names():
            with engine.connect() as conn:
                assert conn.execute(select(func.count()).select_from(scans)).scalar() == 0
        engine.dispose()


def test_evaluation_logs_expired_and_unused_entries(
    snap: Snap, tmp_path: Path, pack: RulePack, caplog: pytest.LogCaptureFixture,
) -> None:
    path = tmp_path / "supp.yaml"
    path.write_text(ENTRIES)
    t = snap.target(saml_enabled=False)
    snap.app_key(t, "leaky", leaked=True)
    evaluation = RuleStage(pack, RuleSettings(), load_suppressions(path))
    with caplog.at_level(logging.WARNING):
        found = evaluation.run(snap.engine, snap.scan_id)
    status = {(f.rule_id, f.resource_id): f.status for f in found}
    assert status[("DDA-KEY-007", "leaky")] == "suppressed"
    assert status[("DDA-ORG-001", "pub-prod")] == "open"  # its entry has expired
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [
        w.format(path=path) for w in WARNINGS]
    usage = found.suppression_usage
    assert [e.index for e in usage.active] == [1]
    assert [e.index for e in usage.expired] == [2] and [e.index for e in usage.unused] == [3]
    assert found.tally(status="suppressed") == 1


def test_cli_evaluate_applies_and_reports(
    tmp_path: Path, pack: RulePack, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("K", "k")
    monkeypatch.setenv("A", "a")
    url = f"sqlite:///{tmp_path / 'scan.db'}"
    engine = open_store(url)
    snap = Snap(engine, pack, "scan-1", utcnow().replace(microsecond=0))
    t = snap.target(saml_enabled=False)
    snap.app_key(t, "leaky", leaked=True)
    engine.dispose()
    config = _config(tmp_path, "http://127.0.0.1:9")
    (tmp_path / "supp.yaml").write_text(ENTRIES)
    code, out, err = _main(monkeypatch, capsys, "evaluate", "--config", str(config),
                           "--database", url, "--scan", "scan-1")
    assert code == 0, err
    assert out.startswith("scan scan-1: ")
    logged = [line.split(" WARNING ", 1)[1] for line in err.splitlines() if " WARNING " in line]
    assert logged == [w.format(path=tmp_path / "supp.yaml") for w in WARNINGS]
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(select(findings.c.rule_id, findings.c.status,
                                   findings.c.suppression)).all()
    engine.dispose()
    assert {(r.rule_id, r.status) for r in rows if r.rule_id in
            ("DDA-KEY-007", "DDA-ORG-001")} == {("DDA-KEY-007", "suppressed"),
                                                ("DDA-ORG-001", "open")}
    leak = next(r for r in rows if r.rule_id == "DDA-KEY-007")
    assert json.loads(leak.suppression)["ticket"] == "INC-42"


@pytest.mark.slow
def test_scan_of_simulated_estate_with_suppressions(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    supp = tmp_path / "supp.yaml"
    supp.write_text(ENTRIES)
    estate = demo_estate(utcnow())
    with SimulatedDatadog.start_in_thread(estate) as server:
        config = simulator_config(estate, dict(server.urls), tmp_path / "out",
                                  f"sqlite:///{tmp_path / 'ddaudit.db'}")
        config = replace(config, suppressions_file=supp)
        with caplog.at_level(logging.WARNING):
            outcome = run_scan(config, open_store(config.database), policy=FAST_RETRIES)
    assert outcome.report is not None
    document = json.loads((outcome.report.parent / "findings.json").read_text())
    key7 = [f for f in document["findings"] if f["rule_id"] == "DDA-KEY-007"]
    # every leaked key found is suppressed; an org whose keys were not fully collected
    # gets a not_assessed finding, which no entry ever suppresses
    leaks = [f for f in key7 if f["status"] != "not_assessed"]
    assert leaks and {f["status"] for f in leaks} == {"suppressed"}
    assert all(f["suppression"] is None for f in key7 if f["status"] == "not_assessed")
    assert {f["suppression"]["reason"] for f in leaks} == {
        "leak handled in INC-42, keys revoked upstream"}
    org = [f for f in document["findings"] if f["rule_id"].startswith("DDA-ORG-")]
    assert org and all(f["suppression"] is None for f in org)
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING
            and "supp.yaml" in r.getMessage()] == [w.format(path=supp) for w in WARNINGS]


def _suppressions_section(html_path: Path) -> str:
    html = html_path.read_text(encoding="utf-8")
    return html[html.index('<section id="suppressions">'):html.index('<section id="coverage">')]


def test_usage_is_stored_and_replaced_per_evaluation(snap: Snap, tmp_path: Path,
                                                     pack: RulePack) -> None:
    path = tmp_path / "supp.yaml"
    path.write_text(ENTRIES)
    t = snap.target(saml_enabled=False)
    snap.app_key(t, "leaky", leaked=True)
    snap.app_key(t, "leaky-too", leaked=True)
    RuleStage(pack, RuleSettings(), load_suppressions(path)).run(snap.engine, snap.scan_id)

    def stored() -> list[tuple[object, ...]]:
        with snap.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(
                select(suppression_usage.c.position, suppression_usage.c.rule,
                       suppression_usage.c.state, suppression_usage.c.matches,
                       suppression_usage.c.expires, suppression_usage.c.ticket)
                .where(suppression_usage.c.scan_id == snap.scan_id)
                .order_by(suppression_usage.c.position))]

    assert stored() == [(1, "DDA-KEY-007", "active", 2, date(2099, 1, 1), "INC-42"),
                        (2, "DDA-ORG-*", "expired", 0, date(2001, 1, 1), None),
                        (3, "DDA-NOPE-*", "unused", 0, date(2099, 1, 1), None)]
    path.write_text(ENTRIES.split("- rule: DDA-ORG-*")[0])  # entry 1 alone
    RuleStage(pack, RuleSettings(), load_suppressions(path)).run(snap.engine, snap.scan_id)
    assert stored() == [(1, "DDA-KEY-007", "active", 2, date(2099, 1, 1), "INC-42")]
    RuleStage(pack, RuleSettings(), None).run(snap.engine, snap.scan_id)
    assert stored() == []


def test_a_later_report_shows_the_usage_of_the_evaluation(
    tmp_path: Path, pack: RulePack, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("K", "k")
    monkeypatch.setenv("A", "a")
    url = f"sqlite:///{tmp_path / 'scan.db'}"
    engine = open_store(url)
    snap = Snap(engine, pack, "scan-1", utcnow().replace(microsecond=0))
    t = snap.target(saml_enabled=False)
    snap.app_key(t, "leaky", leaked=True)
    config = _config(tmp_path, "http://127.0.0.1:9")
    supp = tmp_path / "supp.yaml"
    supp.write_text(ENTRIES)
    args = ("--config", str(config), "--database", url, "--scan", "scan-1")
    assert _main(monkeypatch, capsys, "evaluate", *args)[0] == 0
    # Months later the file has changed: entry 1 renewed differently, the others gone.
    supp.write_text("- {rule: DDA-MAP-*, resource: '*', reason: new policy, owner: x@y.z, "
                    "expires: 2099-01-01}\n")
    code, out, err = _main(monkeypatch, capsys, "report", *args)
    assert code == 0, err
    section = _suppressions_section(Path(out.strip()))
    assert re.findall(r'badge sp-([a-z]+)">', section) == ["active", "expired", "unused"]
    assert "INC-42" in section and "new policy" not in section
    assert "not known" not in section
    with engine.connect() as conn:
        assert conn.execute(select(scans.c.reported_at)).scalar() is not None

    # A scan evaluated before revision 0003 recorded nothing: the current file is used.
    with engine.begin() as conn:
        conn.execute(update(scans).values(evaluated_at=None))
        conn.execute(delete(suppression_usage))
    code, out, err = _main(monkeypatch, capsys, "report", *args)
    assert code == 0, err
    section = _suppressions_section(Path(out.strip()))
    assert re.findall(r'badge sp-([a-z]+)">', section) == ["unused"]
    assert "new policy" in section and "INC-42" not in section
    engine.dispose()
