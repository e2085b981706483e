"""The client half of bench/sse.py: hold many /events streams on raw non-blocking sockets and time every event.

    python bench/sse_client.py URL COUNT [CONNECTS_PER_SECOND]     (BENCH_COOKIE: the signed-in Cookie header)

Prints one JSON line once COUNT streams got their snapshot, then waits for a line on stdin and prints the figures.

While events flow the client only stamps and keeps what each socket delivers (one epoll wake, one recv, one
append per delivery); it decodes the chunks and parses the frames after STOP. An event's arrival is the moment the
recv that completed its frame returned, so the figures are the server's fan-out, not this client's parsing.
"""

from __future__ import annotations

import json
import os
import selectors
import socket
import sys
import time

COOKIE = os.environ.get("BENCH_COOKIE", "")
SNAPSHOT = b"event: snapshot"


class Stream:
    """One held stream: its socket and every (arrival time, bytes) it received after the response head."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock, self.head, self.received = sock, b"", []
        self.snapshot = False
        self.open = True


def connect(host: str, port: int) -> Stream:
    """Open one /events stream (the request is sent; the answer is read by the select loop)."""
    sock = socket.create_connection((host, port), timeout=30)
    sock.sendall(f"GET /events HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\nCookie: {COOKIE}\r\n\r\n"
                 .encode())
    sock.setblocking(False)
    return Stream(sock)


def receive(stream: Stream) -> bool:
    """Read what the socket has; return False when the server closed it."""
    try:
        data = stream.sock.recv(262144)
    except BlockingIOError:
        return True
    except OSError:
        data = b""
    if not data:
        stream.open = False
        return False
    now = time.time()
    if not stream.snapshot:
        stream.head += data
        if SNAPSHOT in stream.head:
            stream.snapshot = True
            stream.received.append((now, stream.head.split(b"\r\n\r\n", 1)[1]))
            stream.head = b""
        return True
    stream.received.append((now, data))
    return True


def frames(stream: Stream) -> list[tuple[float, str]]:
    """Decode the stream's chunked body and return (arrival time, frame text) per complete frame."""
    raw, text, out = b"", "", []
    for arrived, data in stream.received:
        raw += data
        while b"\r\n" in raw:
            head, _, rest = raw.partition(b"\r\n")
            size = int(head.split(b";")[0], 16)
            if len(rest) < size + 2:
                break
            text += rest[:size].decode()
            raw = rest[size + 2:]
        while "\n\n" in text:
            frame, text = text.split("\n\n", 1)
            out.append((arrived, frame))
    return out


def figures(streams: list[Stream]) -> dict[str, object]:
    """Publish-to-client latency per phase, streams still open, and the fewest events any stream got."""
    latencies: dict[str, list[float]] = {}
    per_stream = []
    for stream in streams:
        count = 0
        for arrived, frame in frames(stream):
            if "event: SyncStatusUpdated" in frame:
                payload = json.loads(frame.split("data: ", 1)[1])
                latencies.setdefault(payload.get("phase", "all"), []).append(arrived - payload["sentAt"])
                count += 1
        per_stream.append(count)
    return {"held": sum(s.open for s in streams), "latencies": latencies, "min_events": min(per_stream or [0])}


def main(url: str, count: int, rate: float = 1000.0) -> None:
    """Open count streams (about `rate` a second), report READY, keep receiving until STOP on stdin, report."""
    host, port = url.split("//")[1].split(":")
    selector = selectors.DefaultSelector()
    selector.register(sys.stdin, selectors.EVENT_READ, None)
    streams: list[Stream] = []
    started, ready_sent, stop = time.monotonic(), False, False
    while not stop:
        due = min(count, int((time.monotonic() - started) * rate) + 1)
        while len(streams) < due:
            stream = connect(host, int(port))
            selector.register(stream.sock, selectors.EVENT_READ, stream)
            streams.append(stream)
        for key, _ in selector.select(timeout=0.05):
            if key.data is None:
                sys.stdin.readline()
                stop = True
            elif not receive(key.data):
                selector.unregister(key.fileobj)
        if not ready_sent:
            connected = sum(s.snapshot for s in streams)
            waited = time.monotonic() - started
            if connected == count or waited > 120 + count / rate:
                print(json.dumps({"ready": connected, "seconds": round(waited, 2)}), flush=True)
                ready_sent = True
    print(json.dumps(figures(streams)), flush=True)
    for stream in streams:
        stream.sock.close()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]) if len(sys.argv) > 3 else 1000.0)
