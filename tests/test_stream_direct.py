"""Events written straight to stream sockets (web/stream_direct.py), over real socket pairs."""

from __future__ import annotations

import socket
import threading
import time

import gevent
import pytest

from tickettracker.sync.events import parse_id
from tickettracker.web import stream_direct
from tickettracker.web.stream_direct import DirectStream, Fanout, chunk, raw_socket


def _pair(buffer: int | None = None) -> tuple[socket.socket, socket.socket]:
    server, client = socket.socketpair()
    if buffer:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, buffer)
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, buffer)
    server.setblocking(False)
    return server, client


def _blocking_twin(server: socket.socket) -> socket.socket:
    """The stream's own (waiting) writes go through a blocking socket on the same connection."""
    twin = server.dup()
    twin.settimeout(10)
    return twin


def _read_all(client: socket.socket, size: int) -> bytes:
    data = b""
    client.settimeout(10)
    while len(data) < size:
        part = client.recv(65536)
        if not part:
            break
        data += part
    return data


def _unchunk(data: bytes) -> list[bytes]:
    out = []
    while data:
        size, _, rest = data.partition(b"\r\n")
        length = int(size, 16)
        out.append(rest[:length])
        assert rest[length:length + 2] == b"\r\n"
        data = rest[length + 2:]
    return out


def test_a_chunk_is_framed_as_http_1_1_does():
    assert chunk(b"data: x\n\n") == b"9\r\ndata: x\n\n\r\n"
    assert _unchunk(chunk(b"a" * 300) + chunk(b"b")) == [b"a" * 300, b"b"]


def test_what_the_socket_does_not_take_is_queued_then_written_in_order_by_the_stream():
    server, client = _pair(buffer=4096)
    stream = DirectStream(_blocking_twin(server), server, admin=False, high=(0, 0))
    parts = [chunk(bytes([65 + n % 26]) * 3000) for n in range(200)]  # far more than the buffers hold
    for part in parts:
        stream.send(part)
    assert stream.pending and stream.signal.is_set()  # the socket was full: the rest waits for the stream
    expected = b"".join(parts)
    reader = threading.Thread(target=lambda: received.append(_read_all(client, len(expected))))
    received: list[bytes] = []
    reader.start()
    stream.flush()
    reader.join(10)
    assert received[0] == expected and not stream.pending and not stream.dead


def test_a_client_that_stops_reading_is_dropped_once_its_queue_passes_the_cap(monkeypatch):
    monkeypatch.setattr(stream_direct, "MAX_QUEUED_BYTES", 64 * 1024)
    server, client = _pair(buffer=4096)
    stream = DirectStream(_blocking_twin(server), server, admin=True, high=(0, 0))
    for _ in range(100):
        stream.send(chunk(b"x" * 2000))
    assert stream.dead and stream.signal.is_set() and not stream.pending
    stream.send(chunk(b"more"))  # ignored: the stream is ending
    assert not stream.pending


def test_a_closed_client_ends_the_stream():
    server, client = _pair()
    stream = DirectStream(_blocking_twin(server), server, admin=False, high=(0, 0))
    client.close()
    for _ in range(3):  # the first write may still be accepted by the kernel
        stream.send(chunk(b"x" * 100))
    assert stream.dead and stream.signal.is_set()


def test_the_fan_out_writes_each_role_its_frames_once_and_skips_what_a_stream_already_has(app):
    rendered: list[tuple[str, bool]] = []

    def frames(event_id: str, payload: dict, admin: bool) -> bytes:
        rendered.append((event_id, admin))
        return f"id: {event_id}\nevent: {'admin' if admin else 'viewer'}\ndata: {payload['n']}\n\n".encode()

    fan = Fanout(app, frames, parse_id, "http://localhost/")
    pairs = [_pair() for _ in range(3)]
    admin, viewer, ahead = (DirectStream(_blocking_twin(s), s, admin=role, high=high) for (s, _), role, high in
                            zip(pairs, (True, False, False), ((0, 0), (0, 0), (5, 0)), strict=True))
    for stream in (admin, viewer, ahead):
        fan.add(stream)
    fan.deliver("4-0", {"n": 4})
    fan.deliver("6-0", {"n": 6})
    fan.remove(viewer)
    fan.deliver("7-0", {"n": 7})
    got = [_unchunk(client.recv(65536)) for _, client in pairs]
    assert got[0] == [b"id: 4-0\nevent: admin\ndata: 4\n\n", b"id: 6-0\nevent: admin\ndata: 6\n\n",
                      b"id: 7-0\nevent: admin\ndata: 7\n\n"]
    assert got[1] == [b"id: 4-0\nevent: viewer\ndata: 4\n\n", b"id: 6-0\nevent: viewer\ndata: 6\n\n"]
    assert got[2] == [b"id: 6-0\nevent: viewer\ndata: 6\n\n", b"id: 7-0\nevent: viewer\ndata: 7\n\n"]
    assert sorted(rendered) == sorted((e, r) for e in ("4-0", "6-0", "7-0") for r in (False, True))
    rendered.clear()
    for stream in (viewer, ahead):
        fan.remove(stream)
    fan.deliver("8-0", {"n": 8})
    assert rendered == [("8-0", True)]  # only the roles that have a stream are rendered


@pytest.mark.parametrize("environ", [
    {},  # no gunicorn socket: the development server or the test client
    {"gunicorn.socket": socket.socket(), "SERVER_PROTOCOL": "HTTP/1.1", "REQUEST_METHOD": "GET"},  # a thread's socket
])
def test_streams_outside_gunicorns_gevent_worker_keep_writing_through_wsgi(environ):
    assert raw_socket(environ) is None


def test_a_plain_gevent_socket_on_an_http_1_1_get_is_written_directly():
    import gevent.socket

    sock = gevent.socket.socket()
    try:
        environ = {"gunicorn.socket": sock, "SERVER_PROTOCOL": "HTTP/1.1", "REQUEST_METHOD": "GET"}
        assert raw_socket(environ) is sock._sock
        assert raw_socket({**environ, "SERVER_PROTOCOL": "HTTP/1.0"}) is None  # no chunked framing
    finally:
        sock.close()


def _fan_out_to(app, count: int) -> tuple[Fanout, list[socket.socket]]:
    """A fan-out with count streams over socket pairs; returns it and the clients' ends."""
    fan = Fanout(app, lambda event_id, payload, admin: b"data: x\n\n", parse_id, "http://localhost/")
    clients = []
    for _ in range(count):
        server, client = _pair()
        fan.add(DirectStream(_blocking_twin(server), server, admin=False, high=(0, 0)))
        clients.append(client)
    return fan, clients


def _written(clients: list[socket.socket]) -> int:
    """How many clients have bytes waiting."""
    count = 0
    for client in clients:
        client.setblocking(False)
        try:
            count += bool(client.recv(1, socket.MSG_PEEK))
        except BlockingIOError:
            pass
    return count


def test_a_fan_out_pass_lets_waiting_work_run_after_each_batch_of_sends(app):
    fan, clients = _fan_out_to(app, stream_direct.YIELD_EVERY + 5)
    found: list[int] = []
    passing = gevent.spawn(fan.deliver, "1-0", {})
    page = gevent.spawn(lambda: found.append(_written(clients)))  # a page request ready while the pass runs
    gevent.joinall([passing, page], raise_error=True)
    assert found == [stream_direct.YIELD_EVERY]  # it ran after the first batch, not after the whole pass
    assert _written(clients) == len(clients)


def test_a_fan_out_pass_is_not_held_up_by_a_process_that_never_goes_idle(app):
    fan, clients = _fan_out_to(app, 3 * stream_direct.YIELD_EVERY + 5)
    busy_until = time.monotonic() + 2.0

    def busy() -> None:  # keeps the loop busy: an idle wait alone would never end
        while time.monotonic() < busy_until:
            gevent.sleep(0)

    spinning = gevent.spawn(busy)
    passing = gevent.spawn(fan.deliver, "1-0", {})
    passing.join(timeout=3.0)
    finished = time.monotonic()
    spinning.join()
    assert passing.successful() and _written(clients) == len(clients)
    assert finished < busy_until - 1.0  # three waits of at most YIELD_LIMIT_SECONDS each, not the busy 2 s
