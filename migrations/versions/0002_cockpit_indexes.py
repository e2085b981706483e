"""cockpit covering indexes

Revision ID: 0002_cockpit
Revises: 0001
Create Date: 2026-11-29 03:00:00

The dashboard's aggregates (open helpdesk backlog, weekly created/resolved, time to resolve, Jira status per
project, work in progress, stuck) read only these indexes (index-only scans once vacuumed), and the filter menus
skip through group names. Measured with bench/cockpit.py (200,000 tickets + 50,000 Jira issues).
"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0002_cockpit'
down_revision = '0001'
branch_labels = None
depends_on = None

LIVE = "NOT is_deleted AND NOT is_spam"


def upgrade():
    op.create_index(
        "ix_tickets_cockpit_open", "tickets", ["kind", "source"],
        postgresql_include=["status_category", "priority_code", "priority_label", "group_name", "assignee", "due_by",
                            "fr_due_by", "first_responded_at", "created_at", "is_escalated"],
        postgresql_where=sa.text(f"status_category IN ('open','pending') AND {LIVE}"))
    op.create_index("ix_tickets_cockpit_created", "tickets", ["kind", "created_at"],
                    postgresql_include=["source", "group_name", "project"], postgresql_where=sa.text(LIVE))
    op.create_index("ix_tickets_cockpit_resolved", "tickets", ["kind", "resolved_at"],
                    postgresql_include=["source", "status_category", "group_name", "project", "created_at"],
                    postgresql_where=sa.text(f"resolved_at IS NOT NULL AND {LIVE}"))
    op.create_index("ix_tickets_cockpit_jira", "tickets", ["kind", "status_category", "project"],
                    postgresql_include=["source", "created_at", "updated_at"], postgresql_where=sa.text(LIVE))
    op.create_index("ix_tickets_group_name", "tickets", ["group_name"])


def downgrade():
    for name in ("ix_tickets_group_name", "ix_tickets_cockpit_jira", "ix_tickets_cockpit_resolved",
                 "ix_tickets_cockpit_created", "ix_tickets_cockpit_open"):
        op.drop_index(name, table_name="tickets")
