"""The streamed formats write exactly the text json.dumps (and uuid5) would: byte for byte."""

from __future__ import annotations

import json
import random
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from report_seed import HOSTILE, SCAN_ID, XSS_ATTR, MakeStore, Seed
from sqlalchemy import Engine

from reports import write_reports
from reports.findings_json import indented
from reports.oscal import NAMESPACE, oscal_uuid

ODD = f"{HOSTILE} \u2028 \u00e9 \U0001f600 \\ \"q\" \t\x01 _*[`]"


@pytest.fixture
def odd_store(make_store: MakeStore) -> Engine:
    """The standard scan with names full of what JSON and Markdown escape."""
    return make_store(Seed(org_names=(ODD, "Acme EU"), targets=("prod-us1" + XSS_ATTR, "eu"),
                           resource_name=ODD, detail=f"Key {ODD} was last used never.",
                           owner=ODD), name="odd")


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@pytest.mark.parametrize("seeded", ["store", "odd_store"])
def test_each_file_is_the_text_json_dumps_writes(
    seeded: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    engine: Engine = request.getfixturevalue(seeded)
    out = tmp_path / "out" / SCAN_ID
    write_reports(engine, SCAN_ID, out)
    text = (out / "findings.json").read_text(encoding="utf-8")
    assert text == json.dumps(json.loads(text), indent=2, ensure_ascii=False) + "\n"
    lines = (out / "findings.ocsf.jsonl").read_text(encoding="utf-8").split("\n")[:-1]
    assert len(lines) == 10 and all(line == _compact(json.loads(line)) for line in lines)
    oscal = (out / "assessment-results.json").read_text(encoding="utf-8")
    assert oscal == _compact(json.loads(oscal)) + "\n"
    page = (out / "report.html").read_text(encoding="utf-8")
    data = re.search(r'id="findings-data">(.*?)</script>', page, re.S)
    assert data is not None
    safe = (_compact(json.loads(data.group(1))).replace("&", "\\u0026").replace("<", "\\u003c")
            .replace(">", "\\u003e").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))
    assert data.group(1) == safe


def test_oscal_ids_are_uuid5() -> None:
    for parts in [("s", "observation", "f1"), ("20261121T020000Z-3f9a1c", "result"),
                  ("é\U0001f600", "x/y"), ("",)]:
        assert oscal_uuid(*parts) == str(uuid.uuid5(NAMESPACE, "/".join(parts)))


def _value(rng: random.Random, depth: int = 0) -> Any:
    kinds = ["str", "none", "int", "float", "bool"] + (["list", "dict"] * 2 if depth < 3 else [])
    kind = rng.choice(kinds)
    if kind == "str":
        return "".join(rng.choice(ODD + "abc") for _ in range(rng.randrange(0, 8)))
    if kind == "int":
        return rng.randrange(-10**6, 10**6)
    if kind == "float":
        return rng.choice([0.5, -1e300, 1e-7, 3.0])
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "list":
        return [_value(rng, depth + 1) for _ in range(rng.randrange(0, 4))]
    if kind == "dict":
        keys = [rng.choice(["a", "b", ODD, "\n", "owner", 1, None]) for _ in range(
            rng.randrange(0, 4))]
        return {k: _value(rng, depth + 1) for k in keys}
    return None


def test_indented_writes_what_json_dumps_writes() -> None:
    rng = random.Random(13)
    for _ in range(500):
        value = _value(rng)
        for level in (0, 2):
            expected = json.dumps(value, indent=2, ensure_ascii=False)
            assert indented(value, level) == expected.replace("\n", "\n" + "  " * level)
