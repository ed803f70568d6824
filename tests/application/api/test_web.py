"""The web UI's static files at `/`: client routes fall back to index.html, the API is never shadowed."""
import pytest


@pytest.fixture
def dist(tmp_path):
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text('<!doctype html><div id="root"></div><script src="/assets/app-1234.js"></script>')
    (dist / "assets" / "app-1234.js").write_text("console.log('docstune')")
    (dist / "favicon.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    return dist


@pytest.fixture
def web_client(make_app, dist):
    app = make_app()
    app.config["WEB_DIST_DIR"] = str(dist)
    return app.test_client()


@pytest.mark.parametrize("path", ["/", "/c/0f1e2d3c-aaaa-bbbb-cccc-1234567890ab", "/admin", "/admin/models", "/admin/documents/"])
def test_the_page_and_its_client_routes_answer_index_html(web_client, path):
    response = web_client.get(path)
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert b'<div id="root">' in response.data
    assert response.headers["Cache-Control"] == "no-cache"


def test_hashed_assets_are_served_and_cached_for_long(web_client):
    response = web_client.get("/assets/app-1234.js")
    assert response.status_code == 200
    assert b"docstune" in response.data
    assert "max-age=31536000" in response.headers["Cache-Control"]
    assert web_client.get("/favicon.svg").status_code == 200


def test_a_missing_asset_is_a_404_not_the_page(web_client):
    response = web_client.get("/assets/nope.js")
    assert response.status_code == 404
    assert response.get_json()["error"]


@pytest.mark.parametrize("path", ["/api/nothing-here", "/v1/nothing-here", "/v1/models", "/stream/x", "/ready/x",
                                  "/assets/../../etc/passwd"])
def test_the_api_namespace_is_never_answered_by_the_page(web_client, path):
    response = web_client.get(path)
    assert response.status_code in (401, 404)  # /v1/models exists and wants a token
    assert response.is_json and "error" in response.get_json()


def test_api_routes_still_answer_json(web_client):
    assert web_client.get("/health").get_json() == {"status": "ok"}
    assert web_client.get("/api/conversations").is_json
    assert web_client.post("/api/nothing-here", json={}).status_code in (404, 405)
    response = web_client.post("/stream", json={"question": "What does the keeper climb?"})
    assert response.mimetype == "text/event-stream"


def test_without_a_build_the_page_says_how_to_build_it(make_app, tmp_path):
    app = make_app()
    app.config["WEB_DIST_DIR"] = str(tmp_path / "not-built")
    response = app.test_client().get("/admin/models")
    assert response.status_code == 200 and response.mimetype == "text/html"
    text = response.get_data(as_text=True)
    assert "make run" in text and "npm run build" in text


def test_static_files_do_not_count_against_the_rate_limit(make_app, dist):
    app = make_app(RATE_LIMIT_ENABLED=True, RATE_LIMIT_DEFAULT="2 per minute")
    app.config["WEB_DIST_DIR"] = str(dist)
    client = app.test_client()
    assert all(client.get("/assets/app-1234.js").status_code == 200 for _ in range(5))
    assert all(client.get("/c/abc").status_code == 200 for _ in range(5))
