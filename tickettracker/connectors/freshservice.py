"""Freshservice v2 tickets: per workspace, sorted by created_at, watermark moved only after a whole round."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Iterator

from tickettracker.connectors.base import Checkpoint, HttpStats, Page, RunWarnings, SyncError
from tickettracker.connectors.freshworks import (
    Directory,
    FreshworksConfig,
    FreshworksConnectorBase,
    copy_state,
    list_params,
    make_client,
    max_updated,
    min_bookmark,
    server_time,
    start_point,
    ticket_record,
)
from tickettracker.connectors.fw_search import any_of
from tickettracker.connectors.http import HttpPolicy, LogFn, SleepFn, VendorResponse
from tickettracker.connectors.mapping import fw_time, parse_time
from tickettracker.core.vendor_costs import LIST_INCLUDES

PASSES = (("open", None), ("deleted", "deleted"), ("spam", "spam"))
ALL_WORKSPACES = "0"  # workspace_id=0: every workspace the key can read
INCLUDE = LIST_INCLUDES["freshservice"]


def _tickets(response: VendorResponse) -> list[dict[str, Any]]:
    """The tickets of a list response (an empty list for an unexpected body)."""
    data = response.data
    tickets = data.get("tickets") if isinstance(data, dict) else None
    return [item for item in tickets if isinstance(item, dict)] if isinstance(tickets, list) else []


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    """The later of two optional instants."""
    return b if a is None else a if b is None else max(a, b)


class FreshserviceConnector(FreshworksConnectorBase):
    """Rounds of three passes (open, deleted, spam) per workspace.

    Freshservice cannot sort by updated_at, so a pass reads every ticket updated since the bookmark in
    created_at order and its bookmark can only move once the round is over: to the newest updated_at seen,
    but never past the moment the pass began (later updates may sit on pages already read). If tickets left
    the open list while it was being paged (they show up in the deleted/spam passes), unread tickets may have
    shifted onto pages already read, so the open bookmark stays where it was and the next run reads again (for one
    round at most: see _settle). A ticket that left is known by its id (the open pass read it, the deleted or spam
    pass lists it), since deletion and spam need not move updated_at; the deleted and spam passes therefore start
    no later than the open pass, so every ticket the open pass could have read is in their window.
    Progress inside a round is kept in the cursor state, so an interrupted round resumes where it stopped.
    """

    status_path = "/api/v2/ticket_form_fields"
    search_path = "/api/v2/tickets/filter"
    search_envelope = "tickets"
    source = "freshservice"
    label = "Freshservice"

    def __init__(self, config: FreshworksConfig, workspaces: tuple[str, ...] = (), stats: HttpStats | None = None,
                 log: LogFn | None = None, sleep: SleepFn | None = None) -> None:
        """Keep the config and build the HTTP client."""
        self.config, self.workspaces = config, workspaces
        self.stats = stats or HttpStats()
        self.statuses: dict[int, str] = {}
        self.directory: Directory | None = None
        self.warnings = RunWarnings(log)
        self.client = make_client(self.label, "FRESHSERVICE", config, self.stats, log, sleep)
        self.read_open: dict[str, set[str]] = {}  # per open-pass key: ids read in this process (whole pass only)

    @classmethod
    def from_settings(cls, settings: Any, log: LogFn | None = None,
                      sleep: SleepFn | None = None) -> FreshserviceConnector:
        """Build from Settings."""
        vendors = settings.vendors
        config = FreshworksConfig(vendors.freshservice_url, vendors.freshservice_api_key, settings.sync_page_size,
                                  timedelta(seconds=settings.sync_overlap_seconds), HttpPolicy.from_settings(settings))
        return cls(config, tuple(vendors.freshservice_workspaces), log=log, sleep=sleep)

    def cursor_scope(self) -> dict[str, Any]:
        """The helpdesk address and the configured workspaces (none configured: every workspace listed)."""
        return {**super().cursor_scope(), "workspaces": sorted(self.workspaces)}

    def search_scope(self) -> str:
        """The configured workspaces (none configured: every workspace the key can read)."""
        return any_of("workspace_id", list(self.workspaces))

    def pages(self, state: dict[str, Any], watermark: datetime | None, full: bool) -> Iterator[Page]:
        """Yield the pages of every workspace's round."""
        self.statuses = self._status_names()
        self.directory = None  # re-read once per run: agents and groups change between runs
        work = copy_state(state)
        work.setdefault("bookmarks", {})
        if full or not isinstance(work.get("round"), dict):
            work["round"] = {}
        fallback = None if work["bookmarks"] or work["round"] else watermark  # passes with no bookmark never ran
        for workspace in self._workspace_ids():
            yield from self._round(work, workspace, fallback, full)

    def _workspace_ids(self) -> list[str | None]:
        """Configured workspaces, else every workspace the API lists, else none (accounts without workspaces).

        A key without admin rights may not list workspaces (403/404): then one pass over workspace_id=0 reads every
        workspace the key can see (only global custom fields come back), and the run says so.
        """
        if self.workspaces:
            return list(self.workspaces)
        try:
            response = self.client.get("/api/v2/workspaces", allow=(403, 404))
            refused = f"HTTP {response.status}" if response.status != 200 else None
        except SyncError as error:
            response, refused = None, str(error).rstrip(".")
        if refused:
            self.warnings(f"Freshservice did not list the workspaces ({refused}); the API key probably lacks admin "
                          "rights. Syncing every workspace the key can read at once (workspace_id=0), without "
                          "workspace-only custom fields; set FRESHSERVICE_WORKSPACES to list them instead.")
            return [ALL_WORKSPACES]
        found = (response.data or {}).get("workspaces") if response is not None else None
        ids = [str(ws["id"]) for ws in found or [] if isinstance(ws, dict) and "id" in ws]
        return list(ids) or [None]

    def _round(self, work: dict[str, Any], workspace: str | None, watermark: datetime | None,
               full: bool) -> Iterator[Page]:
        """Run (or resume) the three passes of one workspace, then settle their bookmarks."""
        rounds, bookmarks = work["round"], work["bookmarks"]
        prefix = f"{workspace or '-'}:"
        open_since = start_point(bookmarks.get(prefix + "open"), watermark, self.config.overlap, full)
        for name, filter_name in PASSES:
            key = prefix + name
            # deleted/spam start no later than the open pass: they list every ticket it could have read
            since = min(start_point(bookmarks.get(key), watermark, self.config.overlap, full), open_since)
            progress = rounds.setdefault(key, {"since": fw_time(since), "page": 1, "max": None,
                                               "started": None, "ended": None, "removed": 0})
            yield from self._pass(work, workspace, name, filter_name, progress)
        self._settle(work, workspace)
        yield Page([], Checkpoint(copy_state(work), min_bookmark(bookmarks)),
                   label=f"{self._where(workspace)}round complete")

    def _pass(self, work: dict[str, Any], workspace: str | None, name: str, filter_name: str | None,
              progress: dict[str, Any]) -> Iterator[Page]:
        """Page through one filter of one workspace, recording progress with every page."""
        open_key = f"{workspace or '-'}:open"
        opened = work["round"].get(open_key, {})
        size = progress.setdefault("per_page", self.config.page_size)  # a resumed pass keeps its page size
        if filter_name is None:
            if progress["page"] == 1:
                self.read_open[open_key] = set()
            else:  # resumed: the pages read before the interruption are not known here
                self.read_open.pop(open_key, None)
        self.stats.begin_pass(f"Freshservice {self._where(workspace)}{name} tickets",
                              f"updated_since {progress['since']}, page {progress['page']}")
        while progress["page"] is not None:
            page_no = progress["page"]
            params = list_params(parse_time(progress["since"]), page_no, size,
                                 workspace_id=workspace, filter=filter_name, order_type="asc", include=INCLUDE)
            response = self.client.get("/api/v2/tickets", params)
            now = server_time(response)
            progress["started"] = progress["started"] or fw_time(now)
            progress["ended"] = fw_time(now)
            items = _tickets(response)
            self.stats.page(len(items))
            top = _later(parse_time(progress["max"]), max_updated(items))
            progress["max"] = fw_time(top) if top else None
            if filter_name is None and open_key in self.read_open:
                self.read_open[open_key].update(str(item["id"]) for item in items if "id" in item)
            if filter_name is not None:
                progress["removed"] += self._removed_during(items, opened, self.read_open.get(open_key))
            progress["page"] = page_no + 1 if items and "next" in response.links else None
            directory = self._directory() if items else None
            records = [ticket_record(item, self.source, self.config.base_url, deleted=filter_name == "deleted",
                                     spam=filter_name == "spam", statuses=self.statuses,
                                     directory=directory)
                       for item in items if "id" in item]
            yield Page(records, Checkpoint(copy_state(work), min_bookmark(work["bookmarks"])),
                       label=f"{self._where(workspace)}{name} tickets, page {page_no} (Freshservice gives no total)")
        self.stats.end_pass(f"newest update {progress['max'] or 'none seen'} (the bookmark moves when the round ends)")

    @staticmethod
    def _removed_during(items: list[dict[str, Any]], opened: dict[str, Any], read: set[str] | None) -> int:
        """Count deleted/spam tickets that may have left the open list after the open pass had paged past them.

        Read as open by this round's open pass (read: its ids, when the whole pass ran in this process), or
        updated while the pass was paging (deletion and spam that do move updated_at).
        """
        start, end = parse_time(opened.get("started")), parse_time(opened.get("ended"))
        count = 0
        for item in items:
            moment = parse_time(item.get("updated_at"))
            during = start is not None and end is not None and moment is not None and start <= moment <= end
            if during or (read is not None and str(item.get("id")) in read):
                count += 1
        return count

    def _settle(self, work: dict[str, Any], workspace: str | None) -> None:
        """Move the bookmarks of a finished round and forget its progress.

        An open pass that saw tickets leave the list is held back, but never by more than one round: its bookmark
        then moves to where the previous held-back round would have moved it (that round's window was read again
        in full by this one), so spam arriving every run cannot make every run re-read a growing window.
        """
        rounds, bookmarks, held = work["round"], work["bookmarks"], work.setdefault("held", {})
        prefix = f"{workspace or '-'}:"
        removed = sum(rounds[prefix + name]["removed"] for name, _ in PASSES)
        for name, _ in PASSES:
            key, progress = prefix + name, rounds.pop(prefix + name)
            started = parse_time(progress["started"])
            seen = parse_time(progress["max"]) or started
            candidate = min(seen, started) if seen and started else seen
            if name == "open" and removed:
                hold = parse_time(held.get(key))
                held[key] = fw_time(candidate) if candidate else None
                candidate = hold
            elif name == "open":
                held.pop(key, None)
            moved = _later(parse_time(bookmarks.get(key)), candidate)
            if moved is not None:
                bookmarks[key] = fw_time(moved)

    @staticmethod
    def _where(workspace: str | None) -> str:
        """A progress prefix naming the workspace."""
        if workspace == ALL_WORKSPACES:
            return "all readable workspaces: "
        return f"workspace {workspace}: " if workspace else ""
