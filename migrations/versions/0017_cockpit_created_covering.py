"""cockpit: the created index also covers status_category and resolved_at

The dashboard's daily history counts the items created per day that can be placed in the backlog (open, or closed
with a resolution time) and the closed items created in its window but resolved before it; both need the status
category and the resolution time of the rows the created index finds. With them included, those counts are
index-only scans instead of heap visits of every item created in the window.

Revision ID: 0017_cockpit_created_covering
Revises: 0016_archived_tickets
"""
import sqlalchemy as sa
from alembic import op

revision = '0017_cockpit_created_covering'
down_revision = '0016_archived_tickets'
branch_labels = None
depends_on = None

LIVE = "NOT is_deleted AND NOT is_spam"
NAME = "ix_tickets_cockpit_created"


def upgrade():
    op.drop_index(NAME, table_name="tickets")
    op.create_index(NAME, "tickets", ["kind", "created_at"],
                    postgresql_include=["source", "group_name", "project", "status_category", "resolved_at"],
                    postgresql_where=sa.text(LIVE))


def downgrade():
    op.drop_index(NAME, table_name="tickets")
    op.create_index(NAME, "tickets", ["kind", "created_at"], postgresql_include=["source", "group_name", "project"],
                    postgresql_where=sa.text(LIVE))
