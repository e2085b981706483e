"""What a sync changed: the classes of change a run records per item, their labels and the one-line headline."""

from __future__ import annotations

from collections.abc import Mapping

# In headline order: the classes a lead wants to hear about first come first.
CHANGE_CLASSES: dict[str, str] = {
    "new_urgent": "new urgent",
    "newly_overdue": "newly overdue",
    "reopened": "reopened",
    "reassigned": "reassigned",
    "deleted": "deleted or spam",
    "new": "new",
    "resolved": "closed or resolved",
}
# The classes the completion toast names; new and closed items are the everyday flow the run's counts already show.
HEADLINE_CLASSES = ("new_urgent", "newly_overdue", "reopened", "reassigned", "deleted")
IDS_PER_CLASS = 200  # the item ids a run keeps per class (the counts are always complete)
NO_CHANGES = "no notable changes"


def headline(counts: Mapping[str, int] | None) -> str | None:
    """Return "3 new urgent · 2 newly overdue · 5 reopened", NO_CHANGES, or None when the run classified nothing."""
    if counts is None:
        return None
    parts = [f"{counts[name]} {CHANGE_CLASSES[name]}" for name in HEADLINE_CLASSES if counts.get(name)]
    return " · ".join(parts) if parts else NO_CHANGES
