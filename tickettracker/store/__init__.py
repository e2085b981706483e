"""The data the pages read: the PostgreSQL schema (models), the extension handles (SQLAlchemy, Alembic, the Redis
client), read queries over the cache (filters, keyset pages) and the reachability checks of both services.
It may import `core` only.
"""
