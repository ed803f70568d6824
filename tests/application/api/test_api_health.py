"""Liveness and readiness."""


def test_health_answers_without_touching_anything(client):
    response = client.get("/health")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


def test_ready_reports_the_model_the_index_the_database_and_the_llm(client, chat_services):
    response = client.get("/ready")

    body = response.get_json()
    assert response.status_code == 200 and body["ok"] is True
    assert body["database"]["ok"] and body["vector_store"]["points"] >= 3
    assert body["embeddings"]["fingerprint"] == chat_services.serving.current.embeddings.fingerprint
    assert body["llm"] == {"ok": True, "name": "extractive"}


# -- /ready is no token oracle -----------------------------------------------------------------------
def test_a_wrong_token_on_ready_is_refused_and_spends_the_failed_credential_budget(make_app, admin_headers):
    client = make_app(RATE_LIMIT_ENABLED=True, RATE_LIMIT_ADMIN_FAILURES="2 per minute").test_client()
    guesser, admin = {"REMOTE_ADDR": "203.0.113.8"}, {"REMOTE_ADDR": "198.51.100.10"}
    guesses = [client.get("/ready", headers={"Authorization": f"Bearer {guess * 32}"}, environ_base=guesser)
               for guess in "xyz"]

    assert [guess.status_code for guess in guesses] == [401, 401, 429]
    assert guesses[0].get_data() == guesses[1].get_data()  # any wrong token: one and the same answer
    locked_out = client.get("/ready", headers=admin_headers, environ_base=guesser)
    assert locked_out.status_code == 429  # the richer view waits for the lockout to end, even for the right token
    plain = client.get("/ready", environ_base=guesser)  # a load balancer still hears whether the server is ready
    assert plain.status_code == 200 and "location" not in plain.get_data(as_text=True)
    assert client.get("/health", environ_base=guesser).status_code == 200
    assert client.get("/ready", headers=admin_headers, environ_base=admin).status_code == 200


def test_plain_ready_is_never_limited(make_app):
    client = make_app(RATE_LIMIT_ENABLED=True, RATE_LIMIT_ADMIN_FAILURES="1 per minute",
                      RATE_LIMIT_DEFAULT="2 per minute").test_client()

    assert {client.get("/ready").status_code for _ in range(5)} == {200}


# -- what the server runs on ---------------------------------------------------------------------------
def test_the_admin_sees_which_engine_database_queue_and_llm_and_where(client, admin_headers, chat_services):
    settings = chat_services.settings

    admin = client.get("/ready", headers=admin_headers).get_json()
    anonymous = client.get("/ready").get_json()

    assert admin["vector_store"]["engine"] == "Qdrant Edge"
    assert admin["vector_store"]["location"] == str(settings.qdrant_path_resolved)
    if settings.database_url_resolved.startswith("sqlite"):
        assert admin["database"]["kind"] == "sqlite" and admin["database"]["location"].endswith("docstune.db")
    else:  # the PostgreSQL pass (DOCSTUNE_TEST_DATABASE=postgresql): user@host:port/name, never a password
        from sqlalchemy.engine import make_url

        url = make_url(settings.database_url_resolved)
        assert admin["database"]["kind"] == "postgresql"
        assert f"{url.host}:{url.port}/{url.database}" in admin["database"]["location"]
        assert not url.password or url.password not in admin["database"]["location"]
    assert admin["jobs"]["kind"] == "huey on SQLite" and admin["jobs"]["queue"] == str(settings.jobs_db_file)
    assert admin["llm"]["provider"] == "extractive" and admin["llm"]["name"] == "extractive"
    for check in ("vector_store", "database", "jobs", "llm"):
        assert not {"engine", "kind", "location", "queue", "provider"} & set(anonymous[check]), anonymous[check]


def test_servers_are_named_by_their_host_and_never_with_a_password():
    from application.readiness import dependencies
    from application.settings import Settings

    where = dependencies(Settings(
        DATA_DIR="/srv/docstune", QDRANT_URL="http://qd:s3cret-qdrant@qdrant.internal:6333",
        DATABASE_URL="postgresql://app:s3cret-db@db.internal:5432/docstune", REDIS_URL="redis://:s3cret-redis@redis:6379/0",
        LLM_PROVIDER="openai_compatible", OPENAI_BASE_URL="http://u:s3cret-llm@llm.internal:8080/v1", OPENAI_MODEL="llama3",
    ))

    assert "s3cret" not in repr(where)
    assert where["vector_store"] == {"engine": "Qdrant server", "location": "http://qd:***@qdrant.internal:6333"}
    assert where["database"] == {"kind": "postgresql", "location": "app@db.internal:5432/docstune"}
    assert where["jobs"] == {"kind": "huey on Redis", "queue": "redis://:***@redis:6379/0"}
    assert where["llm"] == {"provider": "openai_compatible", "model": "llama3",
                            "location": "http://u:***@llm.internal:8080/v1"}
