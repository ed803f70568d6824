"""The database refuses a write (disk full, read-only file) in the middle of serving:
the client gets a 503 that says so, nothing is half-written, and the app goes on
serving once the fault is gone.

The faults are real SQLite errors, not mocks: ``PRAGMA max_page_count`` caps the file
at its current size, so the next write that needs a page fails with SQLITE_FULL
("database or disk is full", exactly what a full disk gives), and ``PRAGMA
query_only`` makes it fail with SQLITE_READONLY. A chmod cannot stand in for the
read-only file: the tests run as root in CI, and root writes through mode 0444.
These are SQLite's failures, so the app here runs on SQLite (see ``fault_settings``) also
when the suite runs on PostgreSQL (DOCSTUNE_TEST_DATABASE=postgresql).
"""
from __future__ import annotations

import sqlite3
from contextlib import contextmanager

import pytest
from sqlalchemy import event, text

from tests.application.api.helpers import sse_frames
from tests.application.faults.helpers import ADMIN_TOKEN, OWNER_PREFIX, read_rows, table_snapshot

LONG_COMMENT = ("The second source was about shipping, not refunds. " * 80)[:4000]  # needs an overflow page
LONG_QUESTION = ("Please tell me how long a refund takes to reach my card. " * 70)[:4000]
EXPECTED = {"disk_full": "disk (or its size limit) is full", "read_only": "it is read-only"}


@pytest.fixture
def fault_app(make_fault_app):
    return make_fault_app()


@pytest.fixture
def db_fault(fault_app):
    """``with db_fault("disk_full" | "read_only"):`` every connection the app checks out of
    its pool refuses writes the way a full disk / a read-only file does."""
    engine = fault_app.extensions["docstune"].db.engine
    state = {"kind": None}

    def on_checkout(dbapi_connection, _record, _proxy):
        cursor = dbapi_connection.cursor()
        try:
            if state["kind"] == "disk_full":
                pages = cursor.execute("PRAGMA page_count").fetchone()[0]
                cursor.execute(f"PRAGMA max_page_count = {pages}")
            else:
                cursor.execute("PRAGMA max_page_count = 4294967294")  # clamped to SQLite's own maximum
            cursor.execute(f"PRAGMA query_only = {1 if state['kind'] == 'read_only' else 0}")
        finally:
            cursor.close()

    @contextmanager
    def fault(kind: str):
        if kind == "disk_full":
            # no free pages left to reuse: the next write that needs a page has to grow the file
            with engine.connect() as connection:
                connection.exec_driver_sql("VACUUM")
                assert connection.execute(text("PRAGMA freelist_count")).scalar() == 0
        state["kind"] = kind
        try:
            yield
        finally:
            state["kind"] = None
            # a connection that went back to the pool during the fault keeps its PRAGMAs:
            # drop them all, so no later test (they share this engine) inherits a read-only one
            engine.dispose()

    event.listen(engine, "checkout", on_checkout)
    yield fault
    event.remove(engine, "checkout", on_checkout)
    engine.dispose()


def db_path(app):
    return app.extensions["docstune"].db.engine.url.database


def ask(client, owner: dict, question: str) -> dict:
    response = client.post("/stream", json={"question": question}, headers=owner)
    assert response.status_code == 200, response.get_data(as_text=True)
    frames = sse_frames(response.get_data(as_text=True))
    assert frames[-1]["type"] == "end", frames
    ids = next(f for f in frames if f["type"] == "id")
    source = next(f for f in frames if f["type"] == "source")["source"]
    return {"conversation_id": ids["id"], "message_id": ids["message_id"], "chunks": [s["chunk_id"] for s in source]}


@pytest.mark.parametrize("kind", ["disk_full", "read_only"])
def test_a_refused_feedback_write_is_a_503_that_says_why_and_saves_nothing(fault_app, db_fault, kind):
    client = fault_app.test_client()
    owner = {"X-Owner-Token": OWNER_PREFIX + kind}
    first = ask(client, owner, "How long until a refund reaches my card?")
    second = ask(client, owner, "How long does shipping to the United States take?")
    rated = client.post("/api/feedback", headers=owner, json={
        "message_id": first["message_id"], "feedback": "like", "comment": "spot on",
        "sources": {first["chunks"][0]: "relevant"}})
    assert rated.status_code == 200
    rating = {"message_id": second["message_id"], "feedback": "dislike", "comment": LONG_COMMENT,
              "sources": {second["chunks"][0]: "relevant", second["chunks"][1]: "irrelevant"}}
    before = table_snapshot(db_path(fault_app))

    with db_fault(kind):
        refused = client.post("/api/feedback", headers=owner, json=rating)
        asked = client.post("/stream", headers=owner, json={"question": LONG_QUESTION})
        # reading still works while writes are refused
        conversation = client.get(f"/api/conversations/{first['conversation_id']}", headers=owner)

    for response in (refused, asked):
        assert response.status_code == 503, response.get_data(as_text=True)
        error = response.get_json()["error"]
        assert EXPECTED[kind] in error and "nothing was saved" in error, error
    assert conversation.status_code == 200
    assert conversation.get_json()["messages"][0]["feedback"]["feedback"] == "like"
    # not one row more, less or changed: the refused transactions left nothing behind
    assert table_snapshot(db_path(fault_app)) == before
    assert read_rows(db_path(fault_app), "PRAGMA integrity_check") == [("ok",)]

    # the fault is gone: the very same requests succeed
    accepted = client.post("/api/feedback", headers=owner, json=rating)
    assert accepted.status_code == 200, accepted.get_data(as_text=True)
    assert accepted.get_json()["comment"] == LONG_COMMENT.strip()
    stored = read_rows(db_path(fault_app), "SELECT verdict, comment FROM feedback WHERE message_id = ?",
                       second["message_id"])
    assert stored == [("dislike", LONG_COMMENT.strip())]
    assert ask(client, owner, LONG_QUESTION)["message_id"]


def test_every_write_route_answers_503_on_a_read_only_database(fault_app, db_fault):
    client = fault_app.test_client()
    owner = {"X-Owner-Token": OWNER_PREFIX + "routes"}
    asked = ask(client, owner, "Where is lunch served?")
    conversation = f"/api/conversations/{asked['conversation_id']}"
    before = table_snapshot(db_path(fault_app))

    with db_fault("read_only"):
        responses = {
            "rename": client.patch(conversation, headers=owner, json={"name": "Lunch"}),
            "delete": client.delete(conversation, headers=owner),
            "docsgpt delete all": client.post("/api/delete_all_conversations", json={}, headers=owner),
            "feedback": client.post("/api/feedback", headers=owner,
                                    json={"message_id": asked["message_id"], "feedback": "like"}),
            "delete a source": client.delete(
                "/api/sources/" + read_rows(db_path(fault_app), "SELECT id FROM sources LIMIT 1")[0][0],
                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}),
        }

    for route, response in responses.items():
        assert response.status_code == 503, (route, response.get_data(as_text=True))
        assert EXPECTED["read_only"] in response.get_json()["error"], route
    assert table_snapshot(db_path(fault_app)) == before
    assert client.patch(conversation, headers=owner, json={"name": "Lunch"}).get_json()["name"] == "Lunch"


def test_the_cli_says_in_one_line_that_the_database_refused_the_write(tmp_path, docs_dir):
    from click.testing import CliRunner
    from sqlalchemy.pool import Pool

    from application.cli import main

    data_dir = tmp_path / "data"
    env = {"DATA_DIR": str(data_dir), "DATABASE_URL": f"sqlite:///{data_dir / 'docstune.db'}"}
    assert CliRunner().invoke(main, ["ingest", str(docs_dir)], env=env).exit_code == 0

    database = str(data_dir / "docstune.db")

    def read_only(dbapi_connection, _record, _proxy):
        # only this command's database: a pool of another test's app (a job thread of the shared
        # fault app checks connections out meanwhile) must not keep a read-only connection
        if not isinstance(dbapi_connection, sqlite3.Connection):
            return
        files = [row[2] for row in dbapi_connection.execute("PRAGMA database_list")]
        if database in files:
            dbapi_connection.execute("PRAGMA query_only = 1")

    event.listen(Pool, "checkout", read_only)  # every pool of this process, the command's own included
    try:
        result = CliRunner().invoke(main, ["documents", "delete", str(docs_dir / "refunds.md")], env=env)
    finally:
        event.remove(Pool, "checkout", read_only)

    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: The database refused the write because it is read-only")
    assert "nothing was saved" in lines[0]
    listed = CliRunner().invoke(main, ["documents", "list"], env=env)
    assert listed.exit_code == 0 and "refunds" in listed.output
