"""Turn cockpit numbers into tiles and chart specs (data only, no HTML), each number with its tracker link."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Callable

from tickettracker.cockpit.jira import CATEGORIES, CATEGORY_LABELS
from tickettracker.cockpit.scope import FW_SOURCES, CockpitFilters
from tickettracker.cockpit.trust import Stamp
from tickettracker.core.times import iso_utc

Link = Callable[[str, dict[str, str]], str]
SOURCE_LABELS = {"freshservice": "Freshservice", "freshdesk": "Freshdesk", "jira": "Jira"}
SOURCE_COLORS = {"freshservice": "--chart-1", "freshdesk": "--chart-2"}
CATEGORY_COLORS = {"todo": "--chart-todo", "in_progress": "--chart-progress", "done": "--chart-done"}


def tile(key: str, label: str, value: Any, url: str | None, hint: str, *, tone: str = "",
         display: str | None = None, stamps: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Return one KPI tile; stamps are the freshness lines it shows besides its section's."""
    shown = display if display is not None else ("—" if value is None else f"{value:,}")
    return {"key": key, "label": label, "value": value, "display": shown, "url": url, "hint": hint, "tone": tone,
            "stamps": stamps or []}


def extra_stamp(label: str, stamp: Stamp) -> dict[str, Any]:
    """A freshness line for another data set: "Jira data as of 10:05 UTC", "at-risk tickets refreshed 3 min ago"."""
    return {**stamp_view(stamp), "label": label}


def chart(key: str, title: str, kind: str, axis: str, labels: list[str], series: list[dict[str, Any]],
          **options: Any) -> dict[str, Any]:
    """Return one chart spec: labels, series of values with their links, and drawing options."""
    return {"key": key, "title": title, "type": kind, "axis": axis, "labels": labels, "series": series,
            "stacked": options.get("stacked", False), "horizontal": options.get("horizontal", False),
            "empty": options.get("empty") or "", "tall": options.get("tall", False), "note": options.get("note", "")}


def series(name: str, color: str, values: list[Any], links: list[str | None] | None = None) -> dict[str, Any]:
    """Return one data series of a chart."""
    return {"name": name, "color": color, "values": values, "links": links or [None] * len(values)}


def duration(hours: float | None) -> str:
    """Format a duration in hours as hours below two days, else days."""
    if hours is None:
        return "—"
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} d"


def day_range(first: date, last: date, column: str) -> dict[str, str]:
    """Return tracker filters for a date column between two days (both included)."""
    return {f"{column}_from": first.isoformat(), f"{column}_to": last.isoformat()}


def stamp_view(stamp: Stamp) -> dict[str, Any]:
    """Return what a tile shows about freshness: the moment (UTC ISO), run, and whether (and why) it is stale."""
    return {"sync_type": stamp.sync_type, "stale": stamp.stale, "reason": stamp.reason,
            "iso": iso_utc(stamp.as_of), "run": stamp.short_run, "interval": stamp.interval_minutes,
            "completeness": stamp.completeness}


def weekly_chart(key: str, title: str, rows: list[dict[str, Any]], names: dict[str, tuple[str, str, str]],
                 link: Callable[[dict[str, str]], str]) -> dict[str, Any]:
    """Return a grouped bar chart of weekly counts; names maps a count to (label, colour, date column)."""
    labels = [f"{row['week']:%d %b}" for row in rows]
    data = [series(label, color, [row[name] for row in rows],
                   [link(day_range(row["week"], row["week"] + timedelta(days=6), column)) for row in rows])
            for name, (label, color, column) in names.items()]
    return chart(key, title, "bar", "Week starting (Monday, UTC)", labels, data)


REBUILT_NOTE = ("Bars: created and resolved per day (right axis), rebuilt from the items' own dates. Dashed: the "
                "open backlog rebuilt the same way on days without a snapshot{scoped}. {only} comes from snapshots "
                "only.")


def trend_chart(key: str, title: str, section: dict[str, Any], names: dict[str, tuple[str, str]], *,
                scope_note: str = "") -> dict[str, Any]:
    """Return the daily trend (history: no tracker links). names lists, in order: the open backlog (from snapshots,
    rebuilt from the items' dates on days without one, or on every day when the filters narrow below what
    snapshots keep), the snapshot-only series (overdue, stuck), then the per-day counts rebuilt from item dates."""
    history, snapshots = section["history"], {row["day"]: row for row in section["trend"]}
    (open_key, (open_label, open_color)), (only_key, (only_label, only_color)), *daily = names.items()
    data = []
    snapped = [row["day"] in snapshots and not scope_note for row in history]
    data.append({**series(open_label, open_color, [snapshots[row["day"]][open_key] if snap else row[open_key]
                                                   for row, snap in zip(history, snapped, strict=True)]),
                 "reconstructed": [not snap for snap in snapped]})
    data.append(series(only_label, only_color, [snapshots.get(row["day"], {}).get(only_key) for row in history]))
    for name, (label, color) in daily:
        data.append({**series(label, color, [row[name] for row in history]), "axis": "right",
                     "reconstructed": [True] * len(history)})
    filled = snapshots or any(row["open"] or row["created"] for row in history)
    note = REBUILT_NOTE.format(scoped=" and on every day for these filters" if scope_note else "", only=only_label)
    return chart(key, title, "line", "Day (UTC)", [f"{row['day']:%d %b}" for row in history], data,
                 empty="" if filled else "No items in the cache yet: the trend starts with the first sync.",
                 note=f"{scope_note} {note}".strip())


def ageing_chart(key: str, title: str, buckets: list[dict[str, Any]], color: str,
                 link: Callable[[str], str]) -> dict[str, Any]:
    """Return a bar chart of age buckets, each bar linking to its list."""
    values = [b["count"] for b in buckets]
    return chart(key, title, "bar", "Age since created", [b["label"] for b in buckets],
                 [series("Items", color, values, [link(b["bucket"]) for b in buckets])])


def sources_in_scope(filters: CockpitFilters) -> tuple[str, ...]:
    """Return the helpdesk sources the filters cover."""
    return (filters.source,) if filters.source in FW_SOURCES else FW_SOURCES


def status_chart(status: dict[str, Any], filters: CockpitFilters, link: Link) -> dict[str, Any]:
    """Return the stacked bar chart of Jira issues per project: open by status category, and done in the period."""
    projects = status["projects"]
    done = day_range(status["first_day"], status["last_day"], "resolved")
    extra = {"todo": {}, "in_progress": {}, "done": done}
    names = {**CATEGORY_LABELS, "done": f"Done, last {filters.period} days"}
    data = [series(names[cat], CATEGORY_COLORS[cat], [p[cat] for p in projects],
                   [link("development", {**filters.jira_params(status=cat, **extra[cat]), "project": p["project"]})
                    if p["project"] else None for p in projects])
            for cat in CATEGORIES]
    return chart("jira-status", "Issues per project by status category", "bar", "Project",
                 [p["project"] or "(no project)" for p in projects], data, stacked=True, horizontal=True,
                 tall=len(projects) > 8, empty="" if projects else "No Jira issues in the cache for these filters.")


def incident_tiles(section: dict[str, Any], filters: CockpitFilters, link: Link) -> list[dict[str, Any]]:
    """Return the helpdesk tiles, each linking to the tracker list that explains it."""
    total, res = section["backlog"]["total"], section["resolution"]
    days = f"last {filters.period} days"
    resolved = link("incidents", filters.incident_params(**day_range(res["first_day"], res["last_day"], "resolved")))

    def to(**params: str) -> str:
        return link("incidents", filters.incident_params(**params))

    refreshed = [extra_stamp("at-risk tickets refreshed", section["at_risk_stamp"])]
    waiting = section["waiting"]
    both = [extra_stamp("Jira data", section["jira_stamp"])]
    oldest = "—" if waiting["oldest_days"] is None else f"{waiting['oldest_days']:.1f} d"
    return [
        tile("open", "Open backlog", total["open"], to(status="open"), "open or pending"),
        tile("overdue", "Overdue", total["overdue"], to(overdue="1", sort="due"), "open and past due",
             tone="bad" if total["overdue"] else "", stamps=refreshed),
        tile("at_risk", "At risk", total["at_risk"], to(at_risk="1", sort="due"), "due within 24 h",
             tone="warn" if total["at_risk"] else "", stamps=refreshed),
        tile("waiting_dev", "Incidents waiting on development", waiting["count"],
             to(waiting_dev="1", sort="created", dir="asc"),
             f"oldest {oldest} · {waiting['overdue']:,} overdue", tone="bad" if waiting["overdue"] else "",
             stamps=both),
        tile("fr_overdue", "First response overdue", total["fr_overdue"], to(fr_overdue="1"),
             "no first response, past its due time", tone="bad" if total["fr_overdue"] else ""),
        tile("unassigned", "Unassigned", total["unassigned"], to(status="open", unassigned="1"), "open, no agent"),
        tile("escalated", "Escalated", total["escalated"], to(status="open", escalated="1"), "open and escalated"),
        tile("created", "Created", res["created"],
             to(**day_range(res["first_day"], res["last_day"], "created")), days),
        tile("resolved", "Resolved", res["resolved"], resolved, days),
        tile("ttr_p50", "Time to resolve, median", res["p50_hours"], resolved, f"resolved in the {days}",
             display=duration(res["p50_hours"])),
        tile("ttr_p90", "Time to resolve, 90th percentile", res["p90_hours"], resolved,
             f"resolved in the {days}", display=duration(res["p90_hours"])),
    ]


def incident_charts(section: dict[str, Any], filters: CockpitFilters, link: Link) -> list[dict[str, Any]]:
    """Return the helpdesk charts: backlog by priority and source, ageing, weekly flow, trend."""
    rows = section["backlog"]["by_priority"]
    sources = sources_in_scope(filters)
    by_priority = [series(SOURCE_LABELS[src], SOURCE_COLORS[src], [r["by_source"][src] for r in rows],
                          [link("incidents", {**filters.incident_params(status="open", priority=r["priority"]),
                                              "source": src}) if r["priority"] else None for r in rows])
                   for src in sources]
    return [
        chart("fw-priority", "Open backlog by priority and source", "bar", "Priority",
              [r["priority"] or "(none)" for r in rows], by_priority, stacked=True,
              empty="" if rows else "No open tickets for these filters."),
        ageing_chart("fw-ageing", "Age of open tickets", section["backlog"]["ageing"], "--chart-1",
                     lambda b: link("incidents", filters.incident_params(status="open", age=b))),
        {**ageing_chart("fw-waiting", "Age of incidents waiting on development", section["waiting"]["ageing"],
                        "--chart-warn", lambda b: link("incidents", filters.incident_params(waiting_dev="1", age=b))),
         "empty": "" if section["waiting"]["count"] else "No open incident is linked to unfinished development work."},
        weekly_chart("fw-flow", "Created vs resolved per week", section["flow"],
                     {"created": ("Created", "--chart-1", "created"),
                      "resolved": ("Resolved", "--chart-done", "resolved")},
                     lambda p: link("incidents", filters.incident_params(**p))),
        trend_chart("fw-trend", "Open backlog and overdue, last 30 days", section,
                    {"open": ("Open backlog", "--chart-1"), "overdue": ("Overdue", "--chart-bad"),
                     "created": ("Created / day", "--chart-2"), "resolved": ("Resolved / day", "--chart-done")},
                    scope_note="All groups for Overdue: snapshots keep totals per source only."
                    if filters.group else ""),
    ]


def jira_tiles(section: dict[str, Any], filters: CockpitFilters, link: Link) -> list[dict[str, Any]]:
    """Return the Jira tiles, each linking to the tracker list that explains it."""
    totals, wip = section["status"]["totals"], section["wip"]

    def to(**params: str) -> str:
        return link("development", filters.jira_params(**params))

    in_progress = to(status="in_progress", sort="created", dir="asc")
    return [
        tile("open", "Open issues", totals["open"], to(status="open"), "to do or in progress"),
        tile("wip", "Work in progress", wip["count"], in_progress, "status category in progress"),
        tile("wip_p50", "WIP age, median", wip["p50_days"], in_progress, "days since created",
             display="—" if wip["p50_days"] is None else f"{wip['p50_days']:.1f} d"),
        tile("wip_oldest", "WIP age, oldest", wip["oldest_days"], in_progress, "days since created",
             display="—" if wip["oldest_days"] is None else f"{wip['oldest_days']:.1f} d"),
        tile("stuck", "Stuck", totals["stuck"], to(stuck="1", sort="updated", dir="asc"),
             "not done, not updated for 3 days", tone="warn" if totals["stuck"] else ""),
    ]


def jira_charts(section: dict[str, Any], filters: CockpitFilters, link: Link) -> list[dict[str, Any]]:
    """Return the Jira charts: status per project, weekly flow, WIP age, trend."""
    return [
        status_chart(section["status"], filters, link),
        weekly_chart("jira-flow", "Created vs done per week", section["flow"],
                     {"created": ("Created", "--chart-1", "created"), "done": ("Done", "--chart-done", "resolved")},
                     lambda p: link("development", filters.jira_params(**p))),
        ageing_chart("jira-wip", "Age of work in progress", section["wip"]["ageing"], "--chart-progress",
                     lambda b: link("development", filters.jira_params(status="in_progress", age=b))),
        trend_chart("jira-trend", "Open and stuck issues, last 30 days", section,
                    {"open": ("Open issues", "--chart-1"), "stuck": ("Stuck", "--chart-warn"),
                     "created": ("Created / day", "--chart-2"), "resolved": ("Done / day", "--chart-done")},
                    scope_note="All projects for Stuck: snapshots keep Jira totals only." if filters.project else ""),
    ]


def _chart_stamps(key: str, section: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Freshness lines of other data sets per chart: the waiting-on-development chart depends on Jira too."""
    if key != "incidents":
        return {}
    return {"fw-waiting": [extra_stamp("Jira data", section["jira_stamp"])]}


def present(data: dict[str, Any], link: Link) -> dict[str, Any]:
    """Return the dashboard's sections (stamp, tiles, charts) ready for the templates."""
    filters, now = data["filters"], data["generated_at"]
    sections = []
    for key, title, tiles, charts in (("incidents", "Incidents and service requests", incident_tiles, incident_charts),
                                      ("jira", "Jira", jira_tiles, jira_charts)):
        section = data[key]
        if section is not None:
            sections.append({"key": key, "title": title, "stamp": stamp_view(section["stamp"]),
                             "tiles": tiles(section, filters, link), "charts": charts(section, filters, link),
                             "chart_stamps": _chart_stamps(key, section)})
    return {"filters": filters, "generated_at": now, "sections": sections}
