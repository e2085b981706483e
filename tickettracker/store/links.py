"""Read side of the ticket links: what a ticket waits on, which incidents a Jira issue holds up, the filter clause.

A link found from either side counts: a ticket that mentions a Jira key, or a Jira issue that points at the ticket.
Jira keys resolve to cached issues at read time, by their current key (external_key) or a key the issue had before it
moved to another project (jira_key_aliases), so a key no cached issue has or had is shown as outside the synced
scope (key only; pages never ask the vendor).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, or_, select, union
from sqlalchemy.orm import aliased

from tickettracker.store.extensions import db
from tickettracker.store.models import JiraKeyAlias, Ticket, TicketLink

HELPDESKS = ("freshservice", "freshdesk")
JIRA_OPEN = ("todo", "in_progress")
HELPDESK_OPEN = ("open", "pending")


@dataclass(frozen=True)
class JiraLink:
    """A Jira issue a ticket is linked to: the cached issue, or only its key when it is outside the synced scope."""

    key: str
    issue: Ticket | None
    found_in: tuple[str, ...]


def _open_jira(jira: Any) -> ColumnElement[bool]:
    """A live Jira issue not done yet."""
    return and_(jira.source == "jira", ~jira.is_deleted, jira.status_category.in_(JIRA_OPEN))


def _names(jira: Any, ref: Any) -> ColumnElement[bool]:
    """The Jira issue row `jira` is the one the key `ref` names: its current key, or a key it had before a move."""
    moved = exists().where(JiraKeyAlias.old_key == ref, JiraKeyAlias.account == jira.account,
                           JiraKeyAlias.external_id == jira.external_id)
    return or_(jira.external_key == ref, moved)


def resolve_keys(keys: set[str]) -> dict[str, Ticket]:
    """{key: cached Jira issue} for the keys an issue has now or had before a move; unknown keys are left out."""
    if not keys:
        return {}
    found = {t.external_key: t for t in db.session.scalars(select(Ticket).where(
        Ticket.source == "jira", Ticket.external_key.in_(keys)))}
    older = keys - set(found)
    if older:
        stmt = (select(JiraKeyAlias.old_key, Ticket).join(Ticket, and_(
            Ticket.source == "jira", Ticket.external_id == JiraKeyAlias.external_id,
            Ticket.account == JiraKeyAlias.account)).where(JiraKeyAlias.old_key.in_(older)))
        found.update({key: ticket for key, ticket in db.session.execute(stmt)})
    return found


def waiting_clause() -> ColumnElement[bool]:
    """Match open helpdesk tickets linked (either way) to a Jira issue that is not done: waiting on development.

    The linked tickets are found from the links (their ids, as a set), not by testing every open ticket against the
    links: the links are far fewer than the open tickets, so a count reads those instead of every open ticket. A
    mentioned key names an issue by its current key or by a key it had before a move (as _names says), each a join
    of its own so that both are equality joins."""
    jira, helpdesk = aliased(Ticket), aliased(Ticket)
    by_key = (select(TicketLink.ticket_id).join(jira, jira.external_key == TicketLink.target_ref)
              .where(TicketLink.target_source == "jira", _open_jira(jira)))
    by_old_key = (select(TicketLink.ticket_id).join(JiraKeyAlias, JiraKeyAlias.old_key == TicketLink.target_ref)
                  .join(jira, and_(jira.account == JiraKeyAlias.account, jira.external_id == JiraKeyAlias.external_id))
                  .where(TicketLink.target_source == "jira", _open_jira(jira)))
    pointed = (select(helpdesk.id).join(TicketLink, and_(TicketLink.target_source == helpdesk.source,
                                                         TicketLink.target_ref == helpdesk.external_id))
               .join(jira, TicketLink.ticket_id == jira.id).where(_open_jira(jira)))
    return and_(Ticket.source.in_(HELPDESKS), Ticket.status_category.in_(HELPDESK_OPEN),
                Ticket.id.in_(union(by_key, by_old_key, pointed)))


def jira_links(ticket: Ticket) -> list[JiraLink]:
    """The Jira issues a helpdesk ticket is linked to, in either direction (cached issue or key only)."""
    mentioned = db.session.execute(select(TicketLink.target_ref, TicketLink.found_in).where(
        TicketLink.ticket_id == ticket.id, TicketLink.target_source == "jira")).all()
    pointing = db.session.execute(
        select(Ticket, TicketLink.found_in).join(TicketLink, TicketLink.ticket_id == Ticket.id)
        .where(TicketLink.target_source == ticket.source, TicketLink.target_ref == ticket.external_id,
               Ticket.source == "jira")).all()
    cached = resolve_keys({ref for ref, _ in mentioned})
    found: dict[str, tuple[Ticket | None, set[str]]] = {}
    for ref, where in mentioned:
        issue = cached.get(ref)
        found.setdefault(issue.reference if issue else ref, (issue, set()))[1].add(where)
    for issue, where in pointing:
        found.setdefault(issue.reference, (issue, set()))[1].add(where)
    links = [JiraLink(key, issue, tuple(sorted(places))) for key, (issue, places) in found.items()]
    return sorted(links, key=lambda link: (link.issue is None, link.issue is not None and link.issue.is_deleted,
                                           link.key))


def linked_incidents(issue: Ticket) -> list[Ticket]:
    """The helpdesk tickets linked to a Jira issue in either direction, open ones first, then by due time."""
    old_keys = select(JiraKeyAlias.old_key).where(JiraKeyAlias.account == issue.account,
                                                  JiraKeyAlias.external_id == issue.external_id)
    mention = select(TicketLink.ticket_id).where(TicketLink.target_source == "jira", or_(
        TicketLink.target_ref == issue.reference, TicketLink.target_ref.in_(old_keys)))
    pointed = select(TicketLink.target_source, TicketLink.target_ref).where(TicketLink.ticket_id == issue.id)
    targets = [(source, ref) for source, ref in db.session.execute(pointed) if source in HELPDESKS]
    by_pointer = [and_(Ticket.source == source, Ticket.external_id == ref) for source, ref in targets]
    stmt = (select(Ticket).where(Ticket.source.in_(HELPDESKS), ~Ticket.is_deleted, ~Ticket.is_spam,
                                 or_(Ticket.id.in_(mention), *by_pointer))
            .order_by(~Ticket.status_category.in_(HELPDESK_OPEN), Ticket.due_by.asc().nulls_last(), Ticket.id))
    return list(db.session.scalars(stmt))
