"""Sesame's tests, by layer: unit, database, http, live, infra, browser (see conftest.py)."""
