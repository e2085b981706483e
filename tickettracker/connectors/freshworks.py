"""What Freshservice and Freshdesk share: the client, the ticket mapping, bookmarks with an overlap."""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any

from tickettracker.connectors.base import HttpStats, RunWarnings, TicketRecord, vendor_address
from tickettracker.connectors.fw_search import SearchPage, search_page
from tickettracker.connectors.http import HttpPolicy, LogFn, SleepFn, VendorClient, VendorIdentity, VendorResponse
from tickettracker.connectors.mapping import (
    EPOCH_START,
    as_int,
    fw_channel,
    fw_priority,
    fw_status,
    fw_time,
    parse_time,
)


@dataclass(frozen=True)
class FreshworksConfig:
    """Where one Freshworks product lives and how the sync may use it."""

    base_url: str
    api_key: str
    page_size: int
    overlap: timedelta
    policy: HttpPolicy


def make_client(label: str, prefix: str, config: FreshworksConfig, stats: HttpStats,
                log: LogFn | None, sleep: SleepFn | None = None) -> VendorClient:
    """Build the HTTP client: Basic auth with the API key as user name."""
    identity = VendorIdentity(
        label=label, url_setting=f"{prefix}_BASE_URL (or {prefix}_DOMAIN)",
        credential_settings=f"{prefix}_API_KEY", credential_noun="API key",
        hints={400: "the request was refused as invalid; if this persists, report it with the vendor's message",
               404: "is this the right helpdesk address?"},
        retry_once=frozenset({403}))
    return VendorClient(identity, config.base_url, config.policy, stats, auth=(config.api_key, "X"), log=log,
                        sleep=sleep or time.sleep, window_hint=config.policy.window_seconds)


def start_point(bookmark: str | None, fallback: datetime | None, overlap: timedelta, full: bool) -> datetime:
    """Return where a pass starts: the bookmark minus the overlap, or 2000-01-01 for full or first syncs."""
    if full:
        return EPOCH_START
    moment = parse_time(bookmark) or fallback
    if moment is None:
        return EPOCH_START
    return max(EPOCH_START, moment - overlap)


def list_params(since: datetime, page: int, per_page: int, **extra: Any) -> dict[str, Any]:
    """Query parameters for one list call (always with updated_since, never the 30-day default)."""
    params = {"updated_since": fw_time(since), "per_page": per_page, "page": page}
    params.update({key: value for key, value in extra.items() if value is not None})
    return params


def server_time(response: VendorResponse) -> datetime:
    """The vendor's clock from the Date header (our clock when it is missing)."""
    try:
        moment = parsedate_to_datetime(response.headers.get("Date", ""))
    except (TypeError, ValueError, IndexError):
        moment = None
    return (moment or datetime.now(timezone.utc)).astimezone(timezone.utc)


def max_updated(items: list[dict[str, Any]]) -> datetime | None:
    """Return the latest updated_at among items."""
    moments = [parse_time(item.get("updated_at")) for item in items]
    present = [moment for moment in moments if moment is not None]
    return max(present) if present else None


def _person(item: dict[str, Any]) -> str | None:
    """Requester name when embedded, else the requester id."""
    embedded = item.get("requester")
    if isinstance(embedded, dict) and (embedded.get("name") or embedded.get("email")):
        return str(embedded.get("name") or embedded.get("email"))
    value = item.get("requester_id")
    return None if value is None else str(value)


def _text_or_none(value: Any) -> str | None:
    """Return str(value), keeping None."""
    return None if value is None else str(value)


def status_labels(client: VendorClient, path: str) -> dict[int, str]:
    """Read the account's status choices (custom statuses get their names); empty when not allowed."""
    response = client.get(path, allow=(403, 404))
    data = response.data if response.status == 200 else None
    fields = data.get("ticket_fields") if isinstance(data, dict) else data
    for entry in fields if isinstance(fields, list) else []:
        if isinstance(entry, dict) and entry.get("name") == "status":
            return _choices(entry.get("choices"))
    return {}


def _choices(choices: Any) -> dict[int, str]:
    """Status choices as {code: label} from Freshservice ([{id, value}]) or Freshdesk ({code: [agent, customer]})."""
    labels: dict[int, str] = {}
    if isinstance(choices, dict):
        for code, names in choices.items():
            name = names[0] if isinstance(names, list) and names else names
            if as_int(code) is not None and isinstance(name, str):
                labels[as_int(code)] = name
    elif isinstance(choices, list):
        for choice in choices:
            if isinstance(choice, dict) and as_int(choice.get("id")) is not None:
                labels[as_int(choice["id"])] = str(choice.get("value") or choice.get("label") or choice["id"])
    return labels


DIRECTORY_PAGE_SIZE = 100
DIRECTORY_MAX_PAGES = 50  # 5,000 agents or groups: far beyond any helpdesk, and a bound on a looping Link


@dataclass
class Directory:
    """Agent and group names by id, read once per sync run (empty when the key may not read them)."""

    agents: dict[int, str] = field(default_factory=dict)
    groups: dict[int, str] = field(default_factory=dict)


def load_directory(client: VendorClient) -> Directory:
    """Read the agent and group directories (GET /api/v2/agents and /api/v2/groups, every page)."""
    return Directory(agents=_read_directory(client, "/api/v2/agents", "agents", _agent_name),
                     groups=_read_directory(client, "/api/v2/groups", "groups", _group_name))


def _read_directory(client: VendorClient, path: str, key: str, name_of: Any) -> dict[int, str]:
    """Names by id from one paged directory; a 403/404 logs a warning and leaves the ids as they are."""
    names: dict[int, str] = {}
    for page in range(1, DIRECTORY_MAX_PAGES + 1):
        response = client.get(path, {"per_page": DIRECTORY_PAGE_SIZE, "page": page}, allow=(403, 404))
        if response.status != 200:
            client.log("warning", f"{client.identity.label}: cannot read {path} (HTTP {response.status}); "
                                  f"tickets show {key} by id (the API key's account may lack permission)")
            return names
        data = response.data
        rows = data.get(key) if isinstance(data, dict) else data
        rows = [row for row in rows if isinstance(row, dict)] if isinstance(rows, list) else []
        for row in rows:
            ident, name = as_int(row.get("id")), name_of(row)
            if ident is not None and name:
                names[ident] = name
        if not rows or "next" not in response.links:
            break
    return names


def _agent_name(row: dict[str, Any]) -> str | None:
    """Freshservice "First Last", else the Freshdesk contact name, else the email."""
    contact = row.get("contact") if isinstance(row.get("contact"), dict) else {}
    full = " ".join(str(part).strip() for part in (row.get("first_name"), row.get("last_name"))
                    if part and str(part).strip())
    name = full or contact.get("name") or row.get("name") or row.get("email") or contact.get("email")
    return (str(name).strip() or None) if name else None


def _group_name(row: dict[str, Any]) -> str | None:
    """A group's name."""
    name = row.get("name")
    return (str(name).strip() or None) if name else None


def _named(value: Any, names: dict[int, str]) -> str | None:
    """The directory name for an id, else the id as text (None stays None)."""
    ident = as_int(value)
    named = names.get(ident) if ident is not None else None
    return named or _text_or_none(value)


class FreshworksConnectorBase:
    """What both Freshworks connectors share: the per-run name directory and the HTTP session."""

    client: VendorClient
    directory: Directory | None
    source: str
    statuses: dict[int, str]
    status_path: str
    search_path: str
    archive_path = ""  # where archived tickets answer by id (Freshdesk only)
    search_envelope: str
    config: FreshworksConfig
    warnings: RunWarnings

    def _status_names(self) -> dict[int, str]:
        """The account's status names (custom statuses included); a failed read only warns."""
        return self.warnings.auxiliary(f"{self.client.identity.label}: reading the status names",
                                       lambda: status_labels(self.client, self.status_path), {})

    def _directory(self) -> Directory:
        """Agent and group names, read once per run right before the first tickets are mapped."""
        if self.directory is None:
            self.directory = self.warnings.auxiliary(f"{self.client.identity.label}: reading agent and group names",
                                                     lambda: load_directory(self.client), Directory())
        return self.directory

    def close(self) -> None:
        """Release the HTTP session."""
        self.client.close()

    def fetch_ticket(self, ticket_id: str) -> dict[str, Any] | None:
        """One ticket by id (GET /api/v2/tickets/{id}, "View a Ticket" in the Freshservice and Freshdesk API docs).

        Neither API reads several tickets by id in one call (their filter/search endpoints take no ticket id, are
        day-granular and lag writes), so a targeted refresh reads them one by one. A deleted ticket comes back
        with deleted: true; 404 means it is gone (archived or purged).
        """
        response = self.client.get(f"/api/v2/tickets/{int(ticket_id)}", {"include": "requester,stats"},
                                   allow=(403, 404))
        data = response.data if response.status == 200 else None
        ticket = data.get("ticket", data) if isinstance(data, dict) else None
        return ticket if isinstance(ticket, dict) and "id" in ticket else None

    def is_archived(self, ticket_id: str) -> bool:
        """Whether a ticket the list, search and View a Ticket no longer show was archived rather than purged.

        Freshdesk archives closed tickets after a while: they leave the list and search endpoints and answer only at
        GET /api/v2/tickets/archived/{id}. Freshservice has no archive: never."""
        if not self.archive_path:
            return False
        response = self.client.get(f"{self.archive_path}/{int(ticket_id)}", allow=(403, 404))
        return response.status == 200

    def search(self, query: str, page: int = 1) -> SearchPage:
        """One page of the filter/search endpoint (fw_search.py) for a quoted query."""
        response = self.client.get(self.search_path, {"query": query, "page": page})
        return search_page(response.data, self.search_envelope)

    def search_scope(self) -> str:
        """The filter clause limiting a search to what this source syncs (Freshservice: its workspaces)."""
        return ""

    def budget_per_minute(self) -> int | None:
        """The vendor's request budget per minute as its last response announced it (None before any)."""
        return self.client.pacer.total

    def record(self, item: dict[str, Any]) -> TicketRecord:
        """Map one ticket of this source with the run's directory and status names."""
        if not self.statuses:
            self.statuses = self._status_names()
        return ticket_record(item, self.source, self.config.base_url, statuses=self.statuses,
                             directory=self._directory())

    def cursor_scope(self) -> dict[str, Any]:
        """The helpdesk address (Freshservice adds its workspaces)."""
        return {"address": vendor_address(self.client.base_url)}


def ticket_record(item: dict[str, Any], source: str, base_url: str, *, deleted: bool = False,
                  spam: bool = False, statuses: dict[int, str] | None = None,
                  directory: Directory | None = None) -> TicketRecord:
    """Map one Freshservice/Freshdesk ticket to a cache record (unknown codes kept raw, ids named when known)."""
    directory = directory or Directory()
    status_code, status_label, category = fw_status(item.get("status"), source, statuses)
    priority_code, priority_label = fw_priority(item.get("priority"))
    stats = item.get("stats") if isinstance(item.get("stats"), dict) else {}
    kind = "service_request" if str(item.get("type") or "").lower() == "service request" else "incident"
    return TicketRecord(
        source=source, external_id=str(item["id"]), kind=kind, subject=str(item.get("subject") or ""),
        description_text=_text_or_none(item.get("description_text")), status_code=status_code,
        status_label=status_label, status_category=category, priority_code=priority_code,
        priority_label=priority_label, channel=fw_channel(item.get("source"), source), requester=_person(item),
        assignee=_named(item.get("responder_id"), directory.agents),
        group_name=_named(item.get("group_id"), directory.groups),
        workspace=_text_or_none(item.get("workspace_id")), created_at=parse_time(item.get("created_at")),
        updated_at=parse_time(item.get("updated_at")), due_by=parse_time(item.get("due_by")),
        fr_due_by=parse_time(item.get("fr_due_by")),
        first_responded_at=parse_time(stats.get("first_responded_at")),
        resolved_at=parse_time(stats.get("resolved_at")),
        is_escalated=bool(item.get("is_escalated") or item.get("fr_escalated")),
        tags=tuple(str(tag) for tag in item.get("tags") or ()), url=f"{base_url}/a/tickets/{item['id']}",
        custom_fields=dict(item.get("custom_fields") or {}), raw=item,
        is_deleted=deleted or bool(item.get("deleted")), is_spam=spam or bool(item.get("spam")))


def copy_state(state: dict[str, Any]) -> dict[str, Any]:
    """Return an independent copy of a cursor state (checkpoints must not share mutable parts)."""
    return copy.deepcopy(state)


def min_bookmark(bookmarks: dict[str, str]) -> datetime | None:
    """The watermark column: the oldest bookmark over all passes (everything before it is cached)."""
    moments = [parse_time(value) for value in bookmarks.values()]
    present = [moment for moment in moments if moment is not None]
    return min(present) if present else None
