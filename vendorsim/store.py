"""Thread-safe in-memory items for one vendor, with mutations and the ground truth."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Iterable, Protocol

KNOWN_KINDS = frozenset({"update", "create", "delete", "spam", "archive", "restore"})
DEFAULT_KINDS = ("update", "create", "delete", "spam")


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What a lagging search index still shows for an item."""

    updated: datetime
    body: dict[str, Any]


@dataclass(slots=True, eq=False)
class Item:
    """One ticket or issue; body holds API fields, private keys start with '_'."""

    ext_id: str
    num: int
    group: Any
    created: datetime
    updated: datetime
    body: dict[str, Any]
    state: str = "live"  # live | deleted | spam | archived | gone
    visible_at: datetime | None = None
    stale: Snapshot | None = None


class Factory(Protocol):
    """Vendor-specific item construction and change rules."""

    kinds: frozenset[str]
    delete_state: str

    def now(self) -> datetime:
        """Return now at the vendor's timestamp precision."""

    def create(self, rng: random.Random, num: int, now: datetime) -> Item:
        """Build a brand-new item."""

    def update(self, item: Item, rng: random.Random) -> None:
        """Change some fields of item.body in place."""

    def sync_flags(self, item: Item) -> None:
        """Mirror item.state into body flags such as deleted/spam."""


class Store:
    """All items of one vendor behind one lock."""

    def __init__(self, factory: Factory, items: Iterable[Item], seed: int) -> None:
        """Hold the generated items and a private random stream for mutations."""
        self.lock = threading.RLock()
        self.factory = factory
        self.items: dict[str, Item] = {item.ext_id: item for item in items}
        self.order: list[str] = list(self.items)
        self.next_num = max((item.num for item in self.items.values()), default=0) + 1
        self.rng = random.Random(seed * 7919 + 17)
        self.bump_on_delete = True
        self.consistency_delay = 0.0

    def get(self, ext_id: str) -> Item | None:
        """Return an item by external id, whatever its state."""
        return self.items.get(ext_id)

    def ids_in(self, *states: str) -> set[str]:
        """Return the external ids of items in any of the given states."""
        with self.lock:
            return {item.ext_id for item in self.items.values() if item.state in states}

    def mutate(self, n: int, seed: int | None = None, kinds: Iterable[str] = DEFAULT_KINDS) -> list[str]:
        """Apply n random changes now and return the changed external ids."""
        kinds = tuple(kinds)
        unknown = set(kinds) - KNOWN_KINDS
        if unknown:
            raise ValueError(f"unknown mutation kinds: {sorted(unknown)}")
        usable = [kind for kind in kinds if kind in self.factory.kinds]
        if not usable:
            raise ValueError(f"none of {list(kinds)} apply here; use {sorted(self.factory.kinds)}")
        rng = random.Random(seed) if seed is not None else self.rng
        with self.lock:
            return [self._apply(rng.choice(usable), rng) for _ in range(n)]

    def set_state(self, ext_id: str, state: str) -> bool:
        """Move one item to a state (API delete/restore); False when it does not exist."""
        with self.lock:
            item = self.items.get(ext_id)
            if item is None or item.state in ("gone", "archived"):
                return False
            self._move(item, state)
            return True

    def edit(self, ext_id: str, changes: dict[str, Any]) -> bool:
        """Set body fields of one live item and bump its updated time, like an agent's edit; False when absent."""
        with self.lock:
            item = self.items.get(ext_id)
            if item is None or item.state != "live":
                return False
            before = Snapshot(item.updated, item.body)
            item.body = {**item.body, **changes}
            now = self.factory.now()
            item.updated = max(now, item.updated)
            self._lag(item, before, now)
            return True

    def search_view(self, item: Item, now: datetime) -> Snapshot | None:
        """Return what an eventually consistent search sees for item (None = invisible)."""
        if item.visible_at is not None and now < item.visible_at:
            return item.stale
        return Snapshot(item.updated, item.body)

    def _apply(self, kind: str, rng: random.Random) -> str:
        """Apply one change of the given kind and return the changed id."""
        if kind == "create":
            return self._create(rng)
        if kind == "restore":
            item = self._pick(rng, ("deleted", "spam"))
            if item is not None:
                self._move(item, "live")
                return item.ext_id
            kind = "update"
        item = self._pick(rng, ("live",), prefer_closed=kind == "archive")
        if item is None:
            return self._create(rng)
        if kind == "update":
            self._update(item, rng)
        else:
            self._move(item, {"delete": self.factory.delete_state, "spam": "spam", "archive": "archived"}[kind])
        return item.ext_id

    def _create(self, rng: random.Random) -> str:
        """Add a new item updated now."""
        now = self.factory.now()
        item = self.factory.create(rng, self.next_num, now)
        self.next_num += 1
        self._lag(item, None, now)
        self.items[item.ext_id] = item
        self.order.append(item.ext_id)
        return item.ext_id

    def _update(self, item: Item, rng: random.Random) -> None:
        """Change fields of an item and bump its updated time."""
        before = Snapshot(item.updated, item.body)
        item.body = dict(item.body)
        self.factory.update(item, rng)
        now = self.factory.now()
        item.updated = max(now, item.updated)
        self._lag(item, before, now)

    def _move(self, item: Item, state: str) -> None:
        """Change an item's state, optionally bumping updated."""
        before = Snapshot(item.updated, item.body)
        item.state = state
        item.body = dict(item.body)
        self.factory.sync_flags(item)
        if self.bump_on_delete or state == "live":
            now = self.factory.now()
            item.updated = max(now, item.updated)
            self._lag(item, before, now)

    def _lag(self, item: Item, before: Snapshot | None, now: datetime) -> None:
        """Hide the change from search for consistency_delay seconds."""
        if self.consistency_delay <= 0:
            return
        if item.visible_at is None or item.visible_at <= now:
            item.stale = before
        item.visible_at = now + timedelta(seconds=self.consistency_delay)

    def _pick(self, rng: random.Random, states: tuple[str, ...], prefer_closed: bool = False) -> Item | None:
        """Pick a random item in one of the states (rejection sampling, then a scan)."""
        for _ in range(64):
            item = self.items[rng.choice(self.order)] if self.order else None
            if item is not None and item.state in states:
                if not prefer_closed or item.body.get("status") in (4, 5):
                    return item
        matches = [self.items[key] for key in self.order if self.items[key].state in states]
        return rng.choice(matches) if matches else None
