"""Freshservice and Freshdesk ticket generators and change rules."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from vendorsim.data import description, make_people, pick_tags, spread, subject, weighted
from vendorsim.store import Item
from vendorsim.timeutil import fw_format, now_seconds

FS_WORKSPACES = [(2, "IT", 0.6), (3, "HR", 0.25), (4, "Facilities", 0.15)]
FS_STATUS = [(2, 30), (3, 14), (4, 20), (5, 30), (6, 3), (7, 2), (13, 1)]  # 6, 7 custom; 13 unknown
FS_STATUS_NAMES = {2: "Open", 3: "Pending", 4: "Resolved", 5: "Closed", 6: "Awaiting vendor", 7: "On hold"}
FS_SOURCES = [(1, 30), (2, 40), (3, 10), (4, 8), (5, 2), (7, 2), (8, 2), (10, 3), (14, 2), (15, 1)]
FD_STATUS = [(2, 30), (3, 14), (4, 20), (5, 30), (6, 3), (7, 2), (12, 1)]  # 6, 7 custom; 12 unknown
FD_STATUS_NAMES = {2: "Open", 3: "Pending", 4: "Resolved", 5: "Closed", 6: "Waiting on Customer",
                   7: "Waiting on Third Party"}
FD_SOURCES = [(1, 35), (2, 30), (3, 10), (7, 10), (9, 5), (10, 5), (5, 1), (12, 2), (15, 2)]
FS_WORKSPACE_ONLY = ("custom_dropdown", "custom_date", "custom_number")
GROUP_NAMES = ("Service Desk", "Network", "Hardware", "Software", "Access Management", "Facilities",
               "Billing", "Escalations")


class FreshworksFactory:
    """Shared Freshworks rules: ids ascend with creation, whole-second UTC timestamps."""

    kinds = frozenset({"update", "create", "delete", "spam", "restore", "tie_burst"})
    delete_state = "deleted"
    statuses: list[tuple[int, int]] = FS_STATUS

    def __init__(self, seed: int, id_base: int, domain: str) -> None:
        """Build the people and group directories for this account."""
        rng = random.Random(seed * 31 + id_base)
        self.seed = seed
        self.requesters = make_people(rng, 300, id_base, domain)
        self.agents = make_people(rng, 30, id_base + 10_000, f"helpdesk.{domain}")
        self.groups = [id_base + 20_000 + index for index in range(len(GROUP_NAMES))]
        self.group_names = dict(zip(self.groups, GROUP_NAMES, strict=True))

    def now(self) -> datetime:
        """Return now at whole seconds."""
        return now_seconds()

    def generate(self, count: int, now: datetime) -> list[Item]:
        """Build count items created over the last ~2 years, ids ascending with created time."""
        rng = random.Random(self.seed * 104729 + len(self.groups))
        now = now.replace(microsecond=0)
        times = sorted((spread(rng, now) for _ in range(count)), key=lambda pair: pair[0])
        return [self.build(rng, num, created, updated) for num, (created, updated) in enumerate(times, 1)]

    def create(self, rng: random.Random, num: int, now: datetime) -> Item:
        """Build a new ticket created and updated now."""
        return self.build(rng, num, now, now)

    def build(self, rng: random.Random, num: int, created: datetime, updated: datetime) -> Item:
        """Build one ticket item."""
        body = self.body(rng, num, created.replace(microsecond=0))
        created, updated = created.replace(microsecond=0), updated.replace(microsecond=0)
        return Item(str(num), num, body.get("workspace_id"), created, updated, body)

    def common(self, rng: random.Random, num: int, created: datetime) -> dict[str, Any]:
        """Fields Freshservice and Freshdesk tickets share."""
        title = subject(rng)
        html_body, text = description(rng, title)
        requester = rng.choice(self.requesters)
        return {
            "subject": title, "group_id": rng.choice(self.groups) if rng.random() < 0.8 else None,
            "requester_id": requester.id,
            "responder_id": rng.choice(self.agents).id if rng.random() < 0.7 else None,
            "due_by": fw_format(created + timedelta(hours=rng.randint(4, 120))),
            "fr_due_by": fw_format(created + timedelta(hours=rng.randint(1, 24))),
            "fr_escalated": rng.random() < 0.1, "is_escalated": rng.random() < 0.1, "spam": False,
            "fwd_emails": [], "reply_cc_emails": [], "cc_emails": [], "priority": rng.randint(1, 4),
            "status": weighted(rng, self.statuses), "id": num,
            "description": html_body, "description_text": text,
            "_requester": requester, "_tags": pick_tags(rng),
        }

    def body(self, rng: random.Random, num: int, created: datetime) -> dict[str, Any]:
        """Vendor-specific full body (overridden)."""
        raise NotImplementedError

    def update(self, item: Item, rng: random.Random) -> None:
        """Change status, priority, assignee and sometimes the subject."""
        body = item.body
        body["status"] = weighted(rng, self.statuses)
        if rng.random() < 0.5:
            body["priority"] = rng.randint(1, 4)
        if rng.random() < 0.5:
            body["responder_id"] = rng.choice(self.agents).id
        if rng.random() < 0.2:
            body["subject"] = subject(rng)
        if rng.random() < 0.3:
            body["_tags"] = sorted(set(body["_tags"]) | set(pick_tags(rng)))

    def sync_flags(self, item: Item) -> None:
        """Mirror the state into the deleted/spam flags."""
        item.body["spam"] = item.state == "spam"
        item.body["deleted"] = item.state == "deleted"


class FreshserviceFactory(FreshworksFactory):
    """Freshservice tickets spread over several workspaces."""

    def __init__(self, seed: int) -> None:
        """Use Freshservice-looking ids and domain."""
        super().__init__(seed, 1_000_000_000, "example.com")

    def body(self, rng: random.Random, num: int, created: datetime) -> dict[str, Any]:
        """Build a Freshservice ticket body (timestamps are added when rendering)."""
        body = self.common(rng, num, created)
        body.update({
            "department_id": rng.choice([None, 7, 8, 9]), "category": rng.choice([None, "Hardware", "Software"]),
            "sub_category": None, "item_category": None, "requested_for_id": body["requester_id"],
            "deleted": False, "email_config_id": rng.choice([None, 1]), "to_emails": None,
            "source": weighted(rng, FS_SOURCES),
            "type": weighted(rng, [("Incident", 70), ("Service Request", 27), ("Major Incident", 3)]),
            "workspace_id": weighted(rng, [(ws, share) for ws, _, share in FS_WORKSPACES]),
            "urgency": rng.randint(1, 3), "impact": rng.randint(1, 3), "sla_policy_id": rng.choice([None, 1, 2]),
            "created_within_business_hours": rng.random() < 0.7,
            "resolution_notes": None, "resolution_notes_html": None,
            "custom_fields": {
                "custom_text": rng.choice([None, "laptop", "Ünïcode ✓", "<b>bold</b>"]),
                "auto_checkbox": rng.random() < 0.3,
                "custom_dropdown": rng.choice([None, "a & A", "b <b>"]),
                "custom_date": rng.choice([None, (created + timedelta(days=9)).strftime("%Y-%m-%d")]),
                "custom_number": rng.choice([None, rng.randint(0, 500)]),
            },
        })
        return body


class FreshdeskFactory(FreshworksFactory):
    """Freshdesk tickets with companies, products and cf_ custom fields."""

    kinds = frozenset({"update", "create", "delete", "spam", "archive", "restore", "tie_burst"})
    statuses = FD_STATUS

    def __init__(self, seed: int) -> None:
        """Use Freshdesk-looking ids and domain."""
        super().__init__(seed, 67_000_000_000, "customer.example")
        self.companies = [67_001_265_000 + index for index in range(20)]

    def body(self, rng: random.Random, num: int, created: datetime) -> dict[str, Any]:
        """Build a Freshdesk ticket body (timestamps are added when rendering)."""
        body = self.common(rng, num, created)
        email = rng.random() < 0.4
        body.update({
            "ticket_cc_emails": [], "ticket_bcc_emails": [], "email_config_id": 67_000_041_667 if email else None,
            "source": weighted(rng, FD_SOURCES), "company_id": rng.choice(self.companies + [None] * 6),
            "association_type": None, "support_email": "support@acme.freshdesk.com" if email else None,
            "to_emails": ["support@acme.freshdesk.com"] if email else None, "product_id": rng.choice([None, 6700]),
            "type": rng.choice([None, "Incident", "Question", "Problem", "Refund"]),
            "associated_tickets_count": None, "structured_description": None, "nr_due_by": None,
            "nr_escalated": False, "tags": body["_tags"], "custom_fields": self.custom_fields(rng, created),
        })
        return body

    def custom_fields(self, rng: random.Random, created: datetime) -> dict[str, Any]:
        """cf_ keys with mixed native types, including a boolean that sometimes arrives as a string."""
        return {
            "cf_region": rng.choice(["EMEA", "APAC", "AMER", None]),
            "cf_customer_tier": rng.choice(["Gold", "Silver", None]),
            "cf_vip": rng.random() < 0.1, "cf_seats": rng.choice([None, rng.randint(1, 5000)]),
            "cf_renewal_date": rng.choice([None, (created + timedelta(days=365)).strftime("%Y-%m-%d")]),
            "cf_legacy_flag": rng.choice([True, "true", "false", None]),
            "cf_score": rng.choice([None, round(rng.uniform(0, 10), 2)]),
        }

    def update(self, item: Item, rng: random.Random) -> None:
        """Change fields and keep the public tags list in step."""
        super().update(item, rng)
        item.body["tags"] = list(item.body["_tags"])

    def sync_flags(self, item: Item) -> None:
        """Freshdesk only shows `deleted` on trashed tickets."""
        item.body["spam"] = item.state == "spam"
        if item.state == "deleted":
            item.body["deleted"] = True
        else:
            item.body.pop("deleted", None)
