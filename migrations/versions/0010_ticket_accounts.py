"""tickets: account, the vendor account a row was read from, part of the row's identity

Pointing a source at another account (FRESHDESK_DOMAIN from staging to production) must not let equal ticket ids of
the new account overwrite the old account's rows: the unique key becomes (source, external_id, account). Existing
rows get '' and are claimed by the account their source's cursor is bound to at its next sync.

Revision ID: 0010_ticket_accounts
Revises: 0009_hidden_reason
"""
import sqlalchemy as sa
from alembic import op

revision = '0010_ticket_accounts'
down_revision = '0009_hidden_reason'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('tickets', sa.Column('account', sa.Text(), nullable=False, server_default=''))
    op.create_unique_constraint('uq_tickets_source_external_id_account', 'tickets',
                                ['source', 'external_id', 'account'])
    op.drop_constraint('uq_tickets_source_external_id', 'tickets', type_='unique')


def downgrade():
    # rows of accounts other than the one each source was last bound to cannot share the old key: drop them
    op.execute("DELETE FROM tickets t WHERE t.hidden_reason = 'other_account'")
    op.execute("DELETE FROM tickets t USING tickets u WHERE t.source = u.source AND t.external_id = u.external_id "
               "AND t.account <> u.account AND t.id < u.id")
    op.create_unique_constraint('uq_tickets_source_external_id', 'tickets', ['source', 'external_id'])
    op.drop_constraint('uq_tickets_source_external_id_account', 'tickets', type_='unique')
    op.drop_column('tickets', 'account')
