"""Credentials never reach run logs: raw, as Basic (key:X, email:token) or Bearer, in query strings or URL userinfo."""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tickettracker.connectors import ConfigurationError, HttpStats
from tickettracker.connectors.http import HttpPolicy, VendorClient, VendorIdentity
from tickettracker.core.config import load_settings
from tickettracker.core.redaction import Redactor, redact

KEY = "fw-key-Zx81kq2LmN0p"
EMAIL, TOKEN = "robot@example.com", "jira-ATATT3xFfGF0-token"
IDENTITY = VendorIdentity("Freshdesk", "FRESHDESK_BASE_URL", "FRESHDESK_API_KEY")
FAST = HttpPolicy(timeout=1, max_retries=0, backoff_base=0.01, backoff_cap=0.02, max_wait=1.0)


def _basic(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


class Echo(BaseHTTPRequestHandler):
    """Refuses every request (400) and echoes the request's Authorization header in its error message."""

    padding = 0

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        """Answer 400 with the header echoed after `padding` characters."""
        message = "x" * Echo.padding + f" Authorization: {self.headers.get('Authorization')} was refused"
        data = json.dumps({"message": message}).encode()
        self.send_response(400)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        """Stay quiet."""


@pytest.fixture()
def echo():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _fatal(url: str, **auth) -> str:
    with pytest.raises(ConfigurationError) as caught:
        VendorClient(IDENTITY, url, FAST, HttpStats(), **auth).get("/api/v2/tickets")
    return str(caught.value)


@pytest.mark.parametrize("padding", [0, 150, 170, 185])
def test_an_echoed_basic_header_is_redacted_even_where_the_text_is_cut(echo, padding):
    Echo.padding = padding
    message = _fatal(echo, auth=(KEY, "X"))
    encoded = _basic(KEY, "X")
    for leak in (KEY, encoded, encoded[:12], encoded[:20]):
        assert leak not in message, leak
    assert "rejected the request" in message


def test_an_echoed_email_token_pair_and_bearer_are_redacted(echo):
    Echo.padding = 0
    basic = _fatal(echo, auth=(EMAIL, TOKEN))
    assert TOKEN not in basic and _basic(EMAIL, TOKEN)[:12] not in basic
    bearer = _fatal(echo, bearer=TOKEN)
    assert TOKEN not in bearer and "Bearer ***" in bearer


def test_credential_shaped_text_is_redacted_without_knowing_the_secret():
    text = ("GET https://bot:hunter2pass@acme.example/api?page=2&api_key=abc123SECRET&x=1 failed; "
            "headers {'Authorization': 'Basic Zm9vOmJhcg=='} and Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig; "
            "retry with ?token=t0k3n")
    out = redact(text)
    for leak in ("hunter2pass", "bot:", "abc123SECRET", "Zm9vOmJhcg", "eyJhbGciOiJIUzI1NiJ9", "t0k3n"):
        assert leak not in out, leak
    assert "https://***@acme.example/api?page=2&api_key=***&x=1" in out and "Bearer ***" in out


def test_redaction_happens_before_the_cut():
    secret = "k" * 8 + "SECRET-TAIL"
    text = "y" * 195 + secret
    out = Redactor([secret])(text, 200)
    assert "kkkk" not in out and len(out) <= 200


def test_the_vendor_settings_redact_every_form_of_their_credentials():
    settings = load_settings({"JIRA_BASE_URL": "https://acme.atlassian.net", "JIRA_EMAIL": EMAIL,
                              "JIRA_API_TOKEN": TOKEN, "FRESHDESK_BASE_URL": "https://acme.freshdesk.com",
                              "FRESHDESK_API_KEY": KEY, "SECRET_KEY": "x" * 32}, use_dotenv=False)
    redactor = settings.vendors.redactor()
    text = f"sent Basic {_basic(EMAIL, TOKEN)} and {_basic(KEY, 'X')} and raw {TOKEN} {KEY}"
    out = redactor(text)
    for leak in (TOKEN, KEY, _basic(EMAIL, TOKEN), _basic(KEY, "X")):
        assert leak not in out
