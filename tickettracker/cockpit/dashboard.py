"""Every number of the dashboard in one structure, and its JSON form."""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import text

from tickettracker.cockpit.incidents import incident_backlog, incident_flow, incident_resolution
from tickettracker.cockpit.jira import jira_flow, jira_status_by_project, jira_wip
from tickettracker.cockpit.scope import CockpitFilters
from tickettracker.cockpit.snapshots import TREND_DAYS, trend_series
from tickettracker.cockpit.trends import daily_history
from tickettracker.cockpit.trust import freshness
from tickettracker.cockpit.waiting import waiting_on_development
from tickettracker.core.times import iso_utc
from tickettracker.core.vocabulary import AT_RISK
from tickettracker.store.extensions import db


def dashboard_data(filters: CockpitFilters, now: datetime | None = None) -> dict[str, Any]:
    """Return every number of the dashboard for the filters, with freshness stamps and trends."""
    now = now or datetime.now(timezone.utc)
    without_jit()
    stamps = freshness(now)
    data: dict[str, Any] = {"generated_at": now, "filters": filters, "incidents": None, "jira": None}
    if filters.shows_incidents:
        data["incidents"] = {
            "stamp": stamps["Incidents"], "jira_stamp": stamps["JIRA"], "at_risk_stamp": stamps[AT_RISK],
            "waiting": waiting_on_development(filters, now), "backlog": incident_backlog(filters, now),
            "flow": incident_flow(filters, now), "resolution": incident_resolution(filters, now),
            "trend": trend_series("incidents", filters.source, now),
            "history": daily_history("incidents", filters, now, TREND_DAYS)}
    if filters.shows_jira:
        data["jira"] = {
            "stamp": stamps["JIRA"], "status": jira_status_by_project(filters, now),
            "flow": jira_flow(filters, now), "wip": jira_wip(filters, now),
            "trend": trend_series("jira", filters.source, now),
            "history": daily_history("jira", filters, now, TREND_DAYS)}
    return data


def without_jit() -> None:
    """Turn off PostgreSQL's JIT compilation for the rest of this transaction.

    JIT compiles a query whose estimated cost passes jit_above_cost, which costs about 100 ms; the waiting-on-
    development count used to pass it (correlated EXISTS costed per open ticket) and ran in about 20 ms. None of the
    dashboard's aggregates runs long enough for compiled code to pay off, so a misestimate must not buy the delay."""
    db.session.execute(text("SET LOCAL jit = off"))


def to_json(value: Any) -> Any:
    """Return the dashboard data as JSON-ready values with camelCase keys."""
    if isinstance(value, dict):
        return {_camel(str(k)): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "as_dict"):
        return to_json(value.as_dict())
    return value


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(part.capitalize() for part in rest)
