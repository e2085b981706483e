"""The stream keeper: one round renews every open stream's slot and presence entry and ends the streams whose
session or user is gone, with a handful of Redis round trips for all of them."""

from __future__ import annotations

import time

from redis import Redis

from tickettracker.store.extensions import make_redis
from tickettracker.web.auth.sessions import session_key
from tickettracker.web.presence import WATCHERS_KEY
from tickettracker.web.stream_keeper import BATCH, KeptStream, StreamKeeper
from tickettracker.web.stream_slots import SLOT_SECONDS


def _streams(redis: Redis, count: int, woken: list[int]) -> list[KeptStream]:
    streams = []
    for n in range(count):
        sid, user = f"sid-{n % 7}", n % 3
        keys = (f"tickettracker:streams:user:{user}", f"tickettracker:streams:session:{sid}")
        for key in keys:
            redis.zadd(key, {f"m{n}": time.time() + 1})  # about to lapse
        redis.set(session_key(sid), user, ex=60)
        streams.append(KeptStream(keys, f"m{n}", f"user{user}\x1fw{n}", sid, user, wake=lambda n=n: woken.append(n)))
    return streams


def test_one_round_renews_every_stream_and_ends_those_whose_session_or_user_is_gone(app, redis_url):
    redis = make_redis(app.config["REDIS_URL"])
    woken: list[int] = []
    streams = _streams(redis, BATCH + 50, woken)  # more than one batch
    redis.delete(session_key("sid-3"))  # signed out elsewhere
    checked: list[int] = []

    def still_active(user_id: int, generation: int | None) -> bool:
        checked.append(user_id)
        return user_id != 2  # user 2 was disabled

    keeper = StreamKeeper(app, redis, still_active, lambda: 60.0)
    keeper.keep(streams)

    assert sorted(checked) == [0, 1, 2], "each distinct user is checked once"
    gone = {n for n, s in enumerate(streams) if s.sid == "sid-3" or s.user_id == 2}
    assert set(woken) == gone and all(s.ended == (n in gone) for n, s in enumerate(streams))
    soon = time.time() + SLOT_SECONDS - 5
    for stream in streams:
        for key in stream.slot_keys:
            assert redis.zscore(key, stream.slot_member) > soon
        assert redis.zscore(WATCHERS_KEY, stream.watch_member) is not None


def test_every_stream_ends_while_redis_does_not_answer(app):
    woken: list[int] = []
    streams = [KeptStream(("a", "b"), "m", "w", "sid", 1, wake=lambda: woken.append(1)) for _ in range(3)]
    down = make_redis("redis://127.0.0.1:1/0", socket_timeout=1)
    StreamKeeper(app, down, lambda user_id, generation: True, lambda: 60.0).keep(streams)
    assert len(woken) == 3 and all(s.ended for s in streams)
