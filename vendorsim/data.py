"""Deterministic, realistic building blocks shared by the fake vendors' data generators."""

from __future__ import annotations

import html
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

DAY = 86400.0
RECENT_SHARE = 0.35  # share of items created in the last 30 days (the 30-day-window trap)

FIRST = ["Ada", "Bruno", "Chloé", "Dmitri", "Emma", "Farah", "Goran", "Hana", "Ivan", "Jun", "Kofi", "Lena",
         "Mia", "Nikhil", "Olga", "Pedro", "Quinn", "Rosa", "Sven", "Tariq", "Uma", "Viktor", "Wen", "Yara", "Zoë"]
LAST = ["Admin", "Björk", "Chen", "Dubois", "Evans", "Fischer", "García", "Haddad", "Ivanova", "Jones", "Krystof",
        "López", "Müller", "Nakamura", "O'Brien", "Patel", "Richards", "Silva", "Tanaka", "Usman", "Weiß", "Zhang"]
TEAMS = ["Finance", "Sales", "Support", "Engineering", "HR", "Legal", "Marketing", "Warehouse", "EMEA office"]
SYSTEMS = ["SAP", "Salesforce", "Jira", "Confluence", "the VPN", "Okta", "Workday", "GitHub", "Zendesk", "Slack"]
HOSTS = ["db-01", "web-03", "mail.internal", "files-02", "build-agent-7", "proxy.eu"]
TEMPLATES = [
    "VPN down for {team}", "Laptop will not boot after update", "Password reset for {person}",
    "Printer on floor {n} is jammed", "Access request: {system}", "Outlook keeps asking for credentials",
    "New starter onboarding: {person}", "Wi-Fi drops in meeting room {n}", "{system} is slow since this morning",
    "Cannot log in to {system}", "Request a new monitor for {person}", "Phishing email reported by {person}",
    "Disk space alert on {host}", "Certificate expiring for {host}", "Refund request for order #{n}",
    "Invoice {n} shows the wrong amount", "Mobile app crashes on login", "Export to CSV times out",
    "SSO error for {team} users", "Shipping address change for order #{n}", "Licence renewal for {system}",
]
PAYLOADS = [
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", '<a href="javascript:alert(1)">click me</a>',
    '<div hx-get="/x" hx-trigger="load">htmx</div>', '"><svg onload=alert(1)>', "{{7*7}} ${7*7} <%= 7*7 %>",
    "Robert'); DROP TABLE tickets;--", '<iframe src="https://evil.example"></iframe>',
]
UNICODE = [
    "Ünïcödé prüfung — naïve café ✓", "工单：打印机无法连接 🖨️", "Привет, не работает почта",
    "שלום — בעיה בהתחברות", "مشكلة في تسجيل الدخول", "Emoji storm 🚀🔥💥 with ZWJ 👩‍💻",
    "zero\u200bwidth\u200bspaces and\ttabs", "Ｆｕｌｌｗｉｄｔｈ ｔｅｘｔ and ﬁ ligature",
]
LONG_TEXT = "Very long subject: " + "lorem ipsum dolor sit amet, consectetur adipiscing elit " * 36
TAGS = ["vpn", "outage", "hardware", "access", "email", "printer", "onboarding", "vip", "network", "billing",
        "sso", "customer-reported", "ünïcode", "<b>bold</b>"]


@dataclass(frozen=True)
class Person:
    """A requester or agent in a vendor's directory."""

    id: int
    name: str
    email: str
    phone: str | None


def make_people(rng: random.Random, count: int, id_base: int, domain: str) -> list[Person]:
    """Build a deterministic directory of people with ids from id_base."""
    people = []
    for index in range(count):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        local = f"{first}.{last}{index}".lower().replace("'", "").replace(" ", "")
        phone = f"+44 20 {rng.randint(1000, 9999)} {rng.randint(1000, 9999)}" if rng.random() < 0.4 else None
        people.append(Person(id_base + index, f"{first} {last}", f"{local}@{domain}", phone))
    return people


def spread(rng: random.Random, now: datetime) -> tuple[datetime, datetime]:
    """Pick created/updated over ~2 years with a good share in the last 30 days, both at least 1 min old."""
    if rng.random() < RECENT_SHARE:
        age = rng.uniform(120, 30 * DAY)
    else:
        age = rng.uniform(30 * DAY, 730 * DAY)
    created = now - timedelta(seconds=age)
    roll = rng.random()
    if roll < 0.25:
        updated = created
    elif roll < 0.55 and age > 30 * DAY:
        updated = now - timedelta(seconds=rng.uniform(60, 30 * DAY))
    else:
        updated = created + timedelta(seconds=(age - 60) * rng.random())
    return created, max(created, updated)


def subject(rng: random.Random) -> str:
    """Pick a ticket subject: mostly ordinary, sometimes hostile markup, unicode or very long."""
    roll = rng.random()
    if roll < 0.06:
        payload = rng.choice(PAYLOADS)
        return payload if rng.random() < 0.5 else f"Printer broken {payload}"
    if roll < 0.11:
        return rng.choice(UNICODE)
    if roll < 0.12:
        return LONG_TEXT
    return rng.choice(TEMPLATES).format(
        team=rng.choice(TEAMS), person=f"{rng.choice(FIRST)} {rng.choice(LAST)}",
        system=rng.choice(SYSTEMS), host=rng.choice(HOSTS), n=rng.randint(1, 9999))


def description(rng: random.Random, title: str) -> tuple[str, str]:
    """Return (html, text) for a ticket body; hostile subjects keep their raw markup in the HTML."""
    text = f"{title}\n\nReported via the portal. Steps tried: restart, re-login."
    if any(mark in title for mark in ("<", "{{")):
        body = f"<div>{title}</div><p>Reported via the portal.</p>"
    else:
        body = f"<div>{html.escape(title)}</div><p>Reported via the portal. Steps tried: restart, re-login.</p>"
    if rng.random() < 0.05:
        body += '<p><img src=x onerror="alert(document.cookie)"></p>'
    return body, text


def pick_tags(rng: random.Random) -> list[str]:
    """Pick zero to three tags."""
    return rng.sample(TAGS, rng.choice((0, 0, 1, 1, 2, 3)))


def weighted(rng: random.Random, table: list[tuple[object, float]]) -> object:
    """Pick a value from (value, weight) pairs."""
    values, weights = zip(*table, strict=True)
    return rng.choices(values, weights)[0]
