"""sync runs: version, raised by every change, so a state published late never overwrites a newer one

Revision ID: 0006_run_version
Revises: 0005_prune_indexes
"""
import sqlalchemy as sa
from alembic import op

revision = '0006_run_version'
down_revision = '0005_prune_indexes'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('sync_runs', sa.Column('version', sa.Integer(), nullable=False, server_default=sa.text('1')))


def downgrade():
    op.drop_column('sync_runs', 'version')
