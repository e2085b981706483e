"""RQ worker entry point: `python worker.py` runs the sync workers (see tickettracker.worker)."""

from tickettracker.worker import main

if __name__ == "__main__":
    raise SystemExit(main())
