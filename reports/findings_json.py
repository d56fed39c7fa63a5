"""Render findings.json (schema `ddaudit.findings/1`, docs/outputs.md) for one scan.

The document is written as the findings stream by: `head`, then each finding (`finding`,
`_finding` says what it holds), then `tail`. The text is exactly that of
`json.dumps(document, indent=2, ensure_ascii=False)` plus a newline (`indented` writes
one value the same way, faster, so that a million findings do not take minutes).
"""

from __future__ import annotations

import json
from functools import lru_cache
from json.encoder import encode_basestring

from reports.load import CoverageRow, ScanReport, ScanSummary
from rules.model import Finding
from scanner.timeutil import isoformat_z as _isoformat_z

# Findings share their first-seen times: each is formatted once.
isoformat_z = lru_cache(maxsize=1024)(_isoformat_z)

SCHEMA = "ddaudit.findings/1"
INDENT = "  "
ITEM_LEVEL = 2  # findings are items of document["findings"]


def render_findings_json(report: ScanReport) -> str:
    """Return the findings.json text: fixed key order, indent 2, UTF-8 as is, final newline.

    The same scan always gives the same text, byte for byte.
    """
    items = [finding(f, first=n == 0) for n, f in enumerate(report.findings)]
    return head(report) + "".join(items) + tail(bool(items))


def head(report: ScanReport) -> str:
    """The document up to its findings array (`"findings": `)."""
    document: dict[str, object] = {
        "schema": SCHEMA,
        "scan": _scan(report.scan),
        "coverage": [_coverage(row) for row in report.coverage],
        "findings": [],
    }
    text = json.dumps(document, indent=2, ensure_ascii=False, sort_keys=False)
    return text[: -len("[]\n}")]


def finding(row: Finding, *, first: bool) -> str:
    """One finding as an item of the findings array (the first one opens the array)."""
    opening = "[\n" if first else ",\n"
    return opening + INDENT * ITEM_LEVEL + indented(_finding(row), ITEM_LEVEL)


def tail(any_findings: bool) -> str:
    """The end of the document after the last finding (or the empty array)."""
    return "\n" + INDENT + "]\n}\n" if any_findings else "[]\n}\n"


def _scan(scan: ScanSummary) -> dict[str, object]:
    return {
        "id": scan.id,
        "started_at": isoformat_z(scan.started_at),
        "finished_at": isoformat_z(scan.finished_at),
        "status": scan.status,
        "tool_version": scan.tool_version,
        "rulepack_sha256": scan.rulepack_sha256,
    }


def _coverage(row: CoverageRow) -> dict[str, object]:
    return {
        "target": row.target,
        "site": row.site,
        "org_public_id": row.org_public_id,
        "endpoint": row.endpoint,
        "status": row.status,
        "collected": row.collected,
        "expected": row.expected,
        "error": row.error,
    }


def _finding(row: Finding) -> dict[str, object]:
    return {
        "id": row.id,
        "rule_id": row.rule_id,
        "severity": row.severity,
        "status": row.status,
        "title": row.title,
        "detail": row.detail,
        "site": row.site,
        "org_public_id": row.org_public_id,
        "org_name": row.org_name,
        "target": row.target,
        "resource_type": row.resource_type,
        "resource_id": row.resource_id,
        "resource_name": row.resource_name,
        "owner": row.owner,
        "first_seen": isoformat_z(row.first_seen),
        "controls": list(row.controls),
        "suppression": None if row.suppression is None else dict(row.suppression),
    }


def indented(value: object, level: int) -> str:
    """`value` as json.dumps(indent=2, ensure_ascii=False) writes it `level` deep."""
    kind = type(value)
    if kind is str:
        return encode_basestring(value)  # type: ignore[arg-type]
    if value is None:
        return "null"
    if kind is dict and value:
        assert isinstance(value, dict)
        opening, keys = _level(level)
        if not keys.keys() >= value.keys():  # a key seen first here, or not a string
            if not all(type(k) is str for k in value):
                return _dumps(value, level)
            keys.update((k, opening + encode_basestring(k) + ": ") for k in value)
        deeper = level + 1
        items = [keys[k] + (encode_basestring(v) if type(v) is str else "null" if v is None
                            else indented(v, deeper)) for k, v in value.items()]
        return "{" + ",".join(items) + "\n" + INDENT * level + "}"
    if kind is list and value:
        assert isinstance(value, list)
        if all(type(v) is str for v in value):  # controls: a rule's findings share them
            return _strings(tuple(value), level)
        opening, _ = _level(level)
        return "[" + opening + ("," + opening).join([indented(v, level + 1) for v in value]) + (
            "\n" + INDENT * level + "]")
    return _dumps(value, level)  # numbers, booleans, empty containers


@lru_cache(maxsize=1024)
def _strings(value: tuple[str, ...], level: int) -> str:
    """A non-empty list of strings, `level` deep."""
    opening, _ = _level(level)
    return ("[" + opening + ("," + opening).join(map(encode_basestring, value))
            + "\n" + INDENT * level + "]")


def _dumps(value: object, level: int) -> str:
    """json itself, moved `level` deep."""
    return json.dumps(value, indent=2, ensure_ascii=False).replace("\n", "\n" + INDENT * level)


_LEVELS: dict[int, tuple[str, dict[str, str]]] = {}


def _level(level: int) -> tuple[str, dict[str, str]]:
    """How an item opens `level` deep (newline, indent), and each key's opening with it."""
    known = _LEVELS.get(level)
    if known is None:
        known = _LEVELS[level] = ("\n" + INDENT * (level + 1), {})
    return known
