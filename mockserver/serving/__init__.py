"""Serving the mock on gunicorn, and the faults that act on the connection itself."""
