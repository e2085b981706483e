"""Jira issues: Cloud /rest/api/3/search/jql (nextPageToken, isLast) or Data Center /rest/api/2/search."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Iterable, Iterator
from urllib.parse import quote

import requests

from tickettracker.connectors.base import (
    Checkpoint,
    ConfigurationError,
    HttpStats,
    Page,
    RunWarnings,
    TicketRecord,
    vendor_address,
)
from tickettracker.connectors.freshworks import copy_state
from tickettracker.connectors.http import HttpPolicy, LogFn, SleepFn, VendorClient, VendorIdentity
from tickettracker.connectors.jira_census import JiraCensusMixin
from tickettracker.connectors.jira_records import (
    BASE_FIELDS,
    DEFAULT_SPRINT_FIELD,
    GREENHOPPER_SPRINT,
    from_ms,
    issue_record,
    ms,
    updated_ms,
)
from tickettracker.connectors.mapping import EPOCH_START, parse_time

FAILED_LOGIN = frozenset({"AUTHENTICATED_FAILED", "AUTHENTICATION_DENIED"})
HELPDESK_FIELD_NAME = re.compile(r"helpdesk|freshservice|freshdesk|service ?desk ticket", re.IGNORECASE)
FETCH_BY_ID = 100  # the most issues a search returns per page with fields requested


@dataclass(frozen=True)
class JiraConfig:
    """Where Jira lives, how to log in and which issues to sync."""

    base_url: str
    token: str
    email: str | None
    flavour: str
    projects: tuple[str, ...]
    jql: str | None
    page_size: int
    overlap: timedelta
    policy: HttpPolicy


@dataclass
class SearchPage:
    """One search response, flavour-neutral: issues, how to continue the same query, total if known.

    status is 200, or an allowed error status whose body is in error (then there are no issues).
    """

    issues: list[dict[str, Any]]
    next_cursor: str | int | None
    total: int | None
    status: int = 200
    error: Any = None


def _links_to_helpdesk(field: dict[str, Any]) -> bool:
    """A text or URL custom field whose name says it holds a helpdesk ticket (the sync reads it for links)."""
    kind = str((field.get("schema") or {}).get("custom") or "")
    named = HELPDESK_FIELD_NAME.search(str(field.get("name") or ""))
    return bool(field.get("custom")) and kind.endswith((":url", ":textfield", ":textarea")) and named is not None


class JiraConnector(JiraCensusMixin):
    """Incremental search by `updated >= <epoch ms> ORDER BY updated ASC, key ASC`, re-issued after every page.

    Each page restarts the query from the newest `updated` read so far (skipping keys already read at that
    exact millisecond), so issues updated while we page cannot shift unread ones out of view; the page token
    (or startAt) is only followed through a run of issues sharing one millisecond. Epoch-ms bounds avoid the
    user-timezone trap of JQL date literals. Deleted issues leave no trace, so `census` lists every id
    (jira_census.py).
    Records are keyed by the numeric issue id: a move to another project (or a renamed project) changes the
    key, never the id.
    """

    source = "jira"
    label = "Jira"

    def __init__(self, config: JiraConfig, stats: HttpStats | None = None, log: LogFn | None = None,
                 sleep: SleepFn | None = None) -> None:
        """Build the client: Basic email:token on Cloud, Bearer personal access token on Data Center."""
        self.config, self.stats = config, stats or HttpStats()
        self.warnings = RunWarnings(log)
        self.cloud = config.flavour != "datacenter"
        self.api = "/rest/api/3" if self.cloud else "/rest/api/2"
        self.sprint_field = DEFAULT_SPRINT_FIELD
        self.link_fields: list[str] = []
        creds = "JIRA_EMAIL and JIRA_API_TOKEN" if self.cloud else "JIRA_API_TOKEN (a personal access token)"
        identity = VendorIdentity(
            label="Jira", url_setting="JIRA_BASE_URL", credential_settings=creds,
            credential_noun="API token" if self.cloud else "personal access token",
            hints={400: "check JIRA_PROJECTS and JIRA_JQL",
                   **({} if self.cloud else {401: "for Jira Cloud set JIRA_FLAVOUR=cloud and JIRA_EMAIL"}),
                   404: "for Jira Data Center or Server set JIRA_FLAVOUR=datacenter",
                   410: "this Jira removed the old search API, so it is Jira Cloud: set JIRA_FLAVOUR=cloud"})
        auth = (config.email or "", config.token) if self.cloud else None
        self.client = VendorClient(identity, config.base_url, config.policy, self.stats, auth=auth,
                                   bearer=None if self.cloud else config.token, log=log, auth_guard=self._guard,
                                   sleep=sleep or time.sleep, window_hint=config.policy.window_seconds)
        if config.jql and "order by" in config.jql.lower():
            raise ConfigurationError("JIRA_JQL must be a filter without ORDER BY (the sync orders by updated)")

    @classmethod
    def from_settings(cls, settings: Any, log: LogFn | None = None, sleep: SleepFn | None = None) -> JiraConnector:
        """Build from Settings."""
        v = settings.vendors
        config = JiraConfig(v.jira_url, v.jira_api_token, v.jira_email, v.jira_flavour, tuple(v.jira_projects),
                            v.jira_jql, settings.sync_page_size, timedelta(seconds=settings.sync_overlap_seconds),
                            HttpPolicy.from_settings(settings))
        return cls(config, log=log, sleep=sleep)

    def close(self) -> None:
        """Release the HTTP session."""
        self.client.close()

    def cursor_scope(self) -> dict[str, Any]:
        """The site, the configured projects and JQL."""
        return {"address": vendor_address(self.config.base_url), "projects": sorted(self.config.projects),
                "jql": self.config.jql or ""}

    def _guard(self, response: requests.Response) -> str | None:
        """Jira answers a bad token with 200 and empty results; the Seraph header gives it away."""
        if response.headers.get("X-Seraph-LoginReason", "").upper() in FAILED_LOGIN:
            hint = self.client.identity.hints.get(401)
            return (f"Jira rejected the credentials (X-Seraph-LoginReason: AUTHENTICATED_FAILED): check "
                    f"{self.client.identity.credential_settings}" + (f"; {hint}" if hint else ""))
        return None

    def pages(self, state: dict[str, Any], watermark: datetime | None, full: bool) -> Iterator[Page]:
        """Check the login, find the sprint field, then page through issues updated since the bookmark."""
        self.client.get(f"{self.api}/myself")
        self.warnings.auxiliary("Jira: reading the field list (to find the sprint field)", self._find_sprint_field,
                                None)
        work = copy_state(state)
        bookmark = parse_time(work.get("since")) or watermark
        since = EPOCH_START if full or bookmark is None else max(EPOCH_START, bookmark - self.config.overlap)
        yield from self._incremental(work, ms(since), bookmark)

    def _find_sprint_field(self) -> None:
        """Use the site's gh-sprint custom field id (it differs between sites), and find the helpdesk link fields."""
        response = self.client.get(f"{self.api}/field", allow=(403, 404))
        fields = [f for f in response.data if isinstance(f, dict)] if isinstance(response.data, list) else []
        for field in fields:
            if (field.get("schema") or {}).get("custom") == GREENHOPPER_SPRINT:
                self.sprint_field = str(field.get("id"))
                break
        self.link_fields = [str(f["id"]) for f in fields if _links_to_helpdesk(f)]

    def _scope(self, tail: str) -> str:
        """Combine the configured scope (projects, JIRA_JQL) with a bounding clause and ordering."""
        parts = []
        if self.config.projects:
            parts.append("project in (" + ", ".join(f'"{p}"' for p in self.config.projects) + ")")
        if self.config.jql:
            parts.append(f"({self.config.jql})")
        return " AND ".join(parts + [tail])

    def _incremental(self, work: dict[str, Any], since_ms: int, bookmark: datetime | None) -> Iterator[Page]:
        """Keyset paging on (updated, key) with a per-page checkpoint of the bookmark (never moved back)."""
        floor = ms(bookmark) if bookmark is not None else 0
        seen: set[str] = set()
        cursor: str | int | None = None
        done = 0
        self.stats.begin_pass("Jira issues updated since the bookmark", f"updated >= {from_ms(since_ms).isoformat()}")
        while True:
            jql = self._scope(f"updated >= {since_ms} ORDER BY updated ASC, key ASC")
            page = self._search(jql, cursor, self._fields(), self.config.page_size)
            self.stats.page(len(page.issues))
            fresh = [i for i in page.issues if not (updated_ms(i) == since_ms and i.get("key") in seen)]
            top = max((m for m in map(updated_ms, page.issues) if m is not None), default=since_ms)
            if top > since_ms:
                since_ms, cursor = top, None
                seen = {str(i.get("key")) for i in page.issues if updated_ms(i) == top}
            else:
                seen |= {str(i.get("key")) for i in page.issues}
                cursor = page.next_cursor
            done += len(fresh)
            mark = from_ms(max(since_ms, floor))
            work["since"] = mark.isoformat()
            yield Page(self._records(fresh), Checkpoint(copy_state(work), mark),
                       label=self._progress(done, page), percent=self._percent(done, page))
            if page.next_cursor is None or (not fresh and cursor is None):
                self.stats.end_pass(f"bookmark {work['since']}")
                return

    def _progress(self, done: int, page: SearchPage) -> str:
        """A progress line; Cloud search gives no total, so say so."""
        if page.total is None:
            return f"{done} issues read (Jira Cloud search gives no total)"
        return f"{done} issues read, about {max(0, page.total - len(page.issues))} more to go"

    @staticmethod
    def _percent(done: int, page: SearchPage) -> int | None:
        """Percent done when the vendor gives a total (Data Center)."""
        if page.total is None:
            return None
        remaining = max(0, page.total - len(page.issues))
        return min(99, int(100 * done / max(1, done + remaining))) if remaining else 100

    def _fields(self) -> list[str]:
        """The fields every record needs (search defaults to ids only), with the helpdesk link fields."""
        return [*BASE_FIELDS, self.sprint_field, *self.link_fields]

    def _records(self, issues: Iterable[dict[str, Any]]) -> list[TicketRecord]:
        """Map issues that carry an id and a key."""
        return [issue_record(issue, self.config.base_url, self.sprint_field) for issue in issues
                if isinstance(issue, dict) and issue.get("key") and str(issue.get("id", "")).isdigit()]

    def _search(self, jql: str, cursor: str | int | None, fields: list[str], size: int,
                allow: tuple[int, ...] = ()) -> SearchPage:
        """One search call in the configured flavour; an allowed error status comes back with no issues."""
        params: dict[str, Any] = {"jql": jql, "maxResults": size, "fields": ",".join(fields)}
        if self.cloud:
            if cursor:
                params["nextPageToken"] = cursor
            found = self._search_call("search/jql", params, allow)
            if isinstance(found, SearchPage):
                return found
            data, issues = found
            token = data.get("nextPageToken")
            last = data.get("isLast", token is None) or not token
            return SearchPage(issues, None if last else str(token), None)
        start = int(cursor or 0)
        params["startAt"] = start
        found = self._search_call("search", params, allow)
        if isinstance(found, SearchPage):
            return found
        data, issues = found
        total = int(data.get("total") or 0)
        more = bool(issues) and start + len(issues) < total
        return SearchPage(issues, start + len(issues) if more else None, total - start)

    def _search_call(self, path: str, params: dict[str, Any], allow: tuple[int, ...]
                     ) -> SearchPage | tuple[dict[str, Any], list[dict[str, Any]]]:
        """GET a search endpoint: its body and the issues in it, or an empty page carrying an allowed error status."""
        response = self.client.get(f"{self.api}/{path}", params, allow=allow)
        if response.status != 200:
            return SearchPage([], None, None, response.status, response.data)
        data = response.data if isinstance(response.data, dict) else {}
        return data, [i for i in data.get("issues") or [] if isinstance(i, dict)]

    def remote_links(self, issue: str) -> list[dict[str, Any]]:
        """The issue's remote links (GET {api}/issue/{idOrKey}/remotelink); none when it is gone or hidden."""
        response = self.client.get(f"{self.api}/issue/{quote(issue, safe='')}/remotelink", allow=(403, 404))
        data = response.data if response.status == 200 else None
        return [link for link in data if isinstance(link, dict)] if isinstance(data, list) else []

    def fetch_ids(self, issue_ids: Iterable[str],
                  batch: int = FETCH_BY_ID) -> Iterator[tuple[list[str], list[TicketRecord]]]:
        """Full records for numeric issue ids, `id in (...)` a batch per search: yields (ids asked, records found).

        Jira answers 400 when a listed id no longer exists ("An issue with key 'X' does not exist for field
        'id'"); the batch is then asked again without the ids the message names, and ids still missing are
        simply not found (the caller confirms them one by one).
        """
        ids = sorted({i for i in issue_ids if str(i).isdigit()}, key=int)
        for start in range(0, len(ids), batch):
            chunk = ids[start:start + batch]
            yield chunk, self._records(self._by_ids(chunk))

    def _by_ids(self, ids: list[str]) -> list[dict[str, Any]]:
        """One `id in (...)` search, retried once without ids the vendor says do not exist."""
        for _ in range(2):
            if not ids:
                return []
            jql = f"id in ({', '.join(ids)}) ORDER BY id ASC"
            params = {"jql": jql, "maxResults": len(ids), "fields": ",".join(self._fields())}
            path = f"{self.api}/search/jql" if self.cloud else f"{self.api}/search"
            response = self.client.get(path, params, allow=(400,))
            if response.status == 200 and isinstance(response.data, dict):
                return [i for i in response.data.get("issues") or [] if isinstance(i, dict)]
            named = set(re.findall(r"'(\d+)'", str(response.data)))
            ids = [i for i in ids if i not in named] if named else []
        return []

    def issue(self, issue: str) -> dict[str, Any] | None:
        """One issue with every field the sync needs, or None when it no longer exists (404)."""
        response = self._get_issue(issue)
        return response.data if response.status == 200 and isinstance(response.data, dict) else None

    def record(self, issue: dict[str, Any]) -> TicketRecord | None:
        """Map one issue JSON to a record (None without a key)."""
        found = self._records([issue])
        return found[0] if found else None
