"""What every connector yields and raises: the record type, pages, the Connector protocol, error types."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterable, Iterator, Mapping, Protocol, TypeVar, runtime_checkable

from tickettracker.connectors.meter import HttpStats as HttpStats  # re-exported for connectors and the sync

T = TypeVar("T")


class SyncError(Exception):
    """A sync could not finish; the message tells the operator what to do."""

    retryable = False

    def __init__(self, message: str, *, source: str | None = None) -> None:
        """Keep the message and the source it concerns."""
        super().__init__(message)
        self.source = source


class ConfigurationError(SyncError):
    """Not worth retrying: bad credentials, a wrong address, a refused request, a missing setting."""

    retryable = False


class TransientSyncError(SyncError):
    """Worth retrying later: the vendor is unavailable or rate limits persisted after every retry."""

    retryable = True


class SyncCancelled(Exception):  # noqa: N818 - a signal, not an error
    """Raised inside a wait when the sync was asked to stop; the sync ends as cancelled."""


@dataclass(frozen=True)
class TicketRecord:
    """One vendor item mapped onto the columns of the `tickets` cache table."""

    source: str
    external_id: str  # the vendor's stable id (Jira: the numeric issue id, which survives moves and renames)
    kind: str
    subject: str = ""
    description_text: str | None = None
    status_code: str | None = None
    status_label: str | None = None
    status_category: str = "open"
    priority_code: int | None = None
    priority_label: str | None = None
    channel: str | None = None
    requester: str | None = None
    assignee: str | None = None
    group_name: str | None = None
    project: str | None = None
    workspace: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    due_by: datetime | None = None
    fr_due_by: datetime | None = None
    first_responded_at: datetime | None = None
    resolved_at: datetime | None = None
    is_escalated: bool = False
    tags: tuple[str, ...] = ()
    url: str | None = None
    custom_fields: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)
    is_deleted: bool = False
    is_spam: bool = False
    external_key: str | None = None  # what people call the item when it differs from the id (a Jira issue key)


@dataclass(frozen=True)
class Checkpoint:
    """Cursor values to store in the same transaction as the page they cover."""

    state: dict[str, Any]
    watermark: datetime | None = None


@dataclass(frozen=True)
class Page:
    """One unit of work: records to upsert and, optionally, the checkpoint they complete."""

    records: list[TicketRecord]
    checkpoint: Checkpoint | None = None
    label: str = ""
    percent: int | None = None


@dataclass(frozen=True)
class Recheck:
    """What a direct look-up found for an item the census no longer lists.

    state: "live" (still there and in scope: record holds it), "deleted" (the vendor says it does not exist),
    "not_visible" (the account can no longer see it: not a deletion) or "out_of_scope" (it exists, but outside
    the configured projects or filter).
    """

    external_id: str
    state: str
    record: TicketRecord | None = None


class RunWarnings:
    """Warnings worth a line in the run's outcome (retries are not): each is logged at once and kept."""

    def __init__(self, log: Callable[[str, str], None] | None = None) -> None:
        """Start empty; log receives (level, message)."""
        self.items: list[str] = []
        self.log = log or (lambda level, message: None)

    def __call__(self, message: str) -> None:
        """Log a warning and keep it for the outcome."""
        self.items.append(message)
        self.log("warning", message)

    def auxiliary(self, what: str, call: Callable[[], T], default: T) -> T:
        """Run an auxiliary vendor call; a failure becomes a warning and the default, never a failed sync."""
        try:
            return call()
        except SyncError as error:
            self(f"{what} failed: {error} The sync goes on without it and tries again next run.")
            return default


def vendor_address(url: str) -> str:
    """A vendor base URL in one canonical form (scheme and host lower-cased, no trailing slash)."""
    scheme, _, rest = url.strip().partition("://")
    host, slash, path = rest.partition("/")
    return f"{scheme.lower()}://{host.lower()}{slash}{path}".rstrip("/")


@runtime_checkable
class Connector(Protocol):
    """A vendor source: pages of records in watermark order, with checkpoints."""

    source: str
    label: str
    stats: HttpStats
    warnings: RunWarnings

    def pages(self, state: dict[str, Any], watermark: datetime | None, full: bool) -> Iterator[Page]:
        """Yield pages from the stored cursor (or from the beginning when full)."""

    def cursor_scope(self) -> dict[str, Any]:
        """What a cursor is only valid for: {"address": the vendor address, ...the configured scope}."""

    def close(self) -> None:
        """Release the HTTP session."""


@runtime_checkable
class CensusConnector(Connector, Protocol):
    """A source whose deletions leave no trace, so the sync compares full id lists now and then."""

    def census(self) -> set[str]:
        """Return every external id the vendor shows now."""

    def fetch(self, external_ids: Iterable[str]) -> Iterator[list[TicketRecord]]:
        """Yield full records for the given ids (those that still exist)."""

    def recheck(self, missing: Mapping[str, str | None], look_up: bool = True) -> Iterator[Recheck]:
        """Say what became of each id the census no longer lists (with its cached project); look_up=False
        settles only what needs no call per item."""
