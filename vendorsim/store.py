"""Thread-safe in-memory items for one vendor, with mutations and the ground truth."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Iterable, Protocol

KNOWN_KINDS = frozenset({"update", "create", "delete", "spam", "archive", "restore", "move", "hide", "tie_burst"})
DEFAULT_KINDS = ("update", "create", "delete", "spam")
ADVERSARIAL_KINDS = ("create", "update", "delete", "spam", "move", "hide", "tie_burst")  # those a vendor knows apply
TIE_BURST_SIZE = 120  # more than the largest page any vendor serves (100 for full Jira and Freshworks pages)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What a lagging search index still shows for an item (its state too: deletions lag like edits)."""

    updated: datetime
    body: dict[str, Any]
    state: str = "live"


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

    def move(self, item: Item, group: Any) -> str:
        """Move an item to another group (a Jira project) and return its new external id."""

    def group_keys(self) -> list[Any]:
        """Every group (Jira project) items can belong to."""

    def sync_flags(self, item: Item) -> None:
        """Mirror item.state into body flags such as deleted/spam."""


class Store:
    """All items of one vendor behind one lock."""

    def __init__(self, factory: Factory, items: Iterable[Item], seed: int) -> None:
        """Hold the generated items and a private random stream for mutations."""
        self.lock = threading.RLock()
        self.factory = factory
        self.items: dict[str, Item] = {item.ext_id: item for item in items}
        self.by_num: dict[int, Item] = {item.num: item for item in self.items.values()}
        self.order: list[str] = list(self.items)
        self.next_num = max((item.num for item in self.items.values()), default=0) + 1
        self.rng = random.Random(seed * 7919 + 17)
        self.bump_on_delete = True
        self.consistency_delay = 0.0
        self.tie_rng: random.Random | None = None  # set: items sharing a sort key come back in a new order each call
        self.tie_burst_size = TIE_BURST_SIZE
        self.hidden_groups: set[Any] = set()  # groups (Jira projects) the account may no longer browse
        self.aliases: dict[str, str] = {}  # a moved item's former external ids → its current one

    def get(self, ext_id: str) -> Item | None:
        """Return an item by external id, whatever its state."""
        return self.items.get(ext_id)

    def resolve(self, ext_id: str) -> Item | None:
        """Return an item by its current or a former external id (a moved Jira issue keeps answering its old key)."""
        with self.lock:
            return self.items.get(ext_id) or self.items.get(self.aliases.get(ext_id, ""))

    def visible(self, item: Item) -> bool:
        """False when the account lost access to the item's group (a Jira project without Browse permission)."""
        return item.group not in self.hidden_groups

    def shuffle_ties(self, rows: list[Any], key: Any) -> list[Any]:
        """With tie shuffling on, reorder each run of rows with an equal key at random (a new order on every call)."""
        rng = self.tie_rng
        if rng is None or len(rows) < 2:
            return rows
        shuffled: list[Any] = []
        start = 0
        for index in range(1, len(rows) + 1):
            if index == len(rows) or key(rows[index]) != key(rows[start]):
                run = rows[start:index]
                rng.shuffle(run)
                shuffled += run
                start = index
        return shuffled

    def move_item(self, ext_id: str, group: Any) -> str:
        """Move an item to another group: a new external id, the same number, updated now; the old id stays an
        alias. Returns the new external id."""
        with self.lock:
            item = self.items.get(ext_id)
            if item is None:
                raise KeyError(f"no item {ext_id!r}")
            before = Snapshot(item.updated, item.body)
            new_id = self.factory.move(item, group)
            del self.items[ext_id]
            self.items[new_id] = item
            self.order[self.order.index(ext_id)] = new_id
            self.aliases = {old: (new_id if current == ext_id else current) for old, current in self.aliases.items()}
            self.aliases[ext_id] = new_id
            now = self.factory.now()
            item.updated = max(now, item.updated)
            self._lag(item, before, now)
            return new_id

    def hide_group(self, group: Any, hidden: bool = True) -> list[str]:
        """The account loses (or regains) access to a group; returns the external ids of its items."""
        with self.lock:
            (self.hidden_groups.add if hidden else self.hidden_groups.discard)(group)
            return [item.ext_id for item in self.items.values() if item.group == group]

    def hidden_ids(self) -> set[str]:
        """External ids of otherwise live items the account can no longer see."""
        with self.lock:
            return {item.ext_id for item in self.items.values() if item.state == "live" and not self.visible(item)}

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
            return [changed for _ in range(n) for changed in self._apply(rng.choice(usable), rng)]

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
            before = Snapshot(item.updated, item.body, item.state)
            item.body = {**item.body, **changes}
            now = self.factory.now()
            item.updated = max(now, item.updated)
            self._lag(item, before, now)
            return True

    def search_view(self, item: Item, now: datetime) -> Snapshot | None:
        """Return what an eventually consistent search sees for item (None = invisible)."""
        if item.visible_at is not None and now < item.visible_at:
            return item.stale
        return Snapshot(item.updated, item.body, item.state)

    def _apply(self, kind: str, rng: random.Random) -> list[str]:
        """Apply one change of the given kind and return the changed ids."""
        if kind == "create":
            return [self._create(rng)]
        if kind == "tie_burst":
            return self._tie_burst(rng)
        if kind == "hide":
            hidden = self._hide_one(rng)
            if hidden is not None:
                return hidden
            kind = "update"
        if kind == "restore":
            item = self._pick(rng, ("deleted", "spam"))
            if item is not None:
                self._move(item, "live")
                return [item.ext_id]
            kind = "update"
        item = self._pick(rng, ("live",), prefer_closed=kind == "archive")
        if item is None:
            return [self._create(rng)]
        if kind == "move":
            targets = [group for group in self.factory.group_keys() if group != item.group]
            return [self.move_item(item.ext_id, rng.choice(targets))]
        if kind == "update":
            self._update(item, rng)
        else:
            self._move(item, {"delete": self.factory.delete_state, "spam": "spam", "archive": "archived"}[kind])
        return [item.ext_id]

    def _tie_burst(self, rng: random.Random) -> list[str]:
        """A bulk update: up to tie_burst_size live items changed with one shared updated time."""
        live = [self.items[key] for key in self.order if self.items[key].state == "live"]
        chosen = rng.sample(live, min(self.tie_burst_size, len(live)))
        now = self.factory.now()
        for item in chosen:
            before = Snapshot(item.updated, item.body)
            item.body = dict(item.body)
            self.factory.update(item, rng)
            item.updated = max(now, item.updated)
            self._lag(item, before, now)
        return [item.ext_id for item in chosen]

    def _hide_one(self, rng: random.Random) -> list[str] | None:
        """Hide one random visible group while at least one other stays visible (None when none can go)."""
        visible = [group for group in self.factory.group_keys() if group not in self.hidden_groups]
        if len(visible) < 2:
            return None
        return self.hide_group(rng.choice(visible))

    def _create(self, rng: random.Random) -> str:
        """Add a new item updated now."""
        now = self.factory.now()
        item = self.factory.create(rng, self.next_num, now)
        self.next_num += 1
        self._lag(item, None, now)
        self.items[item.ext_id] = item
        self.by_num[item.num] = item
        self.order.append(item.ext_id)
        return item.ext_id

    def _update(self, item: Item, rng: random.Random) -> None:
        """Change fields of an item and bump its updated time."""
        before = Snapshot(item.updated, item.body, item.state)
        item.body = dict(item.body)
        self.factory.update(item, rng)
        now = self.factory.now()
        item.updated = max(now, item.updated)
        self._lag(item, before, now)

    def _move(self, item: Item, state: str) -> None:
        """Change an item's state, optionally bumping updated."""
        before = Snapshot(item.updated, item.body, item.state)
        item.state = state
        item.body = dict(item.body)
        self.factory.sync_flags(item)
        now = self.factory.now()
        if self.bump_on_delete or state == "live":
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
