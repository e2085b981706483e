"""The PostgreSQL schema: ticket cache, sync runs and cursors, schedules, users, audit, snapshots."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from tickettracker.core.vocabulary import SyncStatus
from tickettracker.store.extensions import db

HIDDEN_REASONS = {
    "not_visible": "no longer visible to the sync account (not deleted)",
    "out_of_scope": "outside the synced projects or filter now (not deleted)",
    "other_account": "read from an account this source is no longer connected to (not deleted)",
}


class Ticket(db.Model):
    """One cached vendor item: a Freshservice/Freshdesk ticket or a Jira issue."""

    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(Text, nullable=False)
    external_id: Mapped[str] = mapped_column(Text, nullable=False)
    kind: Mapped[str] = mapped_column(Text, nullable=False)
    subject: Mapped[str] = mapped_column(Text, nullable=False, default="")
    description_text: Mapped[str | None] = mapped_column(Text)
    status_code: Mapped[str | None] = mapped_column(Text)
    status_label: Mapped[str | None] = mapped_column(Text)
    status_category: Mapped[str] = mapped_column(Text, nullable=False, default="open")
    priority_code: Mapped[int | None] = mapped_column(SmallInteger)
    priority_label: Mapped[str | None] = mapped_column(Text)
    channel: Mapped[str | None] = mapped_column(Text)
    requester: Mapped[str | None] = mapped_column(Text)
    assignee: Mapped[str | None] = mapped_column(Text)
    group_name: Mapped[str | None] = mapped_column(Text)
    project: Mapped[str | None] = mapped_column(Text)
    workspace: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    due_by: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    fr_due_by: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    first_responded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    is_escalated: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    tags: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False, default=list)
    url: Mapped[str | None] = mapped_column(Text)
    custom_fields: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, default=dict)
    raw: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, default=dict)
    is_deleted: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    is_spam: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    synced_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    # external_id is the vendor's stable id (Jira: the numeric issue id); external_key is the name people use when
    # it differs (the Jira issue key, which changes when an issue moves or its project is renamed).
    external_key: Mapped[str | None] = mapped_column(Text)
    # Set when a row left the live lists (is_deleted) although the vendor did not delete it: HIDDEN_REASONS.
    hidden_reason: Mapped[str | None] = mapped_column(Text)
    # The vendor account the row was read from (a fingerprint of its address): equal ids of two accounts are two rows.
    account: Mapped[str] = mapped_column(Text, nullable=False, default="", server_default="")

    @property
    def reference(self) -> str:
        """What pages show to name the item: the Jira issue key, else the vendor's ticket id."""
        return self.external_key or self.external_id

    @property
    def removal(self) -> str | None:
        """Why the item is out of the live lists, in words; None while it is live."""
        if self.hidden_reason:
            return HIDDEN_REASONS.get(self.hidden_reason, self.hidden_reason)
        if self.is_deleted:
            return f"deleted in {self.source.capitalize()}"
        return f"marked as spam in {self.source.capitalize()}" if self.is_spam else None

    __table_args__ = (
        UniqueConstraint("source", "external_id", "account", name="uq_tickets_source_external_id_account"),
        Index("ix_tickets_source_status", "source", "status_category"),
        Index("ix_tickets_open_due", "due_by",
              postgresql_where=text("status_category IN ('open','pending') AND NOT is_deleted AND NOT is_spam")),
        Index("ix_tickets_project_status", "project", "status_category"),
        Index("ix_tickets_subject_trgm", "subject", postgresql_using="gin",
              postgresql_ops={"subject": "gin_trgm_ops"}),
        # Covering indexes of the cockpit (migration 0002_cockpit): its aggregates run as index-only scans.
        Index("ix_tickets_cockpit_open", "kind", "source", postgresql_include=[
            "status_category", "priority_code", "priority_label", "group_name", "assignee", "due_by", "fr_due_by",
            "first_responded_at", "created_at", "is_escalated"],
            postgresql_where=text("status_category IN ('open','pending') AND NOT is_deleted AND NOT is_spam")),
        Index("ix_tickets_cockpit_created", "kind", "created_at",  # wider in migration 0017
              postgresql_include=["source", "group_name", "project", "status_category", "resolved_at"],
              postgresql_where=text("NOT is_deleted AND NOT is_spam")),
        Index("ix_tickets_cockpit_resolved", "kind", "resolved_at",
              postgresql_include=["source", "status_category", "group_name", "project", "created_at"],
              postgresql_where=text("resolved_at IS NOT NULL AND NOT is_deleted AND NOT is_spam")),
        Index("ix_tickets_cockpit_jira", "kind", "status_category", "project",
              postgresql_include=["source", "created_at", "updated_at"],
              postgresql_where=text("NOT is_deleted AND NOT is_spam")),
        Index("ix_tickets_group_name", "group_name"),
        Index("ix_tickets_jira_key", "external_key", postgresql_where=text("source = 'jira'")),  # links name keys
        # Keyset list orders of the tracker pages (migration 0004); expressions match queries.SORTS.
        Index("ix_tickets_list_updated", text("coalesce(updated_at, '0001-01-01 00:00:00+00'::timestamptz) DESC"),
              text("id DESC"), postgresql_where=text("NOT is_deleted AND NOT is_spam")),
        Index("ix_tickets_list_created", text("coalesce(created_at, '0001-01-01 00:00:00+00'::timestamptz) DESC"),
              text("id DESC"), postgresql_where=text("NOT is_deleted AND NOT is_spam")),
        Index("ix_tickets_list_due", text("coalesce(due_by, '9999-01-01 00:00:00+00'::timestamptz)"),
              "id", postgresql_where=text("NOT is_deleted AND NOT is_spam")),
    )


class SyncRun(db.Model):
    """One sync job: its id is the RQ job id."""

    __tablename__ = "sync_runs"

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    type: Mapped[str] = mapped_column(Text, nullable=False)
    trigger: Mapped[str] = mapped_column(Text, nullable=False, default="manual")
    requested_by: Mapped[str | None] = mapped_column(Text)
    status: Mapped[int] = mapped_column(SmallInteger, nullable=False, default=int(SyncStatus.QUEUED))
    progress: Mapped[int] = mapped_column(SmallInteger, nullable=False, default=0)
    message: Mapped[str] = mapped_column(Text, nullable=False, default="")
    fetched: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    created: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    updated: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    deleted: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    requests: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    rate_limit_waits: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    full: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    attempt: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    retry_of: Mapped[str | None] = mapped_column(Text)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    queued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    scheduled_for: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Raised by every change of what an event shows (runs.py), so a state published late never replaces a newer one.
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1, server_default=text("1"))
    # What the run changed, per class of core/changes.py (set when it ends; None: the run classified nothing).
    change_counts: Mapped[dict[str, int] | None] = mapped_column(JSONB)
    # what a full resync was estimated to cost when it was started (budget.py), shown beside the actual figures
    estimate: Mapped[dict[str, Any] | None] = mapped_column(JSONB)

    __table_args__ = (
        Index("uq_sync_runs_one_active_per_type", "type", unique=True,
              postgresql_where=text("status IN (0, 4)")),
        Index("ix_sync_runs_queued", text("queued_at DESC"), text("id DESC")),
        Index("ix_sync_runs_type_queued", "type", text("queued_at DESC")),
    )


class SyncRunChange(db.Model):
    """One class of change a sync run made (core/changes.py): how many items, and the first ids (tickets.id)."""

    __tablename__ = "sync_run_changes"

    run_id: Mapped[str] = mapped_column(Text, ForeignKey("sync_runs.id", ondelete="CASCADE"), primary_key=True)
    change: Mapped[str] = mapped_column(Text, primary_key=True)
    count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    ticket_ids: Mapped[list[int]] = mapped_column(ARRAY(BigInteger), nullable=False, default=list)


class SyncLog(db.Model):
    """One log line of a sync run (pages, waits, retries, errors)."""

    __tablename__ = "sync_logs"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(Text, ForeignKey("sync_runs.id", ondelete="CASCADE"), nullable=False)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    level: Mapped[str] = mapped_column(Text, nullable=False, default="info")
    message: Mapped[str] = mapped_column(Text, nullable=False)
    source: Mapped[str | None] = mapped_column(Text)  # the vendor a line concerns (None: the run as a whole)

    __table_args__ = (Index("ix_sync_logs_run", "run_id", "id"),)


class SyncAudit(db.Model):
    """The completeness audit of one source after a sync: the cache's live count against the vendor's."""

    __tablename__ = "sync_audits"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    run_id: Mapped[str | None] = mapped_column(Text, ForeignKey("sync_runs.id", ondelete="CASCADE"))  # None: CLI
    source: Mapped[str] = mapped_column(Text, nullable=False)
    account: Mapped[str] = mapped_column(Text, nullable=False, default="", server_default="")
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    # complete (the cache equals the vendor), differs (a difference is left for the next run), failed (no answer)
    status: Mapped[str] = mapped_column(Text, nullable=False)
    cache_count: Mapped[int | None] = mapped_column(Integer)
    vendor_count: Mapped[int | None] = mapped_column(Integer)
    slices_checked: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    repaired: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    calls: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    duration_ms: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    message: Mapped[str] = mapped_column(Text, nullable=False, default="")

    __table_args__ = (
        Index("ix_sync_audits_run", "run_id", "id"),
        Index("ix_sync_audits_source_at", "source", text("at DESC")),
    )


class SyncRunMetrics(db.Model):
    """What one vendor's part of a sync run cost, and the rate-limit budget its responses advertised."""

    __tablename__ = "sync_run_metrics"

    run_id: Mapped[str] = mapped_column(Text, ForeignKey("sync_runs.id", ondelete="CASCADE"), primary_key=True)
    source: Mapped[str] = mapped_column(Text, primary_key=True)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    pages: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    items: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    requests: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    credits: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    retries: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    rate_limit_waits: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    waited_seconds: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    seconds: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)  # how long this source took
    budget_total: Mapped[int | None] = mapped_column(Integer)  # X-RateLimit-Total / -Limit: credits per window
    budget_window_seconds: Mapped[int | None] = mapped_column(Integer)
    remaining_last: Mapped[int | None] = mapped_column(Integer)
    remaining_min: Mapped[int | None] = mapped_column(Integer)
    share: Mapped[float] = mapped_column(Float, nullable=False)  # SYNC_RATE_LIMIT_SHARE when it ran
    headers: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, default=dict)  # the last ones seen

    __table_args__ = (Index("ix_sync_run_metrics_source_recorded", "source", text("recorded_at DESC")),)


class SyncCursor(db.Model):
    """The incremental watermark of one source."""

    __tablename__ = "sync_cursors"

    source: Mapped[str] = mapped_column(Text, primary_key=True)
    watermark: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    advanced_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    state: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, default=dict)


class SyncSchedule(db.Model):
    """How often a sync type runs on its own."""

    __tablename__ = "sync_schedules"

    type: Mapped[str] = mapped_column(Text, primary_key=True)
    interval_minutes: Mapped[int] = mapped_column(Integer, nullable=False, default=60)
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    updated_by: Mapped[str | None] = mapped_column(Text)
    # The at-risk refresh only: its cadence when not whole minutes (tests, demos) and its horizon.
    interval_seconds: Mapped[int | None] = mapped_column(Integer)
    horizon_minutes: Mapped[int | None] = mapped_column(Integer)


class TicketLink(db.Model):
    """One mention of another item found in a cached item's content (maintained by the page transaction)."""

    __tablename__ = "ticket_links"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False)
    target_source: Mapped[str] = mapped_column(Text, nullable=False)
    target_ref: Mapped[str] = mapped_column(Text, nullable=False)  # a Jira key as written, or a ticket id
    found_in: Mapped[str] = mapped_column(Text, nullable=False)  # subject, description, custom_field, remote_link...
    first_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())

    __table_args__ = (
        UniqueConstraint("ticket_id", "target_source", "target_ref", "found_in", name="uq_ticket_links"),
        Index("ix_ticket_links_target", "target_source", "target_ref"),
    )


class ArchivedTicket(db.Model):
    """A Freshdesk ticket the vendor archived: gone from its list and search, still cached as last seen.

    The completeness audit leaves these out of the counts it compares with the vendor's search totals.
    """

    __tablename__ = "archived_tickets"

    source: Mapped[str] = mapped_column(Text, primary_key=True)
    account: Mapped[str] = mapped_column(Text, primary_key=True)
    external_id: Mapped[str] = mapped_column(Text, primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


class JiraKeyAlias(db.Model):
    """A key a cached Jira issue had before it moved to another project (Jira keeps old keys resolvable).

    Text written before the move still names the old key; links resolve it to the issue through this table.
    """

    __tablename__ = "jira_key_aliases"

    account: Mapped[str] = mapped_column(Text, primary_key=True)
    old_key: Mapped[str] = mapped_column(Text, primary_key=True)
    external_id: Mapped[str] = mapped_column(Text, nullable=False)
    replaced_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())

    __table_args__ = (Index("ix_jira_key_aliases_issue", "account", "external_id"),)  # an issue's old keys


class User(db.Model):
    """A person who signs in; role is viewer or admin."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    password_hash: Mapped[str] = mapped_column(Text, nullable=False)
    role: Mapped[str] = mapped_column(Text, nullable=False, default="viewer")
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ApiToken(db.Model):
    """A per-user API token, stored only as a hash."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    name: Mapped[str] = mapped_column(Text, nullable=False, default="")
    token_hash: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # space-separated: read (always), sync (start, cancel, schedule syncs), admin (users, audit trail)
    scopes: Mapped[str] = mapped_column(Text, nullable=False, default="read", server_default="read")
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AuditEvent(db.Model):
    """Who did what: sign-ins, failed sign-ins, sync triggers and cancels."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    actor: Mapped[str | None] = mapped_column(Text)
    action: Mapped[str] = mapped_column(Text, nullable=False)
    target: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, default=dict)
    ip: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_audit_events_at", text("at DESC")),)


class KpiSnapshot(db.Model):
    """The headline numbers at one moment, for trends."""

    __tablename__ = "kpi_snapshots"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    taken_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    reason: Mapped[str] = mapped_column(Text, nullable=False, default="daily")
    run_id: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, default=dict)

    __table_args__ = (Index("ix_kpi_snapshots_taken", text("taken_at DESC")),)


class NotificationRule(db.Model):
    """When to tell people off the page (sync/notifications.py): a kind, the data set it watches (None: every one)
    and the kind's parameter (a change class with its threshold, or the stale factor)."""

    __tablename__ = "notification_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(Text, nullable=False)
    dataset: Mapped[str | None] = mapped_column(Text)
    change_class: Mapped[str | None] = mapped_column(Text)
    threshold: Mapped[int | None] = mapped_column(Integer)
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    updated_by: Mapped[str | None] = mapped_column(Text)


class NotificationIncident(db.Model):
    """One incident of a rule on a data set: opened once (one notification), recovered once (one follow-up)."""

    __tablename__ = "notification_incidents"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    rule_id: Mapped[int] = mapped_column(Integer, ForeignKey("notification_rules.id", ondelete="CASCADE"),
                                         nullable=False)
    dataset: Mapped[str] = mapped_column(Text, nullable=False)
    detail: Mapped[str] = mapped_column(Text, nullable=False, default="")
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    recovered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("uq_notification_incidents_open", "rule_id", "dataset", unique=True,
                            postgresql_where=text("recovered_at IS NULL")),)


class NotificationDelivery(db.Model):
    """One message to one channel (an incident's alert or recovery, or a test) and how its delivery went."""

    __tablename__ = "notification_deliveries"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    incident_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("notification_incidents.id",
                                                                           ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(Text, nullable=False)
    event: Mapped[str] = mapped_column(Text, nullable=False)  # alert | recovered | test
    title: Mapped[str] = mapped_column(Text, nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False, default="")
    status: Mapped[str] = mapped_column(Text, nullable=False, default="queued")  # queued | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_notification_deliveries_created", text("created_at DESC")),)
