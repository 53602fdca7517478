"""Services and queries called directly on a real PostgreSQL."""
