"""Settings read once from the environment (and an optional .env), typed, failing fast."""

from __future__ import annotations

import ipaddress
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping, TypeVar
from urllib.parse import urlsplit, urlunsplit

from flask import Flask, current_app

from tickettracker.core.redaction import Redactor
from tickettracker.core.vocabulary import AT_RISK


class ConfigError(Exception):
    """A setting is missing or malformed; the message names it."""


def mask_url(url: str | None) -> str:
    """Return the URL with its password replaced by ***."""
    if not url:
        return "(not set)"
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _text(env: Mapping[str, str], name: str, default: str | None = None) -> str | None:
    value = env.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip()


Number = TypeVar("Number", int, float)


def _int(env: Mapping[str, str], name: str, default: int, lo: int = 0, hi: int = 10**9) -> int:
    return _number(env, name, default, lo, hi, int, "a whole number")


def _float(env: Mapping[str, str], name: str, default: float, lo: float, hi: float) -> float:
    return _number(env, name, default, lo, hi, float, "a number")


def _number(env: Mapping[str, str], name: str, default: Number, lo: Number, hi: Number,
            parse: Callable[[str], Number], what: str) -> Number:
    """Read a number setting within [lo, hi]; a missing one is the default, a malformed one names itself."""
    raw = _text(env, name)
    if raw is None:
        return default
    try:
        value = parse(raw)
    except ValueError:
        raise ConfigError(f"{name} must be {what}, got {raw!r}") from None
    if not lo <= value <= hi:
        raise ConfigError(f"{name} must be between {lo} and {hi}, got {value}")
    return value


# werkzeug's own scrypt work factor (N, with r=8, p=1): what every password hash uses unless PASSWORD_SCRYPT_COST
# says otherwise (only the test suite lowers it, so its thousands of sign-ins stay cheap).
DEFAULT_SCRYPT_COST = 32768


def _scrypt_cost(env: Mapping[str, str]) -> int:
    """Read PASSWORD_SCRYPT_COST: a power of two from 1024 to 1048576."""
    cost = _int(env, "PASSWORD_SCRYPT_COST", DEFAULT_SCRYPT_COST, 1024, 1 << 20)
    if cost & (cost - 1):
        raise ConfigError(f"PASSWORD_SCRYPT_COST must be a power of two, got {cost}")
    return cost


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = _text(env, name)
    if raw is None:
        return default
    lowered = raw.lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def _url(env: Mapping[str, str], name: str, schemes: tuple[str, ...]) -> str | None:
    raw = _text(env, name)
    if raw is None:
        return None
    parts = urlsplit(raw)
    if parts.scheme not in schemes or not (parts.netloc or parts.path or parts.query):
        raise ConfigError(f"{name} must be a URL starting with {' or '.join(s + '://' for s in schemes)}, "
                          f"got {mask_url(raw)!r}")
    return raw.rstrip("/") if parts.scheme.startswith("http") else raw


def is_loopback(host: str | None) -> bool:
    """Return whether a host name or address is this machine's loopback (127.0.0.0/8, ::1, localhost)."""
    if not host:
        return False
    name = host.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _vendor_base_url(env: Mapping[str, str], name: str) -> str | None:
    """Read a vendor base URL: no userinfo (a viewer sees these URLs in ticket links), https outside demo mode
    (plain http only for loopback hosts, such as the built-in simulator)."""
    base = _url(env, name, ("http", "https"))
    if base is None:
        return None
    parts = urlsplit(base)
    if "@" in parts.netloc:
        raise ConfigError(f"{name} must not carry a user name or password (put credentials in their own settings), "
                          f"got {mask_url(base)!r}")
    if parts.scheme == "http" and not is_loopback(parts.hostname) and not _bool(env, "DEMO_MODE", False):
        raise ConfigError(f"{name} must start with https:// (plain http only for a local address), got {base!r}")
    return base


def _vendor_url(env: Mapping[str, str], prefix: str, host_suffix: str) -> str | None:
    base = _vendor_base_url(env, f"{prefix}_BASE_URL")
    if base:
        return base
    domain = _text(env, f"{prefix}_DOMAIN")
    if not domain:
        return None
    if "/" in domain or " " in domain:
        raise ConfigError(f"{prefix}_DOMAIN must be a bare name like 'acme' or 'acme{host_suffix}', got {domain!r}")
    host = domain if domain.endswith(host_suffix) else f"{domain}{host_suffix}"
    return f"https://{host}"


def _csv(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    raw = _text(env, name)
    if raw is None:
        return ()
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def _choice(env: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    raw = (_text(env, name) or default).lower()
    if raw not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {raw!r}")
    return raw


@dataclass(frozen=True)
class VendorSettings:
    """Where and how to reach the three vendors; a source without credentials is not synced."""

    freshservice_url: str | None = None
    freshservice_api_key: str | None = field(default=None, repr=False)
    freshservice_workspaces: tuple[str, ...] = ()
    freshdesk_url: str | None = None
    freshdesk_api_key: str | None = field(default=None, repr=False)
    jira_url: str | None = None
    jira_email: str | None = None
    jira_api_token: str | None = field(default=None, repr=False)
    jira_projects: tuple[str, ...] = ()
    jira_jql: str | None = None
    jira_flavour: str = "cloud"

    def configured_sources(self) -> tuple[str, ...]:
        """Return the sources that have both an address and credentials."""
        found = []
        if self.freshservice_url and self.freshservice_api_key:
            found.append("freshservice")
        if self.freshdesk_url and self.freshdesk_api_key:
            found.append("freshdesk")
        if self.jira_url and self.jira_api_token and (self.jira_email or self.jira_flavour == "datacenter"):
            found.append("jira")
        return tuple(found)

    def secrets(self) -> tuple[str, ...]:
        """Return every credential value, so logs and messages can redact them."""
        return tuple(s for s in (self.freshservice_api_key, self.freshdesk_api_key, self.jira_api_token) if s)

    def redactor(self) -> Redactor:
        """Return a redactor of every credential in every form it is sent in (raw, Basic with key:X or email:token)."""
        pairs = [(self.jira_email, self.jira_api_token)] if self.jira_email and self.jira_api_token else []
        return Redactor(self.secrets(), pairs)


@dataclass(frozen=True)
class NotifySettings:
    """Where notifications go (a channel without its settings is off) and how deliveries retry."""

    webhook_url: str | None = field(default=None, repr=False)
    slack_webhook_url: str | None = field(default=None, repr=False)
    teams_webhook_url: str | None = field(default=None, repr=False)
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: str | None = field(default=None, repr=False)
    smtp_starttls: bool = False
    email_from: str | None = None
    email_to: tuple[str, ...] = ()
    retries: int = 3
    retry_base_seconds: float = 5.0
    timeout_seconds: float = 10.0

    def channels(self) -> tuple[str, ...]:
        """Return the channels whose settings are present, in a fixed order."""
        on = {"webhook": self.webhook_url, "slack": self.slack_webhook_url, "teams": self.teams_webhook_url,
              "email": self.smtp_host and self.email_from and self.email_to}
        return tuple(name for name, value in on.items() if value)

    def secrets(self) -> tuple[str, ...]:
        """Return the values no notification may carry (webhook addresses hold their tokens)."""
        return tuple(v for v in (self.webhook_url, self.slack_webhook_url, self.teams_webhook_url,
                                 self.smtp_password) if v)


def load_notify_settings(env: Mapping[str, str]) -> NotifySettings:
    """Read the NOTIFY_* and SMTP_* settings."""
    recipients = tuple(a.strip() for a in (_text(env, "NOTIFY_EMAIL_TO") or "").split(",") if a.strip())
    return NotifySettings(
        webhook_url=_url(env, "NOTIFY_WEBHOOK_URL", ("http", "https")),
        slack_webhook_url=_url(env, "NOTIFY_SLACK_WEBHOOK_URL", ("http", "https")),
        teams_webhook_url=_url(env, "NOTIFY_TEAMS_WEBHOOK_URL", ("http", "https")),
        smtp_host=_text(env, "SMTP_HOST"), smtp_port=_int(env, "SMTP_PORT", 25, 1, 65535),
        smtp_username=_text(env, "SMTP_USERNAME"), smtp_password=_text(env, "SMTP_PASSWORD"),
        smtp_starttls=_bool(env, "SMTP_STARTTLS", False), email_from=_text(env, "NOTIFY_EMAIL_FROM"),
        email_to=recipients, retries=_int(env, "NOTIFY_MAX_RETRIES", 3, 0, 10),
        retry_base_seconds=_float(env, "NOTIFY_RETRY_BASE_SECONDS", 5.0, 0.01, 3600.0),
        timeout_seconds=_float(env, "NOTIFY_TIMEOUT_SECONDS", 10.0, 0.5, 120.0))


@dataclass(frozen=True)
class Settings:
    """Every setting of the application, read once."""

    secret_key: str = field(repr=False)
    database_url: str | None
    redis_url: str | None
    instance_path: Path
    vendors: VendorSettings
    demo_mode: bool = False
    http_timeout: float = 30.0
    rate_limit_share: float = 0.5
    sync_overlap_seconds: int = 300
    sync_page_size: int = 100
    sync_interval_incidents: int = 60
    sync_interval_jira: int = 60
    sync_max_retries: int = 3
    sync_retry_base_seconds: int = 30
    sync_heartbeat_seconds: int = 10
    jira_census_every: int = 1
    audit_rate_share: float = 0.02
    audit_skip_minutes: int = 10
    sla_refresh_seconds: int = 300
    sla_horizon_minutes: int = 240
    sla_refresh_max_items: int = 500
    jira_remote_links_per_run: int = 200
    http_max_retries: int = 5
    http_backoff_seconds: float = 1.0
    http_backoff_max_seconds: float = 60.0
    http_max_wait_seconds: float = 120.0
    rate_limit_window_seconds: float = 60.0
    session_cookie_secure: bool = True
    session_hours: int = 12
    password_scrypt_cost: int = DEFAULT_SCRYPT_COST
    proxy_count: int = 0
    streams_per_user: int = 20
    streams_per_session: int = 10
    streams_per_process: int = 11900
    page_size: int = 50
    render_cache_ttl_seconds: int = 300
    render_cache_max_mb: int = 64
    log_level: str = "INFO"
    notify: NotifySettings = field(default_factory=NotifySettings)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def heartbeat_stale_seconds(self) -> float:
        """Return how long a running sync may stay silent before its worker is declared lost."""
        return self.sync_heartbeat_seconds * 4.5

    def sync_interval(self, sync_type: str) -> int:
        """Return a sync type's configured schedule interval in minutes (0 = it does not run on its own).

        The at-risk refresh counts SLA_REFRESH_SECONDS in whole minutes, at least one."""
        return {"Incidents": self.sync_interval_incidents, "JIRA": self.sync_interval_jira,
                AT_RISK: max(1, self.sla_refresh_seconds // 60)}[sync_type]

    def flask_config(self) -> dict[str, Any]:
        """Return the Flask config keys derived from these settings."""
        return {
            "SECRET_KEY": self.secret_key,
            "SESSION_COOKIE_HTTPONLY": True,
            # A sign-in lasts SESSION_HOURS from the moment of sign-in (web/auth/sessions.py), so the cookie is
            # written when the session changes, not re-signed and re-sent with every answer.
            "SESSION_REFRESH_EACH_REQUEST": False,
            "SESSION_COOKIE_SAMESITE": "Lax",
            "SESSION_COOKIE_SECURE": self.session_cookie_secure,
            "REMEMBER_COOKIE_SECURE": self.session_cookie_secure,
            "REMEMBER_COOKIE_HTTPONLY": True,
            "PERMANENT_SESSION_LIFETIME": self.session_hours * 3600,
            "SQLALCHEMY_DATABASE_URI": self.database_url,
            "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
            **self.extra,
        }


def _secret_key(env: Mapping[str, str], instance_path: Path) -> str:
    key = _text(env, "SECRET_KEY")
    if key:
        if len(key) < 16:
            raise ConfigError("SECRET_KEY must be at least 16 characters long")
        return key
    key_file = instance_path / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    key_file.write_text(key)
    key_file.chmod(0o600)
    return key


def normalise_database_url(url: str | None) -> str | None:
    """Make a postgres URL use the psycopg 3 driver."""
    if not url:
        return None
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def load_vendor_settings(env: Mapping[str, str]) -> VendorSettings:
    """Read the vendor addresses, credentials and scope."""
    return VendorSettings(
        freshservice_url=_vendor_url(env, "FRESHSERVICE", ".freshservice.com"),
        freshservice_api_key=_text(env, "FRESHSERVICE_API_KEY"),
        freshservice_workspaces=_csv(env, "FRESHSERVICE_WORKSPACES"),
        freshdesk_url=_vendor_url(env, "FRESHDESK", ".freshdesk.com"),
        freshdesk_api_key=_text(env, "FRESHDESK_API_KEY"),
        jira_url=_vendor_base_url(env, "JIRA_BASE_URL"),
        jira_email=_text(env, "JIRA_EMAIL"),
        jira_api_token=_text(env, "JIRA_API_TOKEN"),
        jira_projects=_csv(env, "JIRA_PROJECTS"),
        jira_jql=_text(env, "JIRA_JQL"),
        jira_flavour=_choice(env, "JIRA_FLAVOUR", "cloud", ("cloud", "datacenter")),
    )


def load_settings(overrides: Mapping[str, Any] | None = None, *, use_dotenv: bool = True) -> Settings:
    """Build Settings from the environment, an optional .env file and explicit overrides."""
    env: dict[str, str] = {}
    if use_dotenv and Path(".env").exists():
        from dotenv import dotenv_values

        env.update({k: v for k, v in dotenv_values(".env").items() if v is not None})
    env.update(os.environ)
    extra: dict[str, Any] = {}
    for key, value in (overrides or {}).items():
        if isinstance(value, str):
            env[key] = value
        elif value is None:
            env.pop(key, None)
        else:
            extra[key] = value
    instance_path = Path(_text(env, "INSTANCE_PATH", "instance")).resolve()
    database_url = _url(env, "DATABASE_URL", ("postgres", "postgresql", "postgresql+psycopg"))
    settings = Settings(
        secret_key=_secret_key(env, instance_path),
        database_url=normalise_database_url(database_url),
        redis_url=_url(env, "REDIS_URL", ("redis", "rediss", "unix")),
        instance_path=instance_path,
        vendors=load_vendor_settings(env),
        demo_mode=_bool(env, "DEMO_MODE", False),
        http_timeout=_float(env, "HTTP_TIMEOUT_SECONDS", 30.0, 1.0, 600.0),
        rate_limit_share=_float(env, "SYNC_RATE_LIMIT_SHARE", 0.5, 0.05, 1.0),
        sync_overlap_seconds=_int(env, "SYNC_OVERLAP_SECONDS", 300, 0, 86400),
        sync_page_size=_int(env, "SYNC_PAGE_SIZE", 100, 1, 100),
        sync_interval_incidents=_int(env, "SYNC_INTERVAL_INCIDENTS_MINUTES", 60, 0, 10080),
        sync_interval_jira=_int(env, "SYNC_INTERVAL_JIRA_MINUTES", 60, 0, 10080),
        sync_max_retries=_int(env, "SYNC_MAX_RETRIES", 3, 0, 10),
        sync_retry_base_seconds=_int(env, "SYNC_RETRY_BASE_SECONDS", 30, 1, 3600),
        sync_heartbeat_seconds=_int(env, "SYNC_HEARTBEAT_SECONDS", 10, 1, 60),
        jira_census_every=_int(env, "JIRA_CENSUS_EVERY", 1, 1, 1000),
        audit_rate_share=_float(env, "AUDIT_RATE_SHARE", 0.02, 0.0, 1.0),
        audit_skip_minutes=_int(env, "AUDIT_SKIP_MINUTES", 10, 0, 1440),
        sla_refresh_seconds=_int(env, "SLA_REFRESH_SECONDS", 300, 2, 3600),
        sla_horizon_minutes=_int(env, "SLA_HORIZON_MINUTES", 240, 15, 10080),
        sla_refresh_max_items=_int(env, "SLA_REFRESH_MAX_ITEMS", 500, 1, 5000),
        jira_remote_links_per_run=_int(env, "JIRA_REMOTE_LINKS_PER_RUN", 200, 0, 10000),
        http_max_retries=_int(env, "HTTP_MAX_RETRIES", 5, 0, 20),
        http_backoff_seconds=_float(env, "HTTP_BACKOFF_SECONDS", 1.0, 0.0, 60.0),
        http_backoff_max_seconds=_float(env, "HTTP_BACKOFF_MAX_SECONDS", 60.0, 0.0, 3600.0),
        http_max_wait_seconds=_float(env, "HTTP_MAX_WAIT_SECONDS", 120.0, 0.0, 3600.0),
        rate_limit_window_seconds=_float(env, "RATE_LIMIT_WINDOW_SECONDS", 60.0, 1.0, 3600.0),
        session_cookie_secure=_bool(env, "SESSION_COOKIE_SECURE", True),
        session_hours=_int(env, "SESSION_HOURS", 12, 1, 24 * 30),
        password_scrypt_cost=_scrypt_cost(env),
        proxy_count=_int(env, "PROXY_COUNT", 0, 0, 5),
        streams_per_user=_int(env, "STREAMS_PER_USER", 20, 1, 100000),
        streams_per_session=_int(env, "STREAMS_PER_SESSION", 10, 1, 100000),
        streams_per_process=_int(env, "STREAMS_PER_PROCESS", 11900, 1, 100000),
        page_size=_int(env, "PAGE_SIZE", 50, 10, 500),
        render_cache_ttl_seconds=_int(env, "RENDER_CACHE_TTL_SECONDS", 300, 0, 86400),
        render_cache_max_mb=_int(env, "RENDER_CACHE_MAX_MB", 64, 1, 65536),
        log_level=_choice(env, "LOG_LEVEL", "info", ("debug", "info", "warning", "error")).upper(),
        notify=load_notify_settings(env),
        extra=extra,
    )
    return settings


def settings_field_names() -> list[str]:
    """Return the Settings attribute names (used by documentation checks)."""
    return [f.name for f in fields(Settings)]


def get_settings(app: Flask | None = None) -> Settings:
    """Return the Settings of the given (or current) app."""
    return (app or current_app).extensions["tt_settings"]
