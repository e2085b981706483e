"""Operator commands under `flask`."""

from __future__ import annotations

import click
from flask import Flask, current_app

from .services import ServiceUnavailable, check_services


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

    from .snapshots import cockpit_cli

    app.cli.add_command(cockpit_cli)

    from .sync_cli import sync_cli

    app.cli.add_command(sync_cli)

    from .users_cli import users_cli

    app.cli.add_command(users_cli)
