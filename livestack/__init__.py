"""A live stack's child processes, shared by the tests and bench/.

Owns starting the app's entry points (`worker.py`, the web server under Flask or gunicorn, any command) from the
repository as child processes in their own process groups, waiting for them, and stopping whole process trees.
May import the standard library, psutil and requests only: it starts the product as commands and never imports
`tickettracker` (nor `vendorsim`, nor `tests`), so the layering contracts hold for every importer.
"""
