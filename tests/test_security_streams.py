"""Open event streams are capped per user and per session (429 + Retry-After) and per web process (503)."""

from __future__ import annotations

import threading

from redis import Redis

from tests.live import TEST_PASSWORD, csrf_token_from, ensure_user


def _app(app_config, **caps: int):
    from tickettracker import create_app

    app = create_app({**app_config, **{f"STREAMS_PER_{k.upper()}": str(v) for k, v in caps.items()}})
    app.config["TESTING"] = True
    return app


def _signed_in(app, username: str = "viewer"):
    ensure_user(app, username, TEST_PASSWORD, "viewer")
    client = app.test_client()
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    assert client.post("/login", data={"username": username, "password": TEST_PASSWORD,
                                       "csrf_token": token}).status_code == 303
    return client


class Held:
    """One stream opened and later closed in its own thread (each holds a request context of the test client)."""

    def __init__(self, client) -> None:
        self.opened, self.closing, self.closed = threading.Event(), threading.Event(), threading.Event()
        self.status, self.headers, self.body = 0, {}, None
        self.thread = threading.Thread(target=self._run, args=(client,), daemon=True)
        self.thread.start()
        assert self.opened.wait(15), "the stream did not answer"

    def _run(self, client) -> None:
        response = client.get("/events", buffered=False)
        self.status, self.headers = response.status_code, dict(response.headers)
        if response.status_code != 200:
            self.body = response.get_json()
        self.opened.set()
        self.closing.wait(30)
        response.close()
        self.closed.set()

    def close(self) -> None:
        """Close the stream and wait until it is closed."""
        self.closing.set()
        assert self.closed.wait(15)


def _close(*held: Held) -> None:
    for stream in held:
        stream.close()


def _open(client) -> Held:
    return Held(client)


def test_one_session_cannot_open_more_than_its_share(app_config, app):
    capped = _app(app_config, user=10, session=3, process=100)
    viewer = _signed_in(capped)
    held = [_open(viewer) for _ in range(3)]
    assert [r.status for r in held] == [200, 200, 200]
    refused = _open(viewer)
    refused.close()
    assert refused.status == 429 and 0 < int(refused.headers["Retry-After"]) <= 60
    assert "Too many live-update connections" in refused.body["error"]
    held[-1].close()  # a closed stream gives its slot back at once
    again = _open(viewer)
    assert again.status == 200
    _close(again, *held[:-1])


def test_one_user_cannot_take_every_stream_from_several_sessions(app_config, app):
    capped = _app(app_config, user=4, session=3, process=100)
    first, second = _signed_in(capped), _signed_in(capped)
    held = [_open(first) for _ in range(3)] + [_open(second)]
    assert [r.status for r in held] == [200] * 4
    refused = _open(second)
    assert refused.status == 429
    refused.close()
    other_user = _signed_in(capped, "olga")
    extra = _open(other_user)
    assert extra.status == 200  # someone else is not locked out
    _close(*held, extra)


def test_a_full_process_answers_503(app_config, app):
    capped = _app(app_config, user=10, session=10, process=2)
    viewer, other = _signed_in(capped), _signed_in(capped, "olga")
    held = [_open(viewer), _open(other)]
    full = _open(other)
    full.close()
    assert full.status == 503 and full.headers["Retry-After"]
    assert "maximum of 2 live-update connections" in full.body["error"]
    held[-1].close()
    again = _open(other)
    assert again.status == 200
    _close(held[0], again)


def test_slots_are_released_in_redis_when_streams_close(app_config, app, redis_url):
    capped = _app(app_config, user=10, session=10, process=100)
    viewer = _signed_in(capped)
    responses = [_open(viewer) for _ in range(5)]
    redis = Redis.from_url(redis_url)
    keys = redis.keys("tickettracker:streams:*")
    assert len(keys) == 2 and all(redis.zcard(k) == 5 for k in keys)
    _close(*responses)
    assert all(redis.zcard(k) == 0 for k in keys)
