"""Blueprints: one per feature."""

from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    """Register every blueprint and the error handlers."""
    from . import api, errors, pages

    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    errors.register(app)
