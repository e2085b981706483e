"""Everything a sync does, from the trigger to the event: runs (the record of each sync), lifecycle (start, cancel,
retry, recover), the RQ queues and job functions, the runner that pages connectors into the cache, ingest (the
set-based upsert with its cursor), events (publish and replay) and the periodic schedules.
It may import `connectors`, `store` and `core`; never `web`, `cockpit` or `runtime`.
"""
