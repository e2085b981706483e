"""The words every layer shares: sources, item kinds, sync types and the status codes of a sync run."""

from __future__ import annotations

import enum

SOURCES = ("freshservice", "freshdesk", "jira")
KINDS = ("incident", "service_request", "jira_issue")
AT_RISK = "At-risk"  # the targeted refresh of at-risk tickets and the Jira issues linked to them
SYNC_TYPES = {"Incidents": ("freshservice", "freshdesk"), "JIRA": ("jira",),
              AT_RISK: ("freshservice", "freshdesk", "jira")}
DATA_TYPES = ("Incidents", "JIRA")  # the sync types that read a whole data set (At-risk refreshes a few items)
FULL_TYPES = ("Incidents", "JIRA")
HELPDESKS = ("freshservice", "freshdesk")  # the helpdesk sources (Jira is the development tracker)
SOURCE_LABELS = {"freshservice": "Freshservice", "freshdesk": "Freshdesk", "jira": "Jira"}
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})  # HTTP methods that only read (RFC 9110 safe methods)


class SyncStatus(enum.IntEnum):
    """Status codes of a sync run, as the original system numbered them (plus Queued and Cancelled)."""

    RUNNING = 0
    COMPLETED = 1
    FAILED = 2
    IDLE = 3
    QUEUED = 4
    CANCELLED = 5

    @property
    def label(self) -> str:
        """Return the display name ('Running')."""
        return self.name.capitalize()

    @property
    def slug(self) -> str:
        """Return the lower-case name ('running') used in CSS classes, data-state and URL filters."""
        return self.name.lower()

    @classmethod
    def label_of(cls, code: int | None) -> str:
        """Return the display name of a status code, or 'Unknown' for a code that is not one."""
        try:
            return cls(code).label
        except ValueError:
            return "Unknown"


ACTIVE_STATUSES = (SyncStatus.RUNNING, SyncStatus.QUEUED)
ENDED_STATUSES = (SyncStatus.COMPLETED, SyncStatus.FAILED, SyncStatus.CANCELLED)
RUN_STATUSES = (SyncStatus.QUEUED, SyncStatus.RUNNING, *ENDED_STATUSES)  # what a run row can be, in life-cycle order


def status_table() -> dict[str, dict[str, int | str]]:
    """Return every status by name with its code, slug and label (the browser's copy of this vocabulary)."""
    return {s.name: {"code": int(s), "slug": s.slug, "label": s.label} for s in SyncStatus}
