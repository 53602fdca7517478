"""Settings from the environment: each bad value refused with one line naming it."""

import pytest

from config import ConfigError, settings_from_env

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
