"""Jira issue JSON (Cloud v3 or Data Center v2) to cache records."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

from tickettracker.connectors.base import TicketRecord
from tickettracker.connectors.mapping import jira_category, parse_date, parse_time, plain_description, small_int

BASE_FIELDS = ("summary", "status", "priority", "issuetype", "assignee", "reporter", "project", "labels", "created",
               "updated", "resolutiondate", "duedate", "description")
DEFAULT_SPRINT_FIELD = "customfield_10020"
GREENHOPPER_SPRINT = "com.pyxis.greenhopper.jira:gh-sprint"
_SPRINT_ATTR = re.compile(r"[\[,](name|state)=([^,\]]*)")


def updated_ms(issue: dict[str, Any]) -> int | None:
    """An issue's updated time as epoch milliseconds."""
    moment = parse_time((issue.get("fields") or {}).get("updated"))
    return None if moment is None else ms(moment)


def ms(moment: datetime) -> int:
    """Epoch milliseconds of an aware datetime."""
    return int(round(moment.timestamp() * 1000))


def from_ms(value: int) -> datetime:
    """An aware UTC datetime from epoch milliseconds."""
    return datetime.fromtimestamp(value / 1000, timezone.utc)


def _sprints(value: Any) -> list[dict[str, str]]:
    """Sprints as [{name, state}] from Cloud objects or Data Center greenhopper strings."""
    found = []
    for sprint in value if isinstance(value, list) else []:
        if isinstance(sprint, dict):
            found.append({"name": str(sprint.get("name") or ""), "state": str(sprint.get("state") or "").lower()})
        elif isinstance(sprint, str):
            attrs = dict(_SPRINT_ATTR.findall(sprint))
            found.append({"name": attrs.get("name", ""), "state": attrs.get("state", "").lower()})
    return [sprint for sprint in found if sprint["name"]]


def _current_sprint(sprints: list[dict[str, str]]) -> str | None:
    """The active sprint, else the last one listed."""
    active = [sprint["name"] for sprint in sprints if sprint["state"] == "active"]
    if active:
        return active[0]
    return sprints[-1]["name"] if sprints else None


def _name(value: Any, *keys: str) -> str | None:
    """The first present key of a Jira object (displayName, name...)."""
    if not isinstance(value, dict):
        return None
    for key in keys:
        if value.get(key):
            return str(value[key])
    return None


def issue_record(issue: dict[str, Any], base_url: str, sprint_field: str) -> TicketRecord:
    """Map one issue (explicit fields requested) to a cache record."""
    fields = issue.get("fields") or {}
    status, priority = fields.get("status"), fields.get("priority")
    sprints = _sprints(fields.get(sprint_field))
    key = str(issue["key"])
    custom = {"issue_type": _name(fields.get("issuetype"), "name"), "sprints": [s["name"] for s in sprints]}
    return TicketRecord(
        source="jira", external_id=str(issue["id"]), external_key=key, kind="jira_issue",
        subject=str(fields.get("summary") or ""),
        description_text=plain_description(fields.get("description")),
        status_code=_name(status, "id"), status_label=_name(status, "name"), status_category=jira_category(status),
        priority_code=small_int((priority or {}).get("id") if isinstance(priority, dict) else None),
        priority_label=_name(priority, "name"), channel=None,
        requester=_name(fields.get("reporter"), "displayName", "name"),
        assignee=_name(fields.get("assignee"), "displayName", "name"), group_name=_current_sprint(sprints),
        project=_name(fields.get("project"), "key"), created_at=parse_time(fields.get("created")),
        updated_at=parse_time(fields.get("updated")), due_by=parse_date(fields.get("duedate")),
        resolved_at=parse_time(fields.get("resolutiondate")),
        tags=tuple(str(label) for label in fields.get("labels") or ()), url=f"{base_url}/browse/{key}",
        custom_fields=custom, raw=issue)
