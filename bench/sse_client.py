"""The client half of bench/sse.py: hold many /events streams on raw asyncio sockets and time every event.

    python bench/sse_client.py URL COUNT [CONNECTS_PER_SECOND]     (BENCH_COOKIE: the signed-in Cookie header)

Prints one JSON line once COUNT streams got their snapshot, then waits for a line on stdin and prints the figures.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time

COOKIE = os.environ.get("BENCH_COOKIE", "")


class Dechunker:
    """Incremental decoder of an HTTP/1.1 chunked body."""

    def __init__(self) -> None:
        self.raw = b""

    def feed(self, data: bytes) -> str:
        """Add bytes; return the text of every complete chunk so far."""
        self.raw += data
        out = []
        while b"\r\n" in self.raw:
            head, _, rest = self.raw.partition(b"\r\n")
            size = int(head.split(b";")[0], 16)
            if len(rest) < size + 2:
                break
            out.append(rest[:size])
            self.raw = rest[size + 2:]
        return b"".join(out).decode()


class Tally:
    """What the client saw across all its streams."""

    def __init__(self) -> None:
        self.connected = 0
        self.open = 0
        self.latencies: dict[str, list[float]] = {}
        self.per_stream: list[int] = []


async def one_stream(host: str, port: int, tally: Tally, index: int) -> None:
    """Hold one /events stream, recording when the snapshot and each event arrive."""
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(f"GET /events HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\nCookie: {COOKIE}\r\n\r\n"
                 .encode())
    await reader.readuntil(b"\r\n\r\n")
    tally.open += 1
    decoder, buffer, seen = Dechunker(), "", False
    try:
        while data := await reader.read(65536):
            buffer += decoder.feed(data)
            while "\n\n" in buffer:
                frame, buffer = buffer.split("\n\n", 1)
                if "event: snapshot" in frame and not seen:
                    seen, tally.connected = True, tally.connected + 1
                elif "event: SyncStatusUpdated" in frame:
                    payload = json.loads(frame.split("data: ", 1)[1])
                    phase = tally.latencies.setdefault(payload.get("phase", "all"), [])
                    phase.append(time.time() - payload["sentAt"])
                    tally.per_stream[index] += 1
    finally:
        tally.open -= 1
        writer.close()


async def client_main(url: str, count: int, rate: float = 1000.0) -> None:
    """Open count streams in batches (about `rate` a second), report READY, wait for STOP on stdin, report the
    figures."""
    host, port = url.split("//")[1].split(":")
    tally, started = Tally(), time.monotonic()
    tally.per_stream = [0] * count
    tasks = []
    for index in range(count):
        tasks.append(asyncio.create_task(one_stream(host, int(port), tally, index)))
        if index % 50 == 49:
            await asyncio.sleep(50 / rate)
    while tally.connected < count and time.monotonic() - started < 120 + count / rate:
        await asyncio.sleep(0.1)
    print(json.dumps({"ready": tally.connected, "seconds": round(time.monotonic() - started, 2)}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    print(json.dumps({"held": tally.open, "latencies": tally.latencies, "min_events": min(tally.per_stream)}),
          flush=True)
    for task in tasks:
        task.cancel()



if __name__ == "__main__":
    asyncio.run(client_main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]) if len(sys.argv) > 3 else 1000.0))
