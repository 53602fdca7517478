"""Past one machine (PgBouncer, replicas, HAProxy) and the container files."""
