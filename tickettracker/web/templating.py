"""Jinja globals every template may use: the sync status vocabulary, so no template spells a status code out.
base.html also hands the vocabulary to the browser scripts (data-sync-statuses, read by app.js)."""

from __future__ import annotations

from flask import Flask

from tickettracker.core.changes import CHANGE_CLASSES, NO_CHANGES
from tickettracker.core.vocabulary import ACTIVE_STATUSES, ENDED_STATUSES, RUN_STATUSES, SyncStatus, status_table


def init_templating(app: Flask) -> None:
    """Register the template globals."""
    app.jinja_env.globals.update(SyncStatus=SyncStatus, ACTIVE_STATUSES=ACTIVE_STATUSES,
                                 ENDED_STATUSES=ENDED_STATUSES, RUN_STATUSES=RUN_STATUSES,
                                 SYNC_STATUS_TABLE=status_table(), CHANGE_CLASSES=CHANGE_CLASSES,
                                 NO_NOTABLE_CHANGES=NO_CHANGES)
