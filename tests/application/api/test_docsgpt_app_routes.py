"""The routes DocsGPT's React app calls at start-up and while chatting that DocsTune had no use for:
``/api/config``, ``/api/models``, the prompt routes and a message's ``/tail``, each in the shape the app reads.

The comments cite the app's code, arc53/DocsGPT at 52279d27 (``frontend/src/...``). The app runs on its own
dev server (http://localhost:5173, frontend/.env.development), so every request is cross-origin; its client
sends ``Content-Type: application/json`` even on a GET (api/client.ts:16-18), so every request is preflighted.
"""
import pytest

from tests.application.api.helpers import answer_text, frame, sse_frames

APP = "http://localhost:5173"  # DocsGPT's dev server: another port of the test client's host "localhost"
FROM_THE_APP = {"Origin": APP, "Sec-Fetch-Site": "same-site"}
QUESTION = "How long until a refund reaches my card?"

# (method, path) of each public route added here; the tail's message id does not matter to a preflight
PUBLIC_ROUTES = [
    ("GET", "/api/config"), ("GET", "/api/models"), ("GET", "/api/get_prompts"),
    ("GET", "/api/get_single_prompt?id=default"), ("GET", "/api/messages/some-message/tail"),
    ("POST", "/api/create_prompt"), ("POST", "/api/update_prompt"), ("POST", "/api/delete_prompt"),
]


@pytest.fixture
def app_client(make_app):
    """A server that lets the app's origin call the public chat routes."""
    return make_app(CORS_ALLOWED_ORIGINS=APP).test_client()


def _preflight(client, method: str, path: str, headers: str):
    return client.options(path, headers={"Origin": APP, "Access-Control-Request-Method": method,
                                         "Access-Control-Request-Headers": headers})


def _allowed_headers(response) -> set[str]:
    return {h.strip().lower() for h in response.headers.get("Access-Control-Allow-Headers", "").split(",")}


def _api_key(client, admin_headers) -> str:
    created = client.post("/api/admin/api_keys", json={"name": "DocsGPT React app"}, headers=admin_headers)
    assert created.status_code == 201
    return created.get_json()["key"]


def _stream(client, question: str, headers: dict, **body) -> list[dict]:
    """What the app posts to /stream (conversation/conversationHandlers.ts:263-300, a document selected)."""
    payload = {"question": question, "conversation_id": None, "prompt_id": "default", "chunks": "2",
               "isNoneDoc": False, "save_conversation": True, "visibility": "listed",
               "active_docs": "default", "retriever": "classic", **body}
    response = client.post("/stream", json=payload, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return sse_frames(response.get_data(as_text=True))


# -- GET /api/config ----------------------------------------------------------------------------
def test_config_on_this_servers_own_origin_asks_for_no_login(client):
    # hooks/useTokenAuth.ts:210-226 reads auth_type: null (or "none") goes straight on; the cookie identifies
    config = client.get("/api/config")

    assert config.status_code == 200
    assert config.get_json() == {"auth_type": None, "requires_auth": False, "graphrag_available": False,
                                 "hybrid_available": False}


def test_config_for_a_page_of_another_site_asks_once_for_an_api_key(app_client):
    # useTokenAuth.ts:221-223: "simple_jwt" without a stored token opens the token box (modals/JWTModal.tsx);
    # the token is then sent as Authorization: Bearer on every request (api/client.ts:11-13)
    config = app_client.get("/api/config", headers=FROM_THE_APP)

    assert config.status_code == 200
    body = config.get_json()
    assert body["auth_type"] == "simple_jwt" and body["requires_auth"] is True
    assert config.headers["Access-Control-Allow-Origin"] == APP
    assert {"origin", "sec-fetch-site"} <= {v.strip().lower() for v in config.headers["Vary"].split(",")}


# -- GET /api/models ----------------------------------------------------------------------------
def test_models_lists_the_one_llm_and_names_it_as_the_stored_messages_do(client):
    # Hero.tsx:46-60 reads data.models and data.default_model_id; modelService.ts:10-23 copies these fields
    body = client.get("/api/models").get_json()

    [model] = body["models"]
    assert body["default_model_id"] == model["id"] == "extractive" and body["count"] == 1
    assert model["display_name"] == "extractive" and model["provider"] == "extractive"
    assert "not a language model" in model["description"].lower()
    assert model["supported_attachment_types"] == [] and model["supports_tools"] is False
    assert model["supports_structured_output"] is False and model["supports_streaming"] is True
    assert model["source"] == "builtin" and model["enabled"] is True
    # the id the app shows is the model_id of the answers in a reopened conversation
    conversation_id = frame(_stream(client, QUESTION, {}), "id")["id"]
    [query] = client.get(f"/api/get_single_conversation?id={conversation_id}").get_json()["queries"]
    assert query["model_id"] == model["id"]


def test_models_names_a_configured_llm(claude_app):
    [model] = claude_app.test_client().get("/api/models").get_json()["models"]

    assert model["id"] == "anthropic/claude-test" and model["provider"] == "anthropic"


# -- the prompt routes ----------------------------------------------------------------------------
def test_get_prompts_lists_the_one_prompt_the_app_selects_by_default(client):
    # preferences/preferenceApi.ts:240-251 reads an array of {id, name, type}; preferenceSlice.ts:247-249
    # selects the one whose id is "default", and the app sends it back as prompt_id
    assert client.get("/api/get_prompts").get_json() == [{"id": "default", "name": "default", "type": "public"}]


def test_get_single_prompt_is_the_prompt_files_text_and_never_its_path(make_app, tmp_path):
    # settings/Prompts.tsx:154-165 reads {content} when the prompt is opened
    prompt_file = tmp_path / "house-prompt.txt"
    prompt_file.write_text("[system]\nAnswer like a pirate.\n{sources}\n\n[user]\n{question}\n", encoding="utf-8")
    client = make_app(PROMPT_FILE=str(prompt_file)).test_client()

    response = client.get("/api/get_single_prompt?id=default")

    assert response.status_code == 200
    content = response.get_json()["content"]
    assert content == "[system]\nAnswer like a pirate.\n{sources}\n\n[user]\n{question}\n"
    assert str(tmp_path) not in response.get_data(as_text=True)


def test_get_single_prompt_of_another_id_is_a_404_and_without_one_a_400(client):
    # Prompts.tsx:157-158: a response that is not ok is reported and nothing is shown
    missing = client.get("/api/get_single_prompt?id=creative")
    assert missing.status_code == 404 and "'default'" in missing.get_json()["error"]
    no_id = client.get("/api/get_single_prompt")
    assert no_id.status_code == 400 and "'id'" in no_id.get_json()["error"]


@pytest.mark.parametrize(("route", "body"), [
    ("/api/create_prompt", {"name": "mine", "content": "Be brief. {question}"}),  # Prompts.tsx:87-99
    ("/api/update_prompt", {"id": "default", "name": "default", "content": "Be brief."}),  # Prompts.tsx:223-236
    ("/api/delete_prompt", {"id": "default"}),  # Prompts.tsx:122-129
])
def test_the_apps_prompt_writes_are_a_404_that_says_why_and_change_nothing(client, route, body):
    response = client.post(route, json=body)

    assert response.status_code == 404
    assert "PROMPT_FILE" in response.get_json()["error"]
    assert client.get("/api/get_prompts").get_json() == [{"id": "default", "name": "default", "type": "public"}]
    assert "Be brief" not in client.get("/api/get_single_prompt?id=default").get_json()["content"]


# -- GET /api/messages/<id>/tail ------------------------------------------------------------------
def test_tail_is_the_state_of_a_message_of_yours_and_a_404_for_anyone_else(app, client):
    # conversation/conversationSlice.ts:146-157 tails a reopened conversation's last message while it is
    # in flight; 612-665 polls until status is "complete" or "failed" and stops quietly on a 404;
    # applyMessageTail (1048-1091) reads status, response, sources and error
    frames = _stream(client, QUESTION, {})
    message_id = frame(frames, "id")["message_id"]

    tail = client.get(f"/api/messages/{message_id}/tail")

    assert tail.status_code == 200
    body = tail.get_json()
    assert body["message_id"] == message_id and body["status"] == "complete"
    assert body["response"] == answer_text(frames) and body["error"] is None
    assert [s["chunk_id"] for s in body["sources"]] == [s["chunk_id"] for s in frame(frames, "source")["source"]]
    assert body["tool_calls"] == [] and body["thought"] is None
    someone_else = app.test_client().get(f"/api/messages/{message_id}/tail")
    assert someone_else.status_code == 404 and "of yours" in someone_else.get_json()["error"]
    assert client.get("/api/messages/no-such-message/tail").status_code == 404


def test_tail_of_a_message_a_retry_replaced_is_a_404(client):
    # DocsGPT deletes the message a retry (index) replaces; here it leaves the conversation, and reads as gone
    first = _stream(client, QUESTION, {})
    conversation_id, replaced = frame(first, "id")["id"], frame(first, "id")["message_id"]
    retry = _stream(client, QUESTION, {}, conversation_id=conversation_id, index=0)

    assert client.get(f"/api/messages/{replaced}/tail").status_code == 404
    assert client.get(f"/api/messages/{frame(retry, 'id')['message_id']}/tail").get_json()["status"] == "complete"


def test_tail_of_a_failed_answer_carries_its_error(claude_app, fake_anthropic):
    from tests.application.llm.fake_llm_servers import Status

    client = claude_app.test_client()
    fake_anthropic.enqueue(Status(500, "boom"))
    failed = frame(_stream(client, QUESTION, {}), "error")

    body = client.get(f"/api/messages/{failed['message_id']}/tail").get_json()

    assert body["status"] == "failed" and body["error"] == failed["error"]  # applyMessageTail: 1063-1069


# -- CORS: the app's preflights ----------------------------------------------------------------------
@pytest.mark.parametrize(("method", "path"), PUBLIC_ROUTES)
def test_the_apps_preflight_of_each_new_route_is_answered(app_client, method, path):
    # api/client.ts:11-18: every request carries Content-Type: application/json, and the token once it has one
    preflight = _preflight(app_client, method, path, "content-type,authorization")

    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == APP
    assert method in preflight.headers["Access-Control-Allow-Methods"]
    assert {"content-type", "authorization"} <= _allowed_headers(preflight)
    assert "Access-Control-Allow-Credentials" not in preflight.headers


@pytest.mark.parametrize("route", ["/stream", "/api/answer"])
def test_the_apps_preflight_of_a_question_allows_its_idempotency_key(app_client, route):
    # conversationSlice.ts:200-210 mints an Idempotency-Key for every question; conversationHandlers.ts:222
    # and :300 send it as a header, so the browser asks for it in the preflight
    preflight = _preflight(app_client, "POST", route, "authorization,content-type,idempotency-key")

    assert preflight.status_code == 200 and preflight.headers["Access-Control-Allow-Origin"] == APP
    assert {"authorization", "content-type", "idempotency-key"} <= _allowed_headers(preflight)


# -- the app's own sequence, from its origin, with the API key it was given ------------------------------
def test_the_app_with_an_api_key_starts_chats_follows_up_and_finds_its_conversations(app_client, admin_headers):
    config = app_client.get("/api/config", headers=FROM_THE_APP).get_json()
    assert config["auth_type"] == "simple_jwt"  # the app asks for its token: an API key
    key = _api_key(app_client, admin_headers)
    as_the_app = {**FROM_THE_APP, "Authorization": f"Bearer {key}"}
    # start-up (hooks/useDataInitializer.ts, Hero.tsx:46): models and prompts, then the conversations
    model_id = app_client.get("/api/models", headers=as_the_app).get_json()["default_model_id"]
    assert app_client.get("/api/get_prompts", headers=as_the_app).status_code == 200

    first = _stream(app_client, QUESTION, {**as_the_app, "Idempotency-Key": "k-1"}, model_id=model_id)
    conversation_id = frame(first, "message_id")["conversation_id"]
    follow_up = _stream(app_client, "And to a bank account?", {**as_the_app, "Idempotency-Key": "k-2"},
                        model_id=model_id, conversation_id=conversation_id)

    assert frame(follow_up, "id")["id"] == conversation_id
    listed = app_client.get("/api/get_conversations", headers=as_the_app).get_json()
    assert [c["id"] for c in listed] == [conversation_id]  # the sidebar (preferenceApi.ts:53-78)
    tail = app_client.get(f"/api/messages/{frame(follow_up, 'id')['message_id']}/tail", headers=as_the_app)
    assert tail.get_json()["status"] == "complete"
    # another key is another person: it sees neither the conversation nor its messages
    other = {**FROM_THE_APP, "Authorization": f"Bearer {_api_key(app_client, admin_headers)}"}
    assert app_client.get("/api/get_conversations", headers=other).get_json() == []
    assert app_client.get(f"/api/messages/{frame(first, 'id')['message_id']}/tail", headers=other).status_code == 404
