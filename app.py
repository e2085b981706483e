"""Run Ticket Tracker: web, worker and scheduler together (see README)."""

from tickettracker.runtime.launcher import main

if __name__ == "__main__":
    raise SystemExit(main())
