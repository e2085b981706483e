"""A stop request: set by the first SIGINT or SIGTERM, polled by the long-running entry points' loops."""

from __future__ import annotations

import signal


class StopRequest:
    """Installs SIGINT and SIGTERM handlers (replacing earlier ones); `requested` turns true at the first of them."""

    def __init__(self) -> None:
        self.requested = False
        signal.signal(signal.SIGINT, self._request)
        signal.signal(signal.SIGTERM, self._request)

    def _request(self, signum: int, frame: object) -> None:
        self.requested = True
