"""api tokens: scopes (read, sync, admin) and an expiry

New tokens are read-only unless created with the sync or admin scope, and expire (90 days by default). Tokens
made before scopes existed acted with their owner's whole role: they keep every scope, and expire 90 days after
this migration.

Revision ID: 0011_token_scopes
Revises: 0010_ticket_accounts
"""
import sqlalchemy as sa
from alembic import op

revision = '0011_token_scopes'
down_revision = '0010_ticket_accounts'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('api_tokens', sa.Column('scopes', sa.Text(), nullable=False, server_default='read'))
    op.add_column('api_tokens', sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE api_tokens SET scopes = 'read sync admin', expires_at = now() + interval '90 days'")


def downgrade():
    op.drop_column('api_tokens', 'expires_at')
    op.drop_column('api_tokens', 'scopes')
