"""tickets: drop indexes the list-order (0004) and cockpit (0002) indexes made redundant

Fewer indexes to maintain makes every page upsert cheaper.

Revision ID: 0005_prune_indexes
Revises: 0004_list_orders
"""
import sqlalchemy as sa
from alembic import op

revision = '0005_prune_indexes'
down_revision = '0004_list_orders'
branch_labels = None
depends_on = None

VISIBLE = "NOT is_deleted AND NOT is_spam"


def upgrade():
    for name in ("ix_tickets_kind_updated", "ix_tickets_kind_created", "ix_tickets_resolved", "ix_tickets_priority"):
        op.drop_index(name, table_name="tickets")


def downgrade():
    op.create_index("ix_tickets_priority", "tickets", ["priority_code"])
    op.create_index("ix_tickets_resolved", "tickets", ["resolved_at"])
    op.create_index("ix_tickets_kind_created", "tickets", ["kind", sa.literal_column("created_at DESC"),
                    sa.literal_column("id DESC")], postgresql_where=sa.text(VISIBLE))
    op.create_index("ix_tickets_kind_updated", "tickets", ["kind", sa.literal_column("updated_at DESC"),
                    sa.literal_column("id DESC")], postgresql_where=sa.text(VISIBLE))
