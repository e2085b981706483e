"""tickets: indexes for the tracker pages' keyset orders (updated, created, due)

Revision ID: 0004_list_orders
Revises: 0003_retry_at
"""
from alembic import op

revision = '0004_list_orders'
down_revision = '0003_retry_at'
branch_labels = None
depends_on = None

VISIBLE = "NOT is_deleted AND NOT is_spam"


def upgrade():
    op.execute("CREATE INDEX ix_tickets_list_updated ON tickets "
               f"(coalesce(updated_at, '0001-01-01 00:00:00+00'::timestamptz) DESC, id DESC) WHERE {VISIBLE}")
    op.execute("CREATE INDEX ix_tickets_list_created ON tickets "
               f"(coalesce(created_at, '0001-01-01 00:00:00+00'::timestamptz) DESC, id DESC) WHERE {VISIBLE}")
    op.execute("CREATE INDEX ix_tickets_list_due ON tickets "
               f"(coalesce(due_by, '9999-01-01 00:00:00+00'::timestamptz), id) WHERE {VISIBLE}")


def downgrade():
    for name in ("ix_tickets_list_updated", "ix_tickets_list_created", "ix_tickets_list_due"):
        op.execute(f"DROP INDEX IF EXISTS {name}")
