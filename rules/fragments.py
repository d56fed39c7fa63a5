"""Named SQL fragments of the rule pack: its shared definitions, each with one home.

`_pack.yaml` holds them under `fragments:`; a condition names one as `{{name}}`, and a
fragment may name others the same way. They are expanded when the pack loads, before a
condition is validated or run, so every later step (bind names, the dry run, `ddaudit
rules show`, evaluation) sees plain SQL. A multi-line fragment takes the indentation of
the line it is named on, so an expanded condition reads as if written out by hand.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field

NAME = re.compile(r"[a-z][a-z0-9_]*")
_REFERENCE = re.compile(r"\{\{\s*(?P<name>[a-z][a-z0-9_]*)\s*\}\}")
_BRACES = re.compile(r"\{\{|\}\}")


class FragmentError(ValueError):
    """A fragment problem; the message completes "field '...' " in the caller's error."""


@dataclass(frozen=True)
class Fragments:
    """The pack's fragments, references among them expanded.

    `texts`: name to SQL; `uses`: name to every fragment it was built from (transitively).
    """

    texts: Mapping[str, str] = field(default_factory=dict)
    uses: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


def referenced(text: str) -> list[str]:
    """Names of the fragments `text` refers to, in order of first use."""
    return list(dict.fromkeys(m.group("name") for m in _REFERENCE.finditer(text)))


def resolve(raw: Mapping[str, str]) -> Fragments:
    """Expand the fragments' references to one another; FragmentError on any problem.

    Each text is dedented and stripped of surrounding blank lines first. The message of
    a FragmentError starts with the field at fault (`'fragments.NAME' ...`).
    """
    texts = {name: textwrap.dedent(text).strip("\n").rstrip() for name, text in raw.items()}
    done: dict[str, str] = {}
    uses: dict[str, tuple[str, ...]] = {}

    def visit(name: str, chain: tuple[str, ...]) -> None:
        if name in done:
            return
        if name in chain:
            loop = " -> ".join((*chain[chain.index(name):], name))
            raise FragmentError(f"'fragments.{name}' refers to itself ({loop})")
        text = texts[name]
        direct = referenced(text)
        for used in direct:
            if used not in texts:
                raise FragmentError(f"'fragments.{name}' {_unknown(used, texts)}")
            visit(used, (*chain, name))
        _check_braces(text, f"'fragments.{name}' ")
        done[name] = _substitute(text, done)
        uses[name] = tuple(dict.fromkeys(n for d in direct for n in (d, *uses[d])))

    for name in texts:
        visit(name, ())
    return Fragments(texts=done, uses=uses)


def expand(text: str, fragments: Fragments) -> tuple[str, tuple[str, ...]]:
    """`text` with each `{{name}}` replaced by its fragment, and the fragments it used.

    The names used include fragments used through other fragments. FragmentError names
    an unknown fragment or a stray `{{` / `}}`.
    """
    direct = referenced(text)
    for name in direct:
        if name not in fragments.texts:
            raise FragmentError(_unknown(name, fragments.texts))
    _check_braces(text, "")
    used = tuple(dict.fromkeys(n for d in direct for n in (d, *fragments.uses.get(d, ()))))
    return _substitute(text, fragments.texts), used


def _check_braces(text: str, where: str) -> None:
    stray = _BRACES.search(_REFERENCE.sub("", text))
    if stray is not None:
        line = text.count("\n", 0, stray.start()) + 1
        raise FragmentError(
            f"{where}has a stray {stray.group()!r} on line {line}; name a fragment as "
            "{{name}} (lower case letters, digits and underscores)"
        )


def _unknown(name: str, known: Mapping[str, str]) -> str:
    choices = ", ".join(sorted(known)) or "none"
    return f"uses unknown fragment {{{{{name}}}}}; _pack.yaml defines: {choices}"


def _substitute(text: str, fragments: Mapping[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        line_start = text.rfind("\n", 0, match.start()) + 1
        pad = text[line_start:match.start()]
        pad = pad[: len(pad) - len(pad.lstrip(" \t"))]
        lines = fragments[match.group("name")].split("\n")
        return "\n".join([lines[0], *(pad + line if line else line for line in lines[1:])])

    return _REFERENCE.sub(replace, text)
