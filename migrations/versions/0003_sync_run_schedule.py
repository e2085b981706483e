"""sync runs: scheduled_for (retries wait for it; the scheduler queues them when due)

Revision ID: 0003_retry_at
Revises: 0002_cockpit
"""
import sqlalchemy as sa
from alembic import op

revision = '0003_retry_at'
down_revision = '0002_cockpit'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('sync_runs', sa.Column('scheduled_for', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    op.drop_column('sync_runs', 'scheduled_for')
