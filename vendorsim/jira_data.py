"""Jira issue generator, change rules and the issue JSON shape (Cloud v3/v2 and Data Center)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from vendorsim.data import PAYLOADS, make_people, pick_tags, spread, subject, weighted
from vendorsim.links import HELPDESK_FIELD
from vendorsim.store import Item
from vendorsim.timeutil import UTC, jira_format, now_millis

PROJECTS = [("OPS", "IT Operations", "10000", 50), ("ENG", "Engineering", "10001", 35),
            ("SEC", "Security", "10002", 15)]
CATEGORIES = {"new": (2, "blue-gray", "To Do"), "indeterminate": (4, "yellow", "In Progress"),
              "done": (3, "green", "Done"), "undefined": (1, "medium-gray", "No Category")}
STATUSES = [("10000", "To Do", "new", 25), ("3", "In Progress", "indeterminate", 20),
            ("10010", "Waiting for vendor", "indeterminate", 5), ("10011", "In Review", "indeterminate", 8),
            ("10002", "Done", "done", 35), ("10012", "Won't Do", "done", 5),
            ("10099", "Triage (legacy)", "undefined", 2)]
PRIORITIES = [("1", "Highest"), ("2", "High"), ("3", "Medium"), ("4", "Low"), ("5", "Lowest"),
              ("10000", "P0 - Critical")]
TYPES = [("10004", "Bug", False), ("10001", "Task", False), ("10002", "Story", False), ("10005", "Incident", False),
         ("10006", "Service request", False), ("10003", "Sub-task", True)]
ZONES = ["Asia/Kolkata", "Europe/London", "America/Los_Angeles", "UTC", "Australia/Sydney"]
FIELD_IDS = {"cloud": {"sprint": "customfield_10020", "points": "customfield_10016"},
             "dc": {"sprint": "customfield_10104", "points": "customfield_10106"}}
EXPAND = "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations"


@dataclass(frozen=True)
class RenderContext:
    """How to render an issue: user timezone, base URL, flavour (cloud|dc), REST version (2|3)."""

    zone: tzinfo
    base_url: str
    flavour: str = "cloud"
    version: int = 3
    peers: tuple[tuple[str, str], ...] = ()  # (helpdesk, base URL) for links to tickets


class JiraFactory:
    """Issues over 2-3 projects; id = 10000 + n, external id = key."""

    kinds = frozenset({"update", "create", "delete", "move", "hide", "tie_burst"})
    delete_state = "gone"

    def __init__(self, seed: int, project_count: int = 3) -> None:
        """Build users, projects and sprints for this site."""
        rng = random.Random(seed * 131 + 7)
        self.seed = seed
        self.projects = PROJECTS[: max(2, min(3, project_count))]
        self.users = [_user(rng, person, index) for index, person in
                      enumerate(make_people(rng, 60, 5000, "example.atlassian.net"))]
        self.counters = {key: 0 for key, *_ in self.projects}
        self.sprints = {key: _sprints(key, board) for board, (key, *_) in enumerate(self.projects, 1)}

    def now(self) -> datetime:
        """Return now at millisecond precision."""
        return now_millis()

    def generate(self, count: int, now: datetime) -> list[Item]:
        """Build count issues created over ~2 years, keys ascending with created time."""
        rng = random.Random(self.seed * 15485863 + 3)
        times = sorted((spread(rng, now) for _ in range(count)), key=lambda pair: pair[0])
        return [self.build(rng, 10_000 + index, created, updated) for index, (created, updated) in enumerate(times)]

    def create(self, rng: random.Random, num: int, now: datetime) -> Item:
        """Build a new issue created and updated now."""
        return self.build(rng, num, now, now)

    def build(self, rng: random.Random, num: int, created: datetime, updated: datetime) -> Item:
        """Build one issue item."""
        created, updated = _millis(created), _millis(updated)
        project = weighted(rng, [(p, p[3]) for p in self.projects])
        self.counters[project[0]] += 1
        key = f"{project[0]}-{self.counters[project[0]]}"
        title = subject(rng)
        due = (created + timedelta(days=rng.randint(3, 40))).strftime("%Y-%m-%d")
        body = {
            "summary": title, "labels": pick_tags(rng), "_project": project, "_seq": self.counters[project[0]],
            "_status": weighted(rng, [(s, s[3]) for s in STATUSES]), "_type": rng.choice(TYPES),
            "_priority": rng.choice(PRIORITIES + [None]) if rng.random() < 0.05 else rng.choice(PRIORITIES[:5]),
            "_assignee": rng.choice(self.users) if rng.random() < 0.75 else None,
            "_reporter": rng.choice(self.users), "_link": rng.random() < 0.05,
            "_desc": None if rng.random() < 0.15 else f"{title}\nSteps to reproduce: open the page, sign in.",
            "_sprints": self._pick_sprints(rng, project[0], created), "_created": created,
            "duedate": due if rng.random() < 0.3 else None,
            "_points": rng.choice([None, 1.0, 2.0, 3.0, 5.0, 8.0]),
        }
        return Item(key, num, project[0], created, max(created, updated), body)

    def _pick_sprints(self, rng: random.Random, project: str, created: datetime) -> list[dict[str, Any]] | None:
        """The sprint running when the issue was created (sometimes also the next one), or none."""
        if rng.random() < 0.4:
            return None
        sprints = self.sprints[project]
        first = datetime.fromisoformat(sprints[0]["startDate"].replace("Z", "+00:00"))
        index = min(max(0, (created - first).days // 14), len(sprints) - 2)
        return sprints[index:index + (2 if rng.random() < 0.25 else 1)]

    def update(self, item: Item, rng: random.Random) -> None:
        """Transition status and sometimes change priority, assignee, labels or summary."""
        body = item.body
        body["_status"] = weighted(rng, [(s, s[3]) for s in STATUSES])
        if rng.random() < 0.4:
            body["_priority"] = rng.choice(PRIORITIES)
        if rng.random() < 0.4:
            body["_assignee"] = rng.choice(self.users)
        if rng.random() < 0.3:
            body["labels"] = sorted(set(body["labels"]) | set(pick_tags(rng)))
        if rng.random() < 0.2:
            body["summary"] = subject(rng)

    def move(self, item: Item, group: Any) -> str:
        """Move an issue to another project as Jira does: the next key there, the same id; returns the new key."""
        project = next(p for p in self.projects if p[0] == group)
        self.counters[group] += 1
        old_keys = [*item.body.get("_old_keys", ()), item.ext_id]
        item.body = {**item.body, "_project": project, "_seq": self.counters[group], "_old_keys": old_keys}
        item.group = group
        item.ext_id = f"{group}-{self.counters[group]}"
        return item.ext_id

    def group_keys(self) -> list[Any]:
        """The project keys."""
        return [key for key, *_ in self.projects]

    def sync_flags(self, item: Item) -> None:
        """Jira has no deleted/spam flags: deleted issues simply vanish."""


def _millis(moment: datetime) -> datetime:
    """Truncate to whole milliseconds."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def _user(rng: random.Random, person: Any, index: int) -> dict[str, Any]:
    """A Jira user with both Cloud (accountId) and DC (name/key) identities."""
    return {"accountId": f"5b10{rng.getrandbits(80):020x}", "displayName": person.name, "email": person.email,
            "name": person.email.split("@")[0], "key": f"JIRAUSER{10100 + index}", "timeZone": rng.choice(ZONES)}


def _sprints(project: str, board: int) -> list[dict[str, Any]]:
    """Two years of two-week sprints: closed ones, the active one, and one future sprint."""
    count = 54
    start = datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0) - timedelta(weeks=2 * (count - 1))
    sprints = []
    for number in range(1, count + 1):
        begin = start + timedelta(weeks=2 * (number - 1))
        state = "closed" if number < count - 1 else ("active" if number == count - 1 else "future")
        sprint = {"id": board * 100 + number, "name": f"{project} Sprint {number}", "state": state, "boardId": board,
                  "goal": "Stabilise auth" if number % 3 else PAYLOADS[0], "startDate": _z(begin),
                  "endDate": _z(begin + timedelta(weeks=2))}
        if state == "closed":
            sprint["completeDate"] = _z(begin + timedelta(weeks=2, hours=2))
        sprints.append(sprint)
    return sprints


def _z(moment: datetime) -> str:
    """Format a UTC instant the way Jira Software does for sprint dates."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def render_issue(item: Item, updated: datetime, body: dict[str, Any], ctx: RenderContext,
                 wanted: set[str] | None) -> dict[str, Any]:
    """Render one issue; wanted=None means all fields, a subset of {id, key} means id-only."""
    issue: dict[str, Any] = {"id": str(item.num)}
    if wanted is not None and wanted <= {"id", "key"}:
        if "key" in wanted:
            issue["key"] = item.ext_id
        return issue
    everything = all_fields(item, updated, body, ctx)
    fields = everything if wanted is None else {k: v for k, v in everything.items() if k in wanted}
    api = f"{ctx.base_url}/rest/api/{ctx.version}"
    return {"expand": EXPAND, "id": str(item.num), "self": f"{api}/issue/{item.num}", "key": item.ext_id,
            "fields": fields}


def all_fields(item: Item, updated: datetime, body: dict[str, Any], ctx: RenderContext) -> dict[str, Any]:
    """Every field of an issue as the API returns it."""
    api = f"{ctx.base_url}/rest/api/{ctx.version}"
    status_id, status_name, category, _ = body["_status"]
    done = category == "done"
    ids = FIELD_IDS[ctx.flavour]
    return {
        "summary": body["summary"], "status": _status(api, status_id, status_name, category),
        "priority": _named(api, "priority", body["_priority"]), "issuetype": _type(api, body["_type"]),
        "assignee": _person(api, body["_assignee"], ctx), "reporter": _person(api, body["_reporter"], ctx),
        "project": _project(api, body["_project"]), "labels": list(body["labels"]),
        "created": jira_format(body["_created"], ctx.zone), "updated": jira_format(updated, ctx.zone),
        "resolutiondate": jira_format(updated, ctx.zone) if done else None,
        "resolution": {"id": "10000", "name": "Done"} if done else None, "duedate": body["duedate"],
        "description": _description(body, ctx.version), ids["sprint"]: _sprint_value(body["_sprints"], ctx.flavour),
        ids["points"]: body["_points"], HELPDESK_FIELD: _helpdesk_field(body, ctx),
    }


def _helpdesk_field(body: dict[str, Any], ctx: RenderContext) -> str | None:
    """The "Helpdesk ticket" text field: the linked ticket's agent URL, when the issue has one."""
    linked = body.get("_helpdesk_field")
    base = dict(ctx.peers).get(linked[0]) if linked else None
    return f"{base}/a/tickets/{linked[1]}" if base else None


def _status(api: str, status_id: str, name: str, category: str) -> dict[str, Any]:
    """A status object with its category (category id is a number)."""
    cat_id, colour, cat_name = CATEGORIES[category]
    return {"self": f"{api}/status/{status_id}", "description": "", "name": name, "id": status_id,
            "statusCategory": {"self": f"{api}/statuscategory/{cat_id}", "id": cat_id, "key": category,
                               "colorName": colour, "name": cat_name}}


def _named(api: str, kind: str, value: tuple[str, str] | None) -> dict[str, Any] | None:
    """A priority-like object {self, id, name}."""
    if value is None:
        return None
    return {"self": f"{api}/{kind}/{value[0]}", "iconUrl": f"{api}/images/{kind}/{value[0]}.svg",
            "name": value[1], "id": value[0]}


def _type(api: str, value: tuple[str, str, bool]) -> dict[str, Any]:
    """An issue type object."""
    return {"self": f"{api}/issuetype/{value[0]}", "id": value[0], "description": "", "name": value[1],
            "subtask": value[2], "hierarchyLevel": -1 if value[2] else 0}


def _project(api: str, value: tuple[str, str, str, int]) -> dict[str, Any]:
    """A project object."""
    return {"self": f"{api}/project/{value[2]}", "id": value[2], "key": value[0], "name": value[1],
            "projectTypeKey": "software", "simplified": False}


def _person(api: str, user: dict[str, Any] | None, ctx: RenderContext) -> dict[str, Any] | None:
    """A user object: accountId on Cloud, name/key on Data Center."""
    if user is None:
        return None
    if ctx.flavour == "dc":
        return {"self": f"{api}/user?username={user['name']}", "name": user["name"], "key": user["key"],
                "emailAddress": user["email"], "displayName": user["displayName"], "active": True,
                "timeZone": user["timeZone"]}
    return {"self": f"{api}/user?accountId={user['accountId']}", "accountId": user["accountId"],
            "accountType": "atlassian", "displayName": user["displayName"], "active": True,
            "timeZone": user["timeZone"], "avatarUrls": {"48x48": f"https://avatars.example/{user['accountId']}.png"}}


def _description(body: dict[str, Any], version: int) -> Any:
    """ADF document on v3, wiki-markup string on v2."""
    text = body["_desc"]
    if text is None:
        return None
    lines = text.split("\n")
    if version == 2:
        link = "\n[details|javascript:alert(1)]" if body["_link"] else ""
        return "h3. Report\n" + "\n".join(lines) + "\n* restart\n* re-login" + link
    content: list[dict[str, Any]] = [{"type": "paragraph", "content": [{"type": "text", "text": line}]}
                                     for line in lines]
    content.append({"type": "bulletList", "content": [
        {"type": "listItem", "content": [{"type": "paragraph", "content": [{"type": "text", "text": step,
                                                                             "marks": [{"type": "strong"}]}]}]}
        for step in ("restart", "re-login")]})
    if body["_link"]:
        content.append({"type": "paragraph", "content": [{"type": "text", "text": "details", "marks": [
            {"type": "link", "attrs": {"href": "javascript:alert(1)"}}]}]})
    return {"type": "doc", "version": 1, "content": content}


def _sprint_value(sprints: list[dict[str, Any]] | None, flavour: str) -> Any:
    """Cloud: array of sprint objects. DC: greenhopper strings."""
    if sprints is None:
        return None
    if flavour == "cloud":
        return [dict(sprint) for sprint in sprints]
    return [f"com.atlassian.greenhopper.service.sprint.Sprint@{1829000 + s['id']}[id={s['id']},"
            f"rapidViewId={s['boardId']},state={s['state'].upper()},name={s['name']},"
            f"startDate={s['startDate']},endDate={s['endDate']},completeDate={s.get('completeDate', '<null>')},"
            f"sequence={s['id']}]" for s in sprints]
