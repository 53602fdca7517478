"""One cluster for every test here: an embedded primary of its own (whatever TEST_DATABASE_URL
says: a replica is made from its data directory) with a streaming replica, and PgBouncer in
front of the primary with `default_pool_size = 4`. Built on first use, stopped after the last
test of tests/infra."""

from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection

from tests.infra.engines import Primary, Replica, pgbouncer, primary, replica


@pytest.fixture(scope="package")
def cluster() -> Iterator[tuple[Primary, Replica]]:
    with primary() as server, replica(server) as standby:
        yield server, standby


@pytest.fixture(scope="package")
def bouncer(cluster) -> Iterator[str]:
    with pgbouncer(cluster[0], pool_size=4) as url:
        yield url


@pytest.fixture
def book(cluster) -> Iterator[Connection]:
    """An empty book on the primary, and a direct connection to it for the integrity audit."""
    engine = create_engine(cluster[0].url)
    try:
        with engine.connect() as connection:
            connection.execute(text("TRUNCATE appointments, appointment_versions"))
            connection.commit()
            yield connection
    finally:
        engine.dispose()
