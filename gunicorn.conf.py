"""Production server settings: gevent workers hold thousands of open event streams each (10,000 by default)."""

import gc
import os
import resource

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '5000')}"
worker_class = "gevent"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_connections = int(os.environ.get("WEB_WORKER_CONNECTIONS", "12000"))
backlog = 4096  # a reconnect storm of thousands of event streams must not overflow the accept queue
graceful_timeout = 5
timeout = 30
keepalive = 5
accesslog = os.environ.get("ACCESS_LOG") or None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()


def _raise_open_files(wanted: int) -> None:
    """Raise this process's open-file limit (inherited by the workers) towards `wanted`, up to the hard limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


# Every connection is a file descriptor; leave room for the database and Redis pools, logs and the listener.
_raise_open_files(worker_connections + 1024)


def post_worker_init(worker: object) -> None:
    """Move the loaded app's objects (modules, templates, mappers: about 150,000) out of the collector's reach.

    They live as long as the process; without this every full collection walks them and stops every request and
    event stream of the worker for tens of milliseconds."""
    gc.freeze()
