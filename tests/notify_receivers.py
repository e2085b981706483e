"""Real receivers on loopback for notification tests: an HTTP server that records every request (and can be told
to fail) and an SMTP server (aiosmtpd) that records every message."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

from tests.live import free_port


@dataclass
class Received:
    """One request the HTTP receiver answered."""

    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body as JSON."""
        return json.loads(self.body)


@dataclass
class HttpReceiver:
    """Records POSTs; answers 500 to the next `failures` of them (or to all while `broken`)."""

    requests: list[Received] = field(default_factory=list)
    failures: int = 0
    broken: bool = False
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        """The base URL."""
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> HttpReceiver:
        """Serve in a thread."""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.requests.append(Received(self.path, dict(self.headers), body))
                failing = receiver.broken or receiver.failures > 0
                receiver.failures = max(0, receiver.failures - 1)
                self.send_response(500 if failing else 200)
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def to(self, prefix: str) -> list[Received]:
        """The requests whose path starts with prefix."""
        return [r for r in self.requests if r.path.startswith(prefix)]


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        self.messages.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos),
                              "data": envelope.content.decode("utf-8", "replace")})
        return "250 OK"


class SmtpReceiver:
    """An aiosmtpd server on loopback keeping every message."""

    def __init__(self) -> None:
        self.mailbox = _Mailbox()
        self.port = free_port()
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The messages received so far."""
        return self.mailbox.messages

    def start(self) -> SmtpReceiver:
        """Serve in aiosmtpd's thread."""
        self.controller.start()
        return self

    def stop(self) -> None:
        """Stop serving (once)."""
        if self.controller.server is not None:
            self.controller.stop()
