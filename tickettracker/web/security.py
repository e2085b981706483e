"""Web hardening: CSRF protection, security headers on every response, and sanitising of vendor HTML."""

from __future__ import annotations

from typing import Any

import nh3
from flask import Flask, Response, abort, request
from flask_wtf.csrf import CSRFProtect
from markupsafe import Markup
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter, Map

csrf = CSRFProtect()
FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})

CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                           "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'; "
                           "object-src 'none'")
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}

# Vendor HTML keeps its text structure and plain links, nothing else: no images (they would fetch), no classes,
# ids, styles, data-* or hx-* attributes, no scripts, forms or frames.
VENDOR_TAGS = frozenset({
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "div", "dl", "dt", "em", "h1", "h2", "h3", "h4",
    "h5", "h6", "hr", "i", "ins", "kbd", "li", "ol", "p", "pre", "q", "s", "small", "span", "strong", "sub", "sup",
    "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul",
})
VENDOR_ATTRIBUTES = {"a": {"href", "title"}, "td": {"colspan", "rowspan"}, "th": {"colspan", "rowspan"}}
VENDOR_URL_SCHEMES = frozenset({"http", "https", "mailto"})


def vendor_html(html: str | None) -> Markup:
    """Return vendor HTML reduced to safe markup (render it inside an element with hx-disable)."""
    if not html:
        return Markup("")
    cleaned = nh3.clean(html, tags=set(VENDOR_TAGS), attributes={k: set(v) for k, v in VENDOR_ATTRIBUTES.items()},
                        url_schemes=set(VENDOR_URL_SCHEMES), link_rel="noopener noreferrer nofollow",
                        clean_content_tags={"script", "style"}, strip_comments=True)
    return Markup(cleaned)  # noqa: S704 - nh3 has just reduced it to the allowlist above  # nosec B704


MAX_PARAMETER_LENGTH = 4000


class IdConverter(IntegerConverter):
    """`<int:…>` in routes: a whole number that fits a PostgreSQL bigint (larger ones match no route: 404)."""

    def __init__(self, url_map: Map, *args: Any, **kwargs: Any) -> None:
        """Bound the converter to the bigint range unless the route gives its own bounds."""
        kwargs.setdefault("max", 2**63 - 1)
        super().__init__(url_map, *args, **kwargs)


def refuse_malformed_parameters() -> None:
    """Answer 400 for path, query or form values no page can use: NUL characters or absurd lengths.

    PostgreSQL refuses NUL in text, so such a value would otherwise fail in SQL instead of in validation."""
    for value in (request.view_args or {}).values():
        if isinstance(value, str) and ("\x00" in value or len(value) > MAX_PARAMETER_LENGTH):
            abort(400, "The address has a part no page can use (a NUL character, or far too long).")
    for source in (request.args, request.form if request.mimetype in FORM_TYPES else None):
        if not source:
            continue
        for name, value in source.items(multi=True):
            if "\x00" in name or "\x00" in value:
                abort(400, "Request parameters must not contain NUL characters.")
            if len(value) > MAX_PARAMETER_LENGTH:
                abort(400, f"The parameter {name[:40]!r} is too long (at most {MAX_PARAMETER_LENGTH} characters).")


def add_headers(response: Response) -> Response:
    """Set the security headers (and keep authenticated answers out of shared caches)."""
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    if request.endpoint != "static" and "Cache-Control" not in response.headers:
        response.headers["Cache-Control"] = "no-store"
    return response


def init_security(app: Flask) -> None:
    """Install CSRF protection (checked by the auth gate, which knows token requests), headers and the filter."""
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # the token lives as long as the session that holds it
    csrf.init_app(app)
    proxies = app.extensions["tt_settings"].proxy_count
    if proxies:  # trust exactly that many proxies' X-Forwarded-For/-Proto, so throttles see the real client
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)  # type: ignore[method-assign]
    app.url_map.converters["int"] = IdConverter
    app.before_request(refuse_malformed_parameters)
    app.after_request(add_headers)
    app.add_template_filter(vendor_html, "vendor_html")
