"""RQ worker entry point: `python worker.py` runs the sync workers (see tickettracker.runtime.worker)."""

from tickettracker.runtime.worker import main

if __name__ == "__main__":
    raise SystemExit(main())
