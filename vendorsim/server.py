"""VendorSimulator: three real loopback HTTP servers (Freshservice, Freshdesk, Jira) behind one facade."""

from __future__ import annotations

import hashlib
import logging
import threading
from types import TracebackType
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from vendorsim.base import VendorApp
from vendorsim.freshdesk import FreshdeskApp
from vendorsim.freshservice import FreshserviceApp
from vendorsim.fw_data import FS_WORKSPACES, FreshdeskFactory, FreshserviceFactory
from vendorsim.jira import JiraApp
from vendorsim.jira_data import JiraFactory
from vendorsim.links import link_all
from vendorsim.store import Store
from vendorsim.timeutil import utcnow

VENDORS = ("freshservice", "freshdesk", "jira")
DEFAULT_SIZES = {"freshservice": 5000, "freshdesk": 5000, "jira": 2000}
log = logging.getLogger("vendorsim")


class QuietHandler(WSGIRequestHandler):
    """Werkzeug's handler without the per-request access log."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Skip access logging."""

    def log(self, type: str, message: str, *args: Any) -> None:
        """Send server messages to debug logging."""
        log.debug("%s: " + message, type, *args)


def _secret(seed: int, label: str) -> str:
    """A deterministic fake credential."""
    return hashlib.sha256(f"ticket-tracker-sim:{seed}:{label}".encode()).hexdigest()[:24]


class VendorSimulator:
    """Fake Freshservice, Freshdesk and Jira servers with deterministic data and control hooks."""

    def __init__(self, seed: int = 1, sizes: dict[str, int] | None = None, rate_limit_per_minute: int | None = None,
                 window_seconds: float = 60.0, jira_flavour: str = "cloud", jira_timezone: str = "Asia/Kolkata",
                 host: str = "127.0.0.1", ports: dict[str, int] | None = None, timeout_sleep: float = 5.0,
                 adversarial: bool = False, adversarial_seed: int | None = None) -> None:
        """Generate the data for all three vendors (servers start with start()); adversarial=True turns the
        adversarial profile on (seeded by adversarial_seed, else seed)."""
        self.seed, self.host, self.ports = seed, host, dict(ports or {})
        self.jira_flavour = "dc" if jira_flavour in ("dc", "datacenter") else jira_flavour
        sizes = {**DEFAULT_SIZES, **(sizes or {})}
        limits = {"rate_limit_per_minute": rate_limit_per_minute, "window_seconds": window_seconds}
        now = utcnow()
        fs, fd, jira = FreshserviceFactory(seed), FreshdeskFactory(seed), JiraFactory(seed)
        self.apps: dict[str, VendorApp] = {
            "freshservice": FreshserviceApp(Store(fs, fs.generate(sizes["freshservice"], now), seed),
                                            {"api_key": _secret(seed, "freshservice")}, **limits),
            "freshdesk": FreshdeskApp(Store(fd, fd.generate(sizes["freshdesk"], now), seed + 1),
                                      {"api_key": _secret(seed, "freshdesk")}, **limits),
            "jira": JiraApp(Store(jira, jira.generate(sizes["jira"], now), seed + 2), self._jira_credentials(),
                            jira, self.jira_flavour, jira_timezone, **limits),
        }
        link_all(seed, {name: list(self.apps[name].store.items.values()) for name in ("freshservice", "freshdesk")},
                 list(self.apps["jira"].store.items.values()), self.apps["jira"].project_keys)
        self._servers: dict[str, BaseWSGIServer] = {}
        self._threads: list[threading.Thread] = []
        self.timeout_sleep = timeout_sleep
        if adversarial:
            self.set_adversarial(True, seed if adversarial_seed is None else adversarial_seed)

    def set_adversarial(self, on: bool = True, seed: int | None = None) -> None:
        """Turn every adversarial switch of every vendor on (or off): see VendorApp.set_adversarial."""
        for offset, app in enumerate(self.apps.values()):
            app.set_adversarial(on, None if seed is None else seed + offset)

    def _jira_credentials(self) -> dict[str, str]:
        """Cloud: email + API token. DC: username + PAT (Bearer) or username + password (Basic)."""
        if self.jira_flavour == "dc":
            pat = _secret(self.seed, "jira-pat")
            return {"email": "sim.user", "api_token": pat, "pat": pat, "username": "sim.user",
                    "password": _secret(self.seed, "jira-password")}
        return {"email": "sim.user@example.com", "api_token": _secret(self.seed, "jira")}

    @property
    def timeout_sleep(self) -> float:
        """Seconds a 'timeout' fault sleeps before answering."""
        return self._timeout_sleep

    @timeout_sleep.setter
    def timeout_sleep(self, seconds: float) -> None:
        """Apply the timeout sleep to every vendor."""
        self._timeout_sleep = float(seconds)
        for app in self.apps.values():
            app.timeout_sleep = self._timeout_sleep

    def start(self, ports: dict[str, int] | None = None) -> VendorSimulator:
        """Bind and serve each vendor on its own port (0 = random) in a daemon thread."""
        self.ports.update(ports or {})
        for name, app in self.apps.items():
            if name in self._servers:
                continue
            server = make_server(self.host, self.ports.get(name, 0), app, threaded=True, request_handler=QuietHandler)
            host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host  # noqa: S104 - compare only  # nosec B104
            app.base_url = f"http://{host}:{server.port}"
            thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                      name=f"sim-{name}", daemon=True)
            thread.start()
            self._servers[name] = server
            self._threads.append(thread)
        self.apps["jira"].peers = tuple((name, self.apps[name].base_url) for name in ("freshservice", "freshdesk"))
        return self

    def stop(self) -> None:
        """Stop serving and close the sockets."""
        for server in self._servers.values():
            server.shutdown()
            server.server_close()
        self._servers.clear()
        self._threads.clear()

    def __enter__(self) -> VendorSimulator:
        """Start on entering a with-block."""
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        """Stop on leaving a with-block."""
        self.stop()

    def vendor(self, name: str) -> Any:
        """The per-vendor control object (mutate, inject, truth, request log...)."""
        if name not in self.apps:
            raise KeyError(f"unknown vendor {name!r}; use one of {list(self.apps)}")
        return self.apps[name]

    @property
    def base_urls(self) -> dict[str, str]:
        """Base URL per vendor, e.g. http://127.0.0.1:54321."""
        return {name: app.base_url for name, app in self.apps.items()}

    @property
    def credentials(self) -> dict[str, dict[str, str]]:
        """Credentials per vendor."""
        return {name: dict(app.credentials) for name, app in self.apps.items()}

    @property
    def jira_projects(self) -> list[str]:
        """The Jira project keys."""
        return list(self.apps["jira"].project_keys)

    def settings_env(self) -> dict[str, str]:
        """Environment settings that point the app at this simulator."""
        creds, urls = self.credentials, self.base_urls
        return {
            "FRESHSERVICE_BASE_URL": urls["freshservice"], "FRESHSERVICE_API_KEY": creds["freshservice"]["api_key"],
            "FRESHSERVICE_WORKSPACES": ",".join(str(ws) for ws, _, _ in FS_WORKSPACES),
            "FRESHDESK_BASE_URL": urls["freshdesk"], "FRESHDESK_API_KEY": creds["freshdesk"]["api_key"],
            "JIRA_BASE_URL": urls["jira"], "JIRA_EMAIL": creds["jira"]["email"],
            "JIRA_API_TOKEN": creds["jira"]["api_token"], "JIRA_PROJECTS": ",".join(self.jira_projects),
            "JIRA_FLAVOUR": "datacenter" if self.jira_flavour == "dc" else "cloud",
        }
