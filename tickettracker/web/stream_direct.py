"""Events written straight to the sockets of open streams, in one pass per event (gunicorn's gevent worker).

Through WSGI, every open stream is a greenlet that wakes for each event, asks the hub what is new and hands the
frames to gunicorn, which frames them as an HTTP chunk and writes them: about 100 µs of Python per stream and event,
so a pass over 5,000 streams takes longer than the gap between two events. Once a stream has sent its snapshot and
replay the usual way (so gunicorn has sent the headers and chose chunked framing), it can hand its socket to this
process's `Fanout`: the hub's reader then writes each event to every such socket itself, as one chunk per role
encoded once, with a non-blocking send (a few µs each). The stream's greenlet only wakes when its socket's buffer is
full (it then writes the rest, blocking), for its heartbeat, or when the keeper ends its session; it is the only
other writer, and writes only through `send` and `flush` here, so the chunks never interleave.

Used only where it is safe: a plain (not TLS) gevent socket under gunicorn, on an HTTP/1.1 response. Everywhere
else (the development server, the test client, HTTP/1.0) the stream keeps writing through WSGI.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import gevent
from flask import Flask

log = logging.getLogger(__name__)

MAX_QUEUED_BYTES = 4 * 1024 * 1024  # a client that cannot take this much is dropped (it reconnects and replays)
YIELD_EVERY = 100  # sockets written between two chances for the process to serve others (a page waits one batch)
YIELD_LIMIT_SECONDS = 0.002  # the longest a pass waits at one yield while the process stays busy with others


def chunk(data: bytes) -> bytes:
    """One HTTP/1.1 chunk (the framing gunicorn uses for a response without a length)."""
    return b"%X\r\n%s\r\n" % (len(data), data)


def raw_socket(environ: dict[str, Any]) -> Any | None:
    """The non-blocking OS socket under this request's gevent socket, when events may be written to it directly."""
    sock = environ.get("gunicorn.socket")
    if sock is None or environ.get("SERVER_PROTOCOL") != "HTTP/1.1" or environ.get("REQUEST_METHOD") != "GET":
        return None
    if not type(sock).__module__.startswith("gevent") or hasattr(sock, "_sslobj") or hasattr(sock, "context"):
        return None  # a thread's blocking socket, or TLS (raw writes would bypass the encryption)
    raw = getattr(sock, "_sock", None)
    return raw if raw is not None and hasattr(raw, "send") else None


class DirectStream:
    """One stream whose events the fan-out writes: its sockets, role, newest event id sent and unsent bytes."""

    __slots__ = ("sock", "raw", "admin", "high", "pending", "queued", "flushing", "dead", "signal")

    def __init__(self, sock: Any, raw: Any, admin: bool, high: tuple[int, int]) -> None:
        """Take the request's gevent socket (for blocking writes) and its OS socket (for non-blocking ones)."""
        self.sock, self.raw, self.admin, self.high = sock, raw, admin, high
        self.pending: list[bytes] = []
        self.queued = 0
        self.flushing = False
        self.dead = False
        self.signal = threading.Event()

    def send_event(self, number: tuple[int, int], data: bytes) -> None:
        """Write an event's chunk unless this stream already has that event (by its parsed id)."""
        if number > self.high:
            self.high = number
            self.send(data)

    def send(self, data: bytes) -> None:
        """Write data now if the socket takes it; queue what it does not and wake the stream to write it."""
        if self.dead:
            return
        if self.pending or self.flushing:
            self._queue(data)
            return
        try:
            sent = self.raw.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            self.close()
            return
        if sent < len(data):
            self._queue(data[sent:])

    def _queue(self, data: bytes) -> None:
        self.pending.append(data)
        self.queued += len(data)
        if self.queued > MAX_QUEUED_BYTES:
            log.warning("an event-stream client stopped reading (%d bytes queued); its stream ends", self.queued)
            self.close()
        else:
            self.signal.set()

    def flush(self) -> None:
        """Write everything queued, waiting for the socket (the stream's own greenlet calls this)."""
        while self.pending and not self.dead:
            self.flushing = True
            data, self.pending, self.queued = b"".join(self.pending), [], 0
            try:
                self.sock.sendall(data)
            except OSError:
                self.close()
        self.flushing = False

    def close(self) -> None:
        """Stop writing to this stream and wake it to end."""
        self.dead = True
        self.pending, self.queued = [], 0
        self.signal.set()


class Fanout:
    """This process's direct streams; `deliver` writes one event to all of them (called by the hub's reader)."""

    def __init__(self, app: Flask, frames: Callable[[str, dict[str, Any], bool], bytes],
                 parse: Callable[[str], tuple[int, int]], base_url: str) -> None:
        """Keep the app, the frame maker, the id parser and the streams' URL root: an event's frames are rendered in
        a request context for /events under that root (they hold links), as a stream's own request would."""
        self.app, self.frames, self.parse, self.base_url = app, frames, parse, base_url
        self.streams: set[DirectStream] = set()

    def add(self, stream: DirectStream) -> None:
        """Write this stream's next events directly."""
        self.streams.add(stream)

    def remove(self, stream: DirectStream) -> None:
        """Stop writing to this stream."""
        self.streams.discard(stream)

    def deliver(self, event_id: str, payload: dict[str, Any]) -> None:
        """Write one event to every direct stream that has not had it, as one chunk per role."""
        if not self.streams:
            return
        number, streams = self.parse(event_id), list(self.streams)
        with self.app.test_request_context("/events", base_url=self.base_url):
            chunks = {admin: chunk(self.frames(event_id, payload, admin)) for admin in {s.admin for s in streams}}
        for index, stream in enumerate(streams):
            stream.send_event(number, chunks[stream.admin])
            if index % YIELD_EVERY == YIELD_EVERY - 1:
                let_others_run()


def let_others_run() -> None:
    """Let the process serve others (page requests) before the next batch of sends.

    Waits until gevent's loop has polled its sockets and run whatever was ready (an idle watcher, so a yield costs
    microseconds), but no longer than YIELD_LIMIT_SECONDS while the process stays busy, so events still go out under
    a steady load of pages. A timed sleep costs at least a millisecond per yield (the loop polls with a timeout in
    whole milliseconds), and sleep(0) may resume before the loop polls for I/O.
    """
    with gevent.Timeout(YIELD_LIMIT_SECONDS, False):
        gevent.idle()
