"""Links between helpdesk tickets and Jira issues, found in what the vendors carry and kept by the page transaction.

Helpdesk → Jira: a Jira key of a synced project in a ticket's subject, description or custom fields (agents paste
keys there). Jira → helpdesk: a ticket's agent URL (`{helpdesk}/a/tickets/{id}`, the URL the connectors store and
the Freshworks apps link to) anywhere in an issue's fields, or as a remote issue link's `object.url`
(GET /rest/api/3/issue/{idOrKey}/remotelink; developer.atlassian.com "Jira REST API for Remote Issue Links").
Each page's links are rewritten in the page's own transaction: new mentions are added, seen ones get a new
last_seen, and mentions gone from the text are deleted. Remote links cost one call per issue, so they are read after
a Jira run for the issues that changed in it only, at most JIRA_REMOTE_LINKS_PER_RUN of them, through the same
paced client (so within the run's rate-budget share).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from tickettracker.connectors.base import TicketRecord
from tickettracker.core.vocabulary import HELPDESKS
from tickettracker.store.extensions import db
from tickettracker.store.models import Ticket

REMOTE = "remote_link"
KEY = re.compile(r"(?<![A-Za-z0-9_-])([A-Z][A-Z0-9_]{1,9})-([1-9][0-9]{0,8})(?![A-Za-z0-9_-])")
STAGE_SQL = ("CREATE TEMP TABLE IF NOT EXISTS _tt_links (external_id text, target_source text, target_ref text, "
             "found_in text) ON COMMIT DELETE ROWS")
UPSERT_SQL = """
INSERT INTO ticket_links (ticket_id, target_source, target_ref, found_in)
SELECT t.id, l.target_source, l.target_ref, l.found_in
FROM _tt_links l JOIN tickets t ON t.source = %(source)s AND t.external_id = l.external_id AND t.account = %(account)s
ON CONFLICT ON CONSTRAINT uq_ticket_links DO UPDATE SET last_seen = now()
"""
PRUNE_SQL = """
DELETE FROM ticket_links k USING tickets t
WHERE k.ticket_id = t.id AND t.source = %(source)s AND t.account = %(account)s AND t.external_id = ANY(%(ids)s)
  AND k.found_in = ANY(%(kinds)s)
  AND NOT EXISTS (SELECT 1 FROM _tt_links l WHERE l.external_id = t.external_id
                  AND l.target_source = k.target_source AND l.target_ref = k.target_ref AND l.found_in = k.found_in)
"""
Found = tuple[str, str, str]  # (target source, target ref, found in)


@dataclass(frozen=True)
class LinkScope:
    """What counts as a link: Jira project keys of the synced scope and the helpdesks' base URLs."""

    projects: frozenset[str] = frozenset()
    helpdesks: tuple[tuple[str, str], ...] = ()
    _url: re.Pattern[str] | None = field(default=None, compare=False)

    @classmethod
    def build(cls, projects: Iterable[str], helpdesks: dict[str, str | None]) -> LinkScope:
        """A scope from project keys and {source: base URL} (sources without a URL are left out)."""
        bases = tuple((source, url.rstrip("/")) for source, url in sorted(helpdesks.items()) if url)
        pattern = None
        if bases:
            alternatives = "|".join(f"(?P<{source}>{re.escape(url)})" for source, url in bases)
            pattern = re.compile(rf"(?:{alternatives})/(?:a/|helpdesk/)?tickets/(?P<id>[0-9]+)")
        return cls(frozenset(p.upper() for p in projects if p), bases, pattern)

    @classmethod
    def load(cls, settings: Any) -> LinkScope:
        """The configured scope: JIRA_PROJECTS plus the projects already cached, and the helpdesk addresses."""
        cached = db.session.scalars(select(Ticket.project).where(Ticket.source == "jira").distinct()).all()
        db.session.commit()
        vendors = settings.vendors
        return cls.build([*vendors.jira_projects, *(p for p in cached if p)],
                         {"freshservice": vendors.freshservice_url, "freshdesk": vendors.freshdesk_url})

    def jira_keys(self, value: str) -> Iterator[str]:
        """Jira keys of the synced projects in a text (key-shaped words of other prefixes are not links)."""
        for prefix, number in KEY.findall(value):
            if prefix in self.projects:
                yield f"{prefix}-{number}"

    def tickets(self, value: str) -> Iterator[tuple[str, str]]:
        """(helpdesk, ticket id) for every helpdesk ticket URL in a text."""
        if self._url is None:
            return
        for match in self._url.finditer(value):
            source = next(name for name, _ in self.helpdesks if match.group(name))
            yield source, match.group("id")


def _strings(value: Any) -> Iterator[str]:
    """Every string inside a JSON value (ADF documents included)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


def found_in(record: TicketRecord, scope: LinkScope) -> set[Found]:
    """The links a record's own content carries (not its remote links)."""
    found: set[Found] = set()
    if record.source in HELPDESKS:
        places = (("subject", [record.subject]), ("description", [record.description_text or ""]),
                  ("custom_field", list(_strings(record.custom_fields))))
        for where, texts in places:
            found |= {("jira", key, where) for value in texts for key in scope.jira_keys(value)}
    elif record.source == "jira":
        fields = (record.raw or {}).get("fields") or {}
        for name, value in fields.items():
            where = "description" if name == "description" else "jira_field"
            found |= {(source, ident, where) for text_ in _strings(value) for source, ident in scope.tickets(text_)}
    return found


def remote_targets(links: Iterable[dict[str, Any]], scope: LinkScope) -> set[Found]:
    """The helpdesk tickets a Jira issue's remote links point at (object.url)."""
    found: set[Found] = set()
    for link in links:
        obj = link.get("object") if isinstance(link, dict) else None
        url = obj.get("url") if isinstance(obj, dict) else None
        if isinstance(url, str):
            found |= {(source, ident, REMOTE) for source, ident in scope.tickets(url)}
    return found


def _write(source: str, rows: dict[str, set[Found]], kinds: list[str], account: str) -> None:
    """Stage the links found per external id, upsert them and delete the kinds no longer found (no commit)."""
    raw = db.session.connection().connection.driver_connection
    with raw.cursor() as cur:
        cur.execute(STAGE_SQL)
        staged = [(ext, *link) for ext, links in rows.items() for link in sorted(links)]
        if staged:
            with cur.copy("COPY _tt_links (external_id, target_source, target_ref, found_in) FROM STDIN") as copy:
                for row in staged:
                    copy.write_row(row)
            cur.execute(UPSERT_SQL, {"source": source, "account": account})
        cur.execute(PRUNE_SQL, {"source": source, "account": account, "ids": list(rows), "kinds": kinds})


CONTENT_KINDS = ["subject", "description", "custom_field", "jira_field"]


def write_page_links(source: str, records: Sequence[TicketRecord], scope: LinkScope, account: str = "") -> None:
    """Rewrite the content links of a page's records (rows of account) inside the page's transaction (the caller
    commits)."""
    _write(source, {record.external_id: found_in(record, scope) for record in records}, CONTENT_KINDS, account)


def write_remote_links(found: dict[str, set[Found]], account: str = "") -> None:
    """Replace the remote links of the given Jira issues (rows of account), in one transaction."""
    try:
        _write("jira", found, [REMOTE], account)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise


def read_remote_links(connector: Any, changed: Sequence[str], scope: LinkScope, limit: int,
                      log: Any, account: str = "") -> int:
    """Read the remote links of up to `limit` changed issues and store them; return how many were read."""
    wanted = list(dict.fromkeys(changed))
    if not scope.helpdesks or limit <= 0 or not wanted:
        return 0
    if len(wanted) > limit:
        log("info", f"Jira: remote links read for {limit} of {len(wanted)} changed issues "
                    "(JIRA_REMOTE_LINKS_PER_RUN); the others are read when they change again")
    found = {key: remote_targets(connector.remote_links(key), scope) for key in wanted[:limit]}
    write_remote_links(found, account)
    return len(found)
