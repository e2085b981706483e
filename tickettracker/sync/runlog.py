"""A run's log as its page shows it: grouped by the source each line concerns, filtered by level."""

from __future__ import annotations

from dataclasses import dataclass, field

from tickettracker.core.vocabulary import SOURCE_LABELS
from tickettracker.store.models import SyncLog
from tickettracker.sync import runs

LEVELS = {"all": ("info", "warning", "error"), "warning": ("warning", "error"), "error": ("error",)}
LEVEL_NAMES = {"all": "All lines", "warning": "Warnings and errors", "error": "Errors only"}


class UnknownLevel(ValueError):
    """The level filter is not one of LEVELS."""


@dataclass
class LogGroup:
    """The lines of one source (source None: the run as a whole), oldest first."""

    source: str | None
    label: str
    lines: list[SyncLog] = field(default_factory=list)
    hidden: int = 0  # lines of this group the level filter leaves out


def check_level(level: str | None) -> str:
    """Return a valid level filter ("all" when none was given), or raise UnknownLevel."""
    level = level or "all"
    if level not in LEVELS:
        raise UnknownLevel(f"level must be one of {', '.join(LEVELS)}")
    return level


def grouped_log(run_id: str, level: str = "all") -> list[LogGroup]:
    """The run's lines grouped by source: the run's own lines first, then each source in the order it ran."""
    shown = LEVELS[check_level(level)]
    groups: dict[str | None, LogGroup] = {None: LogGroup(None, "Run")}
    for line in runs.run_log(run_id):
        group = groups.get(line.source)
        if group is None:
            label = SOURCE_LABELS.get(line.source or "", line.source or "Run")
            group = groups[line.source] = LogGroup(line.source, label)
        if line.level in shown:
            group.lines.append(line)
        else:
            group.hidden += 1
    return [group for group in groups.values() if group.lines or group.hidden]
