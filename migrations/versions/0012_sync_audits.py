"""sync_audits: the completeness audit of each source after a sync (cache count against the vendor's count)

Revision ID: 0012_sync_audits
Revises: 0011_token_scopes
"""
import sqlalchemy as sa
from alembic import op

revision = '0012_sync_audits'
down_revision = '0011_token_scopes'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'sync_audits',
        sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column('run_id', sa.Text(), nullable=True),
        sa.Column('source', sa.Text(), nullable=False),
        sa.Column('account', sa.Text(), server_default='', nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('status', sa.Text(), nullable=False),
        sa.Column('cache_count', sa.Integer(), nullable=True),
        sa.Column('vendor_count', sa.Integer(), nullable=True),
        sa.Column('slices_checked', sa.Integer(), nullable=False),
        sa.Column('repaired', sa.Integer(), nullable=False),
        sa.Column('calls', sa.Integer(), nullable=False),
        sa.Column('duration_ms', sa.Integer(), nullable=False),
        sa.Column('message', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['run_id'], ['sync_runs.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_sync_audits_run', 'sync_audits', ['run_id', 'id'])
    op.create_index('ix_sync_audits_source_at', 'sync_audits', ['source', sa.text('at DESC')])


def downgrade():
    op.drop_index('ix_sync_audits_source_at', table_name='sync_audits')
    op.drop_index('ix_sync_audits_run', table_name='sync_audits')
    op.drop_table('sync_audits')
