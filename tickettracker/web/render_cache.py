"""The render cache: rendered fragments in Redis, keyed by (fragment, path and normalised query, role, the
generations of the data sets it shows). A sync commit bumps a generation (store/generations.py), so the next request
renders afresh and every older entry is unreachable; entries also expire after RENDER_CACHE_TTL_SECONDS and the
oldest are evicted beyond RENDER_CACHE_MAX_MB.

Only the shared part of a page is cached. Per-user bits (the CSRF token, the user menu, the sync bar) are rendered
around it on every request by the `shell`, so nothing personal crosses users. The first request after a bump takes
a short lock and renders; concurrent requests for the same key wait for its result instead of rendering too. The
ETag is derived from the key (and, for a page with a shell, from the user's session), so If-None-Match gets a 304
without rendering anything. When Redis cannot be reached the page renders uncached, and the cache is not tried
again for a few seconds.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from flask import Response, current_app, request, session
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup
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
        return cache_key(name, data_sets, generations.current(redis, data_sets))
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


def cached(name: str, data_sets: Sequence[str], render: Callable[[], Fragment],
           key: str | None = None) -> Fragment:
    """Return the fragment for this request from the cache, or render it once (others wait) and store it."""
    redis = _redis()
    key = key or _current_key(redis, name, data_sets)
    if redis is None or key is None:
        return render()
    try:
        found = redis.get(key)
        if found is not None:
            return Fragment(found.decode())
        return _fill(redis, key, render)
    except RedisError as error:
        _Breaker.trip(error)
        return render()


def _etag(key: str, personal: bool) -> str:
    """The (weak) ETag value of the key; a page with a per-user shell also depends on the user and their CSRF
    token."""
    if personal:
        generate_csrf()  # makes sure the session holds its raw token (the rendered one carries a timestamp)
        field = current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
        who = f"{session.get('_user_id', '')}:{session.get(field, '')}"
    else:
        who = ""
    return hashlib.sha256(f"{key}|{who}".encode()).hexdigest()[:27]


def respond(name: str, data_sets: Sequence[str], render: Callable[[], Fragment], *,
            around: Callable[[Markup], str] | None = None, mimetype: str = "text/html",
            headers: dict[str, str] | None = None) -> Response:
    """Answer a GET from the render cache: 304 when If-None-Match matches, else the fragment (inside the per-user
    shell `around` renders, when given) with its ETag. Uncached (no ETag) when Redis is down."""
    redis = _redis()
    key = _current_key(redis, name, data_sets)
    etag = _etag(key, around is not None) if key else None
    extra = dict(headers or {})
    if etag:
        extra.update({"ETag": f'W/"{etag}"', "Cache-Control": CONTROL})
        if request.if_none_match.contains_weak(etag):
            return Response(status=304, headers=extra)
    fragment = cached(name, data_sets, render, key)
    body = around(Markup(fragment.html)) if around else fragment.html  # noqa: S704 - our own templates rendered it  # nosec B704
    return Response(body, status=fragment.status, mimetype=mimetype, headers=extra)


def memo(name: str, data_sets: Sequence[str], compute: Callable[[], object], max_age: float) -> object:
    """Return compute()'s value, reused by this app (process) while the data sets' generations stay and for at most
    max_age seconds: for what the per-user shell shows that changes with a commit, or is corrected live anyway."""
    redis = _redis()
    if redis is None:
        return compute()
    try:
        generation = generations.current(redis, data_sets)
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
