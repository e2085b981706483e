"""sync insight: what each run changed (per class: count and the first item ids)

sync_run_changes holds, per run and class of change (new, closed or resolved, reopened, newly overdue, new urgent,
reassigned, deleted or spam), how many items and the first 200 tickets.id; the page transaction that writes the items
adds to it. sync_runs.change_counts copies the counts when the run ends, for the run's JSON and its toast.

Revision ID: 0013_sync_insight
Revises: 0010_ticket_accounts
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0013_sync_insight'
down_revision = '0010_ticket_accounts'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('sync_runs', sa.Column('change_counts', postgresql.JSONB(), nullable=True))
    op.create_table(
        'sync_run_changes',
        sa.Column('run_id', sa.Text(), sa.ForeignKey('sync_runs.id', ondelete='CASCADE'), primary_key=True),
        sa.Column('change', sa.Text(), primary_key=True),
        sa.Column('count', sa.Integer(), nullable=False, server_default='0'),
        sa.Column('ticket_ids', postgresql.ARRAY(sa.BigInteger()), nullable=False, server_default='{}'),
    )


def downgrade():
    op.drop_table('sync_run_changes')
    op.drop_column('sync_runs', 'change_counts')
