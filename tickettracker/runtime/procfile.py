"""Run the processes of a Procfile together, with prefixed output, and stop them all together."""

from __future__ import annotations

import os
import selectors
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class ProcessSpec:
    """One Procfile line."""

    name: str
    command: str


def read_procfile(path: Path) -> list[ProcessSpec]:
    """Parse `name: command` lines, skipping blanks and comments."""
    specs = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, command = line.partition(":")
        specs.append(ProcessSpec(name.strip(), command.strip()))
    return specs


class ProcessGroup:
    """Child processes started from Procfile specs, each in its own process group."""

    def __init__(self, specs: list[ProcessSpec], env: dict[str, str], cwd: Path) -> None:
        self.specs, self.env, self.cwd = specs, env, cwd
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self.selector = selectors.DefaultSelector()

    def start(self) -> None:
        """Start every process."""
        for spec in self.specs:
            child = subprocess.Popen(shlex.split(spec.command), cwd=self.cwd, env=self.env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
            os.set_blocking(child.stdout.fileno(), False)
            self.selector.register(child.stdout, selectors.EVENT_READ, spec.name)
            self.children[spec.name] = child

    def pump(self, timeout: float = 0.2) -> None:
        """Copy available child output to our stdout, prefixed with the process name."""
        width = max(len(name) for name in self.children)
        for key, _ in self.selector.select(timeout):
            try:
                data = key.fileobj.read()
            except (BlockingIOError, ValueError):
                continue
            if not data:
                self.selector.unregister(key.fileobj)
                continue
            for line in data.decode(errors="replace").splitlines():
                sys.stdout.write(f"{key.data:<{width}} | {line}\n")
        sys.stdout.flush()

    def exited(self) -> str | None:
        """Return the name of a child that has exited, if any."""
        for name, child in self.children.items():
            if child.poll() is not None:
                return name
        return None

    def stop(self, grace: float = 10.0) -> None:
        """Send SIGTERM to every process group, then SIGKILL what is left after the grace period."""
        for child in self.children.values():
            _signal_group(child, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(c.poll() is None for c in self.children.values()):
            self.pump(0.1)
        for child in self.children.values():
            _signal_group(child, signal.SIGKILL)
            child.wait()
        self.pump(0)


def _signal_group(child: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    try:
        os.killpg(child.pid, sig)
    except ProcessLookupError:
        pass
