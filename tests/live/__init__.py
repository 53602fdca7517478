"""A real gunicorn with several workers: races, faults, keys, logs, metrics, limits."""
