"""Child processes (RQ workers, web servers, any command) in their own process groups, stopped as whole trees."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """Return a free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(check: Callable[[], object], timeout: float = 30.0, interval: float = 0.1, what: str = "condition"):
    """Poll check() until it returns something truthy; return it, or raise AssertionError after timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def answers(url: str) -> bool:
    """Return whether a GET of the URL answers 200 within a second."""
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - loopback server of our own
            return response.status == 200
    except OSError:
        return False


class Processes:
    """Child processes, each in its own process group with its output in log_dir/<name>.log; stop_all ends them."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env = {**os.environ, **env, "PYTHONUNBUFFERED": "1"}
        self.config = dict(env)
        self.log_dir = log_dir
        self.children: dict[str, subprocess.Popen] = {}

    def start(self, name: str, args: list[str]) -> subprocess.Popen:
        """Start a process in the repository with output to log_dir/name.log."""
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        child = subprocess.Popen(args, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                 start_new_session=True)
        self.children[name] = child
        return child

    def start_worker(self, name: str = "worker", processes: int = 2) -> subprocess.Popen:
        """Start `python worker.py` with the given number of RQ workers."""
        return self.start(name, [sys.executable, "worker.py", "--processes", str(processes)])

    def start_web(self, name: str = "web", gunicorn: bool = False) -> str:
        """Start the web app on a free port and return its base URL once /health answers."""
        port = free_port()
        if gunicorn:
            args = [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "wsgi:app"]
            self.env.update({"PORT": str(port), "HOST": "127.0.0.1", "WEB_CONCURRENCY": "1"})
        else:
            args = [sys.executable, "-m", "flask", "--app", "wsgi:app", "run", "--port", str(port),
                    "--with-threads", "--no-reload"]
        self.start(name, args)
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: answers(url + "/health"), timeout=30, what=f"{name} at {url}")
        return url

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Send a signal to a child and all its descendants (RQ job processes have their own group)."""
        child = self.children.pop(name)
        for proc in _tree(child.pid):
            try:
                proc.send_signal(sig)
            except psutil.NoSuchProcess:
                pass
        child.wait(timeout=30)

    def log(self, name: str) -> str:
        """Return what a child has printed so far."""
        path = self.log_dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop_all(self) -> None:
        """Stop every child: SIGTERM twice, then SIGKILL to whatever of its process tree is left."""
        for name in list(self.children):
            child = self.children.pop(name)
            tree = _tree(child.pid)
            for sig in (signal.SIGTERM, signal.SIGTERM):
                try:
                    os.killpg(child.pid, sig)
                except ProcessLookupError:
                    break
                time.sleep(0.1)
            try:
                child.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            for proc in tree:
                try:
                    proc.kill()
                except psutil.NoSuchProcess:
                    pass
            child.wait(timeout=10)


def _tree(pid: int) -> list[psutil.Process]:
    """Return a process and all its descendants (empty when it is gone)."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []
