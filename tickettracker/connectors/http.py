"""One HTTP client for every vendor: timeouts, retries with capped backoff and jitter, Retry-After, pacing."""

from __future__ import annotations

import json
import random
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Callable, Mapping

import requests

from tickettracker.connectors.base import ConfigurationError, HttpStats, TransientSyncError
from tickettracker.connectors.pacing import Pacer
from tickettracker.core.redaction import Redactor

USER_AGENT = "TicketTracker/1.0"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
LogFn = Callable[[str, str], None]
SleepFn = Callable[[float], None]


@dataclass(frozen=True)
class HttpPolicy:
    """How patient the client is: timeouts, retries, backoff and the share of the rate budget it may use."""

    timeout: float = 30.0
    max_retries: int = 5
    backoff_base: float = 1.0
    backoff_cap: float = 60.0
    max_wait: float = 120.0
    rate_limit_share: float = 0.5
    window_seconds: float = 60.0

    @classmethod
    def from_settings(cls, settings: Any) -> HttpPolicy:
        """Build the policy from Settings (fields missing on older Settings keep their defaults)."""
        def pick(name: str, default: float) -> Any:
            """Read one setting, falling back to the policy default."""
            return getattr(settings, name, default)

        return cls(timeout=float(pick("http_timeout", cls.timeout)),
                   max_retries=int(pick("http_max_retries", cls.max_retries)),
                   backoff_base=float(pick("http_backoff_seconds", cls.backoff_base)),
                   backoff_cap=float(pick("http_backoff_max_seconds", cls.backoff_cap)),
                   max_wait=float(pick("http_max_wait_seconds", cls.max_wait)),
                   rate_limit_share=float(pick("rate_limit_share", cls.rate_limit_share)),
                   window_seconds=float(pick("rate_limit_window_seconds", cls.window_seconds)))


@dataclass(frozen=True)
class VendorIdentity:
    """How to name a vendor and its settings in messages."""

    label: str
    url_setting: str
    credential_settings: str
    credential_noun: str = "API key"
    hints: Mapping[int, str] = field(default_factory=dict)
    retry_once: frozenset[int] = frozenset()


@dataclass
class VendorResponse:
    """A decoded successful (or explicitly allowed) response."""

    status: int
    data: Any
    headers: Mapping[str, str]
    links: dict[str, dict[str, str]]


class _Retry(Exception):
    """Internal: this attempt failed in a way worth retrying."""

    def __init__(self, reason: str, wait: float | None = None, rate_limited: bool = False) -> None:
        """Keep why it failed, how long the vendor asked us to wait, and whether it was a rate limit."""
        super().__init__(reason)
        self.reason, self.wait, self.rate_limited = reason, wait, rate_limited


def clean_text(value: Any, limit: int | None = 200) -> str:
    """Return vendor-supplied text safe to show: printable, one line, bounded (limit=None: whole, to be redacted
    before it is cut)."""
    text = re.sub(r"[\x00-\x1f\x7f]+", " ", str(value))
    text = re.sub(r"\s+", " ", text).strip()
    return text if limit is None or len(text) <= limit else text[: limit - 1] + "…"


def vendor_message(response: requests.Response, limit: int | None = 200) -> str:
    """Extract the vendor's own error text from a JSON body; empty for HTML or unparsable bodies.

    With limit=None the text is whole, so it can be redacted before it is cut."""
    try:
        body = response.json()
    except ValueError:
        return ""
    parts: list[str] = []
    if isinstance(body, dict):
        for key in ("message", "description", "errorMessage"):
            if isinstance(body.get(key), str):
                parts.append(body[key])
        for item in body.get("errorMessages") or []:
            parts.append(str(item))
        errors = body.get("errors")
        if isinstance(errors, list):
            parts.extend(f"{e.get('field', '')}: {e.get('message', '')}".strip(": ") for e in errors
                         if isinstance(e, dict))
        elif isinstance(errors, dict):
            parts.extend(f"{k}: {v}" for k, v in errors.items())
    return clean_text("; ".join(p for p in parts if p), limit)


def retry_reason(response: requests.Response, redactor: Redactor | None = None) -> str:
    """Why a retryable answer came: its status, the vendor's RateLimit-Reason and the vendor's own message
    (redacted before they are cut)."""
    redact = redactor or Redactor()
    reason = response.headers.get("RateLimit-Reason")
    detail = f" ({redact(clean_text(reason, None), 60)})" if reason else ""
    said = vendor_message(response, limit=None)
    return f"HTTP {response.status_code}{detail}" + (f": {redact(said, 120)}" if said else "")


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Parse Retry-After given in seconds or as an HTTP-date; None when absent or malformed."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return max(0.0, (moment - (now or datetime.now(timezone.utc))).total_seconds())


class VendorClient:
    """A requests.Session bound to one vendor's base URL, auth and retry policy."""

    def __init__(self, identity: VendorIdentity, base_url: str, policy: HttpPolicy, stats: HttpStats, *,
                 auth: tuple[str, str] | None = None, bearer: str | None = None, log: LogFn | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 auth_guard: Callable[[requests.Response], str | None] | None = None,
                 window_hint: float | None = None) -> None:
        """Prepare the session; nothing is sent yet."""
        self.identity, self.base_url, self.policy, self.stats = identity, base_url.rstrip("/"), policy, stats
        self.session = requests.Session()
        self.session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})
        if auth is not None:
            self.session.auth = auth
        if bearer is not None:
            self.session.headers["Authorization"] = f"Bearer {bearer}"
        self.redactor = Redactor((*(auth or ()), bearer or ""), [auth] if auth else [])
        self.log = log or (lambda level, message: None)
        self.sleep = sleep
        self.auth_guard = auth_guard
        self.pacer = Pacer(policy.rate_limit_share, window_hint)

    def close(self) -> None:
        """Close pooled connections."""
        self.session.close()

    def get(self, path: str, params: Mapping[str, Any] | None = None, *,
            allow: tuple[int, ...] = ()) -> VendorResponse:
        """GET a JSON resource, retrying transient failures; statuses in allow are returned, not raised."""
        return self._send("GET", path, params, None, allow)

    def post(self, path: str, body: Any, *, allow: tuple[int, ...] = ()) -> VendorResponse:
        """POST a JSON body to a read-only query endpoint (Jira approximate-count), with the same retries."""
        return self._send("POST", path, None, body, allow)

    def _send(self, method: str, path: str, params: Mapping[str, Any] | None, body: Any,
              allow: tuple[int, ...]) -> VendorResponse:
        """Send a request, retrying transient failures; statuses in allow are returned, not raised."""
        last = "no attempt made"
        for attempt in range(self.policy.max_retries + 1):
            try:
                return self._attempt(method, path, params, body, allow, attempt)
            except _Retry as retry:
                last = retry.reason
                if attempt == self.policy.max_retries:
                    break
                self._wait_before_retry(retry, attempt)
        raise TransientSyncError(
            f"{self.identity.label} is unavailable: {last} (gave up after {self.policy.max_retries + 1} "
            f"attempts); the sync will succeed once the vendor recovers")

    def _attempt(self, method: str, path: str, params: Mapping[str, Any] | None, body: Any,
                 allow: tuple[int, ...], attempt: int) -> VendorResponse:
        """Send one request and classify the outcome."""
        self._pace()
        try:
            response = self.session.request(method, self.base_url + path, params=params, json=body,
                                            timeout=self.policy.timeout)
        except requests.Timeout:
            self.stats.sent()
            raise _Retry(f"no answer within {self.policy.timeout:g} s") from None
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError,
                requests.exceptions.ContentDecodingError) as exc:
            self.stats.sent()
            raise _Retry(f"connection failed ({type(exc).__name__})") from None
        except requests.exceptions.InvalidURL:
            raise ConfigurationError(f"{self.identity.label} address is not a valid URL: "
                                     f"check {self.identity.url_setting}") from None
        self.stats.sent(response.headers, response.status_code)
        self.pacer.observe(response.headers)
        self._check_auth(response)
        return self._classify(response, path, allow, attempt)

    def _classify(self, response: requests.Response, path: str, allow: tuple[int, ...],
                  attempt: int) -> VendorResponse:
        """Return a decoded response, or raise _Retry / ConfigurationError."""
        status = response.status_code
        if 200 <= status < 300:
            return VendorResponse(status, self._decode(response), response.headers, response.links)
        if status in allow:
            return VendorResponse(status, _lenient_json(response), response.headers, response.links)
        if status in RETRY_STATUSES or (status in self.identity.retry_once and attempt == 0):
            wait = parse_retry_after(response.headers.get("Retry-After"))
            raise _Retry(retry_reason(response, self.redactor), wait, rate_limited=status == 429)
        raise ConfigurationError(self._fatal_message(response, path))

    def _decode(self, response: requests.Response) -> Any:
        """Decode JSON, treating a truncated or garbled body as a transient failure."""
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except (ValueError, json.JSONDecodeError):
            raise _Retry("the response body was not complete JSON") from None

    def _check_auth(self, response: requests.Response) -> None:
        """Let a vendor-specific guard flag silent authentication failures."""
        if self.auth_guard is None:
            return
        problem = self.auth_guard(response)
        if problem:
            raise ConfigurationError(problem)

    def _fatal_message(self, response: requests.Response, path: str) -> str:
        """Build an actionable message for a non-retryable status, without credentials."""
        ident, status = self.identity, response.status_code
        said = self.redactor(vendor_message(response, limit=None), 200)
        said = f" The vendor said: {said!r}." if said else ""
        if status == 401:
            text = (f"{ident.label} rejected the {ident.credential_noun} (401): "
                    f"check {ident.credential_settings}")
        elif status == 403:
            text = (f"{ident.label} refused access to {path} (403): the account behind the "
                    f"{ident.credential_noun} lacks permission; check {ident.credential_settings}")
        elif status == 404:
            text = f"{ident.label} has no {path} (404): check {ident.url_setting}"
        else:
            text = f"{ident.label} rejected the request to {path} ({status})"
        hint = ident.hints.get(status)
        return self._redact(text + (f"; {hint}" if hint else "") + "." + said)

    def _redact(self, text: str) -> str:
        """Replace this client's credentials, in every form, in text (vendors may echo what they were sent)."""
        return self.redactor(text)

    def _wait_before_retry(self, retry: _Retry, attempt: int) -> None:
        """Sleep for Retry-After (bounded) or a capped exponential backoff with jitter."""
        policy = self.policy
        if retry.wait is not None:
            if retry.wait > policy.max_wait:
                raise TransientSyncError(
                    f"{self.identity.label} rate limit reached: it asks to wait {retry.wait:.0f} s, longer than "
                    f"the {policy.max_wait:.0f} s this sync may wait; try again later")
            delay = retry.wait + random.uniform(0, min(1.0, policy.backoff_base))
        else:
            delay = min(policy.backoff_cap, policy.backoff_base * 2 ** attempt) * random.uniform(0.5, 1.0)
        self.stats.retried()
        self.stats.waited(delay, rate_limited=retry.rate_limited)
        why = f"rate limit: {retry.reason}" if retry.rate_limited else f"before retrying: {retry.reason}"
        self.sleep(delay)
        self.log("warning", f"{self.identity.label}: waited {delay:.1f} s ({why}); retrying "
                            f"(attempt {attempt + 2} of {policy.max_retries + 1})")

    def _pace(self) -> None:
        """Sleep until the next request fits in this sync's share of the vendor's budget."""
        delay = self.pacer.delay()
        if delay > 0.001:
            holding = self.pacer.holding()
            self.stats.waited(delay, rate_limited=True)
            self.sleep(delay)
            if holding:  # spacing waits are many and short: the pass's summary counts them
                self.log("info", f"{self.identity.label}: waited {delay:.1f} s (rate limit: the budget left is "
                                 f"kept for other integrations, {self.policy.rate_limit_share:.0%} is this sync's)")
        self.pacer.sent()


def _lenient_json(response: requests.Response) -> Any:
    """Decode a JSON error body, or None when it is not JSON."""
    try:
        return response.json()
    except ValueError:
        return None
