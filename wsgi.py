"""WSGI entry point for gunicorn: `gunicorn wsgi:app`."""

from tickettracker import create_app

app = create_app()
