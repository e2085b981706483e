"""What Freshservice and Freshdesk share: the client, the ticket mapping, bookmarks with an overlap."""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .base import HttpStats, TicketRecord
from .http import HttpPolicy, LogFn, SleepFn, VendorClient, VendorIdentity
from .mapping import (
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


def ticket_record(item: dict[str, Any], source: str, base_url: str, *, deleted: bool = False,
                  spam: bool = False, statuses: dict[int, str] | None = None) -> TicketRecord:
    """Map one Freshservice/Freshdesk ticket to a cache record (unknown codes kept raw)."""
    status_code, status_label, category = fw_status(item.get("status"), source, statuses)
    priority_code, priority_label = fw_priority(item.get("priority"))
    stats = item.get("stats") if isinstance(item.get("stats"), dict) else {}
    kind = "service_request" if str(item.get("type") or "").lower() == "service request" else "incident"
    return TicketRecord(
        source=source, external_id=str(item["id"]), kind=kind, subject=str(item.get("subject") or ""),
        description_text=_text_or_none(item.get("description_text")), status_code=status_code,
        status_label=status_label, status_category=category, priority_code=priority_code,
        priority_label=priority_label, channel=fw_channel(item.get("source"), source), requester=_person(item),
        assignee=_text_or_none(item.get("responder_id")), group_name=_text_or_none(item.get("group_id")),
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
