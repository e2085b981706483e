"""The governance cockpit: KPIs over the cache, trends from KPI snapshots, the trust stamps that say how fresh and
complete the data is, and their presentation for the dashboard. It may import `store` and `core`.
"""
