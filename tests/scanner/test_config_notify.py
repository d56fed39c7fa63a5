"""[[notify]] keys of the notifications: attempts, backoff, report_url; each bad value one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from scanner.config import load_config
from scanner.errors import ConfigError

BASE = """
[[targets]]
name = "prod"
site = "datadoghq.com"
api_key_env = "K1"
app_key_env = "A1"

[[notify]]
kind = "webhook"
name = "hook"
url_env = "HOOK"
"""


def _load(tmp_path: Path, extra: str) -> object:
    path = tmp_path / "ddaudit.toml"
    path.write_text(BASE + extra)
    return load_config(path, {})


def test_retry_keys_and_report_url_load_with_their_defaults(tmp_path: Path) -> None:
    default = _load(tmp_path, "").notify[0]  # type: ignore[attr-defined]
    assert (default.attempts, default.backoff, default.timeout, default.report_url) == (
        3, 2.0, 10.0, None)
    set_ = _load(tmp_path, 'attempts = 1\nbackoff = 0\ntimeout = 2.5\n'
                 'report_url = "https://audit.example.com/out"\n').notify[0]  # type: ignore[attr-defined]
    assert (set_.attempts, set_.backoff, set_.timeout, set_.report_url) == (
        1, 0.0, 2.5, "https://audit.example.com/out")
    assert [s.variable for s in set_.secrets] == ["HOOK"]


@pytest.mark.parametrize("extra, message", [
    ("attempts = 0\n", "[[notify]] 'hook' attempts must be a whole number from 1 to 10"),
    ("attempts = 11\n", "attempts must be a whole number from 1 to 10"),
    ("attempts = true\n", "attempts must be a whole number"),
    ("backoff = -1\n", "[[notify]] 'hook' backoff must be a number of seconds >= 0"),
    ('report_url = "audit.example.com"\n', "report_url 'audit.example.com' is not an http(s)"),
    ("report_url = 3\n", "report_url must be a string"),
])
def test_bad_values_are_one_clear_line(tmp_path: Path, extra: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, extra)
    assert message in str(caught.value) and "\n" not in str(caught.value)
    assert str(tmp_path / "ddaudit.toml") in str(caught.value)
