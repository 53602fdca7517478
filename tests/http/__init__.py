"""The HTTP API through Flask's client and, the same tests, through the live gunicorn."""
