"""The docs page in a real browser."""
