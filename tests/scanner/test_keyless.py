"""Commands that send no request need no Datadog key, with or without --config; `scan` and
`collect` still stop before any request, in one line, when a key variable is unset."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from scanner.cli import cli
from scanner.demo import simulator_config
from scanner.simulator import SimulatedDatadog, SimulatorThread, demo_estate
from scanner.simulator.model import Estate
from scanner.timeutil import utcnow
from tests.cli_helpers import ddaudit, write_toml

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Scanned:
    """A database holding two real scans of the simulator, and the config that made them."""

    folder: Path
    database: str
    config: Path  # names the key variables K0, A0, ...; none of them is set in the tests
    variables: tuple[str, ...]
    older: str
    newer: str


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scanned]:
    """Two `ddaudit scan --config` runs, in a child process holding the keys."""
    folder = tmp_path_factory.mktemp("keyless")
    estate = demo_estate(utcnow())
    database = f"sqlite:///{folder / 'ddaudit.db'}"
    with SimulatedDatadog.start_in_thread(estate) as server:
        config, env = write_toml(simulator_config(estate, dict(server.urls), folder / "out",
                                                  database), folder)
        ids = []
        for _ in range(2):
            result = ddaudit("scan", "--config", str(config), env=env, cwd=folder)
            # 3: partial, one key pair of the demo estate lacks org_app_keys_read.
            assert result.returncode == 3, result.stderr[-2000:]
            ids.append(result.stdout.split()[1])
    assert ids[0] != ids[1]
    yield Scanned(folder, database, config, tuple(k for k in env if k != "PATH"), *ids)


@pytest.fixture
def keyless(monkeypatch: pytest.MonkeyPatch, scanned: Scanned, tmp_path: Path) -> CliRunner:
    """No DD_* variable and none of the config's key variables set; cwd an empty folder."""
    for name in list(os.environ):
        if name.startswith("DD_"):
            monkeypatch.delenv(name)
    for name in scanned.variables:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return CliRunner()


def _run(runner: CliRunner, *args: str) -> str:
    """Invoke the CLI in process; it must succeed without reading a key."""
    assert not any(k.startswith("DD_") for k in os.environ)
    result = runner.invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, (args, result.output)
    assert "not set" not in result.output
    return result.stdout


def _sources(scanned: Scanned) -> dict[str, list[str]]:
    return {"database": ["--database", scanned.database],
            "config": ["--config", str(scanned.config)],
            "config+database": ["--config", str(scanned.config), "--database", scanned.database]}


SOURCES = ["database", "config", "config+database"]


@pytest.mark.parametrize("source", SOURCES)
def test_scans_list_db_status_and_upgrade_need_no_key(
    keyless: CliRunner, scanned: Scanned, source: str,
) -> None:
    where = _sources(scanned)[source]
    table = _run(keyless, "scans", "list", *where)
    assert table.splitlines()[0].split()[:2] == ["id", "started"]
    listed = [line.split()[0] for line in table.splitlines()[1:]]
    assert listed[-2:] == [scanned.newer, scanned.older]  # newest first
    rows = [json.loads(line) for line in _run(keyless, "scans", "list", "--json", *where)
            .splitlines()]
    assert {scanned.older, scanned.newer} <= {r["id"] for r in rows}
    assert all(r["targets"] == 14 for r in rows if r["id"] in (scanned.older, scanned.newer))
    assert re.fullmatch(r"revision (\S+); this ddaudit needs \1: up to date\n",
                        _run(keyless, "db", "status", *where))
    assert _run(keyless, "db", "upgrade", *where).startswith("database already at revision")


@pytest.mark.parametrize("source", SOURCES)
def test_evaluate_and_report_need_no_key(
    keyless: CliRunner, scanned: Scanned, source: str, tmp_path: Path,
) -> None:
    where = _sources(scanned)[source]
    evaluated = _run(keyless, "evaluate", "--scan", scanned.older, *where)
    match = re.fullmatch(rf"scan {scanned.older}: (\d+) findings\n", evaluated)
    assert match and int(match.group(1)) > 0, evaluated
    out = tmp_path / "reports"
    report = Path(_run(keyless, "report", "--scan", scanned.older, "--output", str(out),
                       *where).strip())
    assert report == out / scanned.older / "report.html" and report.is_file()
    assert "Acme" in report.read_text(encoding="utf-8")
    document = json.loads((report.parent / "findings.json").read_text())
    assert len(document["findings"]) == int(match.group(1))
    # And the bundle it wrote checks out (verify never needs a key either).
    checked = _run(keyless, "verify", str(report.parent))
    assert re.search(r"^OK: .*: \d+ files checked, 0 problems$", checked, re.M), checked
    if source == "config":  # without --output: the config's [scan] output
        default = Path(_run(keyless, "report", "--scan", scanned.newer, *where).strip())
        assert default == scanned.folder / "out" / scanned.newer / "report.html"
        assert default.is_file()


@pytest.mark.parametrize("source", SOURCES)
def test_diff_and_prune_need_no_key(keyless: CliRunner, scanned: Scanned, source: str) -> None:
    where = _sources(scanned)[source]
    text = _run(keyless, "diff", "--from", scanned.older, "--to", scanned.newer, *where)
    assert text.startswith(f"diff {scanned.older} -> {scanned.newer}: "), text
    document = json.loads(_run(keyless, "diff", "--from", scanned.older, "--to", scanned.newer,
                               "--format", "json", *where))
    assert (document["from"], document["to"]) == (scanned.older, scanned.newer)
    pruned = _run(keyless, "prune", "--keep-days", "90", "--dry-run", *where)
    assert pruned.startswith("would delete 0 scans older than 90 days"), pruned


@pytest.mark.parametrize("with_config", [False, True])
def test_rules_commands_need_no_key(keyless: CliRunner, scanned: Scanned,
                                    with_config: bool) -> None:
    where = ["--config", str(scanned.config)] if with_config else []
    listed = _run(keyless, "rules", "list", *where)
    assert re.search(r"^DDA-KEY-001\s", listed, re.M) and " rules (" in listed
    shown = _run(keyless, "rules", "show", "DDA-KEY-001", *where)
    assert "DDA-KEY-001" in shown and "condition:" in shown


def test_no_option_at_all_uses_the_default_database_like_scan(
    keyless: CliRunner, scanned: Scanned, tmp_path: Path,
) -> None:
    """Without --config and --database every command reads ./ddaudit.db, where `scan`
    without a config writes (db, scans and prune used to refuse instead)."""
    (tmp_path / "ddaudit.db").write_bytes((scanned.folder / "ddaudit.db").read_bytes())
    assert scanned.newer in _run(keyless, "scans", "list")
    assert _run(keyless, "diff").startswith(f"diff {scanned.older} -> {scanned.newer}: ")
    assert _run(keyless, "evaluate").startswith(f"scan {scanned.newer}: ")
    report = Path(_run(keyless, "report").strip())
    assert report == Path("ddaudit-out") / scanned.newer / "report.html"
    assert (tmp_path / report).is_file()
    assert _run(keyless, "prune", "--keep-days", "30").startswith("deleted 0 scans")
    assert "up to date" in _run(keyless, "db", "status")


def test_report_in_a_child_process_with_only_path_set(scanned: Scanned, tmp_path: Path) -> None:
    """The reviewer's laptop: no key anywhere in the environment, the config as given."""
    env = {"PATH": "/usr/bin:/bin"}
    result = ddaudit("report", "--scan", scanned.older, "--config", str(scanned.config),
                     "--output", str(tmp_path / "mine"), env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "mine" / scanned.older / "report.html").is_file()
    listed = ddaudit("scans", "list", "--database", scanned.database, env=env, cwd=tmp_path)
    assert listed.returncode == 0 and scanned.older in listed.stdout, listed.stderr


# --- scan and collect still refuse, before any request, when a key is missing -------------


@pytest.fixture
def estate() -> Estate:
    """The demo estate, served by the `server` fixture (tests/conftest.py)."""
    return demo_estate(utcnow())


def _config_with_unset(folder: Path, url: str) -> Path:
    """Two targets: 'a' with its keys (K_A, A_A) set by the test, 'b' naming NOPE_B."""
    path = folder / "ddaudit.toml"
    path.write_text(
        f'[scan]\nallow_custom_endpoints = true\noutput = "out"\n'
        f'database = "sqlite:///{folder / "k.db"}"\n'
        f'[[targets]]\nname = "a"\nsite = "datadoghq.com"\napi_key_env = "K_A"\n'
        f'app_key_env = "A_A"\napi_url = "{url}"\n'
        f'[[targets]]\nname = "b"\nsite = "datadoghq.com"\napi_key_env = "NOPE_B"\n'
        f'app_key_env = "A_A"\napi_url = "{url}"\n')
    return path


@pytest.mark.parametrize("command", [["scan"], ["scan", "--resume"], ["collect"],
                                     ["collect", "--shard", "2/2"]])
def test_scan_and_collect_with_an_unset_variable_exit_2_in_one_line_before_any_request(
    server: SimulatorThread, estate: Estate, tmp_path: Path, command: list[str],
) -> None:
    url = server.base_url("datadoghq.com")
    config = _config_with_unset(tmp_path, url)
    target = estate.targets[0]
    env = {"PATH": "/usr/bin:/bin", "K_A": target.api_key, "A_A": target.app_key}
    result = ddaudit(*command, "--config", str(config), env=env, cwd=tmp_path)
    assert server.sim.request_count == 0
    assert result.returncode == 2, result.stderr
    assert result.stderr == (f"ddaudit: error: {config}: target 'b' api_key_env: environment "
                             "variable NOPE_B is not set; export NOPE_B\n")
    assert result.stdout == "" and not (tmp_path / "out").exists()


def test_no_config_scan_without_keys_exits_2_naming_both_before_any_request(
    server: SimulatorThread, tmp_path: Path,
) -> None:
    result = ddaudit("scan", "--database", f"sqlite:///{tmp_path / 'x.db'}", "--output", "out",
                     env={"PATH": "/usr/bin:/bin"}, cwd=tmp_path)
    assert server.sim.request_count == 0
    assert result.returncode == 2
    assert result.stderr == ("ddaudit: error: no config file and DD_API_KEY and DD_APP_KEY not "
                             "set; pass --config FILE or export DD_API_KEY, DD_APP_KEY (and "
                             "DD_SITE)\n")


def test_a_shard_needs_only_its_own_targets_keys(
    server: SimulatorThread, estate: Estate, tmp_path: Path,
) -> None:
    """Shard 1 of 2 takes target 'a' (sorted by name): 'b''s unset key does not stop it."""
    url = server.base_url("datadoghq.com")
    config = _config_with_unset(tmp_path, url)
    target = next(t for t in estate.targets if t.site == "datadoghq.com")
    env = {"PATH": "/usr/bin:/bin", "K_A": target.api_key, "A_A": target.app_key}
    result = ddaudit("collect", "--config", str(config), "--shard", "1/2", "--scan", "s1",
                     env=env, cwd=tmp_path)
    assert result.returncode in (0, 3), result.stderr[-2000:]
    assert result.stdout.startswith("scan s1 shard 1/2 ") and "1 targets" in result.stdout
    assert server.sim.request_count > 0
    secrets = [target.api_key, target.app_key]
    assert not [s for s in secrets if s in result.stdout + result.stderr]


def test_help_shows_the_same_shared_options_everywhere() -> None:
    runner = CliRunner()
    texts = {}
    for args in (["scan"], ["evaluate"], ["report"], ["prune"], ["diff"], ["scans", "list"],
                 ["db", "status"], ["db", "upgrade"], ["collect"]):
        out = runner.invoke(cli, [*args, "--help"]).output
        texts[" ".join(args)] = " ".join(out.split())
    config_help = {re.search(r"--config PATH (.*?) --", t).group(1)  # type: ignore[union-attr]
                   for t in texts.values()}
    database_help = {re.search(r"--database TEXT (.*?\))", t).group(1)  # type: ignore[union-attr]
                     for t in texts.values()}
    assert len(config_help) == 1 and len(database_help) == 1, (config_help, database_help)
    assert all("--output" in texts[c] for c in ("scan", "evaluate", "report", "prune"))
