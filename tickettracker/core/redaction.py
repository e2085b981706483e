"""Redaction of credentials from text that leaves a sync (run logs and messages every viewer sees).

A vendor may echo what it was sent: the raw API key or token, the `Authorization` header (Basic: base64 of
`key:X` or `email:token`; Bearer), a URL with the key in its query string or in its userinfo. Every form is
replaced by `***`, and only then is the text cut to length, so a cut never leaves half a secret behind."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from urllib.parse import quote

MASK = "***"
MIN_SECRET = 4  # shorter values are not worth replacing (they would mangle ordinary words)

_AUTHORIZATION = re.compile(
    r"""(?ix)
    (\b(?:proxy-)?authorization\b["']?\s*[:=]\s*["']?)   # the header name, as text, JSON or a Python dict
    (?:(basic|bearer|token|digest|negotiate)\s+)?          # an optional scheme, kept
    [^\s"',;}\]]+                                          # the credential
    """)
_SCHEME_TOKEN = re.compile(r"(?i)\b(basic|bearer)\s+[A-Za-z0-9+/._~=-]{6,}")
_QUERY_SECRET = re.compile(
    r"(?i)([?&;](?:api[_-]?key|apikey|key|token|access[_-]?token|auth|password|passwd|pwd|secret|client[_-]?secret"
    r"|signature|sig)=)[^&\s#\"'<>]*")
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@?#]+@")


def _basic_forms(user: str, password: str) -> list[str]:
    encoded = base64.b64encode(f"{user}:{password}".encode()).decode()
    return [encoded, encoded.rstrip("=")]


class Redactor:
    """Replaces a set of credentials, in every form they travel in, and credential-shaped text in general."""

    def __init__(self, secrets: Iterable[str] = (), pairs: Iterable[tuple[str, str]] = ()) -> None:
        """Remember raw secrets and (user, password) pairs sent as HTTP Basic."""
        forms: set[str] = set()
        for secret in (s for s in secrets if s and len(s) >= MIN_SECRET):
            forms.update({secret, quote(secret, safe=""), *_basic_forms(secret, "X")})
        for user, password in pairs:
            if user and password and len(password) >= MIN_SECRET:
                forms.update(_basic_forms(user, password))
        self.forms = tuple(sorted(forms, key=len, reverse=True))  # longest first: no partial leftovers

    def __call__(self, text: str, limit: int | None = None) -> str:
        """Return text with every credential replaced by ***, then cut to `limit` characters (… marks a cut)."""
        for form in self.forms:
            text = text.replace(form, MASK)
        text = _AUTHORIZATION.sub(lambda m: f"{m.group(1)}{m.group(2) + ' ' if m.group(2) else ''}{MASK}", text)
        text = _SCHEME_TOKEN.sub(lambda m: f"{m.group(1)} {MASK}", text)
        text = _QUERY_SECRET.sub(lambda m: f"{m.group(1)}{MASK}", text)
        text = _USERINFO.sub(lambda m: f"{m.group(1)}{MASK}@", text)
        if limit is not None and len(text) > limit:
            text = text[: limit - 1] + "…"
        return text


def redact(text: str, secrets: Iterable[str] = (), limit: int | None = None) -> str:
    """Return text without the given secrets or credential-shaped parts, cut to `limit` afterwards."""
    return Redactor(secrets)(text, limit)
