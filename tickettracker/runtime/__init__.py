"""The processes: the launcher (embedded PostgreSQL and Valkey, migrations, the Procfile), the RQ worker and the
scheduler entry points, the app as every entry point builds it (services: embedded servers for unset URLs, logs:
logging set-up), first-run preparation and the operator CLI. The top layer: it may import everything,
and only its launcher may import the vendor simulator (demo mode).
"""
