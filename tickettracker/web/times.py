"""Moments in pages: one `<time>` element per moment. Its datetime attribute is UTC ISO, its title the absolute UTC
time; app.js rewrites its text in the reader's zone (relative for recent moments). Without script the text is UTC."""

from __future__ import annotations

from datetime import datetime

from flask import Flask
from markupsafe import Markup

from tickettracker.core.times import as_utc, iso_utc, utc_text

# auto: "5 min ago" / "in 2 h" within a day, else the local date and time; clock: local time with seconds (logs);
# relative: always relative ("2 d ago"), for how long ago something last moved.
STYLES = ("auto", "clock", "relative")


def time_tag(value: datetime | str | None, style: str = "auto") -> Markup:
    """Return the <time> element of a moment (datetime or ISO text), or an em dash when there is none."""
    if style not in STYLES:
        raise ValueError(f"time style must be one of {STYLES}")
    moment = as_utc(value) if value else None  # a missing template value is undefined, hence falsy
    if moment is None:
        return Markup("—")
    return Markup('<time datetime="{}" title="{}" data-time="{}">{}</time>').format(
        iso_utc(moment), utc_text(moment), style, utc_text(moment, seconds=style == "clock"))


def init_times(app: Flask) -> None:
    """Register the `timetag` and `utc` template filters."""
    app.add_template_filter(time_tag, "timetag")
    app.add_template_filter(utc_text, "utc")
