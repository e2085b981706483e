"""sync insight: what each run changed (per class: count and the first item ids); notification rules, incidents
and deliveries

sync_run_changes holds, per run and class of change (new, closed or resolved, reopened, newly overdue, new urgent,
reassigned, deleted or spam), how many items and the first 200 tickets.id; the page transaction that writes the items
adds to it. sync_runs.change_counts copies the counts when the run ends, for the run's JSON and its toast.

notification_rules (admin page) say when to notify; notification_incidents hold at most one open incident per rule
and data set (a partial unique index), so a condition that persists notifies once and recovers once;
notification_deliveries log every message per channel with its attempts.

Revision ID: 0013_sync_insight
Revises: 0012_sync_audits
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0013_sync_insight'
down_revision = '0012_sync_audits'
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


    op.create_table(
        'notification_rules',
        sa.Column('id', sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column('kind', sa.Text(), nullable=False),
        sa.Column('dataset', sa.Text(), nullable=True),
        sa.Column('change_class', sa.Text(), nullable=True),
        sa.Column('threshold', sa.Integer(), nullable=True),
        sa.Column('enabled', sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column('updated_by', sa.Text(), nullable=True),
    )
    op.create_table(
        'notification_incidents',
        sa.Column('id', sa.BigInteger(), primary_key=True, autoincrement=True),
        sa.Column('rule_id', sa.Integer(), sa.ForeignKey('notification_rules.id', ondelete='CASCADE'),
                  nullable=False),
        sa.Column('dataset', sa.Text(), nullable=False),
        sa.Column('detail', sa.Text(), nullable=False, server_default=''),
        sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column('recovered_at', sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index('uq_notification_incidents_open', 'notification_incidents', ['rule_id', 'dataset'],
                    unique=True, postgresql_where=sa.text('recovered_at IS NULL'))
    op.create_table(
        'notification_deliveries',
        sa.Column('id', sa.BigInteger(), primary_key=True, autoincrement=True),
        sa.Column('incident_id', sa.BigInteger(),
                  sa.ForeignKey('notification_incidents.id', ondelete='CASCADE'), nullable=True),
        sa.Column('channel', sa.Text(), nullable=False),
        sa.Column('event', sa.Text(), nullable=False),
        sa.Column('title', sa.Text(), nullable=False),
        sa.Column('body', sa.Text(), nullable=False, server_default=''),
        sa.Column('status', sa.Text(), nullable=False, server_default='queued'),
        sa.Column('attempts', sa.Integer(), nullable=False, server_default='0'),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index('ix_notification_deliveries_created', 'notification_deliveries', [sa.text('created_at DESC')])


def downgrade():
    op.drop_table('notification_deliveries')
    op.drop_table('notification_incidents')
    op.drop_table('notification_rules')
    op.drop_table('sync_run_changes')
    op.drop_column('sync_runs', 'change_counts')
