"""OpenAI-compatible embeddings, used through the real `openai` client against `docstune serve`."""
import openai
import pytest

from tests.live_server import run_live_server

KEY = "emb-key-0123456789abcdef"


@pytest.fixture(scope="module")
def embeddings_server(tmp_path_factory):
    data = tmp_path_factory.mktemp("emb") / "data"
    with run_live_server(data, ADMIN_TOKEN="admin-token-0123456789", SERVE_THREADS="2", EMBEDDINGS_API_KEY=KEY,
                         EMBEDDINGS_MAX_INPUTS="4", EMBEDDINGS_MAX_INPUT_CHARS="200") as server:
        yield f"{server.url}/v1"


def test_the_openai_client_gets_the_serving_models_vectors(embeddings_server):
    from plugins import load_embeddings

    client = openai.OpenAI(base_url=embeddings_server, api_key=KEY, max_retries=0)
    texts = ["How do refunds work?", "The office cat is called Miso."]

    response = client.embeddings.create(model="active", input=texts)  # the client asks for base64

    assert [d.index for d in response.data] == [0, 1] and response.model == "active"
    assert response.usage.prompt_tokens > 0
    local = load_embeddings("all-MiniLM-L6-v2").embed_documents(texts)
    for got, expected in zip(response.data, local):
        assert len(got.embedding) == 384
        assert max(abs(a - b) for a, b in zip(got.embedding, expected)) < 1e-4
    floats = client.embeddings.create(model="active", input="one text", encoding_format="float")
    assert len(floats.data) == 1 and len(floats.data[0].embedding) == 384
    models = [m.id for m in client.models.list()]
    assert models[0] == "active"


@pytest.mark.parametrize(
    ("kwargs", "error", "reason"),
    [
        ({"input": ["a"] * 5}, openai.BadRequestError, "EMBEDDINGS_MAX_INPUTS"),
        ({"input": "x" * 201}, openai.BadRequestError, "EMBEDDINGS_MAX_INPUT_CHARS"),
        ({"input": ""}, openai.BadRequestError, "is empty"),
        ({"input": [[1, 2, 3]]}, openai.BadRequestError, "not token ids"),
        ({"input": "hi", "model": "v0042"}, openai.NotFoundError, "Unknown model"),
    ],
)
def test_bad_input_is_a_4xx_with_the_reason(embeddings_server, kwargs, error, reason):
    client = openai.OpenAI(base_url=embeddings_server, api_key=KEY, max_retries=0)
    with pytest.raises(error) as excinfo:
        client.embeddings.create(**{"model": "active", **kwargs})
    assert reason in str(excinfo.value)


def test_a_wrong_key_is_refused(embeddings_server):
    client = openai.OpenAI(base_url=embeddings_server, api_key="wrong-key", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        client.embeddings.create(model="active", input="hello")


def test_without_any_key_configured_the_route_is_off(make_app):
    app = make_app(ADMIN_TOKEN="", EMBEDDINGS_API_KEY="")
    app.extensions["docstune"].admin_token = None
    response = app.test_client().post("/v1/embeddings", json={"input": "hi"})
    assert response.status_code == 401 and "EMBEDDINGS_API_KEY" in response.get_json()["error"]["message"]


def test_the_admin_token_also_works(make_app, admin_headers, chat_services):
    client = make_app().test_client()
    response = client.post("/v1/embeddings", json={"input": ["alpha", "beta"], "model": "active"},
                           headers=admin_headers)
    body = response.get_json()
    assert response.status_code == 200 and len(body["data"]) == 2 and len(body["data"][1]["embedding"]) == 384


def test_a_page_on_another_site_with_the_key_gets_vectors(make_app, chat_services):
    """/v1 authenticates by its Bearer key only, so the cookie-CSRF refusal of cross-site writes does not apply."""
    client = make_app(EMBEDDINGS_API_KEY=KEY).test_client()
    cross_site = {"Origin": "https://elsewhere.example", "Sec-Fetch-Site": "cross-site"}

    with_key = client.post("/v1/embeddings", json={"input": "alpha", "model": "active"},
                           headers={**cross_site, "Authorization": f"Bearer {KEY}"})
    without = client.post("/v1/embeddings", json={"input": "alpha", "model": "active"}, headers=cross_site)

    assert with_key.status_code == 200 and len(with_key.get_json()["data"][0]["embedding"]) == 384
    assert without.status_code == 401
    assert without.get_json()["error"]["type"] == "authentication_error"
    assert "EMBEDDINGS_API_KEY" in without.get_json()["error"]["message"]


@pytest.mark.parametrize(("status", "kind"), [(400, "invalid_request_error"), (401, "authentication_error"),
                                              (403, "permission_error"), (404, "not_found_error"),
                                              (413, "invalid_request_error"), (429, "rate_limit_error"),
                                              (503, "server_error")])
def test_errors_have_openais_type_for_their_status(status, kind):
    from application.api.embeddings import openai_error_type

    assert openai_error_type(status) == kind


def test_the_key_is_checked_before_the_body_and_a_bad_body_is_openais_400(make_app, chat_services):
    client = make_app(EMBEDDINGS_API_KEY=KEY).test_client()
    without_key = client.post("/v1/embeddings", data="input=hi", content_type="text/plain")
    assert without_key.status_code == 401 and without_key.get_json()["error"]["type"] == "authentication_error"

    headers = {"Authorization": f"Bearer {KEY}"}
    not_json = client.post("/v1/embeddings", data="input=hi", content_type="text/plain", headers=headers)
    assert not_json.status_code == 415 and not_json.get_json()["error"]["code"] == 415
    bad_format = client.post("/v1/embeddings", json={"input": "hi", "encoding_format": "int8"}, headers=headers)
    error = bad_format.get_json()["error"]
    assert bad_format.status_code == 400 and error["type"] == "invalid_request_error"
    assert "'encoding_format' must be" in error["message"]
