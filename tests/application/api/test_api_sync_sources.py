"""Admin: sources over HTTP: add a web source (a sitemap of a real local site), sync it again after the site
changed, set its schedule, delete it; and the refusals (a private address, a folder, a second sync at once)."""
from __future__ import annotations

import pytest

from tests.application.api.helpers import answer_text, ask, frame
from tests.web_site import Sitemap, html_page, serve_site

TOKEN = "sources-admin-token-0123456789"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def make_client(make_settings):
    from application import create_app
    from application.api import close_app
    from application.container import DocsTune

    built = []

    def make(**overrides):
        settings = make_settings(ADMIN_TOKEN=TOKEN, RATE_LIMIT_ENABLED=False, LLM_PROVIDER="extractive",
                                 **overrides)
        services = DocsTune(settings)
        app = create_app(settings, services=services)
        app.config["TESTING"] = True
        built.append((app, services))
        return app.test_client(), services

    yield make
    for app, services in reversed(built):
        close_app(app)
        services.close()


def test_a_web_source_is_added_synced_answered_from_and_deleted(make_client):
    client, services = make_client(JOBS_WORKER="immediate", WEB_ALLOW_PRIVATE=True, WEB_DELAY_SECONDS=0,
                                   SYNC_DELETE_GRACE_HOURS=0)
    with serve_site() as site:
        site.pages["/docs/install"] = html_page("Installing Brightwater", "<h2>Requirements</h2><p>Brightwater "
                                                "needs a lighthouse keeper licence and 212 free steps.</p>")
        response = client.post("/api/admin/sources", headers=ADMIN, json={
            "kind": "web", "location": site.url("/sitemap.xml"), "schedule": "weekly", "options": {"mode": "sitemap"}})
        assert response.status_code == 202, response.get_json()
        accepted = response.get_json()
        job = client.get(f"/api/jobs/{accepted['job_id']}", headers=ADMIN).get_json()
        assert job["status"] == "done" and job["kind"] == "sync", job
        source = client.get(f"/api/admin/sources/{accepted['source']['id']}", headers=ADMIN).get_json()
        assert source["kind"] == "web" and source["status"] in ("ok", "partial") and source["schedule"] == "weekly"
        assert source["document_count"] >= 2 and source["next_sync_at"] > source["last_sync_at"]
        assert site.requests[-1].user_agent.startswith("DocsTune")

        frames = ask(client, "What does Brightwater need?", chunks=2)
        assert "lighthouse keeper licence" in answer_text(frames)
        shown = frame(frames, "source")["source"][0]
        assert shown["link"] == site.url("/docs/install") and "Requirements" in shown["headings"]

        # the site changes: one page rewritten, one dropped from the sitemap
        site.pages["/docs/install"] = html_page("Installing Brightwater", "<h2>Requirements</h2><p>Brightwater "
                                                "now needs a harbour pass instead.</p>")
        site.pages["/sitemap.xml"] = Sitemap(["/docs/install", "/docs/manual.pdf", "/docs/old-install"])
        response = client.post(f"/api/admin/sources/{source['id']}/sync", headers=ADMIN)
        assert response.status_code == 202
        result = client.get(f"/api/jobs/{response.get_json()['job_id']}", headers=ADMIN).get_json()["result"]
        assert len(result["updated"]) == 1 and [u.rsplit("/", 1)[-1] for u in result["removed"]] == ["configure"]
        assert "harbour pass" in answer_text(ask(client, "What does Brightwater need?", chunks=1))

    response = client.patch(f"/api/admin/sources/{source['id']}", headers=ADMIN, json={"schedule": "daily"})
    assert response.status_code == 200 and response.get_json()["schedule"] == "daily"
    response = client.patch(f"/api/admin/sources/{source['id']}", headers=ADMIN, json={"schedule": "yearly"})
    assert response.status_code == 400 and "'schedule' must be 'never'" in response.get_json()["error"]
    listed = client.get("/api/admin/sources", headers=ADMIN).get_json()
    assert [s["id"] for s in listed if s["kind"] == "web"] == [source["id"]] and listed[0]["job"] is None
    documents = client.get("/api/sources", headers=ADMIN).get_json()
    assert all(d["sync_source_id"] == source["id"] for d in documents if d["uri"].startswith("http"))

    response = client.delete(f"/api/admin/sources/{source['id']}", headers=ADMIN)
    assert response.status_code == 200 and response.get_json()["documents"] >= 2
    assert client.get(f"/api/admin/sources/{source['id']}", headers=ADMIN).status_code == 404
    assert not [d for d in client.get("/api/sources", headers=ADMIN).get_json() if d["uri"].startswith("http")]
    hits = client.post("/api/search", json={"question": "What does Brightwater need?"}).get_json()
    assert all("Brightwater" not in hit["text"] for hit in hits)


@pytest.mark.parametrize("body, message", [
    ({"kind": "web", "location": "http://169.254.169.254/latest/meta-data/"}, "169.254.169.254"),
    ({"kind": "web", "location": "http://localhost:1/"}, "WEB_ALLOW_PRIVATE"),
    ({"kind": "web", "location": "file:///etc/passwd"}, "http"),
    ({"kind": "web", "location": "https://example.com/", "options": {"mode": "everything"}}, "'options.mode' must be"),
    ({"kind": "folder", "location": "/etc"}, "docstune ingest PATH"),
    ({"kind": "git", "location": "/srv/repo"}, "http(s) URL"),
    ({"kind": "git", "location": "http://10.0.0.1/team/docs.git"}, "10.0.0.1"),
    ({"kind": "web", "location": "https://example.com/", "surprise": 1}, "Unknown field"),
    ({"kind": "web"}, "'location' is missing"),
])
def test_a_bad_source_is_a_400_with_one_line_and_nothing_is_stored(make_client, body, message):
    client, services = make_client(JOBS_WORKER="off")
    response = client.post("/api/admin/sources", headers=ADMIN, json=body)
    assert response.status_code == 400, response.get_json()
    assert message in response.get_json()["error"]
    assert client.get("/api/admin/sources", headers=ADMIN).get_json() == []
    assert services.jobs.store.list() == []


def test_a_second_sync_of_the_same_source_is_a_409_and_uploads_are_not_synced(make_client):
    client, services = make_client(JOBS_WORKER="off", WEB_ALLOW_PRIVATE=True)
    response = client.post("/api/admin/sources", headers=ADMIN,
                           json={"kind": "web", "location": "http://127.0.0.1:9/docs/"})
    assert response.status_code == 202
    source = response.get_json()["source"]
    assert source["job"]["status"] == "queued"
    response = client.post(f"/api/admin/sources/{source['id']}/sync", headers=ADMIN)
    assert response.status_code == 409 and "already being synced" in response.get_json()["error"]
    assert client.delete(f"/api/admin/sources/{source['id']}", headers=ADMIN).status_code == 409

    uploads = services.sources.uploads()
    response = client.post(f"/api/admin/sources/{uploads}/sync", headers=ADMIN)
    assert response.status_code == 400 and "Uploads" in response.get_json()["error"]
    assert client.post("/api/admin/sources/nope/sync", headers=ADMIN).status_code == 404
    assert client.get("/api/admin/sources", headers={}).status_code == 401


def test_the_schedule_starts_a_sync_job_for_a_due_source(make_client, tmp_path):
    from tests.conftest import write_docs

    client, services = make_client(JOBS_WORKER="off")
    source = services.sources.add("folder", str(write_docs(tmp_path / "docs")), schedule="hourly")
    started = services.jobs.check_sync_schedule()
    assert len(started) == 1
    job = services.jobs.store.get(started[0])
    assert job["kind"] == "sync" and job["params"] == {"source_id": source["id"], "trigger": "schedule"}
    assert services.jobs.check_sync_schedule() == []  # already queued: not twice
    services.jobs.run(started[0])
    assert services.jobs.store.get(started[0])["status"] == "done"
    assert services.sources.get(source["id"])["document_count"] == 3
    assert services.jobs.check_sync_schedule() == []  # next one in an hour
