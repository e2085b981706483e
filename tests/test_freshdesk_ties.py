"""Freshdesk pages by updated_at with no tie-break: a second shared by more than a page of tickets is read whole."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tickettracker.connectors import ConfigurationError

from . import simulator_fixtures as fx
from .simulator_fixtures import Recorder, assert_matches_truth, make_settings, sync

app_config, ctx, sim = fx.app_config, fx.ctx, fx.sim  # fixtures used by this module
BIG = {"seed": 7, "sizes": {"freshservice": 10, "freshdesk": 260, "jira": 10}}


def shuffle_ties(vendor: Any, seed: int = 3) -> None:
    """Return tickets with an equal sort key in a different order on every call, by creation as by update time."""
    vendor.set_tie_shuffle(seed)
    vendor.tie_orders = frozenset({"updated_at", "created_at"})


def bulk_update(vendor: Any, count: int, seconds_ago: int = 30, skip: int = 0) -> list[str]:
    """Change count live tickets in one second (a bulk action): new subjects, one shared updated_at."""
    store = vendor.store
    with store.lock:
        moment = store.factory.now() - timedelta(seconds=seconds_ago)
        chosen = [item for item in store.items.values() if item.state == "live"][skip:skip + count]
        for item in chosen:
            item.body = {**item.body, "subject": f"Bulk-edited {item.ext_id}"}
            item.updated = moment
    return [item.ext_id for item in chosen]


def list_orders(vendor: Any) -> list[str]:
    """The order_by of every ticket-list call."""
    return [parse_qs(urlsplit(path).query).get("order_by", ["-"])[0] for _, path, _ in vendor.requests
            if "/api/v2/tickets?" in path]


def test_a_second_shared_by_more_than_a_page_is_read_in_one_wide_page(ctx, sim):
    settings = make_settings(ctx)  # pages of 10
    vendor = sim.vendor("freshdesk")
    sync(settings, "freshdesk")
    shuffle_ties(vendor)
    bulk_update(vendor, 35)
    vendor.reset_counts()
    sync(settings, "freshdesk")
    assert_matches_truth(sim, "freshdesk")
    wide = [path for _, path, _ in vendor.requests if "per_page=100" in path]
    assert wide and set(list_orders(vendor)) == {"updated_at"}


@pytest.mark.parametrize("sim", [BIG], indirect=True)
@pytest.mark.parametrize("page_size", [10, 100])
def test_a_second_shared_by_more_than_100_tickets_is_read_in_creation_order(ctx, sim, page_size):
    settings = make_settings(ctx, sync_page_size=page_size)
    vendor = sim.vendor("freshdesk")
    shuffle_ties(vendor)
    bulk_update(vendor, 150, seconds_ago=3600 * 24)  # before most tickets' last update: a long tail follows it
    recorder = Recorder()
    sync(settings, "freshdesk", recorder, full=True)
    assert_matches_truth(sim, "freshdesk")
    assert "created_at" in list_orders(vendor)
    assert not [m for level, m in recorder.logs if level == "warning"]
    vendor.mutate(5, seed=4, kinds=("update",))
    sync(settings, "freshdesk")
    assert_matches_truth(sim, "freshdesk")


def created_together(vendor: Any, count: int, skip: int) -> None:
    """Tickets imported in one second long ago, each updated later at its own time."""
    store = vendor.store
    with store.lock:
        now = store.factory.now()
        chosen = [item for item in store.items.values() if item.state == "live"][skip:skip + count]
        for minutes, item in enumerate(chosen, 1):
            item.created = now - timedelta(days=400)
            item.body = {**item.body, "subject": f"Imported {item.ext_id}"}
            item.updated = now - timedelta(minutes=minutes)


@pytest.mark.parametrize("sim", [BIG], indirect=True)
def test_tickets_created_in_one_second_do_not_hide_later_updates_from_the_creation_order(ctx, sim):
    vendor = sim.vendor("freshdesk")
    shuffle_ties(vendor)
    bulk_update(vendor, 110, seconds_ago=3600 * 24 * 30)
    created_together(vendor, 130, skip=110)
    recorder = Recorder()
    sync(make_settings(ctx, sync_page_size=100), "freshdesk", recorder, full=True)
    assert_matches_truth(sim, "freshdesk")
    assert "created_at" in list_orders(vendor)
    assert not [m for level, m in recorder.logs if level == "warning"]  # the crowded second itself was read whole


@pytest.mark.parametrize("sim", [BIG], indirect=True)
def test_a_crowded_second_past_the_page_wall_warns_then_fails_clearly(ctx, sim):
    vendor = sim.vendor("freshdesk")
    vendor.page_cap = 2  # the 300-page wall, reached after two pages
    bulk_update(vendor, 250)
    recorder = Recorder()
    with pytest.raises(ConfigurationError) as caught:
        sync(make_settings(ctx, sync_page_size=100), "freshdesk", recorder, full=True)
    assert "300 pages" in str(caught.value) and "SYNC_PAGE_SIZE" in str(caught.value)
    assert any("paged by page number" in m for level, m in recorder.logs if level == "warning")
