"""HTTP load from `wrk` (a separate C process with its own event loop), so the figures are the server's, not the
client's: N keep-alive connections for a while, latency percentiles and throughput parsed from `wrk --latency`."""

from __future__ import annotations

import re
import shutil
import subprocess

from .harness import BenchError
from .load import Load

WRK = shutil.which("wrk") or "/usr/bin/wrk"
THREADS = 2
_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


def _seconds(text: str) -> float:
    """'1.25ms' -> 0.00125."""
    match = re.fullmatch(r"([0-9.]+)(us|ms|s|m)", text)
    if not match:
        raise BenchError(f"wrk printed an unexpected latency {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


class WrkLoad(Load):
    """A Load whose percentiles come from wrk's latency distribution (it keeps no individual samples)."""

    def __init__(self, requests: int, seconds: float, p50: float, p99: float) -> None:
        super().__init__([], seconds, [])
        self.requests, self._p50, self._p99 = requests, p50, p99

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def p50(self) -> float:
        return self._p50

    @property
    def p99(self) -> float:
        return self._p99


def parse(output: str) -> WrkLoad:
    """Read requests, duration, p50 and p99 from `wrk --latency` output; fail on errors or non-2xx answers."""
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if bad:
        raise BenchError(f"wrk: {bad.group(1)} answers were not 2xx/3xx")
    errors = re.search(r"Socket errors: (.*)", output)
    if errors and any(int(n) for n in re.findall(r"\d+", errors.group(1).split("timeout")[0])):
        raise BenchError(f"wrk: socket errors: {errors.group(1)}")
    done = re.search(r"(\d+) requests in ([0-9.]+)(us|ms|s|m)", output)
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.M)
    if not (done and p50 and p99):
        raise BenchError(f"wrk printed no results: {output[-300:]!r}")
    return WrkLoad(int(done.group(1)), _seconds(done.group(2) + done.group(3)), _seconds(p50.group(1)),
                   _seconds(p99.group(1)))


def wrk_load(base_url: str, path: str, connections: int, seconds: float,
             headers: dict[str, str] | None = None) -> WrkLoad:
    """Run wrk against base_url + path with `connections` keep-alive connections for `seconds`."""
    if not shutil.which(WRK):
        raise BenchError("wrk is not installed (Debian package wrk; bin/test installs it)")
    command = [WRK, f"-t{min(THREADS, connections)}", f"-c{connections}", f"-d{seconds:g}s", "--latency",
               "--timeout", "10s"]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    done = subprocess.run([*command, base_url + path], capture_output=True, text=True, check=False,
                          timeout=seconds + 60)
    if done.returncode != 0:
        raise BenchError(f"wrk failed ({done.returncode}): {done.stderr.strip()[:300]}")
    return parse(done.stdout)
