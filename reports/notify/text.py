"""The digest as text: e-mail's plain part, the Slack and Datadog messages and dry runs."""

from __future__ import annotations

from dataclasses import dataclass

from reports.notify.digest import Digest
from reports.notify.facts import Gap, Item, ScanFacts, Unassessed


@dataclass(frozen=True, slots=True)
class Section:
    """One list of a digest: its title, the lines shown, and how many there are in all."""

    title: str
    lines: tuple[str, ...]
    total: int

    @property
    def more(self) -> int:
        """How many are counted but not shown."""
        return self.total - len(self.lines)


def clean(text: str) -> str:
    """Names come from the API: no control characters (or line breaks) reach a message."""
    return "".join(ch if ch.isprintable() else "?" for ch in text)


def item_line(item: Item) -> str:
    """`[high] DDA-KEY-001 title: api_key ci (id) in Acme (datadoghq.com); owner x`."""
    name = item.resource_name or item.resource_id
    org = item.org_name or item.org_public_id or item.target
    owner = f"; owner {item.owner}" if item.owner else ""
    return clean(f"[{item.severity}] {item.rule_id} {item.title}: {item.resource_type} "
                 f"{name} ({item.resource_id}) in {org} ({item.site}){owner}")


def unassessed_line(row: Unassessed) -> str:
    """`[high] DDA-KEY-001 in prod-us1 (Acme)`."""
    org = f" ({row.org_name or row.org_public_id})" if row.org_name or row.org_public_id else ""
    return clean(f"[{row.severity}] {row.rule_id} in {row.target}{org}")


def gap_line(gap: Gap) -> str:
    """`prod-us1 api_keys: forbidden`."""
    return clean(f"{gap.target} {gap.endpoint}: {gap.status}")


def counts_line(facts: ScanFacts) -> str:
    """`Open: 1 critical, 4 high, 0 medium, 0 low, 0 info; 2 suppressed; 3 not assessed`."""
    opened = ", ".join(f"{n} {sev}" for sev, n in facts.open_by_severity)
    return (f"Open: {opened}; {facts.suppressed} suppressed; {facts.not_assessed} "
            "not assessed")


def sections(digest: Digest) -> list[Section]:
    """The digest's non-empty lists, in message order."""
    facts = digest.facts
    groups = [
        ("New", [item_line(i) for i in digest.shown(digest.new)], len(digest.new)),
        ("Regressed (resolved, then back)",
         [item_line(i) for i in digest.shown(digest.regressed)], len(digest.regressed)),
        ("Not assessed (input not fully collected)",
         [unassessed_line(u) for u in digest.shown(facts.unassessed)], len(facts.unassessed)),
        ("Coverage gaps", [gap_line(g) for g in digest.shown(facts.gaps)], len(facts.gaps)),
    ]
    return [Section(title, tuple(lines), total) for title, lines, total in groups if total]


def report_line(digest: Digest) -> str:
    """Where the report is, or why there is none."""
    if digest.report is None:
        return "No report: the scan failed; see the log of its run."
    return f"Report: {digest.report}"


def plain_text(digest: Digest) -> str:
    """The whole digest as plain text (e-mail, dry run)."""
    lines = [digest.headline, f"Events: {', '.join(digest.events) or 'none'}"]
    if digest.facts.status != "failed":
        lines.append(counts_line(digest.facts))
    for section in sections(digest):
        lines += ["", f"{section.title} ({section.total}):"]
        lines += [f"- {line}" for line in section.lines]
        if section.more:
            lines.append(f"... and {section.more} more (see the report)")
    lines += ["", report_line(digest)]
    return "\n".join(lines) + "\n"
