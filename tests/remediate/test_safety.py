"""The refusals of `ddaudit apply`: each one line and exit 2, before any request."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from scanner.config import Secret
from scanner.errors import ConfigError
from scanner.remediate.model import load_plan, seal
from scanner.remediate.safety import (
    check_own_keys,
    check_plan,
    own_secrets,
    parse_age,
    uses_own_key,
)
from tests.cli_helpers import ddaudit, write_toml
from tests.remediate.conftest import Scanned

pytestmark = pytest.mark.slow
DAY = timedelta(hours=24)


def _write(document: dict[str, Any], path: Path) -> Path:
    path.write_bytes(seal(document)[0])
    return path


@pytest.fixture(scope="module")
def document(scanned: Scanned) -> dict[str, Any]:
    """A plan of the scanned estate (without its sha256, as build_plan returns it)."""
    return scanned.plan(name="safety")


def test_a_plan_edited_after_it_was_written_is_refused(document: dict[str, Any],
                                                       tmp_path: Path) -> None:
    path = _write(document, tmp_path / "written.json")
    assert load_plan(path).plan_id
    text = path.read_text()
    first = json.loads(text)["actions"][0]["resource"]["id"]
    edited = tmp_path / "plan.json"
    edited.write_text(text.replace(first, first[:-1] + ("0" if first[-1] != "0" else "1"), 1))
    with pytest.raises(ConfigError, match="SHA-256 does not match"):
        load_plan(edited)
    (tmp_path / "cut.json").write_text(text[: len(text) // 2])
    with pytest.raises(ConfigError, match="not JSON"):
        load_plan(tmp_path / "cut.json")
    other = json.loads(text) | {"schema": "ddaudit.findings/1"}
    (tmp_path / "other.json").write_text(json.dumps(other))
    with pytest.raises(ConfigError, match="not a ddaudit.plan/1 document"):
        load_plan(tmp_path / "other.json")


def test_a_stale_or_future_or_oversized_plan_is_refused(document: dict[str, Any],
                                                        tmp_path: Path) -> None:
    plan = load_plan(_write(document, tmp_path / "plan.json"))
    now = plan.created_at
    check_plan(plan, now=now + DAY - timedelta(minutes=1), max_age=DAY, max_actions=25)
    with pytest.raises(ConfigError, match="more than --max-age 24h"):
        check_plan(plan, now=now + DAY + timedelta(minutes=1), max_age=DAY, max_actions=25)
    with pytest.raises(ConfigError, match="in the future"):
        check_plan(plan, now=now - timedelta(hours=1), max_age=DAY, max_actions=25)
    count = len(plan.actions)
    check_plan(plan, now=now, max_age=DAY, max_actions=count)
    with pytest.raises(ConfigError, match=f"holds {count} actions, more than --max-actions"):
        check_plan(plan, now=now, max_age=DAY, max_actions=count - 1)


def test_a_call_that_is_not_the_one_its_kind_makes_is_refused_even_when_rehashed(
    document: dict[str, Any], tmp_path: Path,
) -> None:
    edited = json.loads(json.dumps(document))
    edited["actions"][0]["request"]["path"] = "/api/v2/org_connections/x"
    plan = load_plan(_write(edited, tmp_path / "plan.json"))  # hash recomputed: loads
    with pytest.raises(ConfigError, match="is not the one a"):
        check_plan(plan, now=plan.created_at, max_age=DAY, max_actions=25)
    climbing = json.loads(json.dumps(document))
    climbing["actions"][0]["resource"]["id"] = "../api_keys/x"
    plan = load_plan(_write(climbing, tmp_path / "climb.json"))
    with pytest.raises(ConfigError, match="not a plain id"):
        check_plan(plan, now=plan.created_at, max_age=DAY, max_actions=25)


def test_a_key_ddaudit_uses_is_never_revoked(document: dict[str, Any], scanned: Scanned,
                                             tmp_path: Path) -> None:
    plan = load_plan(_write(document, tmp_path / "plan.json"))
    keyed = next(a for a in plan.actions if a.observed.get("last4"))
    secrets = own_secrets(scanned.config, ())
    check_own_keys(plan, secrets)  # the demo's own keys are not in its listings
    own = "0" * 28 + str(keyed.observed["last4"])
    with pytest.raises(ConfigError, match=f"action {keyed.number} would revoke .* ddaudit itself"):
        check_own_keys(plan, [*secrets, own])
    assert uses_own_key(["ddpat_" + "A" * 22 + "_" + "s" * 36], public_portion="ddpat_" + "A" * 22)
    assert not uses_own_key(["x" * 40], public_portion="ddpat_" + "A" * 22, last4="abcd")


def test_the_keys_of_the_targets_acted_on_must_be_readable(scanned: Scanned) -> None:
    target = scanned.config.targets[0]
    unset = Secret.from_env("NOT_SET_FOR_THIS_TEST", "NOT_SET_FOR_THIS_TEST is not set; "
                            "export it", {})
    config = replace(scanned.config, targets=(replace(target, write_api_key=unset,
                                                      write_app_key=unset),
                                              *scanned.config.targets[1:]))
    assert len(own_secrets(config, ())) == 2 * len(config.targets)  # the unset pair skipped
    with pytest.raises(ConfigError, match="NOT_SET_FOR_THIS_TEST"):
        own_secrets(config, {target.name})


@pytest.mark.parametrize(("text", "hours"), [("24h", 24), ("90m", 1.5), ("2d", 48),
                                             ("3600s", 1)])
def test_max_age_takes_seconds_minutes_hours_or_days(text: str, hours: float) -> None:
    assert parse_age(text) == timedelta(hours=hours)
    for bad in ("24", "0h", "-1h", "1w", ""):
        with pytest.raises(ConfigError, match="--max-age"):
            parse_age(bad)


def test_apply_refusals_are_one_line_and_exit_2(document: dict[str, Any], scanned: Scanned,
                                                tmp_path: Path) -> None:
    toml, env = write_toml(scanned.config, tmp_path)
    good = _write(document, tmp_path / "plan.json")
    tampered = tmp_path / "tampered.json"
    tampered.write_text(good.read_text().replace('"number": 1', '"number": 7', 1))
    old = json.loads(json.dumps(document)) | {"created_at": "2020-01-01T00:00:00Z"}
    cases = {
        "does not match": [str(tampered), "--approved-by", "A"],
        "more than --max-age": [str(_write(old, tmp_path / "old.json")), "--approved-by", "A"],
        "more than --max-actions": [str(good), "--approved-by", "A", "--max-actions", "1"],
        "--approved-by is empty": [str(good), "--approved-by", " "],
        "not a terminal: pass --yes": [str(good), "--approved-by", "A"],
    }
    for needle, args in cases.items():
        result = ddaudit("apply", *args, "--config", str(toml), env=env, cwd=tmp_path)
        assert result.returncode == 2, (needle, result.stdout, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and needle in lines[0], (needle, lines)
        assert not (scanned.config.output / "remediation").exists()
    missing = ddaudit("apply", str(good), "--config", str(toml), env=env, cwd=tmp_path)
    assert missing.returncode == 2 and "--approved-by" in missing.stderr
