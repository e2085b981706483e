"""The render cache: rendered fragments in Redis, keyed by (fragment, path and normalised query, role, the
generations of the data sets it shows). A sync commit bumps a generation (store/generations.py), so the next request
renders afresh and every older entry is unreachable; entries also expire after RENDER_CACHE_TTL_SECONDS and the
oldest are evicted beyond RENDER_CACHE_MAX_MB. Each web process keeps a copy of the entries it read, until their TTL
ends and for at most LOCAL_MAX_AGE seconds: a key names its generations, so a copy never shows older data.

Only the shared part of a page is cached. Per-user bits (the CSRF token, the user menu, the sync bar) come from the
page's `Shell`: each web process renders a shell once per (template, role, path, runs generation) and at most every
SHELL_MAX_AGE seconds, with stand-ins where the user's name, the CSRF token and the cached body go, and fills them in
for each request (the name escaped), so nothing personal crosses users and a hit renders no template. The first
request after a bump takes a short lock and renders; concurrent requests for the same key wait for its result instead
of rendering too. The ETag is derived from the key (and, for a page with a shell, from the user's session), so
If-None-Match gets a 304 without rendering anything. When Redis cannot be reached the page renders uncached, and the
cache is not tried again for a few seconds.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from flask import Response, current_app, render_template, request, session
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup, escape
from redis import Redis
from redis.exceptions import RedisError

from tickettracker.core.config import get_settings
from tickettracker.store import generations

log = logging.getLogger(__name__)

PREFIX = "tt:rc:"
INDEX, SIZES, TOTAL = "tt:rc-index", "tt:rc-sizes", "tt:rc-bytes"  # expiry per entry, bytes per entry, sum
LOCK_SECONDS = 10  # how long a renderer may hold a key's lock
WAIT_SECONDS = 5.0  # how long a waiter polls for the renderer's result before rendering itself
POLL_SECONDS = 0.005
RETRY_AFTER_FAILURE = 5.0  # seconds without the cache after Redis failed
CONTROL = "private, no-cache"  # the browser may keep the page but must revalidate it (ETag -> 304)
LOCAL_MAX_AGE = 5.0  # seconds a process keeps its copy of an entry it read from Redis (at most the entry's TTL)
LOCAL_MAX_BYTES = 32 * 1024 * 1024
SHELL_MAX_AGE = 1.0  # seconds a process reuses a rendered shell (its sync bar may be this much older)
SHELLS_KEPT = 1_000
SIGNED_TOKENS_KEPT = 10_000  # sessions whose signed CSRF token a process keeps (all are forgotten beyond it)
# Stand-ins for what a shell leaves open, unguessable (new in every process), so no page text can look like one.
_STAND_IN = secrets.token_hex(12)
CSRF_SLOT, USER_SLOT, BODY_SLOT = (f"tt{_STAND_IN}{what}" for what in ("csrf", "user", "body"))
_SLOTS = re.compile(f"({CSRF_SLOT}|{USER_SLOT}|{BODY_SLOT})")

# Store one entry and keep the cache within its byte budget, atomically: forget expired entries, replace an older
# value of the same key, then evict the oldest entries until the new one fits.
STORE_SCRIPT = """
local key, index, sizes, total = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local value, ttl, now, cap = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local size = string.len(value)
if size > cap then return 0 end
local function forget(k)
  local s = tonumber(redis.call('HGET', sizes, k) or '0')
  redis.call('HDEL', sizes, k)
  redis.call('ZREM', index, k)
  redis.call('DECRBY', total, s)
end
for _, k in ipairs(redis.call('ZRANGEBYSCORE', index, '-inf', now)) do forget(k) end
if redis.call('HEXISTS', sizes, key) == 1 then forget(key) end
local used = tonumber(redis.call('GET', total) or '0')
while used + size > cap do
  local oldest = redis.call('ZRANGE', index, 0, 0)
  if #oldest == 0 then break end
  forget(oldest[1])
  redis.call('DEL', oldest[1])
  used = tonumber(redis.call('GET', total) or '0')
end
redis.call('SET', key, value, 'PX', ttl)
redis.call('ZADD', index, now + ttl, key)
redis.call('HSET', sizes, key, size)
redis.call('INCRBY', total, size)
return 1
"""


@dataclass(frozen=True)
class Shell:
    """The per-user page around a cached body: a template (which shows `body`) and its other, shared, arguments."""

    template: str
    context: dict[str, object] = field(default_factory=dict)

    def _key(self) -> tuple[object, ...]:
        return (self.template, tuple(sorted((k, repr(v)) for k, v in self.context.items())))


@dataclass(frozen=True)
class Fragment:
    """A rendered fragment and the status it answers with (only 200s are cached)."""

    html: str
    status: int = 200


class _Breaker:
    """Remembers a Redis failure for a few seconds, so a down Redis costs one failed call, not one per request."""

    until = 0.0

    @classmethod
    def open(cls) -> bool:
        return time.monotonic() < cls.until

    @classmethod
    def trip(cls, error: Exception) -> None:
        if not cls.open():
            log.warning("render cache unavailable, rendering uncached: %s", error)
        cls.until = time.monotonic() + RETRY_AFTER_FAILURE


def _redis() -> Redis | None:
    """The app's Redis client, or None when the cache is off or Redis failed just now."""
    if get_settings().render_cache_ttl_seconds <= 0 or _Breaker.open():
        return None
    return current_app.extensions.get("tt_redis")


def _role() -> str:
    return str(getattr(current_user, "role", None) or "anonymous")


def cache_key(name: str, data_sets: Sequence[str], generation: Sequence[int]) -> str:
    """The key of a fragment for this request: name, role, path and sorted query, and the generations."""
    query = "&".join(f"{k}={v}" for k, v in sorted(request.args.items(multi=True)))
    digest = hashlib.sha256(f"{request.path}?{query}".encode()).hexdigest()[:32]
    stamp = ".".join(f"{d}{g}" for d, g in zip(data_sets, generation, strict=True))
    return f"{PREFIX}{name}:{_role()}:{digest}:{stamp}"


def _current_key(redis: Redis | None, name: str, data_sets: Sequence[str]) -> str | None:
    if redis is None:
        return None
    try:
        return cache_key(name, data_sets, generations.for_request(redis, data_sets))
    except RedisError as error:
        _Breaker.trip(error)
        return None


def _store(redis: Redis, key: str, html: str) -> None:
    settings = get_settings()
    redis.eval(STORE_SCRIPT, 4, key, INDEX, SIZES, TOTAL, html, settings.render_cache_ttl_seconds * 1000,
               int(time.time() * 1000), settings.render_cache_max_mb * 1024 * 1024)


def _fill(redis: Redis, key: str, render: Callable[[], Fragment]) -> Fragment:
    """Render under the key's lock and store the result; without the lock, wait for whoever holds it."""
    lock = key + ":lock"
    deadline = time.monotonic() + WAIT_SECONDS
    while not redis.set(lock, b"1", nx=True, ex=LOCK_SECONDS):
        if time.monotonic() > deadline:
            return render()  # the renderer is stuck or slow: render too rather than keep the reader waiting
        time.sleep(POLL_SECONDS)
        found = redis.get(key)
        if found is not None:
            return Fragment(found.decode())
    try:
        found = redis.get(key)  # filled between our miss and our lock
        if found is not None:
            return Fragment(found.decode())
        fragment = render()
        if fragment.status == 200:
            _store(redis, key, fragment.html)
        return fragment
    finally:
        redis.delete(lock)


class _Local:
    """The entries this process read from Redis lately, until their TTL there ends and for at most LOCAL_MAX_AGE
    seconds, within LOCAL_MAX_BYTES (a key names its generations, so a copy can never show older data than Redis)."""

    def __init__(self) -> None:
        self.items: dict[str, tuple[float, str]] = {}
        self.size = 0

    def get(self, key: str) -> str | None:
        found = self.items.get(key)
        if found is None:
            return None
        if time.monotonic() >= found[0]:
            self.items.pop(key, None)
            self.size -= len(found[1])
            return None
        return found[1]

    def put(self, key: str, html: str, ttl_ms: int) -> None:
        if ttl_ms <= 0 or len(html) > LOCAL_MAX_BYTES:
            return
        if self.size + len(html) > LOCAL_MAX_BYTES:
            self.items.clear()
            self.size = 0
        old = self.items.pop(key, None)
        self.size += len(html) - (len(old[1]) if old else 0)
        self.items[key] = (time.monotonic() + min(ttl_ms / 1000, LOCAL_MAX_AGE), html)


def _local() -> _Local:
    return current_app.extensions.setdefault("tt_render_local", _Local())


def _get(redis: Redis, key: str) -> str | None:
    """The entry from this process's copies, else from Redis (then copied)."""
    local = _local()
    html = local.get(key)
    if html is not None:
        return html
    with redis.pipeline(transaction=False) as pipe:
        pipe.get(key)
        pipe.pttl(key)
        found, ttl_ms = pipe.execute()
    if found is None:
        return None
    html = found.decode()
    local.put(key, html, ttl_ms)
    return html


def cached(name: str, data_sets: Sequence[str], render: Callable[[], Fragment],
           key: str | None = None) -> Fragment:
    """Return the fragment for this request from the cache, or render it once (others wait) and store it."""
    redis = _redis()
    key = key or _current_key(redis, name, data_sets)
    if redis is None or key is None:
        return render()
    try:
        found = _get(redis, key)
        if found is not None:
            return Fragment(found)
        return _fill(redis, key, render)
    except RedisError as error:
        _Breaker.trip(error)
        return render()


def csrf_token() -> str:
    """The session's signed CSRF token, signed once per process and raw token while tokens have no time limit.

    flask-wtf signs the session's raw token anew, with a timestamp, for each request; with WTF_CSRF_TIME_LIMIT unset
    (web/security.py) every signature of the same raw token under the same key validates alike, so a hit reuses the
    first one instead of building a serializer and signing on every page."""
    config = current_app.config
    if config.get("WTF_CSRF_TIME_LIMIT") is not None:
        return generate_csrf()
    field = config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    signed = current_app.extensions.setdefault("tt_signed_csrf", {})
    found = signed.get(session.get(field))
    if found is not None:
        return found
    token = generate_csrf()  # stores a raw token in the session when it has none yet
    raw = session.get(field)
    if isinstance(raw, str):
        if len(signed) >= SIGNED_TOKENS_KEPT:
            signed.clear()
        signed[raw] = token
    return token


def _etag(key: str, personal: bool) -> str:
    """The (weak) ETag value of the key; a page with a per-user shell also depends on the user and their CSRF
    token."""
    if personal:
        csrf_token()  # makes sure the session holds its raw token (the rendered one carries a timestamp)
        field = current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
        who = f"{session.get('_user_id', '')}:{session.get(field, '')}"
    else:
        who = ""
    return hashlib.sha256(f"{key}|{who}".encode()).hexdigest()[:27]


def _shell_parts(shell: Shell) -> list[str]:
    """The shell rendered for this role and path, split at its stand-ins (reused per process, see SHELL_MAX_AGE).

    One request renders a shell that is due while the others keep using the one it replaces (same runs generation);
    a shell of a new generation that nobody has yet is waited for, not rendered by every request at once."""
    redis = _redis()
    try:
        runs = generations.for_request(redis, (generations.RUNS,)) if redis is not None else None
    except RedisError as error:
        _Breaker.trip(error)
        runs = None
    if runs is None:
        return _render_shell(shell)
    key = (shell._key(), _role(), request.path, runs)
    shells = current_app.extensions.setdefault("tt_render_shells", {})
    found = shells.get(key)
    if found is not None and time.monotonic() - found[0] < SHELL_MAX_AGE:
        return found[1]
    lock = current_app.extensions.setdefault("tt_render_shell_locks", {}).setdefault(key, threading.Lock())
    if found is not None and not lock.acquire(blocking=False):
        return found[1]  # another request is rendering its successor
    if found is None:
        lock.acquire()
    try:
        again = shells.get(key)
        if again is not None and again is not found and time.monotonic() - again[0] < SHELL_MAX_AGE:
            return again[1]
        parts = _render_shell(shell)
        if len(shells) >= SHELLS_KEPT:
            shells.clear()
            current_app.extensions["tt_render_shell_locks"] = {key: lock}
        shells[key] = (time.monotonic(), parts)
        return parts
    finally:
        lock.release()


def _render_shell(shell: Shell) -> list[str]:
    stand_in = replace(current_user._get_current_object(), username=USER_SLOT)
    html = render_template(shell.template, body=Markup(BODY_SLOT), csrf_token=lambda: CSRF_SLOT,  # noqa: S704  # nosec B704
                           current_user=stand_in, **shell.context)
    return _SLOTS.split(html)


def _in_shell(shell: Shell, body: str) -> str:
    """The page: this user's shell with the body, their name and their CSRF token in place."""
    values = {CSRF_SLOT: csrf_token(), USER_SLOT: str(escape(current_user.username)), BODY_SLOT: body}
    return "".join([values.get(part, part) for part in _shell_parts(shell)])


def respond(name: str, data_sets: Sequence[str], render: Callable[[], Fragment], *,
            page: Shell | None = None, mimetype: str = "text/html",
            headers: dict[str, str] | None = None) -> Response:
    """Answer a GET from the render cache: 304 when If-None-Match matches, else the fragment (inside the signed-in
    user's `page` shell, when given) with its ETag. Uncached (no ETag) when Redis is down."""
    redis = _redis()
    key = _current_key(redis, name, data_sets)
    etag = _etag(key, page is not None) if key else None
    extra = dict(headers or {})
    if etag:
        extra.update({"ETag": f'W/"{etag}"', "Cache-Control": CONTROL})
        if request.if_none_match.contains_weak(etag):
            return Response(status=304, headers=extra)
    fragment = cached(name, data_sets, render, key)
    body = _in_shell(page, fragment.html) if page else fragment.html
    return Response(body, status=fragment.status, mimetype=mimetype, headers=extra)


def memo(name: str, data_sets: Sequence[str], compute: Callable[[], object], max_age: float) -> object:
    """Return compute()'s value, reused by this app (process) while the data sets' generations stay and for at most
    max_age seconds: for what the per-user shell shows that changes with a commit, or is corrected live anyway."""
    redis = _redis()
    if redis is None:
        return compute()
    try:
        generation = generations.for_request(redis, data_sets)
    except RedisError as error:
        _Breaker.trip(error)
        return compute()
    values = current_app.extensions.setdefault("tt_render_memo", {})
    found = values.get(name)
    now = time.monotonic()
    if found is not None and found[0] == generation and now - found[1] < max_age:
        return found[2]
    value = compute()
    values[name] = (generation, now, value)
    return value
