"""WSGI entry point for gunicorn and the flask CLI: `gunicorn wsgi:app`, `flask --app wsgi:app ...`."""

from tickettracker.runtime.services import build_app

app = build_app()
