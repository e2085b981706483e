"""The shared HTTP client and the mapping helpers, over a real loopback server."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tickettracker.connectors import ConfigurationError, HttpStats, TransientSyncError
from tickettracker.connectors.http import HttpPolicy, VendorClient, VendorIdentity, parse_retry_after
from tickettracker.connectors.jira_records import issue_record
from tickettracker.connectors.mapping import adf_text, fw_channel, fw_priority, fw_status, parse_time
from tickettracker.connectors.pacing import Pacer, reserve

SECRET = "s3cret-key-value"
IDENTITY = VendorIdentity("Freshdesk", "FRESHDESK_BASE_URL", "FRESHDESK_API_KEY")
FAST = HttpPolicy(timeout=0.5, max_retries=2, backoff_base=0.01, backoff_cap=0.02, max_wait=2.0)


class Handler(BaseHTTPRequestHandler):
    """Answers from a script of (status, headers, body) and records request headers."""

    script: list[tuple[int, dict[str, str], str]] = []
    seen: list[dict[str, str]] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        """Serve the next scripted answer."""
        Handler.seen.append(dict(self.headers))
        status, headers, body = Handler.script.pop(0) if Handler.script else (200, {}, "{}")
        data = body.encode()
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", "Content-Length": str(len(data)), **headers}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        """Stay quiet."""


@pytest.fixture()
def server():
    """A scripted loopback HTTP server."""
    Handler.script, Handler.seen = [], []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def client(url: str, policy: HttpPolicy = FAST) -> VendorClient:
    """A client with the test identity and a secret API key."""
    return VendorClient(IDENTITY, url, policy, HttpStats(), auth=(SECRET, "X"))


def test_requests_carry_the_user_agent_and_basic_auth(server):
    Handler.script = [(200, {}, '{"ok": true}')]
    assert client(server).get("/x").data == {"ok": True}
    assert Handler.seen[0]["User-Agent"] == "TicketTracker/1.0"
    assert Handler.seen[0]["Authorization"].startswith("Basic ")


@pytest.mark.parametrize("status, setting", [(401, "FRESHDESK_API_KEY"), (403, "FRESHDESK_API_KEY"),
                                             (404, "FRESHDESK_BASE_URL"), (400, "")])
def test_client_errors_fail_at_once_naming_the_setting_without_secrets(server, status, setting):
    body = json.dumps({"code": "x", "message": f"bad {SECRET}\x07 <b>"})
    Handler.script = [(status, {}, body)]
    with pytest.raises(ConfigurationError) as caught:
        client(server).get("/api/v2/tickets", {"page": 1})
    message = str(caught.value)
    assert f"({status})" in message and setting in message
    assert len(Handler.seen) == 1
    assert "\x07" not in message and SECRET not in message


def test_the_vendor_401_message_follows_the_spec_wording(server):
    Handler.script = [(401, {}, '{"code":"invalid_credentials","message":"You have to be logged in."}')]
    with pytest.raises(ConfigurationError) as caught:
        client(server).get("/api/v2/tickets")
    assert str(caught.value).startswith("Freshdesk rejected the API key (401): check FRESHDESK_API_KEY")


def test_html_and_truncated_bodies_are_retried_then_reported_as_transient(server):
    Handler.script = [(502, {}, "<html>bad gateway</html>"), (200, {}, '{"a": '), (200, {}, '{"a": 1}')]
    stats = HttpStats()
    assert VendorClient(IDENTITY, server, FAST, stats).get("/x").data == {"a": 1}
    assert (stats.requests, stats.retries) == (3, 2)
    Handler.script = [(500, {}, "{}")] * 3
    with pytest.raises(TransientSyncError, match="gave up after 3 attempts"):
        client(server).get("/x")


def test_an_unreachable_vendor_is_transient():
    with pytest.raises(TransientSyncError, match="Freshdesk is unavailable: connection failed"):
        client("http://127.0.0.1:9").get("/x")


def test_retry_after_accepts_seconds_and_http_dates():
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), now) == 30.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_timestamps_become_utc_whatever_the_vendor_offset():
    expected = datetime(2024, 7, 26, 10, 52, 24, 349000, tzinfo=timezone.utc)
    assert parse_time("2024-07-26T16:22:24.349+0530") == expected
    assert parse_time("2024-07-26T16:22:24.349+05:30") == expected
    assert parse_time("2017-09-08T11:37:01Z") == datetime(2017, 9, 8, 11, 37, 1, tzinfo=timezone.utc)
    assert parse_time("garbage") is None and parse_time(None) is None


def test_codes_map_to_labels_and_unknown_codes_stay_raw():
    assert fw_status(2, "freshservice") == ("2", "Open", "open")
    assert fw_status(6, "freshdesk") == ("6", "Waiting on Customer", "pending")
    assert fw_status(13, "freshservice", {13: "Custom"}) == ("13", "Custom", "open")
    assert fw_status(99, "freshdesk") == ("99", "99", "open")
    assert fw_priority(4) == (4, "Urgent") and fw_priority(9) == (9, "9")
    assert fw_channel(10, "freshdesk") == "Outbound Email" and fw_channel(77, "freshservice") == "77"


def test_adf_and_data_center_sprints_become_text():
    doc = {"type": "doc", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "Hi"}]},
                                      {"type": "bulletList", "content": [{"type": "listItem", "content": [
                                          {"type": "paragraph", "content": [{"type": "text", "text": "one"}]}]}]}]}
    assert adf_text(doc).strip() == "Hi\n- one"
    sprint = "com.atlassian.greenhopper.service.sprint.Sprint@1[id=1,rapidViewId=2,state=ACTIVE,name=ENG Sprint 3,x=y]"
    issue = {"id": "10001", "key": "ENG-1",
             "fields": {"summary": "s", "customfield_10104": [sprint], "description": "h3. wiki"}}
    record = issue_record(issue, "https://jira.example", "customfield_10104")
    assert record.group_name == "ENG Sprint 3" and record.description_text == "h3. wiki"
    assert record.url == "https://jira.example/browse/ENG-1" and record.status_category == "todo"
    assert (record.external_id, record.external_key) == ("10001", "ENG-1")


def test_pacing_spaces_requests_to_the_share_of_a_known_window():
    pacer = Pacer(share=0.5, window_hint=60.0)
    pacer.observe({"X-RateLimit-Total": "200", "X-RateLimit-Remaining": "190", "X-RateLimit-Used-CurrentRequest": "5"})
    assert pacer.interval == pytest.approx(60 * 5 / 100)
    pacer.sent()
    assert 2.9 < pacer.delay() <= 3.0


def test_pacing_holds_when_the_reserve_for_others_would_be_touched():
    pacer = Pacer(share=0.5, window_hint=None)
    pacer.observe({"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "80"})
    assert pacer.delay() == 0
    pacer.observe({"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "50"})
    assert 0.9 < pacer.delay() <= 1.0
    pacer.observe({"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "45"})
    assert 1.9 < pacer.delay() <= 2.0
    reset = (datetime.now(timezone.utc) + timedelta(seconds=30)).isoformat()
    pacer.observe({"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "10", "X-RateLimit-Reset": reset})
    assert 28 < pacer.delay() <= 30
    pacer.observe({"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "99"})
    assert pacer.next_hold == 1.0


def test_a_sync_alone_is_not_held_at_the_end_of_each_window_but_probes_with_its_next_spaced_request():
    """25 a window at share 0.5: spacing (0.4 s) lets 12 or 13 requests fall into a window. The 13th leaves 12
    credits, all that others could spend of the 12.5 kept for them, so it is sent; the reserve reached, the next
    spaced request probes (it usually falls into a new window) and only a second low reading holds, for 1 s."""
    pacer = Pacer(share=0.5, window_hint=5.0)
    pacer.observe({"X-RateLimit-Limit": "25", "X-RateLimit-Remaining": "13"})
    assert not pacer.holding() and pacer.interval == pytest.approx(0.4)
    pacer.observe({"X-RateLimit-Limit": "25", "X-RateLimit-Remaining": "12"})
    assert not pacer.holding(), "held although the next spaced request may fall into a new window"
    pacer.observe({"X-RateLimit-Limit": "25", "X-RateLimit-Remaining": "11"})
    assert pacer.holding() and 0.9 < pacer.delay() <= 1.0
    pacer.observe({"X-RateLimit-Limit": "25", "X-RateLimit-Remaining": "24"})
    pacer.observe({"X-RateLimit-Limit": "25", "X-RateLimit-Remaining": "12"})
    assert not pacer.holding() and pacer.probing  # a new series starts with a probe again
    assert [reserve(total, share) for total, share in ((25, 0.5), (10, 0.9), (100, 0.7), (3, 0.5))] == [12, 1, 30, 1]
