"""Serving the mock on gunicorn, the faults that act on the connection itself, and `serve --reload`."""
