"""archived_tickets: Freshdesk tickets the vendor archived (gone from list and search, still cached as last seen)

The completeness audit compares the cache's live tickets per creation day with the vendor's search totals; archived
tickets are in the cache but never in search, so they are recorded here once confirmed and left out of the counts.

Revision ID: 0016_archived_tickets
Revises: 0015_jira_key_aliases
"""
import sqlalchemy as sa
from alembic import op

revision = '0016_archived_tickets'
down_revision = '0015_jira_key_aliases'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'archived_tickets',
        sa.Column('source', sa.Text(), nullable=False),
        sa.Column('account', sa.Text(), nullable=False),
        sa.Column('external_id', sa.Text(), nullable=False),
        sa.Column('seen_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.PrimaryKeyConstraint('source', 'account', 'external_id'),
    )


def downgrade():
    op.drop_table('archived_tickets')
