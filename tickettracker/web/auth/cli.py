"""`flask users create|set-role|disable|enable|set-password|list` and `flask users token create|revoke|list`."""

from __future__ import annotations

import secrets

import click
from flask.cli import AppGroup

from tickettracker.web.auth import audit
from tickettracker.web.auth.accounts import change_password, disable_user, enable_user
from tickettracker.web.auth.tokens import DEFAULT_DAYS, MAX_DAYS, SCOPES, create_token_for, revoke_token, user_tokens
from tickettracker.web.auth.users import ROLES, UserError, create_user, find_user, list_users, set_role

users_cli = AppGroup("users", help="Manage who can sign in, their roles and their API tokens.")
token_cli = AppGroup("token", help="Create, list and revoke API tokens.")
users_cli.add_command(token_cli)


def _fail(exc: UserError) -> click.ClickException:
    return click.ClickException(str(exc))


def _password(generate: bool) -> str:
    if generate:
        return secrets.token_urlsafe(18)
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@users_cli.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), default="viewer", show_default=True)
@click.option("--generate-password", is_flag=True, help="Make up a random password and print it once.")
def create_command(username: str, role: str, generate_password: bool) -> None:
    """Create a user (the password is asked for twice unless --generate-password)."""
    password = _password(generate_password)
    try:
        user = create_user(username, password, role)
    except UserError as exc:
        raise _fail(exc) from None
    audit.record("user.create", "cli", user.username, {"role": role})
    click.echo(f"Created {role} {user.username}.")
    if generate_password:
        click.echo(f"Password (shown once): {password}")


@users_cli.command("set-role")
@click.argument("username")
@click.argument("role", type=click.Choice(ROLES))
def set_role_command(username: str, role: str) -> None:
    """Make a user a viewer or an admin."""
    try:
        user = set_role(username, role)
    except UserError as exc:
        raise _fail(exc) from None
    audit.record("user.role", "cli", user.username, {"role": role})
    click.echo(f"{user.username} is now {role}.")


@users_cli.command("disable")
@click.argument("username")
def disable_command(username: str) -> None:
    """Disable a user: no sign-in, sessions ended (open event streams close), API tokens revoked for good."""
    try:
        user, ended = disable_user(username, "cli")
    except UserError as exc:
        raise _fail(exc) from None
    click.echo(f"Disabled {user.username}" + ("; Redis unreachable, open streams end within a heartbeat of "
                                              "their next check" if ended < 0 else f"; ended {ended} session(s)."))


@users_cli.command("enable")
@click.argument("username")
def enable_command(username: str) -> None:
    """Enable a disabled user again."""
    try:
        user = enable_user(username, "cli")
    except UserError as exc:
        raise _fail(exc) from None
    click.echo(f"Enabled {user.username}.")


@users_cli.command("set-password")
@click.argument("username")
@click.option("--generate-password", is_flag=True, help="Make up a random password and print it once.")
def set_password_command(username: str, generate_password: bool) -> None:
    """Replace a user's password; their API tokens are revoked and their sessions end."""
    password = _password(generate_password)
    try:
        revoked = change_password(username, password, "cli")
    except UserError as exc:
        raise _fail(exc) from None
    click.echo(f"Password of {username} changed; {revoked} API token(s) revoked, sessions ended."
               + (f" New password: {password}" if generate_password else ""))


@users_cli.command("list")
def list_command() -> None:
    """List the users."""
    for user in list_users():
        state = "active" if user.is_active else "disabled"
        last = user.last_login_at.isoformat(timespec="minutes") if user.last_login_at else "never"
        click.echo(f"{user.username:<24} {user.role:<7} {state:<9} last sign-in {last}")


@token_cli.command("create")
@click.argument("username")
@click.option("--name", default="cli", show_default=True, help="What the token is for.")
@click.option("--scope", "scopes", multiple=True, type=click.Choice(SCOPES),
              help="Besides read: sync (start, cancel, schedule syncs) or admin (users, audit trail). Repeatable.")
@click.option("--days", default=DEFAULT_DAYS, show_default=True, type=click.IntRange(1, MAX_DAYS),
              help="Days until the token expires.")
def token_create_command(username: str, name: str, scopes: tuple[str, ...], days: int) -> None:
    """Create an API token for a user and print it once (read-only unless given more scopes)."""
    try:
        row, token = create_token_for(username, name, scopes, days)
    except UserError as exc:
        raise _fail(exc) from None
    audit.record("token.create", "cli", str(row.id), {"user": username, "name": row.name, "scopes": row.scopes,
                                                       "expiresAt": row.expires_at.isoformat()})
    click.echo(f"Token {row.id} ({row.name}) for {username}; shown once, store it now:\n{token}")


@token_cli.command("revoke")
@click.argument("token_id", type=int)
def token_revoke_command(token_id: int) -> None:
    """Revoke a token by its id (see `flask users token list USERNAME`)."""
    row = revoke_token(token_id)
    if row is None:
        raise click.ClickException(f"there is no token {token_id}")
    audit.record("token.revoke", "cli", str(row.id), {"name": row.name})
    click.echo(f"Revoked token {row.id} ({row.name}).")


@token_cli.command("list")
@click.argument("username")
def token_list_command(username: str) -> None:
    """List a user's tokens (never the token text, which is not stored)."""
    user = find_user(username)
    if user is None:
        raise click.ClickException(f"there is no user named {username!r}")
    for row in user_tokens(user.id):
        state = "revoked" if row.revoked_at else "active"
        used = row.last_used_at.isoformat(timespec="minutes") if row.last_used_at else "never"
        expires = row.expires_at.isoformat(timespec="minutes") if row.expires_at else "never"
        click.echo(f"{row.id:>5}  {row.name:<30} {state:<8} {row.scopes:<16} expires {expires}  last used {used}")
