"""Limits as Flask's client sees them: a rate limit per client address that believes
X-Forwarded-For only from trusted proxies, and the statement timeout's 503.

The limits that need a real gunicorn (across workers, body size): tests/live/test_limits.py."""

from sqlalchemy import text

from tests.helpers import assert_error


def test_rate_limit_per_client_address_believes_forwarded_for_only_from_trusted_proxies(
    make_app, clean
):
    client = make_app(RATE_LIMIT="2 per minute", TRUSTED_PROXIES="10.0.0.0/8").test_client()

    def status(peer: str, forwarded: str | None = None) -> int:
        headers = {"X-Forwarded-For": forwarded} if forwarded else {}
        return client.get(
            "/appointments", headers=headers, environ_base={"REMOTE_ADDR": peer}
        ).status_code

    # Through the trusted proxy, clients are told apart by X-Forwarded-For.
    assert [status("10.0.0.5", "198.51.100.1") for _ in range(3)] == [200, 200, 429]
    assert status("10.0.0.5", "198.51.100.2") == 200
    # A direct client cannot pick a fresh address with the header.
    assert [status("203.0.113.9", f"192.0.2.{n}") for n in range(3)] == [200, 200, 429]
    # Spoofed hops left of the proxy's own entry do not count either.
    assert status("10.0.0.5", "1.2.3.4, 198.51.100.1") == 429


def test_statement_timeout_answers_503_with_retry_after(make_app, connection):
    client = make_app(DB_LOCK_TIMEOUT_MS="10000", DB_STATEMENT_TIMEOUT_MS="300").test_client()
    connection.execute(text("LOCK TABLE appointments IN ACCESS EXCLUSIVE MODE"))
    response = client.get("/appointments")
    connection.rollback()
    body = assert_error(response, 503, "database_timeout")
    assert response.headers["Retry-After"] == "1"
    assert "SELECT" not in body["message"]
