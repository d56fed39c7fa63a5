"""The exception tree of ddaudit, each error carrying a one-line message for operators.

    DDAuditError                 exit code 4 unless a subclass says otherwise
    ├── ConfigError              bad configuration or command line (exit 2, nothing scanned)
    ├── RuleError                a rule file that does not load (exit 2)
    ├── NotFoundError            the scan asked for is not in the database (exit 2)
    ├── NothingToDoError         the command has nothing to do: e.g. no scan to resume (exit 2)
    ├── StoreError               database unreachable or unusable (exit 4)
    │   └── SchemaError          schema revision not the one this ddaudit needs (exit 4)
    ├── BusyError                another run holds the lock, or shards still collect (exit 5)
    ├── ScanStateError           a scan lifecycle move its current status forbids (exit 4)
    ├── OutputError              output folder not writable (exit 4)
    └── APIError                 a Datadog API call that did not succeed after retries
        ├── ForbiddenError       403: the key pair lacks a permission or belongs elsewhere
        ├── UnavailableError     404 on a listing the site or org does not offer
        └── RateLimitedError     429 retries exhausted
"""

from __future__ import annotations


class DDAuditError(Exception):
    """Base of every error ddaudit raises on purpose; `str()` is the operator's line."""

    exit_code = 4


class ConfigError(DDAuditError):
    """The configuration or command line is wrong; nothing was scanned."""

    exit_code = 2


class RuleError(DDAuditError):
    """A rule file is malformed; the message names the file and the field."""

    exit_code = 2


class NotFoundError(DDAuditError):
    """The scan (or other stored thing) a command names is not in the database."""

    exit_code = 2


class NothingToDoError(DDAuditError):
    """The command was valid but there is nothing for it to do (say, nothing to resume)."""

    exit_code = 2


class StoreError(DDAuditError):
    """The snapshot database cannot be reached or used."""


class SchemaError(StoreError):
    """The database's schema revision is older (or newer) than this ddaudit's."""


class BusyError(DDAuditError):
    """Not now: another run holds the lock, or a sharded scan is still being collected."""

    exit_code = 5


class ScanStateError(DDAuditError):
    """A lifecycle move the scan's current status does not allow (scanner.store.lifecycle).

    Exit 4, a fatal runtime error: the user-facing refusals (resume of a complete scan,
    evaluating a scan still collecting, a shard run twice) are checked first with their
    own codes, so this one means the database changed under the run (another process,
    hand edits) or a bug; retrying later does not help, as it would for exit 5.
    """


class OutputError(DDAuditError):
    """The output folder cannot be written."""


class APIError(DDAuditError):
    """A Datadog API request failed for good (after any retries)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ForbiddenError(APIError):
    """403 from Datadog: the key pair is wrong or lacks the endpoint's permission."""


class UnavailableError(APIError):
    """The site or org does not offer the endpoint (a 404 on its listing): not a gap."""


class RateLimitedError(APIError):
    """429 from Datadog on every retry."""
