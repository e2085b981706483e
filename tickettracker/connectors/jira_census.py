"""Jira deletions leave no trace: an id-only census, re-fetches by id, and a direct look-up of each missing id.

The census never names an issue it has not just seen: Jira answers an `id`/`key` comparison with an issue that
does not exist (`id > 0`, or an issue deleted meanwhile) with 400. Cloud pages the census with nextPageToken from
a first page without any id bound; Data Center continues after the last id of each page it was given.
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator, Mapping
from urllib.parse import quote

from tickettracker.connectors.base import HttpStats, Recheck, SyncError, TicketRecord
from tickettracker.connectors.http import VendorResponse, clean_text
from tickettracker.core.vendor_costs import CENSUS_PAGE

CENSUS_FIELDS = ["id", "key"]
FETCH_CHUNK = 50
PROJECTS_PAGE = 50
BOUND = "created >= 0"  # a restriction that names no issue, so the first census page is a bounded query


class CensusRefused(SyncError):
    """Jira refused an auxiliary query of the census; the census is tried again next run."""


class JiraCensusMixin:
    """The census half of JiraConnector, which provides client, _scope, _search, _fields, _records,
    fetch_ids, issue and record."""

    cloud: bool
    api: str
    client: Any
    stats: HttpStats

    def counts(self, projects: Iterable[str]) -> dict[str, int]:
        """How many issues each project holds within the configured scope, as Jira estimates it.

        Cloud: POST /rest/api/3/search/approximate-count (approximate by Jira's own account); Data Center: the
        `total` of a search asking for no issue. With no project given, one count covers the whole scope ("*").
        """
        names = list(projects)
        clauses = {name: f'project = "{name}"' for name in names} or {"*": BOUND}
        return {name: self._count(self._scope(clause)) for name, clause in clauses.items()}

    def _count(self, jql: str) -> int:
        """One count query; a refusal raises CensusRefused (the audit warns and tries again next run)."""
        if self.cloud:
            response = self.client.post(f"{self.api}/search/approximate-count", {"jql": jql}, allow=(400, 403, 404))
            data = response.data if isinstance(response.data, dict) else {}
            value = data.get("count")
        else:
            response = self.client.get(f"{self.api}/search", {"jql": jql, "maxResults": 0, "fields": "id"},
                                       allow=(400, 403, 404))
            data = response.data if isinstance(response.data, dict) else {}
            value = data.get("total")
        if response.status != 200 or not isinstance(value, int):
            raise refused("the issue count query", response.status, response.data)
        return value

    def budget_per_minute(self) -> int | None:
        """Jira's request budget per minute as its last response announced it (None: Jira Cloud publishes none)."""
        return self.client.pacer.total

    def census(self) -> set[str]:
        """Every issue id in scope now."""
        self.stats.begin_pass("Jira census (ids only)", "every issue in scope")
        ids = self._cloud_census() if self.cloud else self._keyset_census()
        self.stats.end_pass(f"{len(ids)} issues listed")
        return ids

    def _census_page(self, jql: str, cursor: str | None, size: int) -> Any:
        """One id-only page; a refusal is the census's own error, without the main search's setting hints."""
        page = self._search(jql, cursor, CENSUS_FIELDS, size, allow=(400, 403, 404))
        if page.status != 200:
            raise refused("the id-only census query", page.status, page.error)
        return page

    def _cloud_census(self) -> set[str]:
        """Follow nextPageToken from a first page without an id bound until isLast."""
        ids: set[str] = set()
        jql, cursor = self._scope(f"{BOUND} ORDER BY id ASC"), None
        while True:
            page = self._census_page(jql, cursor, CENSUS_PAGE["cloud"])
            self.stats.page(len(page.issues))
            ids.update(_ids(page.issues))
            cursor = page.next_cursor
            if cursor is None or not page.issues:
                return ids

    def _keyset_census(self) -> set[str]:
        """Data Center: continue after the highest id each page returned (whatever size the server chose)."""
        ids: set[str] = set()
        jql = self._scope(f"{BOUND} ORDER BY id ASC")
        while True:
            page = self._census_page(jql, None, CENSUS_PAGE["datacenter"])
            found = _ids(page.issues)
            self.stats.page(len(found))
            ids.update(found)
            if page.next_cursor is None or not found:
                return ids
            jql = self._scope(f"id > {max(found, key=int)} ORDER BY id ASC")

    def fetch(self, external_ids: Iterable[str]) -> Iterator[list[TicketRecord]]:
        """Full records for the given issue ids, a batch per search; ids a batch did not return are read one by
        one (gone or hidden ones are left out)."""
        for asked, records in self.fetch_ids(external_ids, FETCH_CHUNK):
            returned = {record.external_id for record in records}
            missed = [self._issue_record(issue_id) for issue_id in asked if issue_id not in returned]
            yield records + [record for record in missed if record is not None]

    def _issue_record(self, issue_id: str) -> TicketRecord | None:
        """One issue by GET, or None when it is gone or hidden."""
        issue = self.issue(issue_id)
        return self.record(issue) if issue else None

    def _get_issue(self, issue: str) -> VendorResponse:
        """GET /issue/{idOrKey} with the record's fields; 403 and 404 are answers, not errors."""
        return self.client.get(f"{self.api}/issue/{quote(issue, safe='')}", {"fields": ",".join(self._fields())},
                               allow=(403, 404))

    def recheck(self, missing: Mapping[str, str | None], look_up: bool = True) -> Iterator[Recheck]:
        """Say what became of each id the census no longer lists (missing maps id → cached project id or key).

        An issue whose project is gone from the visible projects is no longer visible, without a call; the others
        are read one by one (unless look_up is False: then they are left as they are).
        """
        if not missing:
            return
        visible = self._visible_projects()
        for issue_id, project in missing.items():
            if project is not None and project not in visible:
                yield Recheck(issue_id, "not_visible")
                continue
            if not look_up:
                continue
            response = self._get_issue(issue_id)
            if response.status == 404:
                yield Recheck(issue_id, "deleted")
            elif response.status == 403:
                yield Recheck(issue_id, "not_visible")
            else:
                yield self._in_scope(issue_id, response.data)

    def _in_scope(self, issue_id: str, issue: Any) -> Recheck:
        """An issue that exists: live if the configured scope still finds it, else out of scope."""
        records = self._records([issue]) if isinstance(issue, dict) else []
        page = self._search(self._scope(f"id = {issue_id} ORDER BY id ASC"), None, CENSUS_FIELDS, 1,
                            allow=(400,))
        if page.status == 200 and str(issue_id) in _ids(page.issues):
            return Recheck(issue_id, "live", records[0] if records else None)
        return Recheck(issue_id, "out_of_scope")

    def _visible_projects(self) -> set[str]:
        """Ids and keys of every project the account can browse now."""
        if not self.cloud:
            return _project_names(self._project_call(f"{self.api}/project", {}).data)
        names: set[str] = set()
        start = 0
        while True:
            data = self._project_call(f"{self.api}/project/search", {"startAt": start,
                                                                     "maxResults": PROJECTS_PAGE}).data
            values = data.get("values") if isinstance(data, dict) else None
            names |= _project_names(values)
            if not values or data.get("isLast", True):
                return names
            start += len(values)

    def _project_call(self, path: str, params: dict[str, Any]) -> VendorResponse:
        """One visible-projects call; without the list, a missing issue cannot be told deleted or hidden."""
        response = self.client.get(path, params, allow=(400, 403, 404))
        if response.status != 200:
            raise refused(f"the visible-projects list {path}", response.status, response.data)
        return response


def refused(what: str, status: int, body: Any) -> CensusRefused:
    """The error for a refused census call, quoting Jira's own reason."""
    said = error_text(body).rstrip(".")
    return CensusRefused(f"Jira refused {what} (HTTP {status}){': ' + said if said else ''}.")


def error_text(data: Any) -> str:
    """Jira's own error text from an error body ({"errorMessages": [...], "errors": {...}}), whole: the sync redacts
    it before cutting it."""
    if not isinstance(data, dict):
        return ""
    errors = data.get("errors") if isinstance(data.get("errors"), dict) else {}
    return clean_text("; ".join([str(m) for m in data.get("errorMessages") or []] + [str(v) for v in errors.values()]),
                      None)


def _ids(issues: Iterable[dict[str, Any]]) -> list[str]:
    """The numeric ids of search results."""
    return [str(issue["id"]) for issue in issues if str(issue.get("id", "")).isdigit()]


def _project_names(values: Any) -> set[str]:
    """Ids and keys of a list of project objects."""
    names: set[str] = set()
    for project in values if isinstance(values, list) else []:
        if isinstance(project, dict):
            names |= {str(project[k]) for k in ("id", "key") if project.get(k) is not None}
    return names

