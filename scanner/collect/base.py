"""What every collector shares: the per-target context, row tagging and coverage records."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from sqlalchemy import Connection

from scanner.client import DatadogClient, Page, page_total
from scanner.config import Target
from scanner.errors import APIError, DDAuditError, ForbiddenError, UnavailableError
from scanner.progress import Reporter
from scanner.progress import current as current_reporter
from scanner.redact import redact
from scanner.store.schema import INPUT_PARTS
from scanner.store.snapshot_writer import SnapshotWriter
from scanner.timeutil import parse_timestamp

log = logging.getLogger(__name__)


@dataclass
class Coverage:
    """How completely one endpoint of one target was collected."""

    endpoint: str
    status: str  # one of schema.COVERAGE_STATUSES
    collected: int
    expected: int | None
    error: str | None = None
    # Status of each part of a split input (schema.INPUT_PARTS) known to differ from the
    # endpoint's own; a part not named here has the endpoint's status.
    parts: dict[str, str] = field(default_factory=dict)

    @classmethod
    def counted(cls, endpoint: str, collected: int, expected: int | None,
                note: str | None = None, parts: Mapping[str, str] | None = None) -> Coverage:
        """Complete when the API's own total was reached (or none was given), else partial."""
        if expected is not None and collected < expected:
            detail = f"collected {collected} of the {expected} the API reported"
            return cls(endpoint, "partial", collected, expected,
                       f"{note}; {detail}" if note else detail, dict(parts or {}))
        return cls(endpoint, "complete", collected, expected, note, dict(parts or {}))


@dataclass(frozen=True)
class ScannedOrg:
    """The org a target's key pair belongs to, as far as it was identified."""

    public_id: str | None = None
    uuid: str | None = None
    name: str | None = None


@dataclass
class TargetContext:
    """One target during one scan: its client, the writer and the org its rows belong to.

    Families never talk to each other through it: what one needs of another comes as
    that family's `Done` (see `Family.needs`). Its only state is `org`, set once by
    `identify` (by the orgs family, or from a stored scan on resume) before any family
    that tags rows with it runs.
    """

    scan_id: str
    target: Target
    client: DatadogClient
    writer: SnapshotWriter
    progress: Reporter = field(default_factory=current_reporter)
    org: ScannedOrg = field(default_factory=ScannedOrg)

    def identify(self, org: ScannedOrg) -> None:
        """Record which org this target's rows belong to."""
        self.org = org

    @property
    def org_public_id(self) -> str | None:
        """The scanned org's public id (the `org_public_id` of every row), if known."""
        return self.org.public_id

    @property
    def org_uuid(self) -> str | None:
        """The scanned org's UUID, if known."""
        return self.org.uuid

    @property
    def org_name(self) -> str | None:
        """The scanned org's name, if known."""
        return self.org.name

    def tag(self, row: dict[str, Any]) -> dict[str, Any]:
        """Add the scan, target, site and org columns every population row carries."""
        row["scan_id"] = self.scan_id
        row["target"] = self.target.name
        row["site"] = self.target.site
        row["org_public_id"] = self.org.public_id
        return row


def raw_json(item: Mapping[str, Any]) -> str:
    """The redacted, key-sorted JSON text of an API object, for the `raw` column."""
    return json.dumps(redact(item), sort_keys=True, ensure_ascii=False)


def attrs(item: Mapping[str, Any]) -> Mapping[str, Any]:
    """The `attributes` of a JSON:API object, or an empty mapping."""
    value = item.get("attributes")
    return value if isinstance(value, Mapping) else {}


def rel_id(item: Mapping[str, Any], name: str) -> str | None:
    """The id of a to-one relationship (`relationships.<name>.data.id`), or None."""
    rels = item.get("relationships")
    rel = rels.get(name) if isinstance(rels, Mapping) else None
    data = rel.get("data") if isinstance(rel, Mapping) else None
    if isinstance(data, Mapping) and isinstance(data.get("id"), str):
        return str(data["id"])
    return None


def rel_ids(item: Mapping[str, Any], name: str) -> list[str]:
    """The ids of a to-many relationship (`relationships.<name>.data[].id`)."""
    rels = item.get("relationships")
    rel = rels.get(name) if isinstance(rels, Mapping) else None
    data = rel.get("data") if isinstance(rel, Mapping) else None
    if not isinstance(data, list):
        return []
    return [str(d["id"]) for d in data if isinstance(d, Mapping) and isinstance(d.get("id"), str)]


def index_included(
    included: Iterable[Mapping[str, Any]],
) -> dict[tuple[str, str], Mapping[str, Any]]:
    """Index `included` objects by (type, id)."""
    return {
        (str(i.get("type")), str(i.get("id"))): i
        for i in included
        if isinstance(i.get("id"), str)
    }


def as_bool(value: Any) -> bool | None:
    """A JSON boolean, or None when absent or of another type."""
    return value if isinstance(value, bool) else None


def as_int(value: Any) -> int | None:
    """A JSON integer, or None when absent or of another type (a boolean is not a count)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def as_str(value: Any) -> str | None:
    """A JSON string, or None when absent or of another type."""
    return value if isinstance(value, str) else None


def item_id(item: Mapping[str, Any]) -> str | None:
    """The object's `id` as a string, or None when it has none."""
    value = item.get("id")
    return value if isinstance(value, str) and value else None


@dataclass
class Tally:
    """What a collector has gathered so far: items written, the API's total, a note."""

    collected: int = 0
    expected: int | None = None
    note: str | None = None
    incomplete: bool = False  # set when something is known to be missing beyond the counts
    seen: set[str] = field(default_factory=set)
    unparseable: int = 0
    on_page: Callable[[int], None] | None = None  # progress: items of each page
    parts: dict[str, str] = field(default_factory=dict)  # see Coverage.parts

    def add_note(self, text: str) -> None:
        """Append one more sentence to the coverage note."""
        self.note = f"{self.note}; {text}" if self.note else text

    def page_done(self, items: int) -> None:
        """Report one more page of `items` to whoever follows the progress."""
        if self.on_page is not None:
            self.on_page(items)

    def first_time(self, ident: str) -> bool:
        """True the first time an id is seen (a repeated item is neither stored nor counted)."""
        if ident in self.seen:
            return False
        self.seen.add(ident)
        self.collected += 1
        return True

    def admit(self, ident: str | None) -> TypeGuard[str]:
        """Whether to store an item: it has an id (else it is counted unparseable) not seen yet."""
        if ident is None:
            self.unparseable += 1
            return False
        return self.first_time(ident)

    def add_expected(self, total: int | None) -> None:
        """Add a listing's own total to the expected count (None when unknown)."""
        if total is not None:
            self.expected = (self.expected or 0) + total


@dataclass(frozen=True)
class Done:
    """What a family gave: its coverage, and the value later families may use."""

    coverage: Coverage
    value: Any = None


Inputs = Mapping[str, Done]  # the Done of each family named in `needs`
CollectFn = Callable[[TargetContext, Tally, Inputs], Awaitable[Any]]
RestoreFn = Callable[[Connection, str, str, Coverage], Done]


def coverage_only(conn: Connection, scan_id: str, target: str, coverage: Coverage) -> Done:
    """The Done of a family whose value nothing needs: its stored coverage alone."""
    return Done(coverage)


@dataclass(frozen=True)
class Family:
    """One API family: its coverage endpoint, tables, what it needs, how it collects.

    `collect(ctx, tally, inputs)` writes rows and returns its value (for the families that
    need it); `restore(conn, scan_id, target, coverage)` rebuilds its Done from a stored
    scan, so a resumed collection can run a family whose needs are not collected again.
    """

    endpoint: str
    tables: tuple[str, ...]  # the population tables it fills (schema.POPULATION_TABLES)
    collect: CollectFn
    needs: tuple[str, ...] = ()
    restore: RestoreFn = coverage_only


async def guarded(family: Family, ctx: TargetContext, inputs: Inputs) -> Done:
    """Run one family, turning its failures into an honest coverage record.

    API failures, and any unexpected exception (a bug, a shape nobody foresaw), cost
    this endpoint only: it is `failed` with the exception's class and message, the other
    families go on. Fatal errors (the snapshot store gone: any DDAuditError that is not
    an APIError), cancellation and interrupts still stop the scan. No key reaches the
    record: its error text is scrubbed.
    """
    endpoint = family.endpoint
    tally = Tally(on_page=lambda items: ctx.progress.page(ctx.target.name, endpoint, items))
    coverage, value = await _coverage_of(family, ctx, inputs, tally)
    if coverage.error:
        coverage.error = ctx.client.scrub(coverage.error)
    ctx.progress.endpoint_done(ctx.target.name, coverage)
    return Done(coverage, value)


async def _coverage_of(family: Family, ctx: TargetContext, inputs: Inputs,
                       tally: Tally) -> tuple[Coverage, Any]:
    endpoint = family.endpoint
    try:
        value = await family.collect(ctx, tally, inputs)
    except ForbiddenError as exc:
        return Coverage(endpoint, "forbidden", tally.collected, tally.expected, str(exc),
                        tally.parts), None
    except UnavailableError as exc:
        return Coverage(endpoint, "unavailable", 0, None, str(exc)), None
    except APIError as exc:
        return Coverage(endpoint, "failed", tally.collected, tally.expected, str(exc),
                        tally.parts), None
    except DDAuditError:
        raise
    except Exception as exc:
        log.debug("collecting %s of target %s failed unexpectedly", endpoint,
                  ctx.target.name, exc_info=True)
        return Coverage(endpoint, "failed", tally.collected, tally.expected,
                        unexpected_error(exc)), None
    if tally.parts:  # the parts it did not mark were collected whole
        tally.parts = {p: tally.parts.get(p, "complete") for p in INPUT_PARTS[endpoint]}
    if tally.unparseable:
        tally.incomplete = True
        tally.add_note(f"{tally.unparseable} item(s) without a usable id were skipped")
    if tally.incomplete:
        return Coverage(endpoint, "partial", tally.collected, tally.expected, tally.note,
                        tally.parts), value
    return Coverage.counted(endpoint, tally.collected, tally.expected, tally.note,
                            tally.parts), value


def unexpected_error(exc: BaseException) -> str:
    """The coverage error of an exception nobody expected: its class and first line."""
    first = (str(exc).splitlines() or [""])[0][:300]
    return (f"unexpected {exc.__class__.__name__}: {first}" if first
            else f"unexpected {exc.__class__.__name__}")


PageRows = dict[str, list[dict[str, Any]]]
ToRows = Callable[[TargetContext, Tally, Page], PageRows]

# Pages are turned into rows on one worker thread, in arrival order: the event loop then
# stays free to read answers and send the next requests on time (a rate-limit window
# opening, a fan-out waiting for page 0), and the GIL hands it the CPU within a few ms.
_PARSER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ddaudit-rows")


async def rows_of(to_rows: ToRows, ctx: TargetContext, tally: Tally, page: Page) -> PageRows:
    """`to_rows(ctx, tally, page)`, computed on the row worker thread."""
    return await asyncio.get_running_loop().run_in_executor(_PARSER, to_rows, ctx, tally, page)


async def consume(
    ctx: TargetContext,
    tally: Tally,
    pages: AsyncGenerator[Page, None],
    to_rows: ToRows,
    *,
    total_of: str | None = "total_count",
) -> None:
    """Drain a paged listing: take the expected total from its first page, write each page.

    The listing is closed on the way out, so an error here (or in the writer) cancels
    the pages still on the wire at once instead of whenever the generator is collected.
    """
    first = True
    expected: int | None = None
    listed = 0
    async with aclosing(pages):
        async for page in pages:
            if total_of is not None:
                total = page_total(page.meta, total_of)
                if first:
                    expected = total
                    tally.add_expected(total)
                elif total != expected and not tally.incomplete:
                    tally.incomplete = True
                    tally.add_note(f"the API's total changed from {expected} to {total} "
                                   "during collection; items may have been missed")
            first = False
            listed += len(page.data)
            for table, rows in (await rows_of(to_rows, ctx, tally, page)).items():
                await ctx.writer.put(table, rows)
            tally.page_done(len(page.data))
    if expected is not None and listed > expected and not tally.incomplete:
        # The pages went on past the total (a full last page means "keep reading"): the
        # listing ended on a short page, so what was read is the whole of it.
        tally.add_note(f"the API's total under-reports: it said {expected}, {listed} were "
                       "listed up to the last, short page")


def leak_of(item: Mapping[str, Any], included: Mapping[tuple[str, str], Mapping[str, Any]]
            ) -> tuple[bool, Any, str | None]:
    """(leaked, leak date, leak source) from `relationships.leak_information` and `included`."""
    leak_id = rel_id(item, "leak_information")
    if leak_id is None:
        rels = item.get("relationships")
        info = rels.get("leak_information") if isinstance(rels, Mapping) else None
        data = info.get("data") if isinstance(info, Mapping) else None
        if data is None:
            return False, None, None
        return True, None, None  # a leak reference without an id is still a leak
    leak = included.get(("leaked_keys", leak_id), {})
    a = attrs(leak)
    return True, parse_timestamp(a.get("date")), as_str(a.get("leak_source"))
