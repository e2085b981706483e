"""What the vendors' list calls ask for and cost, shared by the connectors (which send them) and the pre-flight
estimate of a full resync (which prices them): includes, credits per include, the Jira census's page size."""

from __future__ import annotations

# The embeds every ticket-list call asks for (Freshworks: "each include consumes an additional 2 credits").
LIST_INCLUDES = {"freshservice": "requester,stats", "freshdesk": "description,requester,stats"}
CREDITS_PER_CALL = 1
CREDITS_PER_INCLUDE = 2
CENSUS_PAGE = {"cloud": 5000, "datacenter": 1000}  # ids asked for per census page; the server may return fewer


def list_call_credits(source: str) -> int:
    """Credits one list call of a source costs (Jira publishes no cost: one per call)."""
    includes = [name for name in LIST_INCLUDES.get(source, "").split(",") if name]
    return CREDITS_PER_CALL + CREDITS_PER_INCLUDE * len(includes)
