"""Clock and timestamp helpers shared by the vendor fakes."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone, tzinfo

UTC = timezone.utc

_FW_SINCE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})"
    r"(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?"
    r"(Z|[+-]\d{2}(?::?\d{2})?)?$"
)
_JQL_DATE = re.compile(r"^(\d{4})[/-](\d{1,2})[/-](\d{1,2})(?:\s+(\d{1,2}):(\d{2}))?$")
_JQL_RELATIVE = re.compile(r"^([+-]?)(\d+)([wdhm])$")
_UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes"}


def utcnow() -> datetime:
    """Return the current time in UTC."""
    return datetime.now(UTC)


def now_seconds() -> datetime:
    """Return now truncated to whole seconds (Freshworks precision)."""
    return utcnow().replace(microsecond=0)


def now_millis() -> datetime:
    """Return now truncated to milliseconds (Jira precision)."""
    now = utcnow()
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def fw_format(moment: datetime | None) -> str | None:
    """Format a datetime the Freshworks way: UTC, whole seconds, trailing Z."""
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def jira_format(moment: datetime | None, zone: tzinfo) -> str | None:
    """Format a datetime the Jira way: user timezone, millis, offset without colon."""
    if moment is None:
        return None
    local = moment.astimezone(zone)
    millis = f"{local.microsecond // 1000:03d}"
    return local.strftime("%Y-%m-%dT%H:%M:%S.") + millis + local.strftime("%z")


def parse_fw_since(text: str) -> datetime | None:
    """Parse an `updated_since` value in any documented Freshworks format; None when invalid."""
    match = _FW_SINCE.match(text.strip().replace(" ", "+"))
    if not match:
        return None
    year, month, day, hour, minute, second, zone = match.groups()
    try:
        moment = datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0))
    except ValueError:
        return None
    return moment.replace(tzinfo=_fw_zone(zone))


def _fw_zone(zone: str | None) -> tzinfo:
    """Turn `Z`, `+05`, `+0530` or `+05:30` into a tzinfo (missing means UTC)."""
    if not zone or zone == "Z":
        return UTC
    sign = -1 if zone[0] == "-" else 1
    digits = zone[1:].replace(":", "")
    minutes = int(digits[:2]) * 60 + int(digits[2:4] or 0)
    return timezone(sign * timedelta(minutes=minutes))


def parse_jql_date(text: str, zone: tzinfo, now: datetime) -> datetime | None:
    """Parse a JQL date operand: epoch ms, relative (-1d), or a literal in the user's timezone."""
    text = text.strip()
    if text.isdigit():
        return datetime.fromtimestamp(int(text) / 1000, UTC)
    relative = _JQL_RELATIVE.match(text)
    if relative:
        sign, amount, unit = relative.groups()
        delta = timedelta(**{_UNITS[unit]: int(amount)})
        return now - delta if sign == "-" else now + delta
    literal = _JQL_DATE.match(text)
    if not literal:
        return None
    year, month, day, hour, minute = literal.groups()
    try:
        local = datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0))
    except ValueError:
        return None
    return local.replace(tzinfo=zone).astimezone(UTC)


def epoch_ms(moment: datetime) -> int:
    """Return a datetime as integer epoch milliseconds."""
    return int(moment.timestamp() * 1000)
