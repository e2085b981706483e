"""run metrics: what each vendor's part of a run cost (requests, credits, waits, the budget it saw), the source of
each log line (the run page groups them), and the estimate a full resync was started with

Revision ID: 0014_run_metrics
Revises: 0013_sync_insight
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0014_run_metrics'
down_revision = '0013_sync_insight'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('sync_logs', sa.Column('source', sa.Text(), nullable=True))
    op.add_column('sync_runs', sa.Column('estimate', postgresql.JSONB(), nullable=True))
    op.create_table(
        'sync_run_metrics',
        sa.Column('run_id', sa.Text(), sa.ForeignKey('sync_runs.id', ondelete='CASCADE'), nullable=False),
        sa.Column('source', sa.Text(), nullable=False),
        sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column('pages', sa.Integer(), nullable=False, server_default='0'),
        sa.Column('items', sa.Integer(), nullable=False, server_default='0'),
        sa.Column('requests', sa.Integer(), nullable=False, server_default='0'),
        sa.Column('credits', sa.Integer(), nullable=False, server_default='0'),
        sa.Column('retries', sa.Integer(), nullable=False, server_default='0'),
        sa.Column('rate_limit_waits', sa.Integer(), nullable=False, server_default='0'),
        sa.Column('waited_seconds', sa.Float(), nullable=False, server_default='0'),
        sa.Column('seconds', sa.Float(), nullable=False, server_default='0'),
        sa.Column('budget_total', sa.Integer(), nullable=True),
        sa.Column('budget_window_seconds', sa.Integer(), nullable=True),
        sa.Column('remaining_last', sa.Integer(), nullable=True),
        sa.Column('remaining_min', sa.Integer(), nullable=True),
        sa.Column('share', sa.Float(), nullable=False),
        sa.Column('headers', postgresql.JSONB(), nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.PrimaryKeyConstraint('run_id', 'source'),
    )
    op.create_index('ix_sync_run_metrics_source_recorded', 'sync_run_metrics', ['source', sa.text('recorded_at DESC')])


def downgrade():
    op.drop_index('ix_sync_run_metrics_source_recorded', table_name='sync_run_metrics')
    op.drop_table('sync_run_metrics')
    op.drop_column('sync_runs', 'estimate')
    op.drop_column('sync_logs', 'source')
