"""Vendor codes to labels, timestamps to UTC, Atlassian Document Format to plain text."""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

UTC = timezone.utc
EPOCH_START = datetime(2000, 1, 1, tzinfo=UTC)

FW_STATUS = {2: ("Open", "open"), 3: ("Pending", "pending"), 4: ("Resolved", "resolved"), 5: ("Closed", "closed")}
FD_STATUS_EXTRA = {6: ("Waiting on Customer", "pending"), 7: ("Waiting on Third Party", "pending")}
FW_PRIORITY = {1: "Low", 2: "Medium", 3: "High", 4: "Urgent"}
FS_SOURCE = {1: "Email", 2: "Portal", 3: "Phone", 4: "Chat", 5: "Feedback widget", 6: "Yammer",
             7: "AWS Cloudwatch", 8: "Pagerduty", 9: "Walkup", 10: "Slack", 11: "Chatbot", 12: "Workplace",
             13: "Employee Onboarding", 14: "Alerts", 15: "MS Teams", 18: "Employee Offboarding"}
FD_SOURCE = {1: "Email", 2: "Portal", 3: "Phone", 4: "Forum", 5: "Twitter", 6: "Facebook", 7: "Chat",
             8: "Mobihelp", 9: "Feedback Widget", 10: "Outbound Email", 11: "E-commerce", 12: "Bot",
             15: "Web Chat"}
JIRA_CATEGORY = {"new": "todo", "indeterminate": "in_progress", "done": "done"}
SMALLINT_MAX = 32767


def parse_time(value: Any) -> datetime | None:
    """Parse a vendor timestamp (Z, +05:30 or Jira's +0530, or a bare date) into an aware UTC datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        text = str(value).strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        if len(text) >= 5 and text[-5] in "+-" and text[-4:].isdigit() and "T" in text:
            text = text[:-2] + ":" + text[-2:]
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def parse_date(value: Any) -> datetime | None:
    """Parse a date-only value (Jira duedate) as midnight UTC."""
    if not value:
        return None
    try:
        day = date.fromisoformat(str(value)[:10])
    except ValueError:
        return None
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def fw_time(moment: datetime) -> str:
    """Format an instant the Freshworks way (UTC, whole seconds, Z)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def as_int(value: Any) -> int | None:
    """Return value as an int when it is one (or a numeric string), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def small_int(value: Any) -> int | None:
    """Return value as an int that fits a SMALLINT column, else None."""
    number = as_int(value)
    return number if number is not None and -SMALLINT_MAX <= number <= SMALLINT_MAX else None


def fw_status(code: Any, vendor: str, custom: dict[int, str] | None = None) -> tuple[str | None, str | None, str]:
    """Return (code, label, category) for a Freshworks status.

    Standard codes use the documented table; account-defined codes take their label from the account's
    ticket fields (custom) and count as open; unknown codes keep the raw code as label.
    """
    if code is None:
        return None, None, "open"
    table = {**FW_STATUS, **FD_STATUS_EXTRA} if vendor == "freshdesk" else FW_STATUS
    number = as_int(code)
    label, category = table.get(number, (str(code), "open")) if number is not None else (str(code), "open")
    if number is not None and number not in FW_STATUS and custom and number in custom:
        label = custom[number]
    return str(code), label, category


def fw_priority(code: Any) -> tuple[int | None, str | None]:
    """Return (code, label) for a Freshworks priority; unknown codes keep their number as label."""
    number = small_int(code)
    if number is None:
        return None, None
    return number, FW_PRIORITY.get(number, str(number))


def fw_channel(code: Any, vendor: str) -> str | None:
    """Return the channel label for a Freshworks source code; unknown codes stay raw."""
    if code is None:
        return None
    table = FD_SOURCE if vendor == "freshdesk" else FS_SOURCE
    number = as_int(code)
    return table.get(number, str(code)) if number is not None else str(code)


def jira_category(status: dict[str, Any] | None) -> str:
    """Map a Jira status category key to the cache's category (unknown keys count as to do)."""
    if not isinstance(status, dict):
        return "todo"
    key = (status.get("statusCategory") or {}).get("key")
    return JIRA_CATEGORY.get(key, "todo")


def adf_text(node: Any) -> str:
    """Flatten an Atlassian Document Format node (or a plain string) to text."""
    if node is None:
        return ""
    if isinstance(node, str):
        return node
    if isinstance(node, list):
        return "".join(adf_text(child) for child in node)
    if not isinstance(node, dict):
        return ""
    kind = node.get("type")
    if kind == "text":
        return str(node.get("text", ""))
    if kind == "hardBreak":
        return "\n"
    if kind in ("mention", "emoji"):
        return str((node.get("attrs") or {}).get("text", ""))
    inner = adf_text(node.get("content"))
    if kind in ("paragraph", "heading", "codeBlock", "blockquote", "rule"):
        return inner.rstrip("\n") + "\n"
    if kind == "listItem":
        return "- " + inner.lstrip()
    return inner


def plain_description(value: Any) -> str | None:
    """Return description text from ADF (v3) or wiki markup (v2); None when there is none."""
    if value is None:
        return None
    text = adf_text(value).strip()
    return text or None
