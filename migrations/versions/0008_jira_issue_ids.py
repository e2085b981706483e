"""tickets: Jira rows keyed by the numeric issue id; the issue key moves to its own column, external_key

An issue moved to another project (or in a renamed project) gets a new key but keeps its id, so keying rows by the
id keeps one row per issue. Existing rows take the id from the stored payload (raw->>'id'); an issue cached twice
under an old and a new key keeps its most recently updated copy.

Revision ID: 0008_jira_issue_ids
Revises: 0007_ticket_links
"""
import sqlalchemy as sa
from alembic import op

revision = '0008_jira_issue_ids'
down_revision = '0007_ticket_links'
branch_labels = None
depends_on = None

NUMERIC_ID = "coalesce(raw->>'id', '') ~ '^[0-9]+$'"


def upgrade():
    op.add_column('tickets', sa.Column('external_key', sa.Text(), nullable=True))
    op.execute("""
        DELETE FROM tickets older USING tickets newer
        WHERE older.source = 'jira' AND newer.source = 'jira' AND older.id <> newer.id
          AND older.raw->>'id' = newer.raw->>'id'
          AND (coalesce(older.updated_at, '-infinity'::timestamptz), older.id)
            < (coalesce(newer.updated_at, '-infinity'::timestamptz), newer.id)""")
    op.execute(f"UPDATE tickets SET external_key = external_id, external_id = raw->>'id' "
               f"WHERE source = 'jira' AND {NUMERIC_ID}")
    op.execute(f"UPDATE tickets SET external_key = external_id WHERE source = 'jira' AND NOT ({NUMERIC_ID})")
    # links name Jira issues by key: resolving them looks the key up
    op.create_index("ix_tickets_jira_key", "tickets", ["external_key"], postgresql_where=sa.text("source = 'jira'"))


def downgrade():
    op.drop_index("ix_tickets_jira_key", table_name="tickets")
    op.execute("UPDATE tickets SET external_id = external_key WHERE source = 'jira' AND external_key IS NOT NULL")
    op.drop_column('tickets', 'external_key')
