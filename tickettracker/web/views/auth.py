"""Sign-in and sign-out, the account page with API tokens, user management, and the audit trail."""

from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from tickettracker.store import serialize
from tickettracker.store.extensions import db
from tickettracker.store.models import User
from tickettracker.store.queries import valid_id
from tickettracker.web.auth import audit, signin
from tickettracker.web.auth.accounts import change_password, disable_user, enable_user
from tickettracker.web.auth.policy import admin_required, public, self_service, signed_in_user_key, throttled
from tickettracker.web.auth.sessions import SID
from tickettracker.web.auth.signin import BadCredentials, sign_in, sign_out
from tickettracker.web.auth.tokens import (
    DEFAULT_DAYS,
    MAX_DAYS,
    SCOPES,
    create_token_for,
    parse_days,
    revoke_token,
    user_tokens,
)
from tickettracker.web.auth.users import ROLES, UserError, create_user, list_users, password_matches, set_role

bp = Blueprint("auth", __name__)


def safe_next(target: str | None) -> str:
    """Return a local path to go to after signing in (never another site)."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return url_for("cockpit.dashboard")


@bp.route("/login", methods=["GET", "POST"])
@public
@throttled(signin.ATTEMPTS_PER_USER_AND_ADDRESS, key=signin.attempt_key, methods=("POST",),
           on_breach=signin.throttled_page)
def login() -> ResponseReturnValue:
    """Show the sign-in form, or sign in and go back to the page that asked for it."""
    target = safe_next(request.values.get("next"))
    if request.method == "GET":
        if current_user.is_authenticated:
            return redirect(target)
        return render_template("pages/login.html", title="Sign in", next=target)
    username = request.form.get("username", "")
    try:
        sign_in(username, request.form.get("password", ""))
    except signin.AddressThrottled as exc:
        return render_template("pages/login.html", title="Sign in", next=target, username=username,
                               error=str(exc)), 429, {"Retry-After": str(exc.retry_after)}
    except BadCredentials as exc:
        return render_template("pages/login.html", title="Sign in", next=target, username=username,
                               error=str(exc)), 401
    return redirect(target, 303)


@bp.post("/logout")
@self_service
def logout() -> ResponseReturnValue:
    """Sign out and end this session's event stream."""
    sign_out()
    flash("You are signed out.", "info")
    return redirect(url_for(".login"), 303)


@bp.get("/api/me")
def me() -> ResponseReturnValue:
    """Return who is calling (handy to check an API token)."""
    return jsonify(username=current_user.username, role=current_user.role, viaToken=current_user.via_token)


ACCOUNT_CHANGES = "10 per 15 minutes"  # token creation and password change ask for the password again
TOO_MANY_CHANGES = "Too many attempts; wait a few minutes and try again."


def _account_page(status: int = 200, new_token: str | None = None,
                  problem: tuple[str, str] | None = None) -> ResponseReturnValue:
    return render_template("pages/account.html", title="Your account", tokens=user_tokens(current_user.id),
                           new_token=new_token, scopes=SCOPES, default_days=DEFAULT_DAYS, max_days=MAX_DAYS,
                           now=datetime.now(timezone.utc), problems=dict([problem] if problem else [])), status


@bp.get("/account")
def account() -> ResponseReturnValue:
    """Show the signed-in user's API tokens and the password form."""
    return _account_page()


def _scopes_for_role(requested: list[str]) -> list[str]:
    extra = [s for s in requested if s != "read"]
    if extra and not current_user.is_admin:
        raise UserError("only admins may create tokens with the sync or admin scope")
    return requested


@bp.post("/account/tokens")
@self_service
@throttled(ACCOUNT_CHANGES, key=signed_in_user_key, message=TOO_MANY_CHANGES)
def create_token() -> ResponseReturnValue:
    """Create an API token (the password is asked again) and show it once."""
    if not password_matches(current_user.id, request.form.get("password", "")):
        return _account_page(422, problem=("token", "The password is wrong; the token was not created."))
    try:
        scopes = _scopes_for_role(request.form.getlist("scope"))
        days = parse_days(request.form.get("days"))
        row, token = create_token_for(current_user.username, request.form.get("name", ""), scopes, days)
    except UserError as exc:
        return _account_page(422, problem=("token", str(exc)))
    audit.record("token.create", current_user.username, str(row.id),
                 {"name": row.name, "scopes": row.scopes, "expiresAt": row.expires_at.isoformat()})
    return _account_page(201, token)


@bp.post("/account/password")
@self_service
@throttled(ACCOUNT_CHANGES, key=signed_in_user_key, message=TOO_MANY_CHANGES)
def change_password_view() -> ResponseReturnValue:
    """Change the signed-in user's password: their API tokens are revoked and their other sessions end."""
    form = request.form
    if not password_matches(current_user.id, form.get("current_password", "")):
        return _account_page(422, problem=("password", "The current password is wrong."))
    if form.get("new_password", "") != form.get("confirm_password", ""):
        return _account_page(422, problem=("password", "The new passwords do not match."))
    try:
        revoked = change_password(current_user.username, form.get("new_password", ""), current_user.username,
                                  keep_session=session.get(SID))
    except UserError as exc:
        return _account_page(422, problem=("password", str(exc).capitalize() + "."))
    flash("Password changed. Your other sessions have ended"
          + (f" and {revoked} API token(s) were revoked." if revoked else "."), "info")
    return redirect(url_for(".account"), 303)


@bp.post("/account/tokens/<int:token_id>/revoke", endpoint="revoke_token")
@self_service
def revoke_token_view(token_id: int) -> ResponseReturnValue:
    """Revoke one of the signed-in user's tokens."""
    row = revoke_token(token_id, user_id=current_user.id)
    if row is None:
        abort(404)
    audit.record("token.revoke", current_user.username, str(row.id), {"name": row.name})
    flash(f"Token “{row.name}” revoked.", "info")
    return redirect(url_for(".account"), 303)


@bp.get("/admin/users")
@admin_required
def users() -> ResponseReturnValue:
    """List the users with forms to add one and to change roles (admins only)."""
    return render_template("pages/users.html", title="Users", users=list_users(), roles=ROLES,
                           form=request.form), 200


@bp.post("/admin/users", endpoint="create_user")
@admin_required
def create_user_view() -> ResponseReturnValue:
    """Create a user from the form."""
    form = request.form
    try:
        user = create_user(form.get("username", ""), form.get("password", ""), form.get("role", "viewer"))
    except UserError as exc:
        return render_template("pages/users.html", title="Users", users=list_users(), roles=ROLES, form=form,
                               error=str(exc)), 422
    audit.record("user.create", current_user.username, user.username, {"role": user.role})
    flash(f"User {user.username} created.", "info")
    return redirect(url_for(".users"), 303)


@bp.post("/admin/users/<int:user_id>")
@admin_required
def update_user(user_id: int) -> ResponseReturnValue:
    """Change a user's role or enable/disable them; admins cannot change their own account here."""
    user = db.session.get(User, user_id) or abort(404)
    if user.id == current_user.id:
        flash("You cannot change your own role or disable yourself; ask another admin.", "error")
        return redirect(url_for(".users"), 303)
    try:
        _apply_user_change(user, request.form)
    except UserError as exc:
        flash(str(exc), "error")
    return redirect(url_for(".users"), 303)


def _apply_user_change(user: User, form) -> None:
    if form.get("role") and form["role"] != user.role:
        set_role(user.username, form["role"])
        audit.record("user.role", current_user.username, user.username, {"role": form["role"]})
    if form.get("active") in ("0", "1") and (form["active"] == "1") != user.is_active:
        if form["active"] == "1":
            enable_user(user.username, current_user.username)
        else:
            disable_user(user.username, current_user.username)
    flash(f"User {user.username} updated.", "info")


@bp.get("/api/audit")
@admin_required
def audit_json() -> ResponseReturnValue:
    """Return audit events newest first; `before=<id>` pages on, `action=` filters (admins only)."""
    try:
        before = int(request.args["before"]) if request.args.get("before") else None
        limit = int(request.args.get("limit", 50))
    except ValueError:
        return jsonify(error="before and limit must be whole numbers", status=400), 400
    if before is not None and not valid_id(before):
        return jsonify(error="before must be an audit event id", status=400), 400
    actions = tuple(a for a in request.args.getlist("action") if a)
    events = audit.recent(limit, before, actions)
    next_before = events[-1].id if len(events) == max(1, min(limit, 200)) else None
    return jsonify(items=[serialize.audit_json(e) for e in events], nextBefore=next_before)


@bp.get("/sync/audit")
@admin_required
def audit_fragment() -> ResponseReturnValue:
    """Render the latest audit events as a fragment for the sync history page (admins only)."""
    return render_template("partials/audit_rows.html", audit_events=audit.recent(50))
