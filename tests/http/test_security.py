"""Security basics: CORS only where configured, no stack trace or SQL in any answer."""


def test_cors_is_off_unless_configured(client):
    response = client.get("/appointments", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in response.headers


def test_cors_allows_only_the_listed_origins(make_app, clean):
    client = make_app(CORS_ORIGINS="https://app.example.com", API_KEYS="k1").test_client()
    preflight = client.options(
        "/appointments",
        headers={"Origin": "https://app.example.com", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    allowed = client.get(
        "/appointments", headers={"Origin": "https://app.example.com", "Authorization": "Bearer k1"}
    )
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert "ETag" in allowed.headers["Access-Control-Expose-Headers"]
    other = client.get(
        "/appointments", headers={"Origin": "https://evil.example", "Authorization": "Bearer k1"}
    )
    assert "Access-Control-Allow-Origin" not in other.headers


def test_an_unexpected_error_is_a_500_json_without_a_trace(make_app):
    app = make_app()

    @app.route("/boom")
    def boom():
        raise RuntimeError("SELECT secret FROM internals; postgresql://user:pw@host/db")

    response = app.test_client().get("/boom")
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert response.get_json()["error"] == "internal_error"
    for leak in ("Traceback", "RuntimeError", "SELECT", "postgresql://", "pw@"):
        assert leak not in body
