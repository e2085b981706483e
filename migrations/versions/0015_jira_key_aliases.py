"""jira_key_aliases: the keys a Jira issue had before it moved to another project

An incident that mentions ENG-12 keeps naming it after the issue moved to OPS (new key OPS-40, same id); Jira still
resolves the old key. The page transaction records the old key when an issue's key changes, and links resolve it.

Revision ID: 0015_jira_key_aliases
Revises: 0014_run_metrics
"""
import sqlalchemy as sa
from alembic import op

revision = '0015_jira_key_aliases'
down_revision = '0014_run_metrics'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'jira_key_aliases',
        sa.Column('account', sa.Text(), nullable=False),
        sa.Column('old_key', sa.Text(), nullable=False),
        sa.Column('external_id', sa.Text(), nullable=False),
        sa.Column('replaced_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.PrimaryKeyConstraint('account', 'old_key'),
    )
    op.create_index('ix_jira_key_aliases_issue', 'jira_key_aliases', ['account', 'external_id'])


def downgrade():
    op.drop_index('ix_jira_key_aliases_issue', table_name='jira_key_aliases')
    op.drop_table('jira_key_aliases')
