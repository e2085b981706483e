"""The app's one convention for moments in time: UTC ISO 8601 in data (JSON, CSV, datetime attributes), the
absolute UTC time as text wherever a person reads it without the browser's help."""

from __future__ import annotations

from datetime import datetime, timezone


def as_utc(value: datetime | str | None) -> datetime | None:
    """Return a moment (datetime or ISO text) as an aware UTC datetime; naive values are taken as UTC."""
    if value is None or value == "":
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def iso_utc(value: datetime | str | None) -> str | None:
    """Return the moment as UTC ISO 8601 text (e.g. 2026-12-06T20:13:55.123456+00:00), or None."""
    moment = as_utc(value)
    return moment.isoformat() if moment else None


def utc_text(value: datetime | str | None, *, seconds: bool = True) -> str:
    """Return the moment as absolute UTC text for people (e.g. 2026-12-06 20:13:55 UTC), or an em dash."""
    moment = as_utc(value)
    if moment is None:
        return "—"
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC" if seconds else "%Y-%m-%d %H:%M UTC")
