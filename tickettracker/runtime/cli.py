"""Operator commands under `flask`."""

from __future__ import annotations

import click
from flask import Flask, current_app

from tickettracker.cockpit.snapshots import cockpit_cli
from tickettracker.store.health import ServiceUnavailable, check_services
from tickettracker.sync.cli import sync_cli
from tickettracker.web.auth.cli import users_cli


def register_cli(app: Flask) -> None:
    """Attach the command groups to the app."""

    @app.cli.command("check")
    def check() -> None:
        """Check that PostgreSQL and Redis answer."""
        try:
            check_services(current_app)
        except ServiceUnavailable as exc:
            raise click.ClickException(str(exc)) from None
        click.echo("PostgreSQL and Redis answer.")

    for group in (cockpit_cli, sync_cli, users_cli):
        app.cli.add_command(group)
