"""Every route for anonymous, viewer and admin; CSRF on every state-changing route; headers; safe vendor HTML."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from werkzeug.routing import AnyConverter, IntegerConverter

from tests.factories import make_ticket, seed_route_values
from tests.live import signed_in_client
from tickettracker.store.extensions import db
from tickettracker.web.auth.policy import needs_admin, policy_of
from tickettracker.web.security import CONTENT_SECURITY_POLICY, vendor_html

ROOT = Path(__file__).resolve().parent.parent
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
LAST = ("auth.logout",)  # walked last: it ends the session the walk uses
SIGNED_IN_PUBLIC = {("auth.login", "GET"): 302, ("auth.login", "POST"): 401}  # signed in already; empty form


def _routes(app) -> list[tuple[str, str, str]]:
    """Return (endpoint, method, path) for every rule and method of the app, logout last."""
    values = seed_route_values(app, "walk")
    adapter = app.url_map.bind("localhost")
    found = []
    for rule in app.url_map.iter_rules():
        args = {}
        for name in rule.arguments:
            if name in (rule.defaults or {}):
                args[name] = rule.defaults[name]
                continue
            converter = rule._converters[name]
            if isinstance(converter, AnyConverter):
                args[name] = sorted(converter.items)[0]
            elif isinstance(converter, IntegerConverter):
                args[name] = int(values.get(name, 1))
            else:
                args[name] = values.get(name, "dummy")
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            path = adapter.build(rule.endpoint, args, method=method, force_external=False)
            found.append((rule.endpoint, method, path))
    return sorted(found, key=lambda r: (r[0] in LAST, r[0], r[1]))


def _send(client, method: str, path: str):
    if path == "/events":
        response = client.open(path, method=method, buffered=False)
        response.close()
        return response
    if method in UNSAFE:
        return client.open(path, method=method, data={}, headers={"Accept": "text/html"})
    return client.open(path, method=method)


def _public(app, endpoint: str) -> bool:
    return policy_of(app.view_functions[endpoint]).public


def _admin_only(app, endpoint: str, method: str) -> bool:
    return needs_admin(app.view_functions[endpoint], method)


def _is_api(path: str) -> bool:
    return path.startswith("/api/") or path == "/events"


def test_the_walk_covers_every_route(app):
    walked = {(endpoint, method) for endpoint, method, _ in _routes(app)}
    registered = {(r.endpoint, m) for r in app.url_map.iter_rules() for m in r.methods - {"HEAD", "OPTIONS"}}
    assert walked == registered and len(walked) > 25


def test_anonymous_gets_only_the_sign_in_page_static_files_and_health(app, anon_client):
    for endpoint, method, path in _routes(app):
        response = _send(anon_client, method, path)
        where = f"{method} {path}"
        if _public(app, endpoint):
            assert response.status_code == (400 if method in UNSAFE else 200), where  # 400: no CSRF token
        elif _is_api(path):
            assert response.status_code == 401, where
        else:
            assert response.status_code in (302, 303), where
            assert response.headers["Location"].startswith("/login?next="), where


def test_viewer_reads_everything_and_changes_nothing_but_their_own_tokens(app, viewer_client):
    for endpoint, method, path in _routes(app):
        response = _send(viewer_client, method, path)
        where = f"{method} {path}"
        assert response.status_code < 500, where
        if _public(app, endpoint):
            assert response.status_code == SIGNED_IN_PUBLIC.get((endpoint, method), 200), where
        elif _admin_only(app, endpoint, method):
            assert response.status_code == 403, where
        else:
            assert response.status_code not in (401, 403), where
            if method == "GET":
                assert response.status_code == 200, where


def test_admin_may_use_every_route(app, client):
    for endpoint, method, path in _routes(app):
        response = _send(client, method, path)
        where = f"{method} {path}"
        if _public(app, endpoint):
            assert response.status_code == SIGNED_IN_PUBLIC.get((endpoint, method), 200), where
            continue
        assert response.status_code < 500 and response.status_code not in (401, 403), where
        if method == "GET":
            assert response.status_code == 200, where


def test_every_state_changing_route_refuses_a_missing_or_wrong_csrf_token(app):
    unsafe = [(e, m, p) for e, m, p in _routes(app) if m in UNSAFE]
    assert len(unsafe) >= 8
    for header in ({}, {"X-CSRFToken": "forged"}):
        admin = signed_in_client(app, "admin", "admin")
        admin.environ_base.pop("HTTP_X_CSRFTOKEN")
        for _endpoint, method, path in unsafe:
            response = admin.open(path, method=method, data={}, headers={"Accept": "text/html", **header})
            assert response.status_code == 400, f"{method} {path} {header}"
            assert "did not come from this site" in response.get_data(as_text=True)


def test_csrf_failures_are_friendly_pages_and_json(app):
    admin = signed_in_client(app, "admin", "admin")
    admin.environ_base.pop("HTTP_X_CSRFTOKEN")
    page = admin.post("/sync/schedules/JIRA", data={"interval_minutes": "30"})
    assert page.status_code == 400 and page.mimetype == "text/html"
    assert "Reload the page" in page.get_data(as_text=True) and "Traceback" not in page.get_data(as_text=True)
    api = admin.post("/api/jira/sync")
    assert api.status_code == 400 and api.get_json()["error"].startswith("This form has expired")


@pytest.mark.parametrize("path", ["/login", "/health", "/static/app.css", "/api/tickets", "/nowhere", "/"])
def test_security_headers_on_every_response(client, anon_client, path):
    for who in (client, anon_client):
        response = who.get(path)
        assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"
        assert response.headers["X-Frame-Options"] == "DENY"


def test_csp_is_the_strict_policy():
    assert CONTENT_SECURITY_POLICY == (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'")


INLINE = [re.compile(p, re.I) for p in (r"\sstyle\s*=", r"<script(?![^>]*\ssrc=)[^>]*>", r"\son[a-z]+\s*=\s*[\"']",
                                        r"javascript:", r"<style[\s>]")]


def test_templates_have_no_inline_script_style_or_handlers():
    for template in (ROOT / "templates").rglob("*.html"):
        text = re.sub(r"{#.*?#}", "", template.read_text(), flags=re.S)
        for pattern in INLINE:
            assert not pattern.search(text), f"{template.name}: {pattern.pattern}"


def test_rendered_pages_carry_the_csrf_header_and_the_safe_htmx_config(app, client):
    html = client.get("/incidents").get_data(as_text=True)
    assert re.search(r"<body hx-headers='\{\"X-CSRFToken\": \"[^\"]+\"\}'", html)
    assert '<meta name="csrf-token" content="' in html
    config = re.search(r'<meta name="htmx-config" content=\'([^\']+)\'', html).group(1)
    for setting in ('"selfRequestsOnly": true', '"allowScriptTags": false', '"allowEval": false',
                    '"includeIndicatorStyles": false'):
        assert setting in config


PAYLOAD = ('<p>Hello <b>there</b></p><script>alert(1)</script><img src=x onerror="alert(2)">'
           '<a href="javascript:alert(3)">click</a><a href="https://example.com/x" target="_blank">ok</a>'
           '<div hx-get="/api/jira/sync" hx-trigger="load" hx-on:click="alert(4)" style="color:red" id="main" '
           'class="x" data-x="1">box</div><iframe src="https://evil.example"></iframe><form action="/x"></form>')


def test_vendor_html_keeps_text_and_plain_links_only():
    cleaned = str(vendor_html(PAYLOAD))
    assert "<p>Hello <b>there</b></p>" in cleaned and ">box</div>" in cleaned
    assert '<a href="https://example.com/x" rel="noopener noreferrer nofollow">ok</a>' in cleaned
    for bad in ("<script", "alert(1)", "onerror", "<img", "javascript:", "hx-", "style=", "id=", "class=", "data-x",
                "<iframe", "<form", "target="):
        assert bad not in cleaned, bad
    assert str(vendor_html(None)) == "" and str(vendor_html("")) == ""


def test_ticket_page_sanitises_vendor_html_inside_hx_disable(app, client):
    with app.app_context():
        ticket = make_ticket(7, subject='<script>alert("s")</script>', description_text="plain",
                             raw={"id": 7, "description": PAYLOAD})
        db.session.add(ticket)
        db.session.commit()
        ticket_id = ticket.id
        db.session.remove()
    html = client.get(f"/tickets/{ticket_id}").get_data(as_text=True)
    assert '<div class="description description-html" hx-disable><p>Hello <b>there</b></p>' in html
    assert "&lt;script&gt;alert(&#34;s&#34;)&lt;/script&gt;" in html
    for bad in ("<script>alert", "onerror=", "javascript:alert", 'hx-get="/api/jira/sync"', "hx-on:click"):
        assert bad not in html, bad


def test_unexpected_errors_are_friendly_and_never_a_traceback(app_config, app):
    from tickettracker import create_app

    broken = create_app(app_config)
    broken.add_url_rule("/boom", "boom", lambda: 1 / 0)
    broken.add_url_rule("/api/boom", "api_boom", lambda: 1 / 0)
    admin = signed_in_client(broken, "admin", "admin")
    page = admin.get("/boom")
    assert page.status_code == 500 and "Something went wrong" in page.get_data(as_text=True)
    api = admin.get("/api/boom")
    assert api.status_code == 500 and api.get_json() == {"error": api.get_json()["error"], "status": 500}
    for body in (page.get_data(as_text=True), api.get_data(as_text=True)):
        assert "Traceback" not in body and "ZeroDivisionError" not in body


@pytest.mark.parametrize("path,code", [("/nowhere", 404), ("/admin/users", 403), ("/api/audit", 403)])
def test_friendly_error_pages_and_json(viewer_client, path, code):
    response = viewer_client.get(path)
    assert response.status_code == code
    if path.startswith("/api/"):
        assert response.get_json()["status"] == code
    else:
        assert "<h1>" + str(code) + "</h1>" in response.get_data(as_text=True)
