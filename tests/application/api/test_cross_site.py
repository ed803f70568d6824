"""Cross-site rules: no state change on a GET, no write from a text/plain "simple request", no write with
the owner cookie from another site's page, and CORS only for the origins CORS_ALLOWED_ORIGINS names."""
import pytest

from tests.application.api.conftest import ADMIN_TOKEN

QUESTION = "How long until a refund reaches my card?"
OTHER_SITE = "http://docs.other.example"


def _conversations(client) -> list:
    return client.get("/api/conversations").get_json()


def _start_a_conversation(client) -> dict:
    """A browser session of this site's own page: the owner cookie is handed out on the first question."""
    answered = client.post("/api/answer", json={"question": QUESTION, "chunks": 1})
    assert answered.status_code == 200 and client.get_cookie("docstune_owner") is not None
    return answered.get_json()


def test_a_get_of_delete_all_conversations_deletes_nothing_and_a_post_does(client):
    _start_a_conversation(client)
    assert len(_conversations(client)) == 1

    refused = client.get("/api/delete_all_conversations")  # what a link or an <img> on any page would do
    assert refused.status_code == 405 and "POST" in refused.get_json()["error"]
    assert refused.headers["Allow"] == "POST"
    assert len(_conversations(client)) == 1

    deleted = client.post("/api/delete_all_conversations", json={})
    assert deleted.status_code == 200 and _conversations(client) == []


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"])
def test_a_write_that_is_not_json_is_refused_and_stores_nothing(client, content_type):
    conversation = _start_a_conversation(client)
    cid, mid = conversation["conversation_id"], conversation["message_id"]
    writes = [
        ("/stream", f'{{"question": "{QUESTION}"}}'),
        ("/api/answer", f'{{"question": "{QUESTION}"}}'),
        ("/api/feedback", f'{{"message_id": "{mid}", "feedback": "like"}}'),
        ("/api/update_conversation_name", f'{{"id": "{cid}", "name": "renamed"}}'),
    ]
    for route, raw in writes:
        response = client.post(route, data=raw, content_type=content_type)
        assert response.status_code == 415, (route, response.get_data(as_text=True))
        assert "Content-Type: application/json" in response.get_json()["error"]
    [stored] = _conversations(client)
    assert stored["name"] != "renamed"
    [message] = client.get(f"/api/conversations/{cid}").get_json()["messages"]
    assert message["feedback"] is None


@pytest.mark.parametrize("headers", [
    {"Sec-Fetch-Site": "cross-site", "Origin": OTHER_SITE},
    {"Sec-Fetch-Site": "same-site", "Origin": "http://localhost:3000"},  # another port of the same host
    {"Origin": OTHER_SITE},  # an older browser: no Sec-Fetch-Site
    {"Origin": "null"},  # a sandboxed frame or a file:// page
])
def test_a_write_with_the_owner_cookie_from_another_site_is_refused(client, headers):
    conversation = _start_a_conversation(client)
    cid = conversation["conversation_id"]
    writes = [
        client.post("/stream", json={"question": QUESTION}, headers=headers),
        client.post("/api/feedback", json={"message_id": conversation["message_id"], "feedback": "dislike"},
                    headers=headers),
        client.patch(f"/api/conversations/{cid}", json={"name": "renamed"}, headers=headers),
        client.delete(f"/api/conversations/{cid}", headers=headers),
        client.post("/api/delete_all_conversations", json={}, headers=headers),
    ]
    for response in writes:
        assert response.status_code == 403, response.get_data(as_text=True)
        assert "another site" in response.get_json()["error"]
    [stored] = _conversations(client)
    assert stored["name"] != "renamed"
    assert len(client.get(f"/api/conversations/{cid}").get_json()["messages"]) == 1


@pytest.mark.parametrize("headers", [
    {"Sec-Fetch-Site": "same-origin", "Origin": "http://localhost"},
    {"Origin": "http://localhost"},  # the test client's own origin
    {"Sec-Fetch-Site": "none"},  # typed into the address bar
    {},  # curl, an SDK, a server: not a browser page
])
def test_writes_from_this_site_and_from_non_browser_clients_go_through(client, headers):
    conversation = _start_a_conversation(client)
    renamed = client.patch(f"/api/conversations/{conversation['conversation_id']}", json={"name": "mine"},
                           headers=headers)
    assert renamed.status_code == 200, renamed.get_data(as_text=True)
    assert _conversations(client)[0]["name"] == "mine"


def test_admin_writes_with_the_token_are_not_cross_site_checked(client):
    response = client.post("/api/admin/api_keys", json={"name": "from the admin page of another host"},
                           headers={"Authorization": f"Bearer {ADMIN_TOKEN}", "Origin": OTHER_SITE,
                                    "Sec-Fetch-Site": "cross-site"})
    assert response.status_code == 201


def test_without_cors_allowed_origins_no_route_answers_a_preflight(client):
    preflight = client.options("/stream", headers={"Origin": OTHER_SITE, "Access-Control-Request-Method": "POST",
                                                   "Access-Control-Request-Headers": "content-type"})
    assert "Access-Control-Allow-Origin" not in preflight.headers


def test_a_listed_origin_gets_cors_on_the_chat_routes_only_and_never_credentials(make_app):
    client = make_app(CORS_ALLOWED_ORIGINS=f"{OTHER_SITE}/, https://b.example").test_client()
    ask = {"Origin": OTHER_SITE, "Access-Control-Request-Method": "POST",
           "Access-Control-Request-Headers": "content-type,authorization"}

    preflight = client.options("/stream", headers=ask)
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == OTHER_SITE
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert "authorization" in preflight.headers["Access-Control-Allow-Headers"].lower()
    assert "Access-Control-Allow-Credentials" not in preflight.headers

    assert "Access-Control-Allow-Origin" not in client.options("/stream", headers={
        **ask, "Origin": "https://unlisted.example"}).headers
    assert "Access-Control-Allow-Origin" not in client.options("/api/admin/api_keys", headers=ask).headers

    # the listed site's page, anonymous: its own owner token in X-Owner-Token (no cookie crosses sites)
    answered = client.post("/api/answer", json={"question": QUESTION, "chunks": 1},
                           headers={"Origin": OTHER_SITE, "Sec-Fetch-Site": "cross-site"})
    assert answered.status_code == 200 and answered.headers["Access-Control-Allow-Origin"] == OTHER_SITE
    assert "X-Owner-Token" in answered.headers["Access-Control-Expose-Headers"]
    # an unlisted site's page is refused before anything is stored
    unlisted = client.post("/api/answer", json={"question": QUESTION, "chunks": 1},
                           headers={"Origin": "https://unlisted.example", "Sec-Fetch-Site": "cross-site",
                                    "X-Owner-Token": "unlisted-site-owner-token"})
    assert unlisted.status_code == 403 and "CORS_ALLOWED_ORIGINS" in unlisted.get_json()["error"]
    assert client.get("/api/conversations", headers={"X-Owner-Token": "unlisted-site-owner-token"}).get_json() == []


def test_with_any_origin_allowed_a_request_from_another_site_needs_an_api_key(make_app, admin_headers):
    client = make_app(CORS_ALLOWED_ORIGINS="*").test_client()
    key = client.post("/api/admin/api_keys", json={"name": "any-site widget"}, headers=admin_headers).get_json()
    page = {"Origin": OTHER_SITE, "Sec-Fetch-Site": "cross-site"}

    anonymous = client.post("/api/answer", json={"question": QUESTION, "chunks": 1},
                            headers={**page, "X-Owner-Token": "any-site-anonymous-token"})
    assert anonymous.status_code == 403 and "API key" in anonymous.get_json()["error"]
    assert client.get("/api/conversations", headers={"X-Owner-Token": "any-site-anonymous-token"}).get_json() == []

    keyed = client.post("/api/answer", json={"question": QUESTION, "chunks": 1, "api_key": key["key"]}, headers=page)
    assert keyed.status_code == 200 and keyed.headers["Access-Control-Allow-Origin"] in ("*", OTHER_SITE)


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_the_deletes_refuse_a_body_that_is_not_json_and_delete_nothing(client, content_type):
    # probe: these three took text/plain and form bodies (200, deleted) — what another site's form can send
    cid = _start_a_conversation(client)["conversation_id"]
    deletes = [
        client.post("/api/delete_all_conversations", data="x=1", content_type=content_type),
        client.post(f"/api/delete_conversation?id={cid}", data="x=1", content_type=content_type),
        client.delete(f"/api/conversations/{cid}", data="x=1", content_type=content_type),
    ]
    for response in deletes:
        assert response.status_code == 415, response.get_data(as_text=True)
        assert "Content-Type: application/json" in response.get_json()["error"]
    assert len(_conversations(client)) == 1

    # a write that needs no body still goes through without one
    assert client.delete(f"/api/conversations/{cid}").status_code == 200
    assert _conversations(client) == []


def test_a_single_listed_origin_gets_vary_origin(make_app):
    # probe: flask-cors adds Vary: Origin only with several origins, so a shared cache could hand the
    # listed site's CORS answer to another site (or the other way round)
    client = make_app(CORS_ALLOWED_ORIGINS=OTHER_SITE).test_client()

    listed = client.get("/api/conversations", headers={"Origin": OTHER_SITE})
    without = client.get("/api/conversations")

    assert listed.headers["Access-Control-Allow-Origin"] == OTHER_SITE
    assert "Origin" in listed.vary and "Origin" in without.vary
