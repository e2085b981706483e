"""ticket links (incidents <-> Jira) and the at-risk refresh schedule's cadence in seconds and horizon

Revision ID: 0007_ticket_links
Revises: 0006_run_version
"""
import sqlalchemy as sa
from alembic import op

revision = '0007_ticket_links'
down_revision = '0006_run_version'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'ticket_links',
        sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column('ticket_id', sa.BigInteger(), nullable=False),
        sa.Column('target_source', sa.Text(), nullable=False),
        sa.Column('target_ref', sa.Text(), nullable=False),
        sa.Column('found_in', sa.Text(), nullable=False),
        sa.Column('first_seen', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('last_seen', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('ticket_id', 'target_source', 'target_ref', 'found_in', name='uq_ticket_links'),
    )
    op.create_index('ix_ticket_links_target', 'ticket_links', ['target_source', 'target_ref'])
    op.add_column('sync_schedules', sa.Column('interval_seconds', sa.Integer(), nullable=True))
    op.add_column('sync_schedules', sa.Column('horizon_minutes', sa.Integer(), nullable=True))


def downgrade():
    op.drop_column('sync_schedules', 'horizon_minutes')
    op.drop_column('sync_schedules', 'interval_seconds')
    op.drop_index('ix_ticket_links_target', table_name='ticket_links')
    op.drop_table('ticket_links')
