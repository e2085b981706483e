"""The web tier: blueprints (pages, JSON API, the event stream, sign-in, admin), sign-in and roles (auth), CSRF and
security headers. Views stay thin and call `sync`, `cockpit` and `store`; the web tier never calls a vendor,
so it never imports `connectors`.
"""
