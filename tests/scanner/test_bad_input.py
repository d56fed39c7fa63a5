"""Bad configuration and command lines: one clear line naming the fix, exit 2, no request."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from scanner.cli import main
from scanner.simulator import SimulatedDatadog, SimulatorThread, demo_estate
from scanner.timeutil import utcnow


@pytest.fixture(scope="module")
def server() -> Iterator[SimulatorThread]:
    """A simulator that must see no request at all from any of these runs."""
    with SimulatedDatadog.start_in_thread(demo_estate(utcnow())) as thread:
        yield thread


def _target(url: str, **extra: str) -> str:
    fields = {"name": "prod", "site": "datadoghq.com", "api_key_env": "K", "app_key_env": "A",
              "api_url": url, **extra}
    return "[[targets]]\n" + "".join(f'{k} = "{v}"\n' for k, v in fields.items() if v)


SCAN = '[scan]\nallow_custom_endpoints = true\noutput = "out"\n'

# (case, config text with {t} for a good target block, extra args, expected fragment)
CASES: list[tuple[str, str, list[str], str]] = [
    ("unknown site", SCAN + "{t:site=datadoghq.moon}", [], "unknown Datadog site 'datadoghq.moon'"),
    ("missing env var", SCAN + "{t:api_key_env=NOT_SET}", [], "NOT_SET is not set; export"),
    ("empty env var name", SCAN + "{t:app_key_env= }", [], "app_key_env is empty; give the name"),
    ("duplicate target", SCAN + "{t}{t}", [], "duplicate target name 'prod'"),
    ("malformed toml", SCAN + "{t}\n[rules\n", [], "not valid TOML"),
    ("wrong type", SCAN.replace('"out"', "7") + "{t}", [], "[scan] output must be"),
    ("unknown top key", SCAN + "{t}\n[colour]\n", [], "unknown key 'colour'"),
    ("unknown scan key", SCAN + "verbose = true\n{t}", [], "unknown key [scan] 'verbose'"),
    ("unknown target key", SCAN + "{t:region=eu}", [], "unknown key [targets] 'region'"),
    ("no targets", SCAN, [], "no [[targets]]"),
    ("target without site", SCAN + "{t:site=}", [], "is missing 'site'"),
    ("custom url not allowed", "[scan]\n{t}", [], "custom endpoints are not allowed"),
    ("plain http off loopback", SCAN + "{t:api_url=http://proxy.corp}", [],
     "plain http is allowed only to loopback"),
    ("bad fail_on", SCAN.replace("output", 'fail_on = "urgent"\noutput') + "{t}", [],
     "fail_on 'urgent' is not a severity"),
    ("unknown disabled rule", SCAN + "{t}\n[rules]\ndisabled = [\"DDA-NOPE-1\"]\n", [],
     "DDA-NOPE-1"),
    ("unknown rule parameter",
     SCAN + "{t}\n[rules.params.\"DDA-KEY-001\"]\nstale_dayz = 3\n", [], "stale_dayz"),
    ("missing custom rule dir", SCAN + "{t}\n[rules]\ncustom_dirs = [\"nowhere\"]\n", [],
     "nowhere"),
    ("bad rule file", SCAN + "{t}\n[rules]\ncustom_dirs = [\"custom\"]\n", [],
     "DDA-CUSTOM-1.yaml"),
    ("malformed suppressions", SCAN + "{t}\n[suppressions]\nfile = \"supp.yaml\"\n", [],
     "supp.yaml"),
    ("unwritable output", SCAN.replace('"out"', '"afile/out"') + "{t}", [],
     "output folder afile/out is not writable"),
    ("bad database url", SCAN.replace("output", 'database = "nonsense"\noutput') + "{t}", [],
     "database URL 'nonsense' is not a SQLAlchemy URL"),
    ("missing config file", "", ["--config", "missing.toml"], "missing.toml: file not found"),
    ("bad --fail-on", SCAN + "{t}", ["--fail-on", "urgent"], "'urgent' is not one of"),
    ("unreadable config (a folder)", "", ["--config", "custom"], "custom: cannot read it"),
    ("TLS verification off", SCAN.replace("output", "verify_tls = false\noutput") + "{t}", [],
     "unknown key [scan] 'verify_tls'"),
    ("target name not a string", SCAN + "[[targets]]\nname = 3\n", [],
     "[[targets]] #1 name must be a string, got int"),
    ("keep_days zero", SCAN.replace("output", "keep_days = 0\noutput") + "{t}", [],
     "keep_days must be at least 1"),
]


def _render(text: str, url: str) -> str:
    out = text
    while "{t" in out:
        start = out.index("{t")
        end = out.index("}", start)
        spec = out[start + 2:end].lstrip(":")
        extra = dict(kv.split("=", 1) for kv in spec.split(",") if kv) if spec else {}
        out = out[:start] + _target(url, **extra) + out[end + 1:]
    return out


@pytest.mark.parametrize(("case", "text", "args", "fragment"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_exit_2_and_no_request(
    case: str, text: str, args: list[str], fragment: str, server: SimulatorThread,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("K", "k" * 32)
    monkeypatch.setenv("A", "a" * 40)
    (tmp_path / "afile").write_text("a file, not a folder")
    (tmp_path / "custom").mkdir()
    (tmp_path / "custom" / "DDA-CUSTOM-1.yaml").write_text("id: DDA-CUSTOM-1\nseverity: dire\n")
    (tmp_path / "supp.yaml").write_text("- rule: DDA-KEY-001\n  reason: [unclosed\n")
    url = server.base_url("datadoghq.com")
    (tmp_path / "ddaudit.toml").write_text(_render(text, url))
    before = server.sim.request_count
    config_args = args if "--config" in args else ["--config", "ddaudit.toml", *args]
    argv = ["ddaudit", "scan", *config_args]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as exited:
        main()
    err = capsys.readouterr().err
    assert exited.value.code == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert fragment in err, err
    assert len(lines) <= 3 and "Traceback" not in err  # click's usage errors add a hint line
    if case != "bad --fail-on":
        assert len(lines) == 1, err
    assert server.sim.request_count == before
    assert len(CASES) >= 15


def test_an_unparseable_database_url_never_echoes_its_password() -> None:
    from scanner.errors import ConfigError
    from scanner.preflight import check_database_url

    with pytest.raises(ConfigError) as err:
        check_database_url("postgresql+psycopg://scanner:s3cr#t/pw@db.internal:notaport/x")
    assert "s3cr" not in str(err.value) and "postgresql+psycopg://…" in str(err.value)
