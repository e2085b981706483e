"""Cross-vendor links in the generated data: incidents that mention Jira keys, Jira issues that point at tickets.

What the real systems carry: agents paste Jira keys into a ticket's subject, description or a custom text field; a
helpdesk's Jira app adds a *remote issue link* to the issue (`GET /rest/api/3/issue/{idOrKey}/remotelink`, whose
`object.url` and `object.title` are the only required fields: developer.atlassian.com, "Jira REST API for Remote
Issue Links"), here pointing at the ticket's agent URL `{helpdesk}/a/tickets/{id}`; some sites keep the ticket's URL
in a Jira text or URL custom field. The share of linked items is fixed by a private random stream, so the items the
generators built stay exactly as they were.
"""

from __future__ import annotations

import random
from typing import Any, Iterable

from vendorsim.store import Item

MENTION_SHARE = 0.15  # incidents that mention a Jira key somewhere
REMOTE_SHARE = 0.10  # Jira issues with a remote link to a helpdesk ticket
FIELD_SHARE = 0.04  # Jira issues with the ticket id in the "Helpdesk ticket" text field
NOISE = ("UTF-8", "ISO-9001", "COVID-19", "SHA-256")  # key-shaped words that name no synced project
HELPDESK_FIELD = "customfield_10070"
APPLICATIONS = {"freshservice": ("com.freshworks.freshservice", "Freshservice"),
                "freshdesk": ("com.freshworks.freshdesk", "Freshdesk")}


def mention_text(key: str, where: str) -> str:
    """A sentence an agent would write around a Jira key."""
    return {"subject": f" (waiting on {key})", "description": f"\n\nTracked by development in {key}.",
            "custom": key}[where]


def add_mentions(rng: random.Random, source: str, items: Iterable[Item], keys: list[str],
                 out_of_scope: list[str]) -> None:
    """Make a share of tickets mention a Jira key in the subject, the description or a custom text field."""
    field = "custom_text" if source == "freshservice" else "cf_jira_key"
    for item in items:
        roll = rng.random()
        if roll >= MENTION_SHARE + 0.02:
            continue
        key = rng.choice(out_of_scope) if roll >= MENTION_SHARE else rng.choice(keys)
        if rng.random() < 0.2:
            key = f"{key} and {rng.choice(NOISE)}"
        set_mention(item, rng.choice(("subject", "description", "custom")), key, field)


def set_mention(item: Item, where: str, key: str, field: str) -> None:
    """Put one mention of key into the ticket body (in place)."""
    body = item.body
    if where == "subject":
        body["subject"] = f"{body['subject']}{mention_text(key, where)}"
    elif where == "description":
        body["description_text"] = f"{body.get('description_text') or ''}{mention_text(key, where)}"
        body["description"] = f"{body.get('description') or ''}<p>{mention_text(key, where).strip()}</p>"
    else:
        body["custom_fields"] = {**(body.get("custom_fields") or {}), field: key}


def add_ticket_links(rng: random.Random, issues: Iterable[Item], tickets: dict[str, list[Item]]) -> None:
    """Give a share of Jira issues a remote link (or a text field) naming a Freshservice or Freshdesk ticket."""
    for issue in issues:
        roll = rng.random()
        if roll >= REMOTE_SHARE + FIELD_SHARE:
            continue
        source = rng.choice(sorted(tickets))
        ticket = rng.choice(tickets[source])
        if roll < REMOTE_SHARE:
            issue.body["_remote"] = [(source, ticket.num)]
        else:
            issue.body["_helpdesk_field"] = (source, ticket.num)


def remote_link(source: str, num: int, base_url: str, link_id: int) -> dict[str, Any]:
    """One remote issue link as GET /rest/api/3/issue/{id}/remotelink returns it."""
    kind, name = APPLICATIONS[source]
    url = f"{base_url}/a/tickets/{num}"
    return {"id": link_id, "self": f"{base_url}/remotelink/{link_id}",
            "globalId": f"system={base_url}&id={num}", "application": {"type": kind, "name": name},
            "relationship": "linked ticket",
            "object": {"url": url, "title": f"{name} ticket #{num}", "summary": "Customer-facing incident",
                       "icon": {"url16x16": f"{base_url}/favicon.ico", "title": name}}}


def link_all(seed: int, tickets: dict[str, list[Item]], issues: list[Item], project_keys: list[str]) -> None:
    """Add both directions of links to freshly generated data."""
    keys = [issue.ext_id for issue in issues]
    if not keys:
        return
    top = max(issue.body["_seq"] for issue in issues)
    unknown = [f"{project}-{top + 1000 + n}" for n, project in enumerate(project_keys)] + ["ABC-12"]
    for number, (source, items) in enumerate(sorted(tickets.items())):  # one stream per vendor
        add_mentions(random.Random(seed * 7_368_787 + number), source, items, keys, unknown)
    add_ticket_links(random.Random(seed * 7_368_787 + 99), issues,
                     {source: items for source, items in tickets.items() if items})
