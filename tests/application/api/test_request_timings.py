"""Where a request's time goes: per-phase timings for the admin in /api/search, and a DEBUG log line
for every search and every answer (application.retrieval.timing)."""
import logging

from tests.application.api.helpers import answer_text, ask, frame

QUESTION = "How long until a refund reaches my card?"
SEARCH_PHASES = {"embed", "embed_lexical", "search", "fuse", "sql", "total"}


def test_the_admin_who_asks_gets_the_hits_with_milliseconds_per_phase(client, admin_headers):
    plain = client.post("/api/search", json={"question": QUESTION, "chunks": 2}).get_json()

    response = client.post("/api/search", headers=admin_headers,
                           json={"question": QUESTION, "chunks": 2, "timings": True})

    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert [h["chunk_id"] for h in body["hits"]] == [h["chunk_id"] for h in plain]
    timings = body["timings"]
    assert SEARCH_PHASES <= set(timings), timings
    assert all(isinstance(ms, float) and ms >= 0 for ms in timings.values()), timings
    assert timings["embed"] > 0 and timings["sql"] > 0  # a model ran, SQL was read
    phases = sum(ms for name, ms in timings.items() if name != "total")
    assert phases <= timings["total"] + 0.05  # the phases are parts of the whole (0.01 ms rounding each)


def test_a_caller_without_the_admin_token_gets_the_plain_list_and_no_timings(client):
    plain = client.post("/api/search", json={"question": QUESTION, "chunks": 2})
    assert plain.status_code == 200 and isinstance(plain.get_json(), list)
    assert "timings" not in plain.get_data(as_text=True)

    asked = client.post("/api/search", json={"question": QUESTION, "chunks": 2, "timings": True},
                        headers={"Authorization": "Bearer not-the-admin-token"})

    assert asked.status_code == 401
    assert "'timings' is for the admin" in asked.get_json()["error"]


def test_the_admin_without_asking_gets_the_plain_list(client, admin_headers):
    body = client.post("/api/search", headers=admin_headers, json={"question": QUESTION, "chunks": 2}).get_json()

    assert isinstance(body, list) and len(body) == 2


def test_timings_must_be_a_boolean(client, admin_headers):
    refused = client.post("/api/search", headers=admin_headers,
                          json={"question": QUESTION, "timings": "yes"})

    assert refused.status_code == 400 and "timings" in refused.get_json()["error"]


def test_each_search_logs_its_phases_at_debug(client, caplog):
    with caplog.at_level(logging.DEBUG, logger="application.retrieval.timing"):
        assert client.post("/api/search", json={"question": QUESTION, "chunks": 2}).status_code == 200

    lines = [r.getMessage() for r in caplog.records if r.name == "application.retrieval.timing"]
    assert len(lines) == 1, lines
    assert lines[0].startswith("search: embed ") and " ms, " in lines[0] and "total" in lines[0]


def test_each_streamed_answer_logs_retrieval_sql_and_llm_once_it_is_complete(client, caplog):
    with caplog.at_level(logging.DEBUG, logger="application.retrieval.timing"):
        frames = ask(client, QUESTION, chunks=2)

    assert "[1]" in answer_text(frames)
    message_id = frame(frames, "id")["message_id"]
    lines = [r.getMessage() for r in caplog.records if r.name == "application.retrieval.timing"]
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"answer {message_id} (ok): ")
    for name in ("embed", "search", "sql", "prompt", "llm", "total"):
        assert f"{name} " in lines[0], lines[0]


def test_nothing_is_logged_when_debug_is_off(client, caplog):
    with caplog.at_level(logging.INFO, logger="application.retrieval.timing"):
        ask(client, QUESTION, chunks=1)
        client.post("/api/search", json={"question": QUESTION, "chunks": 1})

    assert not [r for r in caplog.records if r.name == "application.retrieval.timing"]
