"""Benchmark: open SSE streams held by ONE gunicorn gevent worker (the production gunicorn.conf.py).

Starts the app on a scratch database, opens --streams event streams from a separate client process
(bench/sse_client.py: asyncio raw sockets), publishes --events SyncStatusUpdated events and prints: streams held,
publish-to-client latency p50/p99, RSS per stream, and GET /incidents latency without streams, with them idle,
and with them while events flow.

    .venv/bin/python bench/sse.py [--streams 1000] [--events 20]

PostgreSQL: BENCH_PG_ADMIN_URL (default postgresql://postgres@127.0.0.1:5432/postgres); Redis: BENCH_REDIS_URL
(default redis://127.0.0.1:6379; a free database number 1-15 is claimed and flushed).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
USER, PASSWORD = "bench", secrets.token_urlsafe(24)
CLIENT_PROCESSES = 4  # stream client processes at most
STREAMS_PER_CLIENT = 1000  # streams per client process at least (fewer processes for fewer streams)
# How long the clients keep reading after the last event was published: an event still on its way then counts with
# its (long) latency instead of as lost. 1 s was less than 10,000 streams' p99 while pages load on a slow day.
DRAIN_SECONDS = 5.0
CONNECTS_PER_SECOND = 150  # new streams a second, all clients together (one web process signs each one in)
COOKIE = os.environ.get("BENCH_COOKIE", "")

from bench.harness import scratch_database, scratch_redis  # noqa: E402 - needs ROOT on sys.path
from bench.results import percentile  # noqa: E402


def prepare(env: dict[str, str], tickets: int) -> None:
    """Apply the migrations and put some tickets in the cache so /incidents renders a full table."""
    from datetime import datetime, timedelta, timezone

    from flask_migrate import upgrade
    from sqlalchemy import insert

    from tickettracker import create_app
    from tickettracker.store.extensions import db
    from tickettracker.store.models import Ticket

    app = create_app(env)
    now = datetime.now(timezone.utc)
    rows = [{"source": "freshdesk", "external_id": str(n), "kind": "incident", "subject": f"Bench ticket {n}",
             "status_label": "Open", "status_category": "open", "priority_label": "High", "priority_code": 3,
             "updated_at": now - timedelta(minutes=n), "created_at": now - timedelta(days=1), "tags": [],
             "raw": {}, "custom_fields": {}} for n in range(tickets)]
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        db.session.execute(insert(Ticket), rows)
        db.session.commit()
        if hasattr(app, "login_manager"):
            from tickettracker.web.auth.users import create_user

            create_user(USER, PASSWORD, "viewer")
        db.engine.dispose()


def sign_in(url: str) -> str:
    """Sign the bench user in through the form; return the Cookie header to send (empty without auth)."""
    import re

    import requests

    session = requests.Session()
    page = session.get(f"{url}/login", timeout=30)
    if page.status_code == 404:
        return ""
    token = re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)
    answer = session.post(f"{url}/login", data={"username": USER, "password": PASSWORD, "csrf_token": token},
                          allow_redirects=False, timeout=30)
    if answer.status_code != 303:
        raise RuntimeError(f"sign-in failed: {answer.status_code}")
    return "; ".join(f"{c.name}={c.value}" for c in session.cookies)


def free_port() -> int:
    """Return a free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_web(env: dict[str, str], log: Path) -> tuple[subprocess.Popen, str]:
    """Start gunicorn with the production config and one worker; return it and its base URL once it answers."""
    port = free_port()
    child_env = {**os.environ, **env, "PORT": str(port), "HOST": "127.0.0.1", "WEB_CONCURRENCY": "1"}
    web = subprocess.Popen([sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "wsgi:app"],
                           cwd=ROOT, env=child_env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    for _ in range(150):
        with contextlib.suppress(OSError):
            if get("127.0.0.1", port, "/health") < 5:
                return web, f"http://127.0.0.1:{port}"
        time.sleep(0.1)
    raise RuntimeError(f"gunicorn did not answer; see {log}")


PAGE_TIMEOUT = 30.0  # seconds a page request may take before it counts as timed out (with this figure)


def get(host: str, port: int, path: str) -> float:
    """GET a path on a new connection; return the seconds it took, PAGE_TIMEOUT when it timed out (fail on a
    non-200)."""
    started = time.perf_counter()
    conn = http.client.HTTPConnection(host, port, timeout=PAGE_TIMEOUT)
    try:
        conn.request("GET", path, headers={"Cookie": COOKIE} if COOKIE else {})
        response = conn.getresponse()
        response.read()
    except TimeoutError:
        return PAGE_TIMEOUT
    finally:
        conn.close()
    if response.status != 200:
        raise RuntimeError(f"GET {path} answered {response.status}")
    return time.perf_counter() - started


def page_latency(url: str, count: int) -> dict[str, float]:
    """Return p50/p99 (ms) of count sequential GET /incidents, and how many timed out."""
    host, port = url.split("//")[1].split(":")
    samples = [get(host, int(port), "/incidents") for _ in range(count)]
    return {"p50": percentile(samples, 0.5) * 1000, "p99": percentile(samples, 0.99) * 1000,
            "timeouts": sum(s >= PAGE_TIMEOUT for s in samples)}


def rss_kib(pid: int) -> int:
    """Return a process's resident set size in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def worker_pid(master: int) -> int:
    """Return the pid of gunicorn's (single) worker process."""
    for _ in range(50):
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        if children:
            return int(children[0])
        time.sleep(0.1)
    raise RuntimeError("gunicorn has no worker")


def publish_events(redis_url: str, count: int, gap: float, phase: str) -> None:
    """Publish count SyncStatusUpdated events, each stamped with its send time and the phase."""
    from tickettracker.store.extensions import make_redis
    from tickettracker.sync.events import publish

    redis = make_redis(redis_url)
    for n in range(count):
        publish(redis, {"jobId": "bench", "type": "JIRA", "status": 0, "progress": n * 100 // count,
                        "message": f"Page {n}", "fetched": n * 100, "created": n, "updated": 0, "deleted": 0,
                        "sentAt": time.time(), "phase": phase})
        time.sleep(gap)


def measure(url: str, redis_url: str, web: subprocess.Popen, args: argparse.Namespace) -> dict[str, object]:
    """Run the phases: pages alone, streams opening, pages with streams, events alone, events with page traffic."""
    global COOKIE
    COOKIE = os.environ["BENCH_COOKIE"] = sign_in(url)
    page_latency(url, 5)  # warm-up: the first request renders the page into the cache (a cold render is row 1d)
    result: dict[str, object] = {"pages_without_streams": page_latency(url, args.pages)}
    worker = worker_pid(web.pid)
    before = rss_kib(worker)
    clients = start_clients(url, args.streams)
    ready = _merge_ready([json.loads(client.stdout.readline()) for client in clients])
    time.sleep(1.0)
    result.update(ready=ready, rss_before_kib=before, rss_after_kib=rss_kib(worker))
    result["pages_with_streams"] = page_latency(url, args.pages)
    publish_events(redis_url, args.events, args.gap, "quiet")
    during: dict[str, dict[str, float]] = {}
    pages = threading.Thread(target=lambda: during.update(p=page_latency(url, args.pages)))
    pages.start()
    publish_events(redis_url, args.events, args.gap, "busy")
    pages.join()
    time.sleep(DRAIN_SECONDS)
    for client in clients:
        client.stdin.write("STOP\n")
        client.stdin.flush()
    result.update(client=_merge_figures([json.loads(client.stdout.readline()) for client in clients]),
                  pages_during_events=during["p"])
    for client in clients:
        client.wait(timeout=30)
    return result


def start_clients(url: str, streams: int) -> list[subprocess.Popen]:
    """Start the stream clients: up to CLIENT_PROCESSES separate processes sharing the streams (at least
    STREAMS_PER_CLIENT each), so one client's parsing does not queue the other streams' deliveries."""
    count = max(1, min(CLIENT_PROCESSES, -(-streams // STREAMS_PER_CLIENT)))
    shares = [streams // count + (1 if n < streams % count else 0) for n in range(count)]
    rate = f"{CONNECTS_PER_SECOND / count:g}"
    return [subprocess.Popen([sys.executable, str(ROOT / "bench" / "sse_client.py"), url, str(share), rate],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) for share in shares]


def _merge_ready(parts: list[dict]) -> dict:
    return {"ready": sum(p["ready"] for p in parts), "seconds": max(p["seconds"] for p in parts)}


def _merge_figures(parts: list[dict]) -> dict:
    latencies: dict[str, list[float]] = {}
    for part in parts:
        for phase, values in part["latencies"].items():
            latencies.setdefault(phase, []).extend(values)
    return {"held": sum(p["held"] for p in parts), "latencies": latencies,
            "min_events": min(p["min_events"] for p in parts)}


def _latency_line(name: str, seconds: list[float]) -> str:
    lat = [x * 1000 for x in seconds] or [float("nan")]
    return (f"publish-to-client {name:<6}  p50 {percentile(lat, 0.5):.1f} ms, p99 {percentile(lat, 0.99):.1f} ms, "
            f"mean {statistics.mean(lat):.1f} ms, max {max(lat):.1f} ms over {len(seconds)} deliveries")


def report(result: dict, args: argparse.Namespace) -> None:
    """Print the figures."""
    client, ready = result["client"], result["ready"]
    delivered = sum(len(v) for v in client["latencies"].values())
    grown = result["rss_after_kib"] - result["rss_before_kib"]
    print(f"streams opened/held:      {ready['ready']}/{args.streams} in {ready['seconds']} s; "
          f"{client['held']} still open after {2 * args.events} events")
    print(f"events delivered:         {delivered} of {2 * args.events * args.streams} "
          f"(every stream got >= {client['min_events']})")
    print(_latency_line("quiet", client["latencies"].get("quiet", [])) + "   (goal p99 <= 250 ms)")
    print(_latency_line("busy", client["latencies"].get("busy", [])) + "   (while GET /incidents runs in a loop)")
    print(f"worker RSS:               {result['rss_before_kib'] / 1024:.1f} MiB -> "
          f"{result['rss_after_kib'] / 1024:.1f} MiB = {grown / max(1, ready['ready']):.1f} KiB per stream")
    for name in ("pages_without_streams", "pages_with_streams", "pages_during_events"):
        figures = result[name]
        print(f"GET /incidents {name[6:]:<16} p50 {figures['p50']:.1f} ms, p99 {figures['p99']:.1f} ms "
              f"({args.pages} sequential requests)")
    if ready["ready"] < args.streams:
        raise RuntimeError(f"only {ready['ready']} of {args.streams} streams connected")


def main() -> int:
    """Parse arguments and run either the benchmark or the client part."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--events", type=int, default=20)
    parser.add_argument("--gap", type=float, default=0.25, help="seconds between events")
    parser.add_argument("--pages", type=int, default=100, help="GET /incidents per latency sample")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tt-bench-") as folder, scratch_database() as db_url, \
            scratch_redis() as redis_url:
        env = {"DATABASE_URL": db_url, "REDIS_URL": redis_url, "SECRET_KEY": "bench-" + "k" * 32,
               "INSTANCE_PATH": folder, "SESSION_COOKIE_SECURE": "false", "LOG_LEVEL": "warning",
               # one benchmark user holds every stream, up to the process's whole connection pool
               "STREAMS_PER_USER": "100000", "STREAMS_PER_SESSION": "100000", "STREAMS_PER_PROCESS": "100000"}
        prepare(env, 2000)
        log = Path(folder) / "web.log"
        web, url = start_web(env, log)
        try:
            result = measure(url, redis_url, web, args)
            report(result, args)
        except RuntimeError:
            print("web log (tail):\n" + "\n".join(log.read_text(errors="replace").splitlines()[-25:]))
            raise
        finally:
            web.terminate()
            web.wait(timeout=30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
