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
    start_point,
    ticket_record,
)
from tickettracker.connectors.http import HttpPolicy, LogFn, SleepFn, VendorResponse, clean_text
from tickettracker.connectors.mapping import fw_time, parse_time

PASSES = (("open", None, "open tickets"), ("deleted", "deleted", "deleted tickets"), ("spam", "spam", "spam"))
INCLUDE = "description,requester,stats"
PAGE_WALL = "beyond the 300th page"


class FreshdeskConnector(FreshworksConnectorBase):
    """Three passes (open, deleted, spam), each with its own bookmark in the cursor state.

    Every page restarts the query at page 1 with updated_since = the newest updated_at read so far, so items
    that move while we page (updates push them to the end) cannot shift unread items out of view, and the
    300-page wall is never reached; only a run of more than a page of tickets sharing one second pages on.
    """

    status_path = "/api/v2/ticket_fields"
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
        """Read one filter from since until the vendor has no next page."""
        bookmarks, page_no, count = work["bookmarks"], 1, 0
        while True:
            response = self._list(filter_name, since, page_no)
            items = [item for item in response.data if isinstance(item, dict)] \
                if isinstance(response.data, list) else []
            count += 1
            top = max_updated(items)
            since, page_no = (top, 1) if top is not None and top > since else (since, page_no + 1)
            previous = parse_time(bookmarks.get(name))
            if previous is None or since > previous:
                bookmarks[name] = fw_time(since)
            directory = self._directory() if items else None
            records = [ticket_record(item, self.source, self.config.base_url, deleted=filter_name == "deleted",
                                     spam=filter_name == "spam", statuses=self.statuses,
                                     directory=directory)
                       for item in items if "id" in item]
            yield Page(records, Checkpoint(copy_state(work), min_bookmark(bookmarks)),
                       label=f"{label}, request {count} (Freshdesk gives no total)")
            if not items or "next" not in response.links:
                return

    def _list(self, filter_name: str | None, since: datetime, page_no: int) -> VendorResponse:
        """One list call; the 300-page wall becomes a clear error (it needs >30,000 tickets in one second)."""
        params = list_params(since, page_no, self.config.page_size, filter=filter_name, order_by="updated_at",
                             order_type="asc", include=INCLUDE)
        response = self.client.get("/api/v2/tickets", params, allow=(400,))
        if response.status == 400:
            said = clean_text(response.data) if response.data is not None else ""
            if PAGE_WALL in said:
                raise ConfigurationError(
                    f"Freshdesk will not page past 300 pages and more than {300 * self.config.page_size} tickets "
                    f"share the updated_at {fw_time(since)}; raise SYNC_PAGE_SIZE to 100 and retry",
                    source=self.source)
            raise ConfigurationError(f"Freshdesk rejected the ticket list request (400): {said}; check "
                                     f"FRESHDESK_BASE_URL and SYNC_PAGE_SIZE", source=self.source)
        return response
