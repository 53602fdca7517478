"""Pure functions: no database, no server."""
