"""Liveness and readiness."""


def test_health_answers_without_touching_anything(client):
    response = client.get("/health")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


def test_ready_reports_the_model_the_index_the_database_and_the_llm(client, chat_services):
    response = client.get("/ready")

    body = response.get_json()
    assert response.status_code == 200 and body["ok"] is True
    assert body["database"]["ok"] and body["vector_store"]["points"] >= 3
    assert body["embeddings"]["fingerprint"] == chat_services.index.embeddings.fingerprint
    assert body["llm"] == {"ok": True, "name": "extractive"}
