"""Links between helpdesk tickets and Jira issues, found by real syncs against the simulator: both directions,
kept up to date when the text changes, removed when the mention goes away, one transaction with the page."""

from __future__ import annotations

import re

from sqlalchemy import text

from tickettracker.connectors.base import TicketRecord
from tickettracker.store.extensions import db
from tickettracker.store.links import jira_links, linked_incidents, waiting_clause
from tickettracker.store.models import Ticket
from tickettracker.sync.atrisk_set import linked_jira
from tickettracker.sync.links import LinkScope, found_in
from vendorsim.jira_data import STATUSES

from . import simulator_fixtures as fx
from .simulator_fixtures import make_settings, sync
from .test_jira_identity import move_issue

app_config, ctx, sim = fx.app_config, fx.ctx, fx.sim  # fixtures used by this module

KEY = re.compile(r"\b(OPS|ENG|SEC)-(\d+)\b")


def _links(source: str | None = None) -> set[tuple[str, str, str, str, str]]:
    """(item source, item reference (a Jira key), target source, target ref, found in) of every stored link."""
    rows = db.session.execute(text(
        "SELECT t.source, coalesce(t.external_key, t.external_id), k.target_source, k.target_ref, k.found_in "
        "FROM ticket_links k "
        "JOIN tickets t ON t.id = k.ticket_id WHERE CAST(:s AS text) IS NULL OR t.source = :s"), {"s": source}).all()
    db.session.commit()
    return {tuple(row) for row in rows}


def _expected_mentions(sim, source: str, keys: set[str]) -> set[tuple[str, str]]:
    """(ticket id, Jira key) for every key of a synced project the vendor's tickets mention, in any place."""
    found = set()
    for ticket_id, ticket in sim.vendor(source).truth().items():
        texts = [ticket["subject"], ticket.get("description_text") or "", *map(str, ticket["custom_fields"].values())]
        found |= {(ticket_id, f"{p}-{n}") for value in texts for p, n in KEY.findall(value)}
    return {pair for pair in found if pair[1].split("-")[0] in {k.split("-")[0] for k in keys}}


def test_incidents_mentioning_jira_keys_are_linked_with_where_they_were_found(ctx, sim):
    settings = make_settings(ctx)
    sync(settings, "jira")
    for source in ("freshservice", "freshdesk"):
        sync(settings, source)
        stored = {(ext, ref) for _, ext, target, ref, _ in _links(source) if target == "jira"}
        expected = _expected_mentions(sim, source, set(sim.vendor("jira").truth()))
        assert expected and stored == expected
        assert not any(ref.startswith(("UTF-", "ISO-", "SHA-", "COVID-", "ABC-")) for _, ref in stored)
    places = {where for *_, where in _links() if _[2] == "jira"}
    assert places == {"subject", "description", "custom_field"}


def test_jira_remote_links_and_url_fields_link_back_to_helpdesk_tickets(ctx, sim):
    sync(make_settings(ctx), "jira")
    jira = sim.vendor("jira")
    expected = set()
    for item in jira.store.items.values():
        for source, num in item.body.get("_remote") or ():
            expected.add((item.ext_id, source, str(num), "remote_link"))
        if item.body.get("_helpdesk_field"):
            source, num = item.body["_helpdesk_field"]
            expected.add((item.ext_id, source, str(num), "jira_field"))
    stored = {(ext, target, ref, where) for _, ext, target, ref, where in _links("jira")}
    assert {e for e in expected if e[3] == "remote_link"} and {e for e in expected if e[3] == "jira_field"}
    assert stored == expected
    remote_calls = jira.request_count("/remotelink", status=200)
    assert remote_calls == len(jira.truth())  # first run: every issue changed in it, one answered call each


def test_links_follow_text_changes_and_vanish_with_the_mention(ctx, sim):
    settings = make_settings(ctx)
    sync(settings, "jira")
    sync(settings, "freshdesk")
    fd = sim.vendor("freshdesk")
    keys = sorted(sim.vendor("jira").truth())
    first, second = keys[0], keys[1]
    fd.edit("3", subject=f"Checkout broken, see {first}", custom_fields={"cf_jira_key": None})
    sync(settings, "freshdesk")
    mine = {(ref, where) for _, ext, _t, ref, where in _links("freshdesk") if ext == "3"}
    assert (first, "subject") in mine
    seen = db.session.execute(text(
        "SELECT first_seen, last_seen FROM ticket_links k JOIN tickets t ON t.id = k.ticket_id "
        "WHERE t.external_id = '3' AND t.source = 'freshdesk' AND k.target_ref = :r"), {"r": first}).one()
    db.session.commit()
    fd.edit("3", subject=f"Checkout broken, now {second}")
    sync(settings, "freshdesk")
    mine = {(ref, where) for _, ext, _t, ref, where in _links("freshdesk") if ext == "3"}
    assert (second, "subject") in mine and (first, "subject") not in mine
    fd.edit("3", subject="Checkout broken", description_text="no key here")
    sync(settings, "freshdesk")
    assert not {ref for _, ext, _t, ref, where in _links("freshdesk") if ext == "3" and where == "subject"}
    assert seen.first_seen <= seen.last_seen


def test_a_jira_remote_link_removed_at_the_vendor_is_removed_at_the_next_run(ctx, sim):
    settings = make_settings(ctx)
    sync(settings, "jira")
    jira = sim.vendor("jira")
    linked = next(i for i in jira.store.items.values() if i.body.get("_remote") and i.state == "live")
    assert any(ext == linked.ext_id and where == "remote_link" for _, ext, _t, _r, where in _links("jira"))
    jira.reset_counts()
    jira.edit(linked.ext_id, _remote=[])
    sync(settings, "jira")
    assert not any(ext == linked.ext_id and where == "remote_link" for _, ext, _t, _r, where in _links("jira"))
    assert 1 <= jira.request_count("/remotelink") < len(jira.truth())  # only issues changed since the last run


def test_link_scope_keeps_keys_of_synced_projects_and_urls_of_configured_helpdesks():
    scope = LinkScope.build(["ENG", "ops"], {"freshservice": "https://acme.freshservice.com", "freshdesk": None})
    assert list(scope.jira_keys("See ENG-12, OPS-3; not UTF-8, xENG-4, ENG-12a or SEC-9")) == ["ENG-12", "OPS-3"]
    assert list(scope.tickets("https://acme.freshservice.com/a/tickets/42 and https://evil.example/a/tickets/1"
                              " https://acme.freshservice.com/helpdesk/tickets/7")) == [
        ("freshservice", "42"), ("freshservice", "7")]
    record = TicketRecord("freshservice", "1", "incident", subject="ENG-1", description_text="x OPS-2",
                          custom_fields={"k": ["ENG-3"]})
    assert found_in(record, scope) == {("jira", "ENG-1", "subject"), ("jira", "OPS-2", "description"),
                                       ("jira", "ENG-3", "custom_field")}


def test_a_key_written_before_the_issue_moved_still_links_to_it(ctx, sim):
    settings = make_settings(ctx)
    sync(settings, "jira")
    sync(settings, "freshdesk")
    jira = sim.vendor("jira")
    old_key = next(key for key, item in jira.store.items.items()
                   if key.startswith("OPS-") and item.state == "live")
    sim.vendor("freshdesk").edit("3", subject=f"Checkout broken, see {old_key}", status=2,
                                 custom_fields={"cf_jira_key": None})
    jira.edit(old_key, _status=next(s for s in STATUSES if s[2] == "indeterminate"))
    sync(settings, "freshdesk")
    new_key = move_issue(jira, old_key, "ENG")
    sync(settings, "jira")

    incident = db.session.scalar(db.select(Ticket).where(Ticket.source == "freshdesk", Ticket.external_id == "3"))
    issue = db.session.scalar(db.select(Ticket).where(Ticket.source == "jira", Ticket.external_key == new_key))
    links = jira_links(incident)
    assert [(link.key, link.issue.id if link.issue else None) for link in links
            if link.key in (old_key, new_key)] == [(new_key, issue.id)]
    assert incident.id in {t.id for t in linked_incidents(issue)}
    waiting = db.session.scalars(db.select(Ticket.id).where(waiting_clause())).all()
    assert incident.id in waiting
    assert str(issue.external_id) in linked_jira([incident.id], 100)
    db.session.commit()
