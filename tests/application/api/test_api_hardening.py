"""Hostile input is a 4xx in JSON that stores nothing: Unicode digits, numbers past SQL's range, JSON nested
thousands deep, lone surrogates; admin routes are rate-limited (failed tokens more strictly); the admin token
has a minimum length; every response carries the security headers; errors that echo input stay small."""
import io
import os

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from tests.application.api.helpers import ask, frame

QUESTION = "How long until a refund reaches my card?"
UNICODE_DIGITS = ["²", "٣", "３", "1²", "๓"]  # str.isdigit() says yes to each, int() refuses them
DEEP = 5000


@pytest.fixture
def fresh_owner():
    return {"X-Owner-Token": "hardening-owner-" + os.urandom(8).hex()}


@pytest.fixture
def stored_rows(chat_services):
    """The number of rows in every table a request could write to (chat, feedback, jobs)."""
    from application.db import transactions
    from application.db.chat import Conversation, Feedback, Message, MessageChunk, SourceMark
    from application.db.jobs import Job

    def count():
        return transactions.read(chat_services.db, lambda session: {
            model.__tablename__: session.scalar(select(func.count()).select_from(model))
            for model in (Conversation, Message, MessageChunk, Feedback, SourceMark, Job)
        })

    return count


@pytest.fixture
def answered(client, fresh_owner):
    """One answered message of ``fresh_owner``."""
    client.environ_base.update({"HTTP_X_OWNER_TOKEN": fresh_owner["X-Owner-Token"]})
    frames = ask(client, QUESTION)
    return {"conversation_id": frame(frames, "id")["id"], "message_id": frame(frames, "id")["message_id"],
            "chunks": [s["chunk_id"] for s in frame(frames, "source")["source"]]}


def error_of(response) -> str:
    body = response.get_json()
    assert body is not None, f"not JSON: {response.get_data(as_text=True)[:200]}"
    error = body["error"]
    return error["message"] if isinstance(error, dict) else error  # /v1/embeddings answers in OpenAI's shape


def post_raw(client, path, text: str, headers=None, method="post"):
    """A body sent as is: JSON escapes such as \\ud800 reach the server's parser untouched."""
    return getattr(client, method)(path, data=text.encode("ascii"), content_type="application/json",
                                   headers=headers or {})


# -- 5. Unicode digits, numbers past SQL's range -------------------------------------------------
@pytest.mark.parametrize("digits", UNICODE_DIGITS)
@pytest.mark.parametrize("route", ["/stream", "/api/answer", "/api/search"])
def test_unicode_digits_in_chunks_are_a_400_and_store_nothing(client, fresh_owner, stored_rows, route, digits):
    before = stored_rows()

    response = client.post(route, json={"question": QUESTION, "chunks": digits}, headers=fresh_owner)

    assert response.status_code == 400
    assert "'chunks' must be a whole number" in error_of(response)
    assert stored_rows() == before


def test_chunks_as_ascii_digits_in_a_string_still_work(client, fresh_owner):
    # DocsGPT's frontend sends the number as a string
    response = client.post("/api/search", json={"question": QUESTION, "chunks": " 2 "}, headers=fresh_owner)
    assert response.status_code == 200 and len(response.get_json()) == 2


@pytest.mark.parametrize("index", [*UNICODE_DIGITS, 2**63, 2**31, -1, "9" * 5000, 1.5, True])
def test_a_question_index_that_is_not_a_small_whole_number_is_a_400(client, answered, stored_rows, index):
    before = stored_rows()

    response = client.post("/api/feedback", json={"conversation_id": answered["conversation_id"],
                                                  "question_index": index, "feedback": "like"})

    assert response.status_code == 400
    assert "'question_index' must be a whole number" in error_of(response)
    assert stored_rows() == before


def test_a_question_index_as_ascii_digits_still_rates_the_message(client, answered):
    response = client.post("/api/feedback", json={"conversation_id": answered["conversation_id"],
                                                  "question_index": "0", "feedback": "like"})
    assert response.status_code == 200 and response.get_json()["message_id"] == answered["message_id"]


@pytest.mark.parametrize("value", [*UNICODE_DIGITS, "9" * 5000, "-1", "", "1e3"])
@pytest.mark.parametrize(("path", "name"), [("/api/jobs", "limit"), ("/api/admin/feedback/stats", "latest")])
def test_unicode_digits_in_admin_query_limits_are_a_400(client, admin_headers, path, name, value):
    response = client.get(path, query_string={name: value}, headers=admin_headers)

    assert response.status_code == 400
    assert f"'{name}' must be a whole number" in error_of(response)


@pytest.mark.parametrize(("path", "name", "value"), [("/api/jobs", "limit", "500"),
                                                      ("/api/admin/feedback/stats", "latest", "0")])
def test_admin_query_limits_in_range_still_work(client, admin_headers, path, name, value):
    assert client.get(path, query_string={name: value}, headers=admin_headers).status_code == 200


# -- 5. JSON nested thousands deep ------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "path", "admin"),
    [("post", "/stream", False), ("post", "/api/answer", False), ("post", "/api/search", False),
     ("post", "/api/feedback", False), ("post", "/api/update_conversation_name", False),
     ("patch", "/api/conversations/some-id", False), ("post", "/v1/embeddings", True),
     ("post", "/api/admin/retrain", True), ("post", "/api/admin/models/v0001/promote", True),
     ("post", "/api/admin/evaluation/import", True), ("post", "/api/admin/tune", True)],
)
@pytest.mark.parametrize("shape", ["array", "inside an object"])
def test_json_nested_thousands_deep_is_a_400_in_json(client, fresh_owner, admin_headers, stored_rows, method, path,
                                                     admin, shape):
    nested = "[" * DEEP + "]" * DEEP
    text = nested if shape == "array" else f'{{"question": "{QUESTION}", "history": {nested}, "name": {nested}}}'
    before = stored_rows()

    response = post_raw(client, path, text, {**fresh_owner, **(admin_headers if admin else {})}, method)

    assert response.status_code == 400
    assert "nested too deeply" in error_of(response)
    assert stored_rows() == before


# -- 5. lone surrogates ------------------------------------------------------------------------
SURROGATE = "\\ud800"  # as the JSON escape: json.loads gives a str that cannot be encoded to UTF-8


@pytest.mark.parametrize(
    ("route", "body", "field"),
    [
        ("/stream", f'{{"question": "refunds {SURROGATE}"}}', "question"),
        ("/api/answer", f'{{"question": "refunds {SURROGATE}"}}', "question"),
        ("/api/search", f'{{"question": "{SURROGATE}refunds"}}', "question"),
        ("/stream", f'{{"question": "refunds", "history": [{{"prompt": "a{SURROGATE}", "response": "b"}}]}}',
         "history[0].prompt"),
        ("/stream", f'{{"question": "refunds", "conversation_id": "{SURROGATE}"}}', "conversation_id"),
        ("/api/feedback", f'{{"message_id": "{SURROGATE}", "feedback": "like"}}', "message_id"),
        ("/api/feedback", f'{{"conversation_id": "{SURROGATE}", "question_index": 0, "feedback": "like"}}',
         "conversation_id"),
    ],
)
def test_a_lone_surrogate_in_a_request_is_a_400_naming_the_field(client, fresh_owner, stored_rows, route, body, field):
    before = stored_rows()

    response = post_raw(client, route, body, fresh_owner)

    assert response.status_code == 400
    assert f"'{field}'" in error_of(response) and "surrogate" in error_of(response)
    assert stored_rows() == before


@pytest.mark.parametrize(("route", "body", "field"), [
    ("/stream", '{"question": "refunds \\u0000"}', "question"),
    ("/api/feedback", '{"message_id": "\\u0000", "feedback": "like"}', "message_id"),
])
def test_a_nul_character_is_a_400_naming_the_field(client, fresh_owner, stored_rows, route, body, field):
    # PostgreSQL's text cannot hold NUL: there it would fail in the driver
    before = stored_rows()

    response = post_raw(client, route, body, fresh_owner)

    assert response.status_code == 400 and f"'{field}'" in error_of(response) and "NUL" in error_of(response)
    assert stored_rows() == before


@pytest.mark.parametrize(("method", "path"), [("get", "/api/task_status?task_id=%00"), ("get", "/api/jobs/%00"),
                                               ("post", "/api/jobs/%00/cancel"), ("delete", "/api/sources/a%00b"),
                                               ("get", "/api/conversations/%00"), ("get", "/api/task_status")])
def test_ids_in_urls_that_no_row_can_have_are_refused_without_a_lookup(client, admin_headers, method, path):
    response = getattr(client, method)(path, headers=admin_headers)
    assert response.status_code in (400, 404) and error_of(response)


def test_a_lone_surrogate_in_a_feedback_comment_is_a_400(client, answered, stored_rows):
    before = stored_rows()

    response = post_raw(client, "/api/feedback",
                        f'{{"message_id": "{answered["message_id"]}", "feedback": "like", "comment": "ok{SURROGATE}"}}')

    assert response.status_code == 400 and "'comment'" in error_of(response) and "surrogate" in error_of(response)
    assert stored_rows() == before


@pytest.mark.parametrize("docsgpt_route", [False, True])
def test_a_lone_surrogate_in_a_conversation_name_is_a_400_and_the_name_stays(client, answered, docsgpt_route):
    conversation = answered["conversation_id"]
    name_before = client.get(f"/api/conversations/{conversation}").get_json()["name"]

    if docsgpt_route:
        response = post_raw(client, "/api/update_conversation_name",
                            f'{{"id": "{conversation}", "name": "x{SURROGATE}"}}')
    else:
        response = post_raw(client, f"/api/conversations/{conversation}", f'{{"name": "x{SURROGATE}"}}',
                            method="patch")

    assert response.status_code == 400 and "'name'" in error_of(response) and "surrogate" in error_of(response)
    assert client.get(f"/api/conversations/{conversation}").get_json()["name"] == name_before


def test_a_lone_surrogate_as_a_conversation_id_to_rename_is_refused(client, fresh_owner):
    response = post_raw(client, "/api/update_conversation_name", f'{{"id": "{SURROGATE}", "name": "x"}}', fresh_owner)
    assert response.status_code in (400, 404) and error_of(response)


@pytest.mark.parametrize(("body", "field"), [
    (f'{{"input": "hello {SURROGATE}"}}', "input"),
    (f'{{"input": ["fine", "not {SURROGATE}"]}}', "input[1]"),
    (f'{{"input": "hello", "model": "{SURROGATE}"}}', "model"),
])
def test_a_lone_surrogate_in_an_embeddings_request_is_a_400(client, admin_headers, body, field):
    response = post_raw(client, "/v1/embeddings", body, admin_headers)

    assert response.status_code == 400
    assert f"'{field}'" in error_of(response) and "surrogate" in error_of(response)
    assert response.get_json()["error"]["type"] == "invalid_request_error"


# -- 6. admin rate limits, the admin token's length ------------------------------------------------
def test_admin_routes_share_a_rate_limit_and_health_is_never_limited(make_app, admin_headers):
    client = make_app(RATE_LIMIT_ENABLED=True, RATE_LIMIT_ADMIN="3 per minute").test_client()

    statuses = [client.get(path, headers=admin_headers).status_code
                for path in ("/api/sources", "/api/jobs", "/api/admin/models", "/api/admin/evaluation")]

    assert statuses == [200, 200, 200, 429]
    limited = client.get("/api/jobs", headers=admin_headers)
    assert limited.status_code == 429 and "Too many requests" in error_of(limited)
    assert int(limited.headers["Retry-After"]) > 0
    assert client.get("/health").status_code == 200
    assert client.post("/api/search", json={"question": QUESTION, "chunks": 1}).status_code == 200  # its own budget


def test_failed_admin_tokens_have_a_stricter_budget_per_client_address(make_app, admin_headers):
    client = make_app(RATE_LIMIT_ENABLED=True, RATE_LIMIT_ADMIN_FAILURES="2 per minute").test_client()
    wrong = {"Authorization": "Bearer " + "x" * 32}
    guesser, admin = {"REMOTE_ADDR": "203.0.113.7"}, {"REMOTE_ADDR": "198.51.100.9"}

    # right tokens do not spend the failure budget
    assert [client.get("/api/sources", headers=admin_headers, environ_base=admin).status_code
            for _ in range(4)] == [200] * 4
    guesses = [client.get(path, headers=wrong, environ_base=guesser).status_code
               for path in ("/api/sources", "/v1/models", "/api/jobs", "/api/feedback/export")]

    assert guesses == [401, 401, 429, 429]
    refused = client.get("/api/sources", headers=admin_headers, environ_base=guesser)
    assert refused.status_code == 429 and "failed admin tokens" in error_of(refused)
    assert client.get("/api/sources", headers=admin_headers, environ_base=admin).status_code == 200
    assert client.get("/health", environ_base=guesser).status_code == 200


def test_a_401_without_any_token_spends_nothing_of_the_failure_budget(make_app):
    # DocsGPT's React app asks for the admin's GET /api/sources, without a token, on every page load
    client = make_app(RATE_LIMIT_ENABLED=True, RATE_LIMIT_ADMIN_FAILURES="2 per minute").test_client()
    visitor = {"REMOTE_ADDR": "192.0.2.44"}
    assert [client.get("/api/sources", environ_base=visitor).status_code for _ in range(5)] == [401] * 5
    assert client.post("/api/search", json={"question": QUESTION, "chunks": 1},
                       environ_base=visitor).status_code == 200
    keyed = [client.post("/api/search", json={"question": QUESTION, "chunks": 1, "api_key": "dtk_" + "n" * 40},
                         environ_base=visitor).status_code for _ in range(3)]
    assert keyed == [401, 401, 429]  # an API key offered and refused does count


def test_admin_routes_are_not_limited_when_rate_limits_are_off(client, admin_headers):
    wrong = {"Authorization": "Bearer " + "x" * 32}
    assert {client.get("/api/jobs", headers=wrong).status_code for _ in range(15)} == {401}
    assert {client.get("/api/jobs", headers=admin_headers).status_code for _ in range(15)} == {200}


@pytest.mark.parametrize("token", ["t", "from-env", "x" * 15])
def test_a_short_admin_token_is_refused_with_one_line_that_does_not_show_it(token):
    from application.settings import Settings, SettingsError

    with pytest.raises(SettingsError) as refused:
        Settings(ADMIN_TOKEN=token)

    message = str(refused.value)
    assert "ADMIN_TOKEN" in message and "16 characters" in message and "\n" not in message
    assert repr(token) not in message
    assert Settings(ADMIN_TOKEN="x" * 16).admin_token == "x" * 16


def test_docstune_serve_stops_with_one_line_on_a_short_admin_token(tmp_path):
    from application.cli import main

    result = CliRunner().invoke(main, ["serve"], env={"DATA_DIR": str(tmp_path / "data"), "ADMIN_TOKEN": "short"})

    assert result.exit_code != 0
    assert "ADMIN_TOKEN" in result.output and "16 characters" in result.output
    assert len(result.output.strip().splitlines()) == 1 and "short'" not in result.output


# -- 6. security headers ------------------------------------------------------------------------
@pytest.mark.parametrize(("method", "path"), [("get", "/"), ("get", "/admin/models"), ("get", "/health"),
                                               ("get", "/api/conversations"), ("post", "/api/search"),
                                               ("get", "/api/no-such-route"), ("get", "/favicon.svg")])
def test_every_response_carries_the_security_headers(client, method, path):
    response = getattr(client, method)(path)

    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp and "object-src 'none'" in csp
    assert "'unsafe-eval'" not in csp and "script-src 'self'" in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_an_event_stream_carries_the_security_headers_too(client):
    response = client.post("/stream", json={"question": QUESTION})
    response.get_data()
    assert response.headers["X-Content-Type-Options"] == "nosniff" and "Content-Security-Policy" in response.headers


# -- 6. errors that echo input stay small --------------------------------------------------------
def test_a_ten_thousand_key_sources_body_gets_a_short_error(client, answered, stored_rows):
    before = stored_rows()
    sources = {f"chunk-{i:05d}-{'x' * 20}": "relevant" for i in range(10_000)}

    response = client.post("/api/feedback", json={"message_id": answered["message_id"], "sources": sources})

    assert response.status_code == 400
    assert len(response.get_data()) < 1000
    assert "chunk-00000" in error_of(response) and "and 9995 more" in error_of(response)
    assert stored_rows() == before


def test_a_huge_key_with_a_bad_mark_gets_a_short_error(client, answered):
    response = client.post("/api/feedback", json={"message_id": answered["message_id"],
                                                  "sources": {"k" * 100_000: "excellent"}})
    assert response.status_code == 400 and len(response.get_data()) < 1000 and "excellent" in error_of(response)


def test_many_unknown_options_get_a_short_error(client, admin_headers, stored_rows):
    before = stored_rows()
    response = client.post("/api/admin/tune", json={f"option{i}": 1 for i in range(10_000)}, headers=admin_headers)
    assert response.status_code == 400 and len(response.get_data()) < 1000 and "more" in error_of(response)
    assert stored_rows() == before


def test_a_huge_file_name_gets_a_short_error(client, admin_headers):
    response = client.post("/api/upload", data={"file": [(io.BytesIO(b"x"), "n" * 100_000 + ".exe")]},
                           headers=admin_headers, content_type="multipart/form-data")
    assert response.status_code == 400 and len(response.get_data()) < 1000


# -- 6. the question's length, the same on every route ----------------------------------------------
def test_the_question_is_trimmed_before_its_length_is_checked_on_every_route(make_app, fresh_owner):
    client = make_app(MAX_QUESTION_CHARS=40).test_client()
    padded = "   " + "refunds " * 4 + "card   " + " " * 30  # 39 characters once trimmed
    too_long = "x" * 41

    assert client.post("/api/search", json={"question": padded, "chunks": 1}).status_code == 200
    assert client.post("/api/answer", json={"question": padded}, headers=fresh_owner).status_code == 200
    for route in ("/api/search", "/stream", "/api/answer"):
        response = client.post(route, json={"question": too_long}, headers=fresh_owner)
        assert response.status_code == 400 and "the limit is 40" in error_of(response)


# -- 6. Unicode file names ---------------------------------------------------------------------
@pytest.mark.parametrize(("name", "stored"), [("日本語.md", "日本語.md"), ("Ünïcödé notes.md", "Ünïcödé_notes.md"),
                                              ("отчёт-2024.txt", "отчёт-2024.txt"), ("My notes.md", "My_notes.md"),
                                              ("\u202egpj.md", "gpj.md"), (".hidden.md", "hidden.md")])
def test_unicode_letters_are_kept_in_upload_names(name, stored):
    from application.uploads import safe_upload_name

    assert safe_upload_name(name, frozenset({".md", ".txt"})) == stored


@pytest.mark.parametrize("name", ["日本/語.md", "..\\日本語.md", "..", "日本語\x00.md", "語\ud800.md", "日本語.exe",
                                  "語" * 100 + ".md"])
def test_path_tricks_stay_refused_in_unicode_upload_names(name):
    from application.errors import BadRequest
    from application.uploads import safe_upload_name

    with pytest.raises(BadRequest):
        safe_upload_name(name, frozenset({".md", ".txt"}))


def test_a_document_with_a_japanese_name_is_uploaded_and_ingested(client, admin_headers):
    from tests.application.api.test_api_sources import upload, wait_for

    response = upload(client, admin_headers, ("日本語.md", "# 日本語\n\nThe Zorblax ferry leaves at noon.\n".encode()))

    assert response.status_code == 202, response.get_json()
    assert response.get_json()["files"] == ["日本語.md"]
    try:
        status = wait_for(client, response.get_json()["task_id"], admin_headers)
        assert status["status"] == "SUCCESS", status
        assert "upload://日本語.md" in {s["uri"] for s in client.get("/api/sources", headers=admin_headers).get_json()}
    finally:
        client.delete("/api/sources/upload://日本語.md", headers=admin_headers)


def test_job_errors_that_echo_input_stay_short(client, admin_headers):
    huge = "k" * 50_000
    unknown_option = client.post("/api/admin/retrain", json={huge: 1, "other": 2}, headers=admin_headers)
    assert unknown_option.status_code == 400 and len(unknown_option.get_json()["error"]) < 300
    unknown_kind = client.get(f"/api/jobs?kind={huge}", headers=admin_headers)
    assert unknown_kind.status_code in (400, 404) and len(unknown_kind.get_json()["error"]) < 300
