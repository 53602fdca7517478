"""database.py's recipe itself: results by name, and the timeouts bound to their engine."""

import psycopg
import pytest
from sqlalchemy import create_engine

import database


def test_round_trip_answers_each_statement_by_name_and_drops_the_plumbing(engine):
    def work(conn: psycopg.Connection, attempt: database.Attempt) -> dict:
        return database.round_trip(
            conn,
            {
                "one": "SELECT 1 AS n",
                "none": "SELECT 1 AS n WHERE false",
                "two": "SELECT %(x)s AS n",
            },
            {"x": 2},
            before=(database.BEGIN, database.timeouts(engine)),
            after=(database.COMMIT,),
        )

    assert database.run(engine, work) == {"one": [{"n": 1}], "none": [], "two": [{"n": 2}]}


def test_the_timeouts_hold_in_the_transaction_they_lead(engine):
    results = database.execute(engine, {"timeout": "SHOW statement_timeout"})
    assert results["timeout"] == [{"statement_timeout": "5s"}]


def test_an_engine_without_timeouts_is_refused_with_a_clear_error():
    unbound = create_engine("postgresql+psycopg://nobody@localhost/nothing")
    with pytest.raises(LookupError, match="bind_timeouts"):
        database.execute(unbound, {"one": "SELECT 1"})
