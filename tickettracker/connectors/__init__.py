"""Vendor connectors: the HTTP client with retries and pacing, Freshservice, Freshdesk and Jira (Cloud and Data
Center) paging and mapping vendor records to TicketRecord, and the name→class registry the sync builds them from.
It may import `core` only: never Flask, SQLAlchemy, psycopg, Redis, RQ or `store` (the sync hands it settings and
takes its pages).
"""

from __future__ import annotations

from typing import Any

from tickettracker.connectors.base import (
    CensusConnector,
    Checkpoint,
    ConfigurationError,
    Connector,
    HttpStats,
    Page,
    SyncCancelled,
    SyncError,
    TicketRecord,
    TransientSyncError,
)
from tickettracker.connectors.freshdesk import FreshdeskConnector
from tickettracker.connectors.freshservice import FreshserviceConnector
from tickettracker.connectors.http import LogFn, SleepFn
from tickettracker.connectors.jira import JiraConnector
from tickettracker.core.vocabulary import SYNC_TYPES

REGISTRY: dict[str, Any] = {
    "freshservice": FreshserviceConnector,
    "freshdesk": FreshdeskConnector,
    "jira": JiraConnector,
}
LABELS = {"freshservice": "Freshservice", "freshdesk": "Freshdesk", "jira": "Jira"}
REQUIRED = {
    "freshservice": "FRESHSERVICE_BASE_URL (or FRESHSERVICE_DOMAIN) and FRESHSERVICE_API_KEY",
    "freshdesk": "FRESHDESK_BASE_URL (or FRESHDESK_DOMAIN) and FRESHDESK_API_KEY",
    "jira": "JIRA_BASE_URL, JIRA_EMAIL and JIRA_API_TOKEN (Data Center: JIRA_BASE_URL and JIRA_API_TOKEN)",
}


def sources_of(sync_type: str) -> tuple[str, ...]:
    """Return the sources a sync type covers, or raise ConfigurationError for an unknown type."""
    for name, sources in SYNC_TYPES.items():
        if name.lower() == str(sync_type).lower():
            return sources
    raise ConfigurationError(f"unknown sync type {sync_type!r}; use one of {', '.join(SYNC_TYPES)}")


def build_connectors(settings: Any, sync_type: str, log: LogFn | None = None,
                     sleep: SleepFn | None = None) -> tuple[list[Connector], list[str]]:
    """Return (connectors for the configured sources of the type, names of sources skipped as unconfigured).

    log receives retry and wait notices; sleep replaces time.sleep for every wait (so a sync can be cancelled
    while it backs off or paces itself).
    """
    configured = set(settings.vendors.configured_sources())
    connectors: list[Connector] = []
    skipped: list[str] = []
    for source in sources_of(sync_type):
        if source in configured:
            connectors.append(REGISTRY[source].from_settings(settings, log=log, sleep=sleep))
        else:
            skipped.append(source)
    return connectors, skipped


__all__ = ["CensusConnector", "Checkpoint", "ConfigurationError", "Connector", "HttpStats", "LABELS", "Page",
           "REGISTRY", "REQUIRED", "SyncCancelled", "SyncError", "TicketRecord", "TransientSyncError",
           "build_connectors", "sources_of"]
