"""Freshdesk v2 tickets: updated_at ascending, restarted from the last updated_at after every page."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Iterator

from tickettracker.connectors.base import Checkpoint, ConfigurationError, HttpStats, Page, RunWarnings
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
from tickettracker.connectors.http import HttpPolicy, LogFn, SleepFn, VendorResponse, clean_text
from tickettracker.connectors.mapping import fw_time, parse_time
from tickettracker.core.vendor_costs import LIST_INCLUDES

PASSES = (("open", None, "open tickets"), ("deleted", "deleted", "deleted tickets"), ("spam", "spam", "spam"))
INCLUDE = LIST_INCLUDES["freshdesk"]
PAGE_WALL = "beyond the 300th page"
WALL_PAGES = 300
WIDE_PAGE = 100  # the largest page Freshdesk gives


class FreshdeskConnector(FreshworksConnectorBase):
    """Three passes (open, deleted, spam), each with its own bookmark in the cursor state.

    Every page restarts the query at page 1 with updated_since = the newest updated_at read so far, so items
    that move while we page (updates push them to the end) cannot shift unread items out of view, and the
    300-page wall is never reached; only a run of more than a page of tickets sharing one second pages on.
    """

    status_path = "/api/v2/ticket_fields"
    search_path = "/api/v2/search/tickets"
    archive_path = "/api/v2/tickets/archived"
    search_envelope = "results"
    source = "freshdesk"
    label = "Freshdesk"

    def __init__(self, config: FreshworksConfig, stats: HttpStats | None = None, log: LogFn | None = None,
                 sleep: SleepFn | None = None) -> None:
        """Keep the config and build the HTTP client."""
        self.config = config
        self.stats = stats or HttpStats()
        self.statuses: dict[int, str] = {}
        self.directory: Directory | None = None
        self.warnings = RunWarnings(log)
        self.client = make_client(self.label, "FRESHDESK", config, self.stats, log, sleep)

    @classmethod
    def from_settings(cls, settings: Any, log: LogFn | None = None, sleep: SleepFn | None = None) -> FreshdeskConnector:
        """Build from Settings."""
        vendors = settings.vendors
        config = FreshworksConfig(vendors.freshdesk_url, vendors.freshdesk_api_key, settings.sync_page_size,
                                  timedelta(seconds=settings.sync_overlap_seconds), HttpPolicy.from_settings(settings))
        return cls(config, log=log, sleep=sleep)

    def pages(self, state: dict[str, Any], watermark: datetime | None, full: bool) -> Iterator[Page]:
        """Yield every pass's pages; each checkpoint carries the whole updated state."""
        self.statuses = self._status_names()
        self.directory = None  # re-read once per run: agents and groups change between runs
        work = copy_state(state)
        bookmarks = work.setdefault("bookmarks", {})
        fallback = None if bookmarks else watermark  # a pass without its own bookmark has not run yet
        for name, filter_name, label in PASSES:
            since = start_point(bookmarks.get(name), fallback, self.config.overlap, full)
            yield from self._pass(work, name, filter_name, label, since)

    def _pass(self, work: dict[str, Any], name: str, filter_name: str | None, label: str,
              since: datetime) -> Iterator[Page]:
        """Read one filter as a counted pass, from since to the bookmark it leaves."""
        self.stats.begin_pass(f"Freshdesk {label}", f"updated_since {fw_time(since)}")
        yield from self._read_pass(work, name, filter_name, label, since)
        self.stats.end_pass(f"bookmark {work['bookmarks'].get(name)}")

    def _read_pass(self, work: dict[str, Any], name: str, filter_name: str | None, label: str,
                   since: datetime) -> Iterator[Page]:
        """Read one filter from since until the vendor has no next page.

        Freshdesk orders tickets sharing an updated_at second differently on every call, so a second shared by more
        than a page of tickets is never paged by page number: it is read again in one page of 100, and when even
        that is all one second, everything updated since then is read in created_at order (_tie_run).
        """
        page_no, size, count, walled = 1, self.config.page_size, 0, False
        while True:
            response = self._list(filter_name, since, page_no, size)
            items, count = _items(response), count + 1
            top, more = max_updated(items), bool(items) and "next" in response.links
            tied = more and page_no == 1 and not (top is not None and top > since)
            if top is not None and top > since:
                since, page_no, size = top, 1, self.config.page_size
            elif tied and size < WIDE_PAGE:
                size = WIDE_PAGE  # the whole second may fit in one page of 100, whatever order it comes in
            elif more and not tied:
                page_no += 1  # only after a tie run ran into the 300-page wall
            yield self._page(work, name, filter_name, since, items, f"{label}, request {count}")
            if tied and size == WIDE_PAGE and len(items) >= WIDE_PAGE:
                resume = None if walled else (yield from self._tie_run(work, name, filter_name, label, since))
                walled = walled or resume is None
                since, page_no, size = (resume, 1, self.config.page_size) if resume else (since, 2, WIDE_PAGE)
            elif not more:
                return

    def _tie_run(self, work: dict[str, Any], name: str, filter_name: str | None, label: str,
                 since: datetime) -> Iterator[Page]:
        """Read everything updated since a crowded second in created_at order; return where to go on from.

        Updates do not move a ticket in created_at order, so every ticket of that second is read, unless tickets
        created in one second straddle a page boundary (that order has no tie-break either): then the pass goes on
        right after the crowded second, reading the rest again in updated_at order, and warns if tickets of the
        crowded second were among them. Otherwise it goes on from the moment this began (or the newest update seen,
        if earlier). Returns None when Freshdesk's 300-page wall stops it (the pass then pages that second by
        number, and says so).
        """
        started, newest, page_no, straddled, previous = None, since, 1, False, None
        while True:
            response = self._list(filter_name, since, page_no, WIDE_PAGE, order_by="created_at")
            if response is None:
                self.warnings(f"Freshdesk: more than {WALL_PAGES * WIDE_PAGE:,} tickets were updated since "
                              f"{fw_time(since)}, a second shared by over {WIDE_PAGE} tickets; that second is paged "
                              "by page number, which Freshdesk does not keep in order, so a few of its tickets may "
                              "be missed until a full sync")
                return None
            started, items = started or server_time(response), _items(response)
            newest = max(newest, max_updated(items) or newest)
            straddled = self._straddles(previous, items, since) or straddled
            previous = items[-1] if items else previous
            yield self._page(work, name, filter_name, since, items,
                             f"{label} updated since {fw_time(since)} by creation time, page {page_no}")
            if not items or "next" not in response.links:
                after = since + timedelta(seconds=1)
                return after if straddled else max(after, min(started, newest))
            page_no += 1

    def _straddles(self, previous: dict[str, Any] | None, items: list[dict[str, Any]], since: datetime) -> bool:
        """Whether tickets created in one second straddle the page boundary before items (warn if they are of
        the crowded second itself: nothing can read those in a reliable order)."""
        if previous is None or not items or _created(items[0]) != _created(previous):
            return False
        if since in (parse_time(previous.get("updated_at")), parse_time(items[0].get("updated_at"))):
            self.warnings(f"Freshdesk: tickets created in one second and updated in {fw_time(since)} are more than "
                          "a page; a few of them may be missed until a full sync")
        return True

    def _page(self, work: dict[str, Any], name: str, filter_name: str | None, since: datetime,
              items: list[dict[str, Any]], label: str) -> Page:
        """Map a page's tickets and checkpoint the pass's bookmark at since (it never moves back)."""
        bookmarks = work["bookmarks"]
        self.stats.page(len(items))
        previous = parse_time(bookmarks.get(name))
        if previous is None or since > previous:
            bookmarks[name] = fw_time(since)
        directory = self._directory() if items else None
        records = [ticket_record(item, self.source, self.config.base_url, deleted=filter_name == "deleted",
                                 spam=filter_name == "spam", statuses=self.statuses, directory=directory)
                   for item in items if "id" in item]
        return Page(records, Checkpoint(copy_state(work), min_bookmark(bookmarks)),
                    label=f"{label} (Freshdesk gives no total)")

    def _list(self, filter_name: str | None, since: datetime, page_no: int, per_page: int,
              order_by: str = "updated_at") -> VendorResponse | None:
        """One list call; the 300-page wall gives None in created_at order, else a clear error."""
        params = list_params(since, page_no, per_page, filter=filter_name, order_by=order_by,
                             order_type="asc", include=INCLUDE)
        response = self.client.get("/api/v2/tickets", params, allow=(400,))
        if response.status == 400:
            said = self.client.redactor(clean_text(response.data, None), 200) if response.data is not None else ""
            if PAGE_WALL in said and order_by == "created_at":
                return None
            if PAGE_WALL in said:
                raise ConfigurationError(
                    f"Freshdesk will not page past 300 pages and more than {WALL_PAGES * per_page} tickets "
                    f"share the updated_at {fw_time(since)}; raise SYNC_PAGE_SIZE to 100 and retry",
                    source=self.source)
            raise ConfigurationError(f"Freshdesk rejected the ticket list request (400): {said}; check "
                                     f"FRESHDESK_BASE_URL and SYNC_PAGE_SIZE", source=self.source)
        return response


def _created(item: dict[str, Any]) -> datetime | None:
    """A ticket's created_at."""
    return parse_time(item.get("created_at"))


def _items(response: VendorResponse) -> list[dict[str, Any]]:
    """The tickets of a list response (Freshdesk answers a bare array)."""
    data = response.data
    return [item for item in data if isinstance(item, dict)] if isinstance(data, list) else []
