"""Loading and validating rule files (the built-in pack plus custom folders) into a RulePack."""

from __future__ import annotations

import hashlib
import re
import string
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import create_engine
from sqlalchemy.exc import SQLAlchemyError

from rules.fragments import NAME, FragmentError, Fragments, expand, resolve
from rules.model import (
    BUILTIN_BINDS,
    REQUIRED_COLUMNS,
    RESOURCE_TYPES,
    SEVERITIES,
    Rule,
    RulePack,
)
from rules.params import bind_names, bind_values, derived_names, statement
from scanner.errors import RuleError
from scanner.store.schema import RULE_INPUTS, metadata

PACK_DIR = Path(__file__).resolve().parent / "pack"
PACK_FILE = "_pack.yaml"

_ID = re.compile(r"^[A-Z][A-Z0-9]*(-[A-Z0-9]+)+$")
_TEXT_FIELDS = ("title", "description", "rationale", "remediation", "detail", "condition")
_FIELDS = frozenset(
    {"id", "severity", "resource_type", "references", "controls", "parameters", "inputs"}
    | set(_TEXT_FIELDS)
)
_OPTIONAL = frozenset({"parameters", "references"})


def load_rulepack(custom_dirs: Sequence[Path] = ()) -> RulePack:
    """Load the built-in pack and any custom rule folders; RuleError on any bad file."""
    pack_path = PACK_DIR / PACK_FILE
    files: list[Path] = [pack_path] if pack_path.exists() else []
    pack_params, fragments, definitions = (_load_pack_file(pack_path) if files
                                           else ({}, Fragments(), {}))
    rule_files = sorted(p for p in PACK_DIR.glob("*.yaml") if p.name != PACK_FILE)
    for folder in custom_dirs:
        if not Path(folder).is_dir():
            raise RuleError(f"{folder}: custom rule folder does not exist; create it or remove "
                            "it from [rules] custom_dirs")
        rule_files.extend(sorted(Path(folder).glob("*.y*ml")))
    files.extend(rule_files)
    rules: dict[str, Rule] = {}
    for path in rule_files:
        rule = _load_rule(path, pack_params, fragments)
        if rule.id in rules:
            raise RuleError(
                f"{_show(path)}: field 'id' {rule.id} is already defined in "
                f"{_show(rules[rule.id].path)}"
            )
        rules[rule.id] = rule
    ordered = tuple(rules[k] for k in sorted(rules))
    _dry_run(ordered, pack_params)
    return RulePack(
        rules=ordered, pack_parameters=pack_params, sha256=_hash(files), files=tuple(files),
        fragments=fragments.texts, definitions=definitions,
    )


def _show(path: Path) -> str:
    try:
        return str(path.relative_to(PACK_DIR.parent.parent))
    except ValueError:
        return str(path)


def _hash(files: Sequence[Path]) -> str:
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def yaml_problem(exc: yaml.YAMLError) -> str:
    """What is wrong in a YAML file and where to fix it, lines and columns 1-based.

    `problem_mark` is where the parser gave up; `context_mark`, when there is one, where
    the construct it was reading began (an unclosed quote, a bracket): the mistake lies
    between the two.
    """
    def at(mark: object) -> str:
        return f"line {getattr(mark, 'line', 0) + 1}, column {getattr(mark, 'column', 0) + 1}"

    problem = getattr(exc, "problem", None) or exc.__class__.__name__
    mark = getattr(exc, "problem_mark", None)
    if mark is None:
        return f"{problem}; fix the YAML syntax"
    context, start = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    if context and start is not None and at(start) != at(mark):
        return (f"{problem} at {at(mark)} ({context} started at {at(start)}); "
                f"fix the YAML syntax between {at(start)} and {at(mark)}")
    return f"{problem} at {at(mark)}; fix the YAML syntax at {at(mark)}"


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise RuleError(f"{_show(path)}: not readable YAML: {yaml_problem(exc)}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise RuleError(f"{_show(path)}: not readable YAML ({exc.__class__.__name__}); "
                        "check that it is a readable UTF-8 text file") from exc
    if not isinstance(data, dict):
        raise RuleError(f"{_show(path)}: must be a mapping of fields")
    return data


def _load_pack_file(path: Path) -> tuple[dict[str, Any], Fragments, dict[str, str]]:
    """The pack-level parameters, named SQL fragments and shared definitions of `_pack.yaml`."""
    data = _read_yaml(path)
    unknown = sorted(str(k) for k in set(data) - {"parameters", "fragments", "definitions"})
    if unknown:
        raise _fail(path, unknown[0],
                    "is not a pack field (parameters, fragments, definitions)")
    definitions = data.get("definitions") or {}
    if not isinstance(definitions, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and v.strip()
            for k, v in definitions.items()):
        raise _fail(path, "definitions", "must be a mapping of term to its definition text")
    params = data.get("parameters") or {}
    if not isinstance(params, dict):
        raise _fail(path, "parameters", "must be a mapping of name to default")
    for name, value in params.items():
        _check_param(path, str(name), value)
    raw = data.get("fragments") or {}
    if not isinstance(raw, dict):
        raise _fail(path, "fragments", "must be a mapping of name to SQL text")
    for name, text in raw.items():
        if not isinstance(name, str) or not NAME.fullmatch(name):
            raise _fail(path, "fragments", f"has a bad name {name!r} (use lower_case)")
        if not isinstance(text, str) or not text.strip():
            raise _fail(path, f"fragments.{name}", "must be a non-empty string of SQL")
    try:
        fragments = resolve(raw)
    except FragmentError as exc:
        raise RuleError(f"{_show(path)}: field {exc}") from exc
    return {str(k): v for k, v in params.items()}, fragments, dict(definitions)


def _check_param(path: Path, name: str, value: object) -> None:
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise RuleError(f"{_show(path)}: field 'parameters' has a bad name {name!r}")
    scalar = (int, str, float)
    ok = isinstance(value, scalar) or (
        isinstance(value, list) and all(isinstance(v, scalar) for v in value)
    )
    if not ok or isinstance(value, bool):
        raise RuleError(
            f"{_show(path)}: field 'parameters.{name}' must be a number, a string or a list"
        )


def _fail(path: Path, field: str, problem: str) -> RuleError:
    return RuleError(f"{_show(path)}: field '{field}' {problem}")


def _str_list(path: Path, field: str, value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise _fail(path, field, 'must be a list of strings (quote numbers like "5.15")')
    return tuple(value)


def _load_rule(path: Path, pack_params: Mapping[str, Any], fragments: Fragments) -> Rule:
    data = _read_yaml(path)
    for name in sorted(_FIELDS - _OPTIONAL):
        if name not in data:
            raise _fail(path, name, "is required")
    unknown = sorted(str(k) for k in set(data) - _FIELDS)
    if unknown:
        raise _fail(path, unknown[0], "is not a rule field")
    for name in ("id", *_TEXT_FIELDS):
        if not isinstance(data[name], str) or not data[name].strip():
            raise _fail(path, name, "must be a non-empty string")
    rule_id = data["id"]
    if not _ID.match(rule_id):
        raise _fail(path, "id", "must look like DDA-KEY-001")
    if path.stem != rule_id:
        raise _fail(path, "id", f"must match the file name ({path.stem})")
    if data["severity"] not in SEVERITIES:
        raise _fail(path, "severity", "must be one of " + ", ".join(SEVERITIES))
    rtypes = data["resource_type"]
    rtypes = (rtypes,) if isinstance(rtypes, str) else _str_list(path, "resource_type", rtypes)
    bad = [t for t in rtypes if t not in RESOURCE_TYPES]
    if bad or not rtypes:
        raise _fail(path, "resource_type", "must be among " + ", ".join(sorted(RESOURCE_TYPES)))
    references = _str_list(path, "references", data.get("references", []))
    controls = data["controls"]
    if not isinstance(controls, dict) or not controls:
        raise _fail(path, "controls", "must be a mapping of framework to control ids")
    ctl = tuple((str(fw), _str_list(path, f"controls.{fw}", ids)) for fw, ids in controls.items())
    inputs = _str_list(path, "inputs", data["inputs"]) if data["inputs"] else ()
    if any(i not in RULE_INPUTS for i in inputs):
        raise _fail(path, "inputs", "must name coverage endpoints or their parts: "
                    + ", ".join(RULE_INPUTS))
    params = data.get("parameters") or {}
    if not isinstance(params, dict):
        raise _fail(path, "parameters", "must be a mapping of name to default")
    for name, value in params.items():
        _check_param(path, str(name), value)
    try:
        condition, used = expand(data["condition"], fragments)
    except FragmentError as exc:
        raise _fail(path, "condition", str(exc)) from exc
    binds = bind_names(condition)
    own = {str(k): v for k, v in params.items()}
    allowed = BUILTIN_BINDS | set(pack_params) | set(own)
    allowed |= set(derived_names(own)) | set(derived_names(pack_params))
    unknown_binds = sorted(binds - allowed)
    if unknown_binds:
        raise _fail(path, "condition", f"uses undeclared parameter :{unknown_binds[0]}")
    derived = derived_names(own)
    for name in own:
        if name not in binds and name not in {derived[d] for d in binds if d in derived}:
            raise _fail(path, f"parameters.{name}", "is not used by the condition")
    fields = [f for _, f, _, _ in string.Formatter().parse(data["detail"]) if f]
    if any(not re.fullmatch(r"\w+", f) for f in fields):
        raise _fail(path, "detail", "placeholders must be plain {column} names")
    return Rule(
        id=rule_id,
        title=data["title"].strip(),
        severity=data["severity"],
        resource_types=rtypes,
        description=data["description"].strip(),
        rationale=data["rationale"].strip(),
        remediation=data["remediation"].strip(),
        references=references,
        controls=ctl,
        parameters=own,
        inputs=inputs,
        detail=" ".join(data["detail"].split()),
        condition=condition,
        path=path,
        binds=binds,
        fragments=used,
    )


def _dry_run(rules: Sequence[Rule], pack_params: Mapping[str, Any]) -> None:
    """Run every condition on an empty in-memory snapshot to check its SQL and columns."""
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    now = datetime(2000, 1, 1)
    with engine.connect() as conn:
        for rule in rules:
            params = {k: v for k, v in pack_params.items() if k in rule.binds}
            params.update(rule.parameters)
            values = bind_values(params, scan_id="", now=now, trusted_orgs=())
            stmt, bound = statement(rule.condition, values)
            try:
                columns = set(conn.execute(stmt, bound).keys())
            except SQLAlchemyError as exc:
                message = str(exc.orig if hasattr(exc, "orig") else exc).splitlines()[0]
                if rule.fragments:
                    message += (f" (with the _pack.yaml fragments {', '.join(rule.fragments)}"
                                " expanded; `ddaudit rules show` prints the SQL that ran)")
                raise _fail(rule.path, "condition", f"does not run: {message}") from exc
            missing = [c for c in REQUIRED_COLUMNS if c not in columns]
            if missing:
                raise _fail(rule.path, "condition", f"must return column {missing[0]}")
            for _, name, _, _ in string.Formatter().parse(rule.detail):
                if name and name not in columns and name not in values:
                    raise _fail(rule.path, "detail", f"names {{{name}}}, not a column")
    engine.dispose()
