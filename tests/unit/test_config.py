"""Settings from the environment: each bad value refused with one line naming it."""

import pytest

from config import ConfigError, server_settings, settings_from_env

ENV = {"DATABASE_URL": "postgresql://sesame@db.example/sesame"}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DATABASE_URL", "not a url"),
        ("DATABASE_URL", "mysql://x@y/z"),
        ("DB_POOL_SIZE", "many"),
        ("DB_POOL_SIZE", "0"),
        ("RATE_LIMIT", "lots"),
        ("RATE_LIMIT_STORAGE_URI", "ftp://x"),
        ("TRUSTED_PROXIES", "10.0.0.0/8,proxy"),
        ("LOG_FORMAT", "xml"),
        ("MAX_BODY_BYTES", "-1"),
        ("KEYS_REFRESH_S", "0"),
        ("WEB_CONCURRENCY", "4 workers"),
        ("PORT", "70000"),
        ("HOST", "a host"),
        ("LOG_LEVEL", "verbose"),
        ("ACCESS_LOG", "maybe"),
    ],
)
def test_bad_settings_are_refused_with_one_line_naming_them(name, value):
    with pytest.raises(ConfigError) as caught:
        settings_from_env({**ENV, name: value})
    assert name in str(caught.value) and "\n" not in str(caught.value)


def test_replica_settings_are_validated():
    for name, value in [
        ("DATABASE_REPLICA_URL", "mysql://x@y/z"),
        ("DATABASE_REPLICA_URL", "postgresql://a@b/c, not a url"),
        ("REPLICA_MAX_LAG_S", "soon"),
        ("REPLICA_MAX_LAG_S", "0"),
    ]:
        with pytest.raises(ConfigError) as caught:
            settings_from_env({**ENV, name: value})
        assert name in str(caught.value) and "\n" not in str(caught.value)
    two = settings_from_env(
        {**ENV, "DATABASE_REPLICA_URL": "postgresql://a@r1/db, postgres://a@r2/db"}
    )
    assert two["REPLICA_URLS"] == ["postgresql+psycopg://a@r1/db", "postgresql+psycopg://a@r2/db"]
    assert two["REPLICA_MAX_LAG_S"] == 5


def test_server_settings_need_no_database_and_are_part_of_every_setting():
    assert server_settings({}) == {
        "HOST": "0.0.0.0",
        "PORT": 3000,
        "WEB_CONCURRENCY": 4,
        "GUNICORN_THREADS": 64,
        "GUNICORN_TIMEOUT": 30,
        "GUNICORN_GRACEFUL_TIMEOUT": 30,
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "info",
        "ACCESS_LOG": True,
    }
    assert server_settings({"HOST": "::1", "ACCESS_LOG": "off"})["HOST"] == "[::1]"
    assert server_settings(ENV).items() <= settings_from_env(ENV).items()
