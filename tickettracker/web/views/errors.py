"""Friendly error pages for browsers and JSON errors for the API; never a stack trace."""

from __future__ import annotations

from flask import Flask, current_app, jsonify, make_response, render_template, request
from flask_wtf.csrf import CSRFError
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException, InternalServerError

from tickettracker.store.extensions import db
from tickettracker.store.health import ServiceUnavailable

MESSAGES = {
    400: "The request was not understood.",
    401: "Sign in to continue.",
    403: "You do not have permission to do that.",
    404: "There is nothing at this address.",
    405: "That method is not allowed here.",
    429: "Too many requests; wait a moment and try again.",
    500: "Something went wrong on our side. The error has been logged.",
    503: "A service the app depends on is not reachable right now.",
}
CSRF_MESSAGE = "This form has expired or did not come from this site. Reload the page and try again."
KEPT_HEADERS = ("Retry-After", "WWW-Authenticate")


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def _respond(code: int, message: str):
    if _wants_json():
        return jsonify(error=message, status=code), code
    return render_template("pages/error.html", code=code, message=message, title=f"Error {code}"), code


def _roll_back() -> None:
    try:
        db.session.rollback()
    except SQLAlchemyError as exc:  # the connection is gone: the pool replaces it on the next checkout
        current_app.logger.warning("rollback after an error failed: %s", exc)


def register(app: Flask) -> None:
    """Install the error handlers on the app."""

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if exc.response is not None:  # an answer made for this refusal already (a throttled sign-in's form)
            return exc.response
        code = exc.code or 500
        own = exc.description and exc.description != type(exc).description  # said by the app, not the default
        message = exc.description if code in (400, 401, 403, 429, 503) and own else MESSAGES.get(code, exc.name)
        response = make_response(_respond(code, CSRF_MESSAGE if isinstance(exc, CSRFError) else message))
        for name, value in exc.get_headers():
            if name in KEPT_HEADERS:
                response.headers[name] = value
        return response

    @app.errorhandler(RedisError)
    def redis_down(exc: RedisError):
        return service_down(ServiceUnavailable(f"Redis is unreachable: {exc}"))

    @app.errorhandler(ServiceUnavailable)
    def service_down(exc: ServiceUnavailable):
        _roll_back()
        app.logger.warning("%s", exc)
        return _respond(503, MESSAGES[503])

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        if isinstance(exc, HTTPException):
            return http_error(exc)
        _roll_back()  # a failed statement must not poison the rest of the request (the error page too)
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        return _respond(500, MESSAGES[InternalServerError.code])
