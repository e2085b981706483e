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
        """Return the display name."""
        return self.name.capitalize()


ACTIVE_STATUSES = (SyncStatus.RUNNING, SyncStatus.QUEUED)
