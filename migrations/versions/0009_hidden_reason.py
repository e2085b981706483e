"""tickets: hidden_reason, why a row left the live lists without the vendor deleting it

'not_visible' (the sync account can no longer see the item), 'out_of_scope' (it now lies outside the configured
projects or filter). Such rows carry is_deleted like deleted ones, so every live list and index leaves them out, but
they are shown as what they are and never counted as deletions. A row the vendor shows again is revived.

Revision ID: 0009_hidden_reason
Revises: 0008_jira_issue_ids
"""
import sqlalchemy as sa
from alembic import op

revision = '0009_hidden_reason'
down_revision = '0008_jira_issue_ids'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('tickets', sa.Column('hidden_reason', sa.Text(), nullable=True))


def downgrade():
    op.drop_column('tickets', 'hidden_reason')
